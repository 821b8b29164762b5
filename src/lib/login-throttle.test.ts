import t from 'tap';
import { ManualClock } from './clock.js';
import { LoginThrottle, lockoutMessage, sourceKey, type LoginAttempt } from './login-throttle.js';

const make = (o: { maxSources?: number } = {}) => {
  const clock = new ManualClock();
  return { clock, th: new LoginThrottle({ clock, ...o }) };
};

function attempt(th: LoginThrottle, address: string, user = 'admin'): LoginAttempt {
  const a = th.begin(address, user);
  if (!a.allowed) throw new Error(`refused: ${address}`);
  return a;
}

t.test('five failures in 60 s lock the source for 60 s; then it may try again', async (t) => {
  const { clock, th } = make();
  for (let i = 1; i <= 4; i++)
    t.equal(attempt(th, '10.0.0.1').failed().lockedOutMs, undefined, `failure ${i}`);
  t.equal(attempt(th, '10.0.0.1').failed().lockedOutMs, 60_000, 'the fifth locks');
  const r = th.begin('10.0.0.1');
  t.same(
    r,
    {
      allowed: false,
      reason: 'locked-out',
      retryAfterMs: 60_000,
      message: 'Too many failed logins from 10.0.0.1; try again in 60 s.',
    },
    'refused without a password check',
  );
  t.equal(th.lockedFor('10.0.0.1'), 60_000);
  clock.advance(59_000);
  t.equal(th.begin('10.0.0.1').allowed, false, 'still locked after 59 s');
  clock.advance(1_000);
  const again = attempt(th, '10.0.0.1');
  t.equal(again.failed().lockedOutMs, undefined, 'after the lockout the count starts over');
});

t.test('failures older than the window are forgotten', async (t) => {
  const { clock, th } = make();
  for (let i = 0; i < 4; i++) attempt(th, '10.0.0.1').failed();
  clock.advance(60_000);
  t.equal(attempt(th, '10.0.0.1').failed().lockedOutMs, undefined, 'the old four left the window');
});

t.test('a success forgets nothing: a guesser with a valid account cannot reset its count', async (t) => {
  const { th } = make();
  for (let round = 0; round < 4; round++) {
    attempt(th, '10.0.0.1', 'admin').failed();
    // The guesser's own monitor account logs in between the guesses.
    attempt(th, '10.0.0.1', 'monitor').succeeded();
  }
  t.equal(attempt(th, '10.0.0.1', 'admin').failed().lockedOutMs, 60_000, 'the fifth failure still locks');
  t.match(th.begin('10.0.0.1', 'monitor'), { allowed: false, reason: 'locked-out' }, 'locked for every user');
});

t.test(
  'attempts are reserved before the check: a parallel burst gets at most maxFailures checks',
  async (t) => {
    const { th } = make();
    const started: LoginAttempt[] = [];
    for (let i = 0; i < 40; i++) {
      const a = th.begin('10.0.0.1', 'admin');
      if (a.allowed) started.push(a);
    }
    t.equal(started.length, 5, '40 at once from a fresh source: 5 may check a password');
    t.same(
      th.begin('10.0.0.1'),
      {
        allowed: false,
        reason: 'busy',
        retryAfterMs: 1_000,
        message: 'Too many logins at once from 10.0.0.1; try again in 1 s.',
      },
      'the others wait (busy, not locked out)',
    );
    started[0]!.succeeded();
    t.equal(th.begin('10.0.0.1').allowed, true, 'a finished check gives its room back');
    t.throws(() => started[0]!.succeeded(), /reported twice/);
    for (const a of started.slice(1)) a.failed();
    t.match(th.begin('10.0.0.1'), { allowed: false }, 'four failures and one running: full');
  },
);

t.test('failures per user name: many sources guessing one user lock that user out', async (t) => {
  const { th } = make();
  for (let i = 0; i < 99; i++) attempt(th, `10.1.${i >> 8}.${i & 255}`, 'admin').failed();
  const last = attempt(th, '10.2.0.1', 'admin').failed();
  t.same(last, { lockedOutMs: 60_000, locked: 'user' }, 'the 100th failure for admin locks admin');
  t.match(
    th.begin('10.3.0.1', 'admin'),
    { allowed: false, reason: 'locked-out', message: /for this user; try again in 60 s/ },
    'from a new source too',
  );
  t.equal(th.begin('10.3.0.1', 'monitor').allowed, true, 'other users are not affected');
});

t.test('source keys: IPv4-mapped counts as IPv4, IPv6 by its /64', async (t) => {
  const rows: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2:bbbb:cccc:dddd:eeee', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['not-an-address', 'not-an-address'],
  ];
  for (const [address, key] of rows) t.equal(sourceKey(address), key, address);
  const { th } = make();
  for (let i = 0; i < 5; i++) attempt(th, `2001:db8:1:2::${i + 1}`).failed();
  t.equal(th.begin('2001:db8:1:2::ffff').allowed, false, 'rotating inside a /64 does not help');
  t.equal(th.begin('2001:db8:1:3::1').allowed, true, 'the next /64 is another source');
});

t.test('memory is bounded: idle entries go first, then the oldest', async (t) => {
  const { th } = make({ maxSources: 3 });
  for (let i = 0; i < 5; i++) attempt(th, '10.0.0.1').failed();
  attempt(th, '10.0.0.2').failed();
  attempt(th, '10.0.0.3').failed();
  attempt(th, '10.0.0.4').failed();
  t.equal(th.trackedSources, 3);
  for (let i = 5; i < 100; i++) attempt(th, `10.0.1.${i}`).failed();
  t.equal(th.trackedSources, 3, 'never more than maxSources');
});

t.test('the message names the source and the wait in seconds', async (t) => {
  t.equal(
    lockoutMessage('::ffff:10.0.0.9', 59_001),
    'Too many failed logins from 10.0.0.9; try again in 60 s.',
  );
});
