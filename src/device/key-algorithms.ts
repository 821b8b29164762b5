/**
 * The key algorithms of the device, defined once: which exist, which each
 * crypto mode allows, the default of each mode, and how each edge spells
 * them. The device's own words are the CLI's (`prime256v1`); the manager
 * (GigaVUE-FM, and so the REST API) says `ec-prime256v1`. The CLI accepts
 * both (CLI contract).
 */
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../pki/keys.js';
import type { CryptoMode } from './model.js';

export { KEY_ALGORITHMS, type KeyAlgorithm };

/** Algorithms each crypto mode allows (seed: "Classic mode supports rsa-2048 and rsa-4096 ..."). */
export const ALGORITHMS_BY_MODE: Readonly<Record<CryptoMode, readonly KeyAlgorithm[]>> = {
  classic: ['rsa-2048', 'rsa-4096'],
  'secure-crypto': ['prime256v1', 'secp384r1'],
  fips: ['prime256v1', 'secp384r1'],
};

/** The default key algorithm of a mode (CLI contract). */
export function defaultKeyAlgorithm(mode: CryptoMode): KeyAlgorithm {
  return ALGORITHMS_BY_MODE[mode][0]!;
}

/** The manager's algorithm names (GigaVUE-FM; the REST API and lab topology) and the device's algorithm for each. */
export const MANAGER_ALGORITHMS = {
  'rsa-2048': 'rsa-2048',
  'rsa-4096': 'rsa-4096',
  'ec-prime256v1': 'prime256v1',
  'ec-secp384r1': 'secp384r1',
} as const satisfies Record<string, KeyAlgorithm>;

/** A key algorithm as the manager names it. */
export type ManagerAlgorithm = keyof typeof MANAGER_ALGORITHMS;

/** The manager's names, in the device's order. */
export const MANAGER_ALGORITHM_NAMES = Object.keys(MANAGER_ALGORITHMS) as ManagerAlgorithm[];

/** The manager's name of a device key algorithm. */
export function managerAlgorithm(alg: KeyAlgorithm): ManagerAlgorithm {
  return MANAGER_ALGORITHM_NAMES.find((k) => MANAGER_ALGORITHMS[k] === alg)!;
}

/**
 * The words the CLI's `key-algorithm` accepts: the device's own, then the
 * manager's `ec-` forms as synonyms (CLI contract).
 */
export const CLI_ALGORITHM_WORDS: Readonly<Record<string, KeyAlgorithm>> = {
  ...Object.fromEntries(KEY_ALGORITHMS.map((a) => [a, a])),
  ...MANAGER_ALGORITHMS,
};
