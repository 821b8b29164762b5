// The device's vocabulary (limits.ts, key-algorithms.ts): the edges import
// these, so the CLI, the REST API and the lab agree with the device.
import t from 'tap';
import {
  ALGORITHMS_BY_MODE,
  CLI_ALGORITHM_WORDS,
  defaultKeyAlgorithm,
  KEY_ALGORITHMS,
  MANAGER_ALGORITHMS,
  managerAlgorithm,
} from './key-algorithms.js';
import { BOX_ID_MAX, isBoxId } from './limits.js';
import { CRYPTO_MODES } from './model.js';

t.test('each mode allows its default algorithm, and only known ones', async (t) => {
  for (const mode of CRYPTO_MODES) {
    t.ok(ALGORITHMS_BY_MODE[mode].includes(defaultKeyAlgorithm(mode)), mode);
    for (const a of ALGORITHMS_BY_MODE[mode]) t.ok(KEY_ALGORITHMS.includes(a), `${mode} ${a}`);
  }
  t.equal(defaultKeyAlgorithm('classic'), 'rsa-2048');
  t.equal(defaultKeyAlgorithm('secure-crypto'), 'prime256v1');
  t.equal(defaultKeyAlgorithm('fips'), 'prime256v1');
});

t.test('the manager spells EC keys with ec-, the CLI accepts both spellings', async (t) => {
  t.equal(managerAlgorithm('prime256v1'), 'ec-prime256v1');
  t.equal(managerAlgorithm('secp384r1'), 'ec-secp384r1');
  t.equal(managerAlgorithm('rsa-4096'), 'rsa-4096');
  for (const a of KEY_ALGORITHMS) {
    t.equal(MANAGER_ALGORITHMS[managerAlgorithm(a)], a, `round trip ${a}`);
    t.equal(CLI_ALGORITHM_WORDS[a], a, `CLI word ${a}`);
    t.equal(CLI_ALGORITHM_WORDS[managerAlgorithm(a)], a, `CLI synonym ${managerAlgorithm(a)}`);
  }
  t.equal(Object.hasOwn(CLI_ALGORITHM_WORDS, 'toString'), false);
});

t.test('box-ids are 1-65535', async (t) => {
  t.equal(BOX_ID_MAX, 65535);
  t.ok(isBoxId(1) && isBoxId(150) && isBoxId(65535));
  t.notOk(isBoxId(0) || isBoxId(65536) || isBoxId(1.5));
});
