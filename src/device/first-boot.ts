/**
 * The document of a box that boots for the first time: identity, the admin
 * user, the default self-signed certificate and an SSH host key.
 */
import { createHash, generateKeyPair } from 'node:crypto';
import { generatePrivateKey, keyAlgorithmOf, parsePrivateKey } from '../pki/keys.js';
import { createSelfSigned } from '../pki/self-signed.js';
import { DeviceError } from './errors.js';
import { defaultKeyAlgorithm } from './key-algorithms.js';
import {
  defaultSnmpConfig,
  DEFAULT_CERT_NAME,
  SNMP_EVENTS,
  SNMP_EVENTS_BEFORE_GIGAMON,
  type BoxDocument,
  type BoxIdentity,
  type CryptoMode,
  type SnmpConfig,
  type SnmpEventName,
} from './model.js';
import { hashPasswordAsync } from './passwords.js';
import { validateHostname } from './validate.js';

/** The user a box has from its first boot, with the admin role and the first-boot password (the real box's `admin`). */
export const FIRST_ADMIN_USER = 'admin';

export interface FirstBootOptions {
  boxId: number;
  hostname: string;
  model: string;
  /** sysObjectID override of the topology (identity.sysObjectId). */
  sysObjectId?: string;
  firmware: string;
  cryptoMode: CryptoMode;
  adminPassword: string;
  /** The management address (a SAN of the default certificate). */
  address: string;
  nowMs: number;
  /** Seed of the identity (serial, host id); the same seed gives the same box. */
  seed: string;
  /**
   * The stored form of adminPassword (hashPassword), when the caller already
   * has it: a cluster hashes its one password once for all its boxes instead
   * of spending ~50 ms of scrypt per box. Must be the hash of adminPassword.
   */
  adminPasswordHash?: string;
  /**
   * The PKCS#8 PEM key of the default certificate, when the caller supplies
   * it (a cluster shares one RSA-2048 key among its classic-mode boxes: see
   * ClusterRunner). Must be of the mode's algorithm (RSA-2048 in classic,
   * P-256 otherwise). Default: a new key.
   */
  defaultKeyPem?: string;
}

