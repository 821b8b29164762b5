/**
 * How long one ACME issue takes on a box, from `box.acmeIssue()` (what the
 * CLI command calls) to the new certificate installed on web and served to
 * a new TLS connection, against a real Pebble on loopback
 * (PEBBLE_VA_NOSLEEP=1, no nonce rejection, no authz reuse).
 *
 * Two boxes: classic with rsa-2048 and secure-crypto with prime256v1. The
 * first issue of each box also registers its ACME account and is reported
 * apart; then RUNS re-issues are timed and summarised (median, p90, min,
 * max). Prints a table and writes bench/results/acme-issue-latency.json
 * with the machine it ran on.
 *
 * Run alone (other suites compete for the CPU):
 *   npm run build && node dist/bench/acme-issue-latency.js [runs]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/lib/net.js';
import type { KeyAlgorithm } from '../src/device/key-algorithms.js';
import type { CryptoMode } from '../src/device/model.js';
import { ADMIN } from '../test/harness/boxes.js';
import { startAcmeBox, startPebble, type AcmeBox } from '../test/harness/pebble.js';

const RUNS = Number(process.argv[2] ?? 15);
const HERE = dirname(fileURLToPath(import.meta.url));
// Source (tsx/ts loaders) or compiled (dist/bench): results go to the repository's bench/results.
const RESULTS = HERE.includes(`${join('dist', 'bench')}`)
  ? join(HERE, '..', '..', 'bench', 'results')
  : join(HERE, 'results');

interface Sample {
  installedMs: number;
  servedMs: number;
}

/** One issue: from acmeIssue() to web-certificate-changed (installed) and to a handshake serving it. */
async function issueOnce(
  ab: AcmeBox,
  domain: string,
  directoryUrl: string,
  keyAlgorithm: KeyAlgorithm,
): Promise<Sample> {
  const before = ab.box.acmeState().issued?.serial;
  let installedAt = 0;
  const off = ab.box.events.on('web-certificate-changed', () => (installedAt = performance.now()));
  const t0 = performance.now();
  await ab.box.acmeIssue(ADMIN, { domain, directoryUrl, keyAlgorithm });
  await ab.agent.idle();
  off();
  const st = ab.box.acmeState();
  if (st.lastRequest?.status !== 'Success') throw new Error(`issue failed: ${st.lastRequest?.reason}`);
  const serial = st.issued!.serial;
  if (serial === before) throw new Error('no new certificate');
  for (;;) {
    if ((await ab.served()).serial === serial) break;
  }
  const servedAt = performance.now();
  return { installedMs: installedAt - t0, servedMs: servedAt - t0 };
}

function stats(xs: number[]): { median: number; p90: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { median: r(q(0.5)), p90: r(q(0.9)), min: r(s[0]!), max: r(s[s.length - 1]!) };
}

const loadAtStart = loadavg()[0]!;
const httpPort = await freePort('127.0.0.61');
const pebble = await startPebble({ httpPort });
const cases: { name: string; address: string; cryptoMode: CryptoMode; keyAlgorithm: KeyAlgorithm }[] = [
  { name: 'rsa-2048 (classic)', address: '127.0.0.61', cryptoMode: 'classic', keyAlgorithm: 'rsa-2048' },
  {
    name: 'prime256v1 (secure-crypto)',
    address: '127.0.0.62',
    cryptoMode: 'secure-crypto',
    keyAlgorithm: 'prime256v1',
  },
];
const results: Record<string, unknown>[] = [];
try {
  for (const c of cases) {
    // Default agent settings except caRootUrls (Pebble's root changes per start): what a lab box runs with.
    const ab = await startAcmeBox(pebble, {
      address: c.address,
      httpPort,
      cryptoMode: c.cryptoMode,
      settings: { caRootUrls: () => [pebble.rootUrl] },
    });
    try {
      const first = await issueOnce(ab, c.address, pebble.directoryUrl, c.keyAlgorithm);
      const samples: Sample[] = [];
      for (let i = 0; i < RUNS; i++)
        samples.push(await issueOnce(ab, c.address, pebble.directoryUrl, c.keyAlgorithm));
      results.push({
        keyAlgorithm: c.name,
        runs: RUNS,
        firstIssueWithAccountMs: {
          installed: Math.round(first.installedMs),
          served: Math.round(first.servedMs),
        },
        installedMs: stats(samples.map((s) => s.installedMs)),
        servedMs: stats(samples.map((s) => s.servedMs)),
      });
    } finally {
      await ab.stop();
    }
  }
} finally {
  await pebble.stop();
}

let pebbleVersion = 'unknown';
try {
  pebbleVersion = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'pebble']).toString();
} catch {
  // Not Debian: leave it unknown.
}
const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memGiB: Math.round(totalmem() / 2 ** 30),
  platform: `${platform()} ${release()}`,
  node: process.version,
  pebble: pebbleVersion,
  /** 1-minute load average when the run started: above the core count, the figures are inflated. */
  loadAvg1mAtStart: Math.round(loadAtStart * 100) / 100,
  date: new Date().toISOString(),
};

console.log(
  `ACME issue latency, ${RUNS} re-issues per algorithm after a first issue (median / p90 / min / max, ms)`,
);
console.log(
  `machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, pebble ${machine.pebble}, load ${machine.loadAvg1mAtStart}`,
);
console.log(
  '| key algorithm | first issue + account: installed | installed median | p90 | min | max | served median |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of results as {
  keyAlgorithm: string;
  firstIssueWithAccountMs: { installed: number };
  installedMs: ReturnType<typeof stats>;
  servedMs: ReturnType<typeof stats>;
}[]) {
  const i = r.installedMs;
  console.log(
    `| ${r.keyAlgorithm} | ${r.firstIssueWithAccountMs.installed} | ${i.median} | ${i.p90} | ${i.min} | ${i.max} | ${r.servedMs.median} |`,
  );
}
mkdirSync(RESULTS, { recursive: true });
writeFileSync(
  join(RESULTS, 'acme-issue-latency.json'),
  JSON.stringify({ bench: 'acme-issue-latency', machine, results }, null, 2) + '\n',
);
console.log(`wrote ${join(RESULTS, 'acme-issue-latency.json')}`);
