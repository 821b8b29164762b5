/**
 * Hot swap under load: HTTPS handshakes per second against one box with no
 * swaps, and with a certificate swap every 10 ms through the real path
 * (`web https certificate name ...` -> Box -> LowdbStore -> event ->
 * setSecureContext). Phases alternate (none, swap, none, swap, ...) so that
 * machine noise hits both alike; the figure is the median per phase kind.
 */
import { fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Box } from '../src/device/box.js';
import { createFirstBootDocument, prepareBoot } from '../src/device/first-boot.js';
import { FileFirmwareCatalog } from '../src/firmware/catalog.js';
import { SystemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { generateKeyPair } from '../src/pki/keys.js';
import { createSelfSigned } from '../src/pki/self-signed.js';
import { LowdbStore } from '../src/store/lowdb-store.js';
import { WebServer } from '../src/web/server.js';
import { median, table, writeResult, type Target } from './lib.js';

const ACTOR = { user: 'bench', role: 'admin' as const, source: 'bench' };

interface LoadResult {
  ok: number;
  failed: number;
  serials: string[];
  errors: string[];
}

function runLoad(port: number, ca: string, concurrency: number, durationMs: number): Promise<LoadResult> {
  const child = fork(fileURLToPath(new URL('./handshake-load.js', import.meta.url)), { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => {
      resolve(m as LoadResult);
      child.kill();
    });
    child.once('error', reject);
    child.send({ port, ca, concurrency, durationMs });
  });
}

export async function hotSwapBench(full: boolean): Promise<void> {
  const durationMs = full ? 5000 : 2000;
  const rounds = 3;
  const concurrency = 4;
  const clock = new SystemClock();
  const catalog = new FileFirmwareCatalog();
  const dir = mkdtempSync(join(tmpdir(), 'gvos-bench-swap-'));
  const store = new LowdbStore(dir);
  const doc = prepareBoot(
    await createFirstBootDocument({
      boxId: 1,
      hostname: 'bench',
      model: 'GigaVUE-HC2',
      firmware: catalog.latest().version,
      cryptoMode: 'secure-crypto',
      adminPassword: 'bench-pw-1',
      address: '127.0.0.1',
      nowMs: clock.now(),
      seed: 'bench',
    }),
    clock.now(),
  );
  await store.save(doc);
  const box = new Box({
    doc,
    persistence: store,
    clock,
    logger: silentLogger,
    firmware: catalog,
    address: '127.0.0.1',
    bootKind: 'cold',
  });
  const names: string[] = [];
  const pems: string[] = [];
  for (let i = 0; i < 10; i++) {
    const k = await generateKeyPair('prime256v1');
    const cert = await createSelfSigned({
      privateKeyPem: k.privateKeyPem,
      keyAlgorithm: 'prime256v1',
      // Distinct subjects: OpenSSL finds a self-signed trust anchor by subject name.
      commonName: `bench-${i}.lab.test`,
      altNames: ['bench.lab.test', '127.0.0.1'],
      notBeforeMs: Date.now(),
      validDays: 30,
    });
    await box.addPublicCertificate(ACTOR, `swap${i}`, cert);
    await box.addPrivateKey(ACTOR, `swap${i}`, k.privateKeyPem);
    names.push(`swap${i}`);
    pems.push(cert);
  }
  await box.setWebCertificate(ACTOR, names[0]!);
  const web = new WebServer({ box, address: '127.0.0.1', httpsPort: 0, httpPort: 0, logger: silentLogger });
  const { https } = await web.listen();
  const ca = pems.join('');

  const rates = { none: [] as number[], swap: [] as number[] };
  let failed = 0;
  let swaps = 0;
  let distinct = 0;
  const errors: string[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const kind of ['none', 'swap'] as const) {
      let i = 0;
      let timer: NodeJS.Timeout | undefined;
      const before = web.swaps;
      if (kind === 'swap') {
        timer = setInterval(() => {
          i = (i + 1) % names.length;
          void box.setWebCertificate(ACTOR, names[i]!);
        }, 10);
      }
      const res = await runLoad(https, ca, concurrency, durationMs);
      if (timer) clearInterval(timer);
      await box.flush();
      rates[kind].push(res.ok / (durationMs / 1000));
      failed += res.failed;
      errors.push(...res.errors);
      if (kind === 'swap') {
        swaps += web.swaps - before;
        distinct = Math.max(distinct, res.serials.length);
      }
    }
  }
  await web.close();

  const none = median(rates.none);
  const swap = median(rates.swap);
  const ratio = swap / none;
  const targets: Target[] = [
    { name: 'failed handshakes while swapping', target: '0', measured: String(failed), met: failed === 0 },
    {
      name: 'handshake rate while swapping / without',
      target: '>= 90%',
      measured: `${(ratio * 100).toFixed(1)}%`,
      met: ratio >= 0.9,
    },
  ];
  writeResult({
    name: 'hot-swap',
    full,
    figures: {
      durationMsPerPhase: durationMs,
      rounds,
      concurrency,
      handshakesPerSecNoSwap: rates.none,
      handshakesPerSecSwap10ms: rates.swap,
      medianNoSwap: none,
      medianSwap: swap,
      swaps,
      distinctCertificatesSeenInOnePhase: distinct,
      failedHandshakes: failed,
      errors: errors.slice(0, 5),
    },
    targets,
    table: table(
      ['scenario', 'handshakes/s (median)', 'runs', 'failed'],
      [
        ['no swap', none.toFixed(0), rates.none.map((x) => x.toFixed(0)).join(' / '), 0],
        ['swap every 10 ms', swap.toFixed(0), rates.swap.map((x) => x.toFixed(0)).join(' / '), failed],
      ],
    ),
  });
}
