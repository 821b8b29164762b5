/**
 * The box's ACME account against a real Pebble, counting what the box sends
 * (every request of the agent goes through BoxTransport.request; the test
 * records them and lets them through):
 * - a renew and a revoke with the account URL stored send no newAccount:
 *   they sign with the stored URL (kid) from their first request;
 * - after Pebble restarts (it forgets every account, order and root), a
 *   renew with the stored URL is refused as an unknown account, registers
 *   the same key again once, and succeeds; the new URL is stored and the
 *   next operation uses it without newAccount.
 */
import t from 'tap';
import { freePort } from '../../src/lib/net.js';
import { BoxTransport } from '../../src/acme/transport.js';
import { TrustCache } from '../../src/acme/trust-cache.js';
import { acmePortOf, ADMIN } from '../harness/boxes.js';
import { startAcmeBox, startPebble } from '../harness/pebble.js';

/** Every request the box's transports send, as "METHOD path" (the payload's kind is in the path). */
const sent: string[] = [];
// eslint-disable-next-line @typescript-eslint/unbound-method -- called below with its own `this`
const original = BoxTransport.prototype.request;
BoxTransport.prototype.request = function (this: BoxTransport, url, method, opts) {
  sent.push(`${method.toUpperCase()} ${new URL(url).pathname}`);
  return original.call(this, url, method, opts);
};
t.teardown(() => {
  BoxTransport.prototype.request = original;
});

/** Pebble's newAccount path (its directory's newAccount URL). */
const NEW_ACCOUNT = 'POST /sign-me-up';
/** The directory GET and Pebble's newNonce (its directory's newNonce URL). */
const DIRECTORY = 'GET /dir';
const NEW_NONCE = 'GET /nonce-plz';
const count = (what: string) => sent.filter((r) => r === what).length;

t.test(
  'a stored account: renew and revoke send no newAccount; a forgotten one is registered again',
  async (t) => {
    const address = '127.0.0.24';
    const httpPort = await freePort(address);
    const pebble = await startPebble({ httpPort });
    t.teardown(() => pebble.stop());
    const ab = await startAcmeBox(pebble, { address, httpPort });
    t.teardown(() => ab.stop());
    const { box, agent } = ab;
    const account = () => acmePortOf(box).acmeAccount(pebble.directoryUrl);

    sent.length = 0;
    await box.acmeIssue(ADMIN, { domain: address, directoryUrl: pebble.directoryUrl });
    await agent.idle();
    t.match(box.acmeState().lastRequest, { type: 'Issue', status: 'Success' }, 'issued');
    t.equal(sent.filter((r) => r === NEW_ACCOUNT).length, 1, 'the first issue registers the account');
    const firstUrl = account()?.accountUrl;
    t.ok(firstUrl, 'the account URL is stored');

    sent.length = 0;
    await box.acmeRenew(ADMIN, address);
    await agent.idle();
    t.match(box.acmeState().lastRequest, { type: 'Renew', status: 'Success' });
    t.notOk(sent.includes(NEW_ACCOUNT), `renew: no newAccount (${sent.join(', ')})`);
    // The directory is the pool's since the issue: the server check is one newNonce, whose nonce signs.
    t.equal(count(DIRECTORY), 0, `renew: no directory GET (${sent.join(', ')})`);
    t.equal(count(NEW_NONCE), 1, 'renew: one newNonce (the server check)');
    t.equal(sent[0], NEW_NONCE, 'the server check comes first');

    sent.length = 0;
    await box.acmeRevoke(ADMIN, address);
    await agent.idle();
    t.match(box.acmeState().lastRequest, { type: 'Revoke', status: 'Success' });
    t.notOk(sent.includes(NEW_ACCOUNT), 'revoke: no newAccount');
    t.equal(count(DIRECTORY), 0, 'revoke: no directory GET');

    // Pebble forgets everything on restart; the box still holds the old URL.
    await pebble.restart();
    sent.length = 0;
    await box.acmeRenew(ADMIN, address);
    await agent.idle();
    t.match(box.acmeState().lastRequest, { type: 'Renew', status: 'Success' }, 'renewed after the restart');
    t.equal(sent.filter((r) => r === NEW_ACCOUNT).length, 1, 'registered again, once');
    t.ok(
      sent.indexOf(NEW_ACCOUNT) > sent.indexOf('POST /order-plz'),
      `registered after the CA refused the stored URL, not up front (${sent.join(', ')})`,
    );
    t.ok(account()?.accountUrl, 'an account URL is stored after the re-registration');

    sent.length = 0;
    await box.acmeRenew(ADMIN, address);
    await agent.idle();
    t.match(box.acmeState().lastRequest, { type: 'Renew', status: 'Success' });
    t.notOk(sent.includes(NEW_ACCOUNT), 'the next renew uses the new URL without newAccount');

    // A cached directory does not hide a CA that is down: the start is refused as before.
    await pebble.stopCa();
    await t.rejects(box.acmeRenew(ADMIN, address), {
      code: 'precondition',
      message: /^Cannot reach the ACME server https:\/\/.*\/dir: cannot connect to .* \(ECONNREFUSED\)\.$/,
    });
    // The failed check forgot the directory: the next operation GETs it again.
    await pebble.startCa();
    sent.length = 0;
    await box.acmeRenew(ADMIN, address);
    await agent.idle();
    t.match(box.acmeState().lastRequest, { type: 'Renew', status: 'Success' }, 'renewed once the CA is back');
    t.equal(sent[0], DIRECTORY, `the directory is fetched again after a failed check (${sent.join(', ')})`);
  },
);

t.test('boxes of one pool starting at once send one directory GET between them', async (t) => {
  const addresses = ['127.0.0.24', '127.0.0.25', '127.0.0.26'];
  const httpPort = await freePort(addresses[0]);
  const pebble = await startPebble({ httpPort });
  t.teardown(() => pebble.stop());
  // One TrustCache, as a lab shares it: the boxes' transports share connections, nonces and the directory.
  const trust = new TrustCache();
  const boxes = await Promise.all(
    addresses.map((address) => startAcmeBox(pebble, { address, httpPort, trust })),
  );
  t.teardown(() => Promise.all(boxes.map((b) => b.stop())));
  sent.length = 0;
  await Promise.all(
    boxes.map((b, i) => b.box.acmeIssue(ADMIN, { domain: addresses[i]!, directoryUrl: pebble.directoryUrl })),
  );
  await Promise.all(boxes.map((b) => b.agent.idle()));
  for (const b of boxes) t.match(b.box.acmeState().lastRequest, { type: 'Issue', status: 'Success' });
  t.equal(count(DIRECTORY), 1, `one directory GET for three boxes (${sent.join(', ')})`);
  // The two that waited check with a newNonce whose nonce goes to the pool; the pool may feed the first.
  t.ok(count(NEW_NONCE) <= 3, `at most one newNonce per box (${count(NEW_NONCE)})`);
});
