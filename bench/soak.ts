/**
 * Soak (issue 8): many boxes in this process under steady load for minutes,
 * with renewals every few seconds fleet-wide, then an accounting. Not run in
 * CI: `npm run bench -- --only soak --full` (100 boxes, 200 concurrent SSH
 * sessions, HTTPS load, 5 minutes); without --full a 100-second rehearsal
 * with 10 boxes and 20 sessions.
 *
 * - Boxes: the lab's ClusterRunner (bench/fleet.ts), each on its own
 *   loopback address, secure-crypto, an ACME certificate from a real Pebble
 *   whose certificates live 60 s, so that every box auto-renews on its timer
 *   about every 40 s (2.5 renewals a second for 100 boxes). Retry delays are
 *   shortened to fit such short certificates.
 * - Load, from a child process (so its CPU is not the simulator's): SSH
 *   shells spread over the boxes, each running `show crypto acme client
 *   info` about once a second and waiting for the prompt; fresh TLS
 *   handshakes plus GET /health over HTTPS, to random boxes.
 * - Accounting: every auto-renewal that finished (acme-request-finished) is
 *   a success (certificate-renewed, chained to the previous serial) or a
 *   failure (certificate-renewal-failed); none is left In Progress; every
 *   box renewed as often as its schedule says (no timer lost); at the end
 *   each box serves the certificate its state file holds, unexpired.
 * - Memory: the RSS of this process (all boxes) sampled every 5 s; flat
 *   means the last fifth's mean is within 10 % of the second fifth's.
 *
 * Writes bench/results/soak.json.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { freePort } from '../src/lib/net.js';
import type { BoxDocument } from '../src/device/model.js';
import { startPebble } from '../test/harness/pebble.js';
import { BENCH_ACTOR, BENCH_PASSWORD, bootFleet, childPids, openFds } from './fleet.js';
import { configureFleet, domainOf } from './fleet-issuance.js';
import { procRssBytes, table, writeResult, type Target } from './lib.js';

const CERT_LIFETIME_S = 60;
const PORTS = { ssh: 2222, cli: 2323, https: 4443, snmp: 1161 };

interface Size {
  boxes: number;
  sessions: number;
  httpsLoops: number;
  durationMs: number;
}

/** What the load child reports. */
interface LoadReport {
  sshCommands: number;
  sshFailures: number;
  sshErrors: string[];
  sshMaxMs: number;
  sessionsOpen: number;
  httpsOk: number;
  httpsFailures: number;
  httpsErrors: string[];
  expiredServed: number;
}

interface LoadJob {
  addresses: string[];
  sessions: number;
  httpsLoops: number;
  durationMs: number;
  password: string;
}

// ------------------------------------------------------------------ the load child

