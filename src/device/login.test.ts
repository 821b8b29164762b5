import t from 'tap';
import { ADMIN, TEST_PASSWORD, makeTestBox } from '../../test/harness/boxes.js';
import { LoginThrottle } from '../lib/login-throttle.js';
import { Logins, type LoginRequest } from './login.js';

async function setup() {
  const { box, clock } = await makeTestBox();
  const checks = { n: 0 };
  const authenticate = box.authenticate.bind(box);
  box.authenticate = (u, p) => {
    checks.n++;
    return authenticate(u, p);
  };
  const logins = new Logins({ throttle: new LoginThrottle({ clock }), box: () => box, clock });
  const failed: unknown[] = [];
  box.events.on('login-failed', (e) => failed.push(e));
  return { box, clock, logins, checks, failed };
}

const req = (o: Partial<LoginRequest> = {}): LoginRequest => ({
  user: 'admin',
  password: TEST_PASSWORD,
  address: '10.0.0.1',
  source: 'rest 10.0.0.1:1',
  transport: 'rest',
  ...o,
});

t.test('200 parallel logins with the right password: all in, one password check', async (t) => {
  const { logins, checks } = await setup();
  const results = await Promise.all(Array.from({ length: 200 }, () => logins.attemptLogin(req())));
  t.ok(
    results.every((r) => r.kind === 'ok' && r.role === 'admin'),
    'none refused',
  );
  t.equal(checks.n, 1, 'they shared one scrypt check');
  await logins.attemptLogin(req());
  t.equal(checks.n, 1, 'a later one is remembered');
});

t.test('40 parallel wrong passwords: at most 5 checked, each failure announced', async (t) => {
  const { logins, checks, failed } = await setup();
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) => logins.attemptLogin(req({ password: `wrong-${i}` }))),
  );
  t.equal(checks.n, 5, 'five checks');
  t.equal(results.filter((r) => r.kind === 'wrong').length, 5);
  t.equal(results.filter((r) => r.kind === 'refused').length, 35, 'the rest refused unchecked');
  t.equal(failed.length, 5, 'login-failed emitted per failure');
  t.match(failed[4], {
    user: 'admin',
    address: '10.0.0.1',
    transport: 'rest',
    lockedOut: 'source',
    lockedOutMs: 60_000,
  });
  t.match(await logins.attemptLogin(req()), { kind: 'refused', reason: 'locked-out' }, 'locked out now');
});

t.test('remembered credentials end with a password change or the user removal', async (t) => {
  const { box, logins, checks } = await setup();
  box.setUserPassword(ADMIN, 'mon', 'Mon1tor-pw');
  t.match(await logins.attemptLogin(req({ user: 'mon', password: 'Mon1tor-pw' })), { kind: 'ok' });
  box.setUserPassword(ADMIN, 'mon', 'New-pw-2');
  const n = checks.n;
  t.match(await logins.attemptLogin(req({ user: 'mon', password: 'Mon1tor-pw' })), { kind: 'wrong' });
  t.equal(checks.n, n + 1, 'checked again, not remembered');
  t.match(await logins.attemptLogin(req({ user: 'mon', password: 'New-pw-2' })), { kind: 'ok' });
  box.removeUser(ADMIN, 'mon');
  t.match(await logins.attemptLogin(req({ user: 'mon', password: 'New-pw-2' })), { kind: 'wrong' });
});

t.test('no box (a reload): no verdict, nothing counted', async (t) => {
  const { clock } = await setup();
  const throttle = new LoginThrottle({ clock });
  const logins = new Logins({
    throttle,
    box: () => {
      throw new Error('box 1 is not running');
    },
    clock,
  });
  for (let i = 0; i < 10; i++) t.match(await logins.attemptLogin(req()), { kind: 'unavailable' });
  t.equal(throttle.trackedSources, 0);
});
