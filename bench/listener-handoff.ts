/**
 * How fast a busy lab takes new connections from its listener processes
 * (src/host/listener-pool.ts): Node sends a process's sockets over its IPC
 * channel one at a time, each waiting for the receiver's event loop to
 * acknowledge the last, so the rate depends on the number of listener
 * processes (channels) and on how long a turn of the lab's loop takes.
 * Why a 10,000-box lab spreads its listeners (src/lab/open-files.ts
 * HANDOFF_CHANNELS), and why the 10,000-box served probe saw "no TLS
 * answer" under load with three.
 *
 * A real ListenerPool with `servers` listeners on 127.0.0.1 spread over W
 * listener processes; this process's loop kept busy `busyMs` per turn (a lab
 * issuing certificates); `connections` clients from another process, all at
 * once, each timed from its connect to the server's close (the server ends a
 * connection as soon as it gets it). Same run, W = 1, 3 and 8.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { ListenerPool } from '../src/host/listener-pool.js';
import { silentLogger } from '../src/lib/logger.js';
import { procRssBytes, table, writeResult } from './lib.js';

/** The client: `node -e CLIENT <ports json> <count>`; prints one JSON line of latencies (ms, sorted). */
const CLIENT = `
const { connect } = require('node:net');
const ports = JSON.parse(process.argv[1]);
const n = Number(process.argv[2]);
const lat = [];
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const start = performance.now();
  const c = connect(ports[i % ports.length], '127.0.0.1');
  c.on('error', () => {});
  c.on('close', () => {
    lat.push(performance.now() - start);
    if (lat.length === n) console.log(JSON.stringify({ totalMs: performance.now() - t0, lat: lat.sort((a, b) => a - b) }));
  });
}`;

function clients(ports: number[], n: number): Promise<{ totalMs: number; lat: number[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', CLIENT, JSON.stringify(ports), String(n)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.once('exit', (code) => {
      try {
        resolve(JSON.parse(out) as { totalMs: number; lat: number[] });
      } catch {
        reject(new Error(`the client process exited ${code} without its figures`));
      }
    });
  });
}

/** One pool of `workers` listener processes: the connections' figures and the processes' memory. */
async function handoff(workers: number, servers: number, connections: number, busyMs: number) {
  const pool = new ListenerPool({ perProcess: Math.ceil(servers / workers), logger: silentLogger });
  const list: Server[] = Array.from({ length: servers }, () => {
    const s = createServer({ pauseOnConnect: true });
    s.on('connection', (sock) => sock.destroy());
    return s;
  });
  try {
    const ports = await Promise.all(list.map((s, i) => pool.listen(s, '127.0.0.1', 0, `handoff ${i}`)));
    const rssMiB = pool.processes.map((p) => Math.round((procRssBytes(p.pid) / 1048576) * 10) / 10);
    let busy = true;
    const spin = () => {
      if (!busy) return;
      const end = performance.now() + busyMs;
      while (performance.now() < end);
      setImmediate(spin);
    };
    spin();
    const r = await clients(ports, connections).finally(() => (busy = false));
    const q = (p: number) =>
      Math.round(r.lat[Math.min(r.lat.length - 1, Math.floor((p / 100) * r.lat.length))]!);
    return {
      listenerProcesses: pool.processes.length,
      totalMs: Math.round(r.totalMs),
      perSecond: Math.round((connections / r.totalMs) * 1000),
      p50Ms: q(50),
      p95Ms: q(95),
      maxMs: q(100),
      listenerProcessRssMiB: rssMiB,
    };
  } finally {
    await pool.stop();
  }
}

export async function listenerHandoffBench(full: boolean): Promise<void> {
  const servers = full ? 2000 : 400;
  const connections = full ? 2000 : 1000;
  const busyMs = 8;
  const runs = [];
  for (const w of [1, 3, 8]) runs.push(await handoff(w, servers, connections, busyMs));
  const [one, , eight] = runs;
  writeResult({
    name: 'listener-handoff',
    full,
    figures: {
      servers,
      connections,
      busyMsPerTurn: busyMs,
      method:
        "A real ListenerPool; this process's event loop busy busyMs per turn (a lab issuing); the clients in " +
        'another process, all at once; a connection counts when the server it dialled has taken it and closed it.',
      runs,
    },
    targets: [
      {
        name: `${connections} connections to a busy lab: 8 listener processes vs 1 (same run)`,
        target: 'reported',
        measured: `${eight!.totalMs} vs ${one!.totalMs} ms (${eight!.perSecond} vs ${one!.perSecond}/s)`,
        met: true,
      },
    ],
    table: table(
      ['listener processes', 'all taken (ms)', 'per second', 'p50 / p95 / max (ms)', 'RSS per process (MiB)'],
      runs.map((r) => [
        r.listenerProcesses,
        r.totalMs,
        r.perSecond,
        `${r.p50Ms} / ${r.p95Ms} / ${r.maxMs}`,
        r.listenerProcessRssMiB.join(', '),
      ]),
    ),
  });
}