async function runLoadChild(job: LoadJob): Promise<LoadReport> {
  const r: LoadReport = {
    sshCommands: 0,
    sshFailures: 0,
    sshErrors: [],
    sshMaxMs: 0,
    sessionsOpen: 0,
    httpsOk: 0,
    httpsFailures: 0,
    httpsErrors: [],
    expiredServed: 0,
  };
  const until = Date.now() + job.durationMs;
  const note = (list: string[], s: string) => list.length < 10 && list.push(s);
  const shell = async (address: string) => {
    const c = new ssh2.Client();
    try {
      await new Promise<void>((resolve, reject) => {
        c.once('ready', () => resolve());
        c.once('error', reject);
        c.connect({
          host: address,
          port: PORTS.ssh,
          username: 'admin',
          password: job.password,
          readyTimeout: 30_000,
        });
      });
      const stream = await new Promise<ssh2.ClientChannel>((res, rej) =>
        c.shell(false, (e, s) => (e ? rej(e) : res(s))),
      );
      r.sessionsOpen++;
      let buf = '';
      let wake: (() => void) | undefined;
      stream.on('data', (d: Buffer) => {
        buf += d.toString();
        wake?.();
      });
      const prompt = async (timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs;
        while (!/[>#] $/.test(buf)) {
          if (Date.now() > deadline)
            throw new Error(`no prompt after ${timeoutMs} ms: ${JSON.stringify(buf.slice(-200))}`);
          await new Promise<void>((w) => {
            wake = w;
            setTimeout(w, 100);
          });
        }
      };
      await prompt(30_000);
      while (Date.now() < until) {
        buf = '';
        const t0 = Date.now();
        stream.write('show crypto acme client info\n');
        try {
          await prompt(20_000);
          if (!/Request-Status/.test(buf))
            throw new Error(`unexpected answer ${JSON.stringify(buf.slice(0, 200))}`);
          r.sshCommands++;
          r.sshMaxMs = Math.max(r.sshMaxMs, Date.now() - t0);
        } catch (e) {
          r.sshFailures++;
          note(r.sshErrors, `${address}: ${(e as Error).message}`);
        }
        await new Promise((w) => setTimeout(w, 700 + Math.random() * 600));
      }
    } catch (e) {
      r.sshFailures++;
      note(r.sshErrors, `${address}: ${(e as Error).message}`);
    } finally {
      c.end();
    }
  };
  const https = async () => {
    while (Date.now() < until) {
      const address = job.addresses[Math.floor(Math.random() * job.addresses.length)]!;
      await new Promise<void>((resolve) => {
        const s = tlsConnect(
          { host: address, port: PORTS.https, rejectUnauthorized: false, timeout: 10_000 },
          () => {
            const cert = new X509Certificate(s.getPeerX509Certificate()!.raw);
            if (Date.parse(cert.validTo) < Date.now()) r.expiredServed++;
            s.write(`GET /health HTTP/1.1\r\nHost: ${address}\r\nConnection: close\r\n\r\n`);
          },
        );
        let text = '';
        s.setEncoding('utf8');
        s.on('data', (d: string) => (text += d));
        s.once('timeout', () => s.destroy(new Error('timeout')));
        s.once('error', (e) => {
          r.httpsFailures++;
          note(r.httpsErrors, `${address}: ${e.message}`);
          resolve();
        });
        s.once('close', () => {
          if (/^HTTP\/1\.1 200 /.test(text)) r.httpsOk++;
          else if (text) {
            r.httpsFailures++;
            note(r.httpsErrors, `${address}: ${text.slice(0, 80)}`);
          }
          resolve();
        });
      });
    }
  };
  // Sessions open a few at a time: an SSH key exchange costs CPU on both sides.
  const shells: Promise<void>[] = [];
  for (let i = 0; i < job.sessions; i++) {
    shells.push(shell(job.addresses[i % job.addresses.length]!));
    if (i % 10 === 9) await new Promise((w) => setTimeout(w, 200));
  }
  await Promise.all([...shells, ...Array.from({ length: job.httpsLoops }, https)]);
  return r;
}

if (process.env.GVOS_SOAK_CHILD === '1') {
  process.once('message', (job: LoadJob) => {
    void runLoadChild(job).then((r) => process.send!(r, () => process.exit(0)));
  });
}

// ------------------------------------------------------------------ the benchmark

/** Per box: what the events said. */
interface Ledger {
  serial: string;
  renewed: number;
  failed: number;
  finished: number;
  brokenChain: number;
}

export async function soakBench(full: boolean): Promise<void> {
  const size: Size = full
    ? { boxes: 100, sessions: 200, httpsLoops: 8, durationMs: 5 * 60_000 }
    : { boxes: 10, sessions: 20, httpsLoops: 2, durationMs: 100_000 };
  const httpPort = await freePort('127.0.0.1');
  const pebble = await startPebble({ httpPort, validitySeconds: CERT_LIFETIME_S });
  const pebblePid = childPids('pebble')[0];
  const fleet = await bootFleet({
    n: size.boxes,
    cryptoMode: 'secure-crypto',
    // Apart from the rehearsal's, so a full run and a rehearsal can run side by side.
    addressBase: full ? '127.73.0.0' : '127.74.0.0',
    ports: { ...PORTS, http: httpPort },
    acmeSettings: {
      requestTimeoutMs: 15_000,
      // Certificates of a minute: retry within seconds, and until a few seconds before expiry.
      renewalRetryDelaysMs: [2_000, 5_000],
      lastChanceBeforeExpiryMs: 3_000,
      busyRetryMs: 2_000,
      autoRenewalMinGapMs: 2_000,
    },
  });
  try {
    await configureFleet(fleet, pebble, await pebble.root(), 'soak');
    const ledgers = new Map<number, Ledger>();
    await Promise.all(
      fleet.ids.map(async (id) => {
        const box = fleet.box(id);
        const done = new Promise<void>((resolve) => {
          const off = box.events.on('acme-request-finished', () => {
            off();
            resolve();
          });
        });
        await box.acmeIssue(BENCH_ACTOR, { domain: domainOf('soak', id), directoryUrl: pebble.directoryUrl });
        await done;
        const issued = box.acmeState().issued;
        if (!issued)
          throw new Error(
            `box ${id}: the first issuance failed: ${JSON.stringify(box.acmeState().lastRequest)}`,
          );
        const l: Ledger = { serial: issued.serial, renewed: 0, failed: 0, finished: 0, brokenChain: 0 };
        ledgers.set(id, l);
        box.events.on('certificate-renewed', (e) => {
          l.renewed++;
          if (e.previousSerial !== l.serial) l.brokenChain++;
          l.serial = e.serial;
        });
        box.events.on('certificate-renewal-failed', () => l.failed++);
        box.events.on('acme-request-finished', (e) => {
          if (e.request.type === 'Auto-Renew') l.finished++;
        });
      }),
    );
    const issuedAt = Date.now();

    const rss: number[] = [];
    const sample = () => rss.push(procRssBytes('self'));
    sample();
    const sampler = setInterval(sample, 5_000);
    const child = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, GVOS_SOAK_CHILD: '1' },
      stdio: 'inherit',
    });
    const load = new Promise<LoadReport>((resolve, reject) => {
      child.once('message', (m: LoadReport) => resolve(m));
      child.once('exit', (code) => reject(new Error(`the load child exited with ${code} before reporting`)));
    });
    const job: LoadJob = {
      addresses: fleet.ids.map((id) => fleet.address(id)),
      sessions: size.sessions,
      httpsLoops: size.httpsLoops,
      durationMs: size.durationMs,
      password: BENCH_PASSWORD,
    };
    child.send(job);
    const report = await load;
    clearInterval(sampler);
    sample();

    // Let renewals that are running end, then account.
    const settleUntil = Date.now() + 30_000;
    while (Date.now() < settleUntil && fleet.ids.some((id) => fleet.box(id).acmeBusy))
      await new Promise((w) => setTimeout(w, 200));
    const elapsedS = (Date.now() - issuedAt) / 1000;
    const stuck = fleet.ids.filter((id) => fleet.box(id).acmeBusy);
    const mismatched: string[] = [];
    for (const id of fleet.ids) {
      const box = fleet.box(id);
      const doc = JSON.parse(
        readFileSync(join(fleet.labDir, `box-${id}`, 'state.json'), 'utf8'),
      ) as BoxDocument;
      const issued = box.acmeState().issued;
      const l = ledgers.get(id)!;
      if (!issued || doc.acme.issued?.serial !== issued.serial || l.serial !== issued.serial)
        mismatched.push(
          `box ${id}: state ${doc.acme.issued?.serial}, box ${issued?.serial}, events ${l.serial}`,
        );
      else if (issued.expiresMs < Date.now())
        mismatched.push(`box ${id}: expired ${new Date(issued.expiresMs).toISOString()}`);
    }
    const served = await Promise.all(
      fleet.ids.map(
        (id) =>
          new Promise<string>((resolve) => {
            const s = tlsConnect(
              { host: fleet.address(id), port: PORTS.https, rejectUnauthorized: false },
              () => {
                resolve(s.getPeerX509Certificate()!.serialNumber.toUpperCase());
                s.destroy();
              },
            );
            s.once('error', (e) => resolve(`error ${e.message}`));
          }),
      ),
    );
    const notServed = fleet.ids.filter((id, i) => served[i] !== fleet.box(id).acmeState().issued?.serial);

    const all = [...ledgers.values()];
    const renewed = all.reduce((n, l) => n + l.renewed, 0);
    const failed = all.reduce((n, l) => n + l.failed, 0);
    const finished = all.reduce((n, l) => n + l.finished, 0);
    const brokenChain = all.reduce((n, l) => n + l.brokenChain, 0);
    // A box renews when a third of its 60 s is left: at least this many times in the run.
    const periodS = (CERT_LIFETIME_S * 2) / 3;
    const expectedEach = Math.floor(elapsedS / periodS) - 1;
    const behind = fleet.ids.filter((id) => ledgers.get(id)!.renewed < expectedEach);
    const fifth = Math.max(1, Math.floor(rss.length / 5));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const rssEarly = mean(rss.slice(fifth, 2 * fifth));
    const rssLate = mean(rss.slice(-fifth));
    const mib = (b: number) => Math.round(b / 2 ** 20);

    const targets: Target[] = [
      {
        name: 'every renewal accounted for',
        target: 'finished = renewed + failed; chains unbroken; none stuck',
        measured: `${finished} finished = ${renewed} renewed + ${failed} failed; ${brokenChain} broken; ${stuck.length} stuck`,
        met: finished === renewed + failed && brokenChain === 0 && stuck.length === 0,
      },
      {
        name: 'no timer lost',
        target: `each box renewed at least ${expectedEach} times`,
        measured: `${behind.length} boxes behind`,
        met: behind.length === 0,
      },
      {
        name: 'nothing lost',
        target: 'state = box = events = served, unexpired; every SSH command answered; no HTTPS failure',
        measured: `${mismatched.length} mismatched, ${notServed.length} not served, ${report.sshFailures} SSH failures, ${report.httpsFailures} HTTPS failures, ${report.expiredServed} expired served`,
        met:
          mismatched.length === 0 &&
          notServed.length === 0 &&
          report.sshFailures === 0 &&
          report.httpsFailures === 0 &&
          report.expiredServed === 0,
      },
      {
        name: 'memory flat',
        target: 'RSS of the last fifth within 10 % of the second fifth',
        measured: `${mib(rssEarly)} -> ${mib(rssLate)} MiB`,
        met: rssLate <= rssEarly * 1.1,
      },
    ];
    const figures = {
      size,
      certLifetimeS: CERT_LIFETIME_S,
      elapsedS: Math.round(elapsedS),
      renewals: {
        finished,
        renewed,
        failed,
        brokenChain,
        stuck,
        perBoxMin: Math.min(...all.map((l) => l.renewed)),
        expectedEach,
      },
      load: report,
      mismatched: mismatched.slice(0, 10),
      notServed: notServed.slice(0, 10),
      rssMiB: rss.map(mib),
      pebbleRssMiB: pebblePid ? mib(procRssBytes(pebblePid)) : null,
      openFds: openFds(),
    };
    const rows = [
      ['boxes', size.boxes],
      ['SSH sessions open', `${report.sessionsOpen} of ${size.sessions}`],
      [
        'SSH commands answered',
        `${report.sshCommands} (${report.sshFailures} failed, slowest ${report.sshMaxMs} ms)`,
      ],
      ['HTTPS requests', `${report.httpsOk} ok, ${report.httpsFailures} failed`],
      ['auto-renewals', `${renewed} renewed, ${failed} failed, ${finished} finished`],
      ['renewals per box (min / expected)', `${figures.renewals.perBoxMin} / ${expectedEach}`],
      ['RSS MiB (start, second fifth, last fifth)', `${mib(rss[0]!)}, ${mib(rssEarly)}, ${mib(rssLate)}`],
      ['duration', `${Math.round(elapsedS)} s`],
    ];
    writeResult({
      name: 'soak',
      full,
      figures,
      targets,
      table: table(
        ['what', 'value'],
        rows.map((r) => r.map(String)),
      ),
    });
  } finally {
    await fleet.destroy();
    await pebble.stop();
  }
}
