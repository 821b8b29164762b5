/**
 * TrustCache: one context and one parse per distinct CA list, keyed by the
 * exact content (never shared between different lists), bounded.
 */
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { createSelfSigned } from '../pki/self-signed.js';
import { TrustCache } from './trust-cache.js';

async function cert(cn: string): Promise<string> {
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  return createSelfSigned({
    privateKey: key,
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    keyAlgorithm: 'prime256v1',
    commonName: cn,
    altNames: [cn],
    notBeforeMs: Date.now(),
    validDays: 1,
  });
}

t.test('the same list gives the same objects; another list other ones', async (t) => {
  const [a, b] = [await cert('a.test'), await cert('b.test')];
  const cache = new TrustCache();
  t.equal(cache.context([a, b]), cache.context([a, b]), 'one context per list');
  t.equal(cache.anchors([a, b]), cache.anchors([a, b]), 'one parse per list');
  t.not(cache.context([a]), cache.context([a, b]), 'a different list, a different context');
  t.not(cache.context([a + b]), cache.context([a, b]), 'the split between entries counts');
  t.same(
    cache.anchors([a, 'not a certificate', b]).map((c) => c.subject.split('\n')[0]),
    ['CN=a.test', 'CN=b.test'],
    'entries that are not certificates anchor nothing',
  );
  t.same(cache.anchors([]), [], 'an empty list trusts nothing');
});

t.test('bounded: the least recently used list goes', async (t) => {
  const pems = [await cert('1.test'), await cert('2.test'), await cert('3.test')];
  const cache = new TrustCache(2);
  const first = cache.context([pems[0]!]);
  cache.context([pems[1]!]);
  cache.context([pems[0]!]); // 0 is now the most recent
  cache.context([pems[2]!]); // evicts 1
  t.equal(cache.size, 2);
  t.equal(cache.context([pems[0]!]), first, 'the recently used one stayed');
});
