/**
 * The SNMP agents of a lab under a manager's polling load (issue 12):
 * requests per second that N boxes answer (N = 1000 with --full, 100
 * without), with the load from a separate process (bench/snmp-load.ts),
 * and p95 latency; the reference is Debian's snmpd, started here on a
 * loopback address with the same community, answering the same kind of
 * requests (sysUpTime.0 GETs; GETBULK of 10 from sysDescr, as snmpbulkwalk
 * does) in the same run. Memory: the resident memory an agent adds per box
 * (N more agents opened on the booted boxes, RSS before and after).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/lib/logger.js';
import { SnmpAgent, agentSettingsOf } from '../src/snmp/agent.js';
import { bootFleet, BENCH_ACTOR } from './fleet.js';
import { percentile, procRssBytes, table, writeResult, type Target } from './lib.js';

const SNMPD_ADDR = '127.0.0.250';
const SNMPD_PORT = 16161;
const WINDOW = 32;

interface LoadResult {
  sent: number;
  answered: number;
  timedOut: number;
  seconds: number;
  latenciesMs: number[];
}

function load(targets: [string, number][], kind: 'get' | 'bulk', seconds: number): Promise<LoadResult> {
  const script = fileURLToPath(new URL('./snmp-load.js', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [script, JSON.stringify({ targets, kind, window: WINDOW, seconds })],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, out) => (err ? reject(new Error(err.message)) : resolve(JSON.parse(out) as LoadResult)),
    );
  });
}

/** Debian's snmpd on SNMPD_ADDR:SNMPD_PORT, community public, no system config; stopped by PID. */
async function startSnmpd(dir: string): Promise<ChildProcess> {
  const conf = join(dir, 'snmpd.conf');
  writeFileSync(
    conf,
    [
      `agentAddress udp:${SNMPD_ADDR}:${SNMPD_PORT}`,
      'rocommunity public 127.0.0.0/8',
      'sysName snmpd-reference',
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/sbin/snmpd', ['-f', '-Lo', '-C', '-c', conf, '-p', join(dir, 'snmpd.pid')], {
    env: { ...process.env, SNMP_PERSISTENT_DIR: dir, MIBS: '', MIBDIRS: '/nonexistent' },
    stdio: 'ignore',
  });
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((r) =>
      execFile(
        'snmpget',
        [
          '-v2c',
          '-c',
          'public',
          '-t',
          '0.2',
          '-r',
          '0',
          '-M',
          '/nonexistent',
          '-m',
          '',
          `${SNMPD_ADDR}:${SNMPD_PORT}`,
          '1.3.6.1.2.1.1.5.0',
        ],
        (e) => r(!e),
      ),
    );
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  throw new Error('snmpd did not answer');
}

function row(name: string, r: LoadResult): (string | number)[] {
  return [
    name,
    Math.round(r.answered / r.seconds),
    percentile(r.latenciesMs, 50).toFixed(2),
    percentile(r.latenciesMs, 95).toFixed(2),
    r.timedOut,
  ];
}

export async function snmpAgentBench(full: boolean): Promise<void> {
  const n = full ? 1000 : 100;
  const seconds = full ? 10 : 5;
  const dir = mkdtempSync(join(tmpdir(), 'gvos-bench-snmpd-'));
  const snmpd = await startSnmpd(dir);
  let refGet: LoadResult;
  let refBulk: LoadResult;
  try {
    refGet = await load([[SNMPD_ADDR, SNMPD_PORT]], 'get', seconds);
    refBulk = await load([[SNMPD_ADDR, SNMPD_PORT]], 'bulk', seconds);
  } finally {
    snmpd.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }

  const fleet = await bootFleet({
    n,
    cryptoMode: 'secure-crypto',
    addressBase: '127.82.0.0',
    ports: { ssh: 2222, cli: 2323, https: 8443, http: 8080, snmp: 161 },
  });
  try {
    for (const id of fleet.ids) {
      const box = fleet.box(id);
      box.snmpEnable(BENCH_ACTOR, true);
      box.snmpAddCommunity(BENCH_ACTOR, 'public');
    }
    const targets = fleet.ids.map((id): [string, number] => [fleet.address(id), 161]);

    // Memory: N more agents on the same boxes (port 1161), RSS before and after.
    global.gc?.();
    const rss0 = procRssBytes('self');
    const extra = await Promise.all(
      fleet.ids.map(async (id) => {
        const box = fleet.box(id);
        const a = new SnmpAgent({
          box,
          engine: {
            engineId: () => '800068f20300000000000' + '1',
            engineBoots: () => 1,
            engineTime: () => 1,
          },
          address: fleet.address(id),
          port: 1161,
          settings: () => agentSettingsOf(box.config.snmp),
          logger: silentLogger,
        });
        await a.start();
        return a;
      }),
    );
    global.gc?.();
    const rssPerAgentMiB = (procRssBytes('self') - rss0) / n / 2 ** 20;
    await Promise.all(extra.map((a) => a.close()));

    const rssBeforeLoad = procRssBytes('self');
    const simGet = await load(targets, 'get', seconds);
    const simBulk = await load(targets, 'bulk', seconds);
    const rssAfterLoad = procRssBytes('self');

    const rows = [
      row(`snmpd (1 agent) GET`, refGet),
      row(`gvos-sim (${n} boxes) GET`, simGet),
      row(`snmpd (1 agent) GETBULK x10`, refBulk),
      row(`gvos-sim (${n} boxes) GETBULK x10`, simBulk),
    ];
    const rate = (r: LoadResult) => r.answered / r.seconds;
    const p95 = (r: LoadResult) => percentile(r.latenciesMs, 95);
    const targetsMet: Target[] = [
      {
        name: `GET rate vs snmpd at ${n} boxes`,
        target: '>= 0.5x',
        measured: `${(rate(simGet) / rate(refGet)).toFixed(2)}x`,
        met: rate(simGet) >= 0.5 * rate(refGet),
      },
      {
        name: `GETBULK rate vs snmpd at ${n} boxes`,
        target: '>= 0.5x',
        measured: `${(rate(simBulk) / rate(refBulk)).toFixed(2)}x`,
        met: rate(simBulk) >= 0.5 * rate(refBulk),
      },
      { name: 'p95 GET', target: '< 20 ms', measured: `${p95(simGet).toFixed(2)} ms`, met: p95(simGet) < 20 },
      {
        name: 'p95 GETBULK',
        target: '< 20 ms',
        measured: `${p95(simBulk).toFixed(2)} ms`,
        met: p95(simBulk) < 20,
      },
      {
        name: 'RSS per agent',
        target: '< 0.1 MiB',
        measured: `${rssPerAgentMiB.toFixed(3)} MiB`,
        met: rssPerAgentMiB < 0.1,
      },
    ];
    writeResult({
      name: 'snmp-agent',
      full,
      figures: {
        boxes: n,
        window: WINDOW,
        seconds,
        snmpd: { get: rate(refGet), bulk: rate(refBulk), getP95: p95(refGet), bulkP95: p95(refBulk) },
        sim: { get: rate(simGet), bulk: rate(simBulk), getP95: p95(simGet), bulkP95: p95(simBulk) },
        timedOut: { simGet: simGet.timedOut, simBulk: simBulk.timedOut },
        rssPerAgentMiB,
        rssGrowthUnderLoadMiB: (rssAfterLoad - rssBeforeLoad) / 2 ** 20,
      },
      targets: targetsMet,
      table: table(['load', 'answered/s', 'p50 ms', 'p95 ms', 'timed out'], rows),
    });
  } finally {
    await fleet.destroy();
  }
}