/** Identity derived from a seed and the box-id, so a lab is reproducible. */
function deriveIdentity(seed: string, boxId: number, model: string, sysObjectId?: string): BoxIdentity {
  const h = createHash('sha256').update(`${seed}/${boxId}`).digest();
  const serial = h.subarray(0, 4).toString('hex').toUpperCase();
  // A locally administered unicast MAC (second-lowest bit of the first octet set).
  const mac = [0x02, ...h.subarray(4, 9)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  return { boxId, serial, hostId: mac, model, ...(sysObjectId ? { sysObjectId } : {}) };
}

/** Build the document of a fresh box. The default certificate is RSA-2048 in classic mode, P-256 otherwise. */
export async function createFirstBootDocument(o: FirstBootOptions): Promise<BoxDocument> {
  if (!o.adminPassword) {
    throw new DeviceError(
      'bad-input',
      'An admin password is needed on first boot (--admin-password or GVOS_ADMIN_PASSWORD).',
    );
  }
  validateHostname(o.hostname);
  // EMULATION: the default certificate: self-signed, CN = hostname, SANs hostname and address, 10 years.
  const alg = defaultKeyAlgorithm(o.cryptoMode);
  if (o.adminPasswordHash !== undefined && !o.adminPasswordHash.startsWith('scrypt$'))
    throw new DeviceError('bad-input', 'adminPasswordHash is not a stored password hash (scrypt$...).');
  // Made and encoded on the libuv pool beside the keys below: on the event loop it was ~5% of a
  // 10,000-box lab's start (bench/scale-lab-up).
  // EMULATION: the SSH host key is ECDSA P-256, made on first boot and kept.
  // ECDSA P-256 host key in SEC1 PEM: ssh2 parses it, node:crypto makes it in ~1 ms.
  const hostKeyPem = new Promise<string>((resolve, reject) =>
    generateKeyPair(
      'ec',
      {
        namedCurve: 'prime256v1',
        privateKeyEncoding: { type: 'sec1', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      },
      (err, _publicKey, privateKey) => (err ? reject(err) : resolve(privateKey)),
    ),
  );
  // All off the event loop: scrypt (~50 ms) and key generation (RSA-2048: ~90-190 ms) run on the libuv pool.
  const [passwordHash, key, hostKey] = await Promise.all([
    o.adminPasswordHash ?? hashPasswordAsync(o.adminPassword),
    o.defaultKeyPem !== undefined
      ? { privateKeyPem: o.defaultKeyPem, key: parsePrivateKey(o.defaultKeyPem) }
      : generatePrivateKey(alg),
    hostKeyPem,
  ]);
  if (keyAlgorithmOf(key.key) !== alg)
    throw new DeviceError(
      'bad-input',
      `The default certificate's key must be ${alg} in ${o.cryptoMode} mode.`,
    );
  const certPem = await createSelfSigned({
    privateKey: key.key,
    privateKeyPem: key.privateKeyPem,
    keyAlgorithm: alg,
    commonName: o.hostname,
    altNames: [o.hostname, o.address],
    notBeforeMs: o.nowMs,
    validDays: 3650,
  });
  return {
    schema: 1,
    identity: deriveIdentity(o.seed, o.boxId, o.model, o.sysObjectId),
    config: {
      hostname: o.hostname,
      nameServers: [],
      domainList: [],
      users: { [FIRST_ADMIN_USER]: { role: 'admin', passwordHash } },
      cryptoMode: o.cryptoMode,
      snmp: defaultSnmpConfig(),
    },
    crypto: {
      certificates: {
        [DEFAULT_CERT_NAME]: {
          name: DEFAULT_CERT_NAME,
          certPem,
          keyPem: key.privateKeyPem,
          origin: 'default',
          addedAtMs: o.nowMs,
        },
      },
      caList: [],
      webCert: DEFAULT_CERT_NAME,
    },
    acme: { issued: null, lastRequest: null, accounts: [] },
    firmware: { running: o.firmware, fetched: [o.firmware], installed: null, nextBoot: null },
    snmpEngine: { boots: 0 },
    sshHostKey: hostKey,
  };
}

/**
 * Prepare a stored document for a boot: apply a pending firmware, count
 * the engine boot, turn on the notification events added since the config
 * was saved (withNewSnmpEvents); an operation that was running when the box went down is
 * marked failed (ACME issue: "Failed: interrupted by restart"). Pure.
 */
export function prepareBoot(doc: BoxDocument, nowMs: number): BoxDocument {
  const d = structuredClone(doc);
  if (d.firmware.nextBoot) {
    d.firmware.running = d.firmware.nextBoot;
    d.firmware.nextBoot = null;
    d.firmware.installed = null;
  }
  d.snmpEngine.boots += 1;
  d.config.snmp = withNewSnmpEvents(d.config.snmp);
  if (d.acme.lastRequest?.status === 'In Progress') {
    d.acme.lastRequest = {
      ...d.acme.lastRequest,
      status: 'Failed',
      reason: 'interrupted by restart',
      finishedMs: nowMs,
    };
  }
  return d;
}

/**
 * The saved SNMP config with every event it did not know turned on (the
 * default of a fresh box), and `knownEvents` brought up to date. A state
 * file written before Gigamon's four notifications existed has no
 * `knownEvents` and loads with reset, config-save, firmware-change and
 * auth-fail on; an event the user turned off, which the box knew, stays off.
 * Pure; returns the same object when there is nothing to change.
 */
export function withNewSnmpEvents(c: SnmpConfig): SnmpConfig {
  const known = new Set<SnmpEventName>(c.knownEvents ?? SNMP_EVENTS_BEFORE_GIGAMON);
  if (c.knownEvents && SNMP_EVENTS.every((e) => known.has(e))) return c;
  const on = new Set(c.events);
  for (const e of SNMP_EVENTS) if (!known.has(e)) on.add(e);
  return { ...c, events: SNMP_EVENTS.filter((e) => on.has(e)), knownEvents: [...SNMP_EVENTS] };
}
