// Listener processes (src/host/listener-pool.ts): a lab's TCP listening sockets held by child
// processes, each accepted connection handed to the lab's process and dispatched to the box whose
// address the client dialled. Real clients (TCP, TLS, SSH banner, `ss` for who holds the port).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type AddressInfo } from 'node:net';
import { request } from 'node:https';
import { FileFirmwareCatalog } from '../../src/firmware/catalog.js';
import { SystemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { canListen } from '../../src/lib/net.js';
import { ClusterRunner, DEFAULT_ADDRESSING, type Addressing } from '../../src/lab/cluster-runner.js';

const PASSWORD = 'Adm1n-test-pw';
// An address block of its own (a user's lab is 127.0.0.10x; cluster-runner.test is 127.0.3.x).
const addressing: Addressing = {
  ...DEFAULT_ADDRESSING,
  mode: 'addresses',
  addressBase: '127.0.78.0',
  addressOffset: 0,
};

/** Everything a TCP CLI client gets when it sends `lines` and then closes its side (EOF), until the box hangs up. */
function cliScript(address: string, port: number, lines: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: address, port, allowHalfOpen: true });
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no hang-up from ${address}:${port}; got: ${buf.slice(-300)}`));
    }, 15_000);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (buf += d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(buf);
    });
    sock.end(lines.map((l) => l + '\n').join(''));
  });
}

/** The first bytes a server sends on a fresh connection, or 'closed' when it hangs up without a byte. */
function firstBytes(address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: address, port });
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString());
    });
    s.once('close', () => resolve('closed'));
    s.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' ? resolve('closed') : reject(err),
    );
  });
}

/** GET / over a fresh TLS connection: the status and the certificate's subject CN. */
function httpsGet(address: string, port: number): Promise<{ status: number; cn: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      // The box's self-signed default certificate: this test reads its name, it trusts nothing with it.
      { host: address, port, path: '/', agent: false, rejectUnauthorized: false, timeout: 5_000 },
      (res) => {
        const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cn: String(cert.subject?.CN ?? '') }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** PIDs of the processes holding a listening TCP socket on address:port (from `ss -tlnpH`). */
function listenerPids(address: string, port: number): number[] {
  const out = execFileSync('ss', ['-tlnpH', `src ${address}:${port}`], { encoding: 'utf8' });
  return [...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

// Two boxes, their listener processes and about 50 connections: 48 s on a machine at load 12,
// over tap's 180 s at load 25 (eight helpers on two cores).
t.setTimeout(600_000);

const canBind = await canListen('127.0.78.1', 443);
const skip = canBind ? false : 'cannot listen on 127.0.78.1:443 (needs root and the 127/8 loopback range)';

t.test('two boxes whose listeners live in listener processes', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gvos-listeners-'));
  const runner = new ClusterRunner({
    clusterName: 'listeners-test',
    labDir: dir,
    seed: 'listeners-test',
    adminPassword: PASSWORD,
    clock: new SystemClock(),
    logger: silentLogger,
    catalog: new FileFirmwareCatalog(),
    addressing,
    // Four listeners per process: each box's four TCP ports fill one listener process.
    listenerProcesses: { perProcess: 4 },
  });
  t.teardown(async () => {
    await runner.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
  const latest = new FileFirmwareCatalog().latest().version;
  for (const boxId of [1, 2])
    await runner.add({
      boxId,
      hostname: `pooled-${boxId}`,
      model: 'GigaVUE-HC2',
      firmware: latest,
      cryptoMode: 'secure-crypto',
    });
  const pool = runner.listenerPool!;

  t.test('the ports are held by the listener processes, not by the lab process', async (t) => {
    const procs = pool.processes;
    t.equal(procs.length, 2, 'two listener processes (four listeners each)');
    t.same(
      procs.map((p) => p.listeners),
      [4, 4],
    );
    for (const address of ['127.0.78.1', '127.0.78.2'])
      for (const port of [22, 23, 443, 80]) {
        const pids = listenerPids(address, port);
        t.equal(pids.length, 1, `one listener on ${address}:${port}`);
        t.not(pids[0], process.pid, `${address}:${port} is not held by the lab process`);
        t.ok(
          procs.some((p) => p.pid === pids[0]),
          `${address}:${port} is held by a listener process`,
        );
      }
  });

  t.test('a connection reaches the box whose address the client dialled', async (t) => {
    for (const [address, name, id] of [
      ['127.0.78.1', 'pooled-1', 1],
      ['127.0.78.2', 'pooled-2', 2],
    ] as const) {
      // The TCP CLI: log in, list the chassis, send EOF; the answers still come (half-open kept).
      const out = await cliScript(address, 23, ['admin', PASSWORD, 'show chassis', 'exit']);
      t.match(out, new RegExp(`${name} > `), `the CLI at ${address} is ${name}`);
      t.match(
        out,
        new RegExp(`Box ID\\s*:\\s*${id}\\*`),
        `show chassis at ${address} marks box ${id} as the local one`,
      );
      const web = await httpsGet(address, 443);
      t.equal(web.status, 200, `HTTPS at ${address}`);
      t.match(web.cn, name, `the certificate at ${address} is ${name}'s`);
      t.match(await firstBytes(address, 22), /^SSH-2\.0-gvos-sim/, `SSH at ${address}`);
    }
  });

  t.test('a connection to an address no box serves is closed without a byte', async (t) => {
    // What a listener process hands over after the box behind that address stopped: here a
    // listener of the test's own hands the pool a connection to 127.0.78.9, where no box is.
    const stray = createServer({ pauseOnConnect: true }, (sock) => {
      t.equal(pool.dispatch(sock), false, 'the pool finds no box at 127.0.78.9');
    });
    await new Promise<void>((r) => stray.listen(0, '127.0.78.9', r));
    t.teardown(() => stray.close());
    const before = pool.unrouted;
    t.equal(await firstBytes('127.0.78.9', (stray.address() as AddressInfo).port), 'closed');
    t.equal(pool.unrouted, before + 1, 'counted as unrouted');
  });

  t.test('a stopped box frees its ports; the other keeps serving', async (t) => {
    await runner.stop(2);
    t.same(listenerPids('127.0.78.2', 23), [], "box 2's CLI port is closed");
    await t.rejects(firstBytes('127.0.78.2', 23), { code: 'ECONNREFUSED' }, 'box 2 refuses');
    t.match(await firstBytes('127.0.78.1', 22), /^SSH-2\.0-/, 'box 1 still answers');
    await runner.start(2);
    const out = await cliScript('127.0.78.2', 23, ['admin', PASSWORD, 'show chassis', 'exit']);
    t.match(out, /Box ID\s*:\s*2\*/, 'box 2 started again answers on its address');
  });

  t.test('stopAll ends the listener processes', async (t) => {
    const pids = pool.processes.map((p) => p.pid);
    await runner.stopAll();
    t.same(pool.processes, [], 'none left');
    for (const pid of pids) {
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
      t.notOk(alive, `listener process ${pid} has exited`);
    }
    t.same(listenerPids('127.0.78.1', 22), [], '127.0.78.1:22 is free');
  });
});
