// A listener process (src/host/acceptor.ts) must not outlive its lab: after a CI run one held :443
// on thousands of 127.x addresses for 39 minutes because its lab had been SIGKILLed while a
// connection was on its way to it (Node then postpones the child's 'disconnect' for ever).
// Here a real ListenerPool in a process of its own (test/harness/listener-pool-parent.ts) is
// SIGKILLed, once idle and once with connections handed over but never acknowledged (the parent
// stopped with SIGSTOP first); its listener process must be gone and the ports free.
import t, { type Test } from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pidAlive } from '../../src/lab/lab-state.js';

const PARENT = fileURLToPath(new URL('../harness/listener-pool-parent.ts', import.meta.url));
// An address block of its own (listener-processes.test is 127.0.78.x); ports are free ones (0).
const ADDRESSES = ['127.0.79.1', '127.0.79.2', '127.0.79.3'];

interface Started {
  proc: ChildProcess;
  pid: number;
  acceptors: number[];
  endpoints: string[];
}

/** Start the pool's parent under this test's TypeScript loader and read its JSON line. */
async function startParent(t: Test): Promise<Started> {
  const proc = spawn(process.execPath, [...process.execArgv, PARENT, ...ADDRESSES], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', resolve);
    proc.once('exit', (code, signal) =>
      reject(new Error(`the parent exited (${signal ?? code}) before its line`)),
    );
  });
  return { proc, ...(JSON.parse(line) as Omit<Started, 'proc'>) };
}

/** PIDs holding a listening TCP socket on address:port (from `ss -tlnpH`). */
function listenerPids(endpoint: string): number[] {
  const out = execFileSync('ss', ['-tlnpH', `src ${endpoint}`], { encoding: 'utf8' });
  return [...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

/** The first line a server sends on a fresh connection, or the error code of a refused one. */
function firstLine(endpoint: string, timeoutMs = 5_000): Promise<string> {
  const [host, port] = [endpoint.slice(0, endpoint.lastIndexOf(':')), Number(endpoint.split(':').pop())];
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve('no answer');
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => (buf += d));
    s.once('close', () => {
      clearTimeout(timer);
      resolve(buf.trim() || 'closed');
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? err.message);
    });
  });
}

/** Poll `check` every 100 ms until it holds or `ms` passes; whether it held. */
async function within(ms: number, check: () => boolean): Promise<boolean> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** SIGKILL the parent and check that its listener processes end and every port is free. */
async function killParentAndCheck(t: Test, s: Started): Promise<void> {
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGKILL');
  await exited;
  const started = Date.now();
  // A few seconds: the listener process checks on its parent four times a second.
  const gone = await within(5_000, () => s.acceptors.every((pid) => !pidAlive(pid)));
  t.ok(gone, `the listener process (${s.acceptors.join(', ')}) ended after its parent was SIGKILLed`);
  if (gone) t.comment(`listener process gone ${Date.now() - started} ms after the parent's death`);
  for (const endpoint of s.endpoints) {
    t.same(listenerPids(endpoint), [], `nothing listens on ${endpoint} any more`);
    // Once more after a pause if the first try was not refused: CI saw one ECONNRESET here (session 7,
    // 1 run in many) with nothing listening by ss; a port still held would be refused neither time.
    let answer = await firstLine(endpoint);
    if (answer !== 'ECONNREFUSED') {
      t.comment(`${endpoint}: ${answer} at the first try; trying again in 500 ms`);
      await new Promise((r) => setTimeout(r, 500));
      answer = await firstLine(endpoint);
    }
    t.equal(answer, 'ECONNREFUSED', `${endpoint} refuses connections`);
  }
  // Not left behind even when the test fails: end it by its PID.
  for (const pid of s.acceptors) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
}

t.test('an idle pool: its listener process ends with its SIGKILLed parent', async (t) => {
  const s = await startParent(t);
  t.equal(s.acceptors.length, 1, 'one listener process holds the three listeners');
  for (const endpoint of s.endpoints) {
    t.same(listenerPids(endpoint), s.acceptors, `${endpoint} is held by the listener process`);
    t.equal(await firstLine(endpoint), `parent ${s.pid}`, `a connection to ${endpoint} reaches the parent`);
  }
  await killParentAndCheck(t, s);
});

t.test('connections on their way to a dead parent do not keep its listener process up', async (t) => {
  const s = await startParent(t);
  t.equal(await firstLine(s.endpoints[0]!), `parent ${s.pid}`, 'the pool works before');
  // A stopped parent acknowledges no socket handed to it: the state of a lab killed (or hung) while
  // clients connect. The listener process accepts them and waits for the acknowledgement.
  s.proc.kill('SIGSTOP');
  const pending = s.endpoints.map((endpoint) => firstLine(endpoint, 30_000));
  // Accepted by the listener process (not only queued by the kernel): it holds them established.
  const accepted = await within(5_000, () => {
    const out = execFileSync('ss', ['-tnpH', 'state', 'established', 'src 127.0.79.0/24'], {
      encoding: 'utf8',
    });
    return s.acceptors.some((pid) => out.includes(`pid=${pid},`));
  });
  t.ok(accepted, 'the listener process accepted connections the stopped parent cannot acknowledge');
  await killParentAndCheck(t, s);
  // Closed or reset, depending on whether the socket was in the dead parent's channel or in the queue.
  for (const [i, r] of (await Promise.all(pending)).entries())
    t.match(
      r,
      /^(closed|ECONNRESET)$/,
      `the client on its way to ${s.endpoints[i]} is ended, not left hanging`,
    );
});
