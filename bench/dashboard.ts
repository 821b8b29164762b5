/**
 * The fleet dashboard of a large lab, in Debian's Chromium (playwright-core),
 * against a real lab in this process (Lab.up: Pebble, snmptrapd, N boxes on
 * 127.77.x.y with their certificates issued) and its control plane over
 * HTTPS, Chromium trusting only the lab's CA root. Measured:
 * - first paint: a logged-in page load until the table shows its rows and
 *   knows all N boxes (median of 3), and Chromium's first-contentful-paint;
 *   reference in the same run: the same for box 1's own GUI page;
 * - event to page: box 1's `acme-slow` fault toggled in the lab every 400 ms
 *   until the page's box-1 faults cell shows it (a MutationObserver in the
 *   page stamps Date.now(); the same clock as the lab's), in three states of
 *   the lab:
 *   1. idle (reference);
 *   2. real renewals: the other boxes renewed through the lab's API
 *      (Lab.fleet('renew', [id]), the code `lab acme renew` and the
 *      dashboard's form run), started open-loop at a fixed 100 a second
 *      (round-robin, a box at most once in flight, at most 200 in flight),
 *      against Pebble. What completes is reported: Pebble and the lab on a
 *      2-core machine finish far fewer than 100 a second;
 *   3. the dashboard load of 100 renewals a second without the CA: a renewal
 *      shows on the dashboard as 3 events (requested, finished, the trap)
 *      and 2 row changes; the bench toggles `snmp-muted` on the other boxes
 *      through the lab's API at a fixed 300 a second (300 events and 300 row
 *      changes a second, more than that), so the page, the stream and the
 *      lab's event path carry that rate while Pebble is idle;
 * - the lab process's CPU (user+system, /proc) over 10 s with the page open
 *   and nothing happening, against 10 s with no page (reference).
 * `node dist/bench/run.js --only dashboard [--full]`: 100 boxes, or 1000
 * with --full (GVOS_BENCH_BOXES overrides).
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { chromiumMissing, launchChromium } from '../test/harness/chromium.js';
import { FileFirmwareCatalog } from '../src/firmware/catalog.js';
import { ControlPlane } from '../src/lab/control-plane.js';
import { planeCredentials, planeName } from '../src/lab/dashboard/plane-tls.js';
import { dashboardRows } from '../src/lab/dashboard/rows.js';
import { Lab } from '../src/lab/lab.js';
import { defaultTopology } from '../src/lab/topology.js';
import { JsonLogger } from '../src/lib/logger.js';
import { median, percentile, procCpuSeconds, table, writeResult, type Target } from './lib.js';

const PASSWORD = 'Bench-dash-pw1';
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Load `url` in a new page of `context` until `ready` is visible; ms from goto to ready, and Chromium's FCP. */
async function firstPaint(
  context: BrowserContext,
  url: string,
  ready: string,
): Promise<{ ms: number; fcp: number }> {
  const page = await context.newPage();
  try {
    const t0 = performance.now();
    await page.goto(url);
    await page.locator(ready).first().waitFor({ timeout: 60_000 });
    const ms = performance.now() - t0;
    const fcp = await page.evaluate(
      () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1,
    );
    return { ms, fcp };
  } finally {
    await page.close();
  }
}

/** The dashboard bench (see the file comment). */
export async function dashboardBench(full: boolean): Promise<void> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const n = Number(process.env.GVOS_BENCH_BOXES) || (full ? 1000 : 100);
  const load0 = loadavg();
  const labsDir = mkdtempSync(join(tmpdir(), 'gvos-bench-dash-'));
  const catalog = new FileFirmwareCatalog();
  const topology = defaultTopology(n, {
    firmware: catalog.list().map((i) => ({ version: i.version, models: i.models, acme: i.features.acme })),
    defaultFirmware: catalog.latest().version,
  });
  topology.lab = 'bench-dash';
  topology.adminPassword = PASSWORD;
  // Own addresses, apart from the tests' blocks.
  topology.network = { ...topology.network, addressBase: '127.77.0.0', addressOffset: 0 };
  const tUp0 = performance.now();
  const lab = await Lab.up({
    topology,
    labsDir,
    catalog,
    logger: new JsonLogger('warn', { lab: topology.lab }, () => undefined),
  });
  const upS = round((performance.now() - tUp0) / 1000);
  const plane = new ControlPlane(lab, 'bench-token-0123456789', () => undefined);
  // Box 1's certificate names it, not its address: reach it by name, as /etc/hosts would.
  const box1Name = lab.domainFor(1);
  const browser = await launchChromium(lab.caRootPem!, [
    `--host-resolver-rules=MAP ${box1Name} ${lab.boxStatus(1).address}`,
  ]);

  try {
    await plane.listen();
    const name = planeName(topology.lab, topology.domain);
    const port = await plane.listenHttps(await planeCredentials(name, lab.signingRoot, Date.now()));
    const url = `https://127.0.0.1:${port}/`;
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    // Log in through the page (the browser holds the cookie; Node's TLS does not trust the lab root).
    const loginPage = await context.newPage();
    await loginPage.goto(url);
    await loginPage.fill('#login-password', PASSWORD);
    await loginPage.click('#login-form button[type=submit]');
    await loginPage.locator('#main-view').waitFor({ timeout: 60_000 });
    await loginPage.close();
    const ids = lab.runner.ids();
    const valid = ids.filter((id) => lab.boxStatus(id).certificate.status === 'valid').length;

    // --- first paint (after one warm-up load, as a presenter reloads)
    await firstPaint(context, url, '#rows tr.box');
    const paints: { ms: number; fcp: number }[] = [];
    for (let i = 0; i < 3; i++) paints.push(await firstPaint(context, url, `#shown:text("${n} boxes")`));
    const guiUrl = `https://${box1Name}/`;
    await firstPaint(context, guiUrl, '#login-view');
    const guiPaints: { ms: number; fcp: number }[] = [];
    for (let i = 0; i < 3; i++) guiPaints.push(await firstPaint(context, guiUrl, '#login-view'));

    // --- event to page
    const page = await context.newPage();
    await page.goto(url);
    await page.locator(`#shown:text("${n} boxes")`).waitFor({ timeout: 60_000 });
    await page.locator('#live.on').waitFor({ timeout: 10_000 });
    // In the page (a string: this file is compiled without the DOM library).
    await page.evaluate(`(() => {
      window.seen = [];
      let last = '';
      new MutationObserver(() => {
        const cell = document.querySelector('#rows tr[data-box-id="1"] td[data-field="faults"]');
        const text = cell ? cell.textContent : '';
        if (text !== last) {
          last = text;
          window.seen.push({ text, t: Date.now() });
        }
      }).observe(document.querySelector('#rows'), { childList: true, subtree: true, characterData: true });
    })()`);
    let on = false;
    const probe = async (count: number): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < count; i++) {
        on = !on;
        // The faults cell shows acme-slow as "slow" (its title has the full name).
        const want = on ? 'slow' : '-';
        const t0 = Date.now();
        lab.setFault('acme-slow', on, [1], 1);
        const deadline = Date.now() + 10_000;
        for (;;) {
          const seen = (await page.evaluate('window.seen')) as { text: string; t: number }[];
          const hit = seen.find((s) => s.t >= t0 && s.text === want);
          if (hit) {
            out.push(hit.t - t0);
            break;
          }
          if (Date.now() > deadline) {
            out.push(10_000);
            break;
          }
          await sleep(20);
        }
        await sleep(400);
      }
      return out;
    };
    /**
     * Call `start` `perSecond` times a second, open-loop (a late tick catches up), until stopped;
     * `start` may decline (false) and is then asked again at the next tick.
     */
    const atRate = (perSecond: number, start: () => boolean) => {
      const t0 = performance.now();
      let started = 0;
      const timer = setInterval(() => {
        const due = Math.floor(((performance.now() - t0) / 1000) * perSecond);
        while (started < due && start()) started++;
      }, 10);
      return {
        get started() {
          return started;
        },
        stop: () => clearInterval(timer),
      };
    };
    // Where the time goes: the lab's event loop (this process) waiting, per phase (p95 of its delay, ms).
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const loopP95 = () => {
      const v = round(loopDelay.percentile(95) / 1e6, 0);
      loopDelay.reset();
      return v;
    };
    loopDelay.reset();
    const idleLatency = await probe(10);
    const idleLoopP95 = loopP95();
    const others = ids.filter((id) => id !== 1);

    // --- 2. real renewals, started at 100/s
    let renewals = 0;
    let failedRenewals = 0;
    /** Why renewals failed: the reason's first words, counted. */
    const failReasons = new Map<string, number>();
    const failed = (why: string) => {
      failedRenewals++;
      const key = why.slice(0, 100);
      failReasons.set(key, (failReasons.get(key) ?? 0) + 1);
    };
    const busy = new Set<number>();
    let next = 0;
    const renewOne = (): boolean => {
      if (busy.size >= 200) return false;
      for (let tries = 0; tries < others.length; tries++) {
        const id = others[next++ % others.length]!;
        if (busy.has(id)) continue;
        busy.add(id);
        void lab
          .fleet('renew', [id], (r) => (r.ok ? renewals++ : failed(r.result)))
          .catch((e: unknown) => failed(e instanceof Error ? e.message : String(e)))
          .finally(() => busy.delete(id));
        return true;
      }
      return false;
    };
    const tLoad0 = performance.now();
    const renewDriver = atRate(100, renewOne);
    await sleep(3000);
    const r0 = renewals;
    const s0 = renewDriver.started;
    const tProbe0 = performance.now();
    loopDelay.reset();
    const loadLatency = await probe(20);
    const renewLoopP95 = loopP95();
    const probeS = (performance.now() - tProbe0) / 1000;
    const renewalRate = (renewals - r0) / probeS;
    const renewStartRate = (renewDriver.started - s0) / probeS;
    renewDriver.stop();
    // The renewals in flight end (bounded: a stuck one is left to lab down).
    for (let i = 0; i < 2400 && busy.size; i++) await sleep(50);
    const loadS = (performance.now() - tLoad0) / 1000;

    // --- 3. the dashboard's load of 100 renewals/s: 300 fault toggles a second, no CA
    await sleep(2000);
    let toggles = 0;
    const muted = new Set<number>();
    const events0 = lab.events.lastSeq;
    const toggleDriver = atRate(300, () => {
      const id = others[toggles++ % others.length]!;
      const mute = !muted.has(id);
      if (mute) muted.add(id);
      else muted.delete(id);
      lab.setFault('snmp-muted', mute, [id]);
      return true;
    });
    await sleep(2000);
    const e0 = lab.events.lastSeq;
    const tEvents0 = performance.now();
    loopDelay.reset();
    const eventLoadLatency = await probe(20);
    const eventLoopP95 = loopP95();
    loopDelay.disable();
    const eventRate = (lab.events.lastSeq - e0) / ((performance.now() - tEvents0) / 1000);
    toggleDriver.stop();
    lab.setFault('snmp-muted', false, [...muted]);
    const eventsInPhase = lab.events.lastSeq - events0;

    // --- idle CPU, page open vs no page
    await sleep(3000);
    const cpu = async () => {
      const c0 = procCpuSeconds('self');
      const t0 = performance.now();
      await sleep(10_000);
      return ((procCpuSeconds('self') - c0) / ((performance.now() - t0) / 1000)) * 100;
    };
    const cpuWithPage = await cpu();
    await page.close();
    await sleep(1000);
    const cpuNoPage = await cpu();

    const ms = (xs: number[]) => round(median(xs), 0);
    const paintMs = ms(paints.map((p) => p.ms));
    const loadP50 = ms(loadLatency);
    const loadP95 = round(percentile(loadLatency, 95), 0);
    const eventP95 = round(percentile(eventLoadLatency, 95), 0);
    const tSnap0 = performance.now();
    const snapshotBytes = JSON.stringify(dashboardRows(lab)).length;
    const snapshotMs = round(performance.now() - tSnap0, 0);
    const topReason = [...failReasons].sort((a, b) => b[1] - a[1])[0];
    const rows: (string | number)[][] = [
      ['lab up (s), certificates valid', `${upS} s, ${valid} of ${n}`],
      [`dashboard first paint, all ${n} rows known (ms, median of 3)`, paintMs],
      [
        'the first message (every row): JSON bytes, ms to read and serialize in the lab',
        `${snapshotBytes}, ${snapshotMs} ms`,
      ],
      ['dashboard first-contentful-paint (Chromium, ms)', ms(paints.map((p) => p.fcp))],
      ['reference: box 1 GUI first paint (ms, median of 3)', ms(guiPaints.map((p) => p.ms))],
      [
        'event to page, lab idle (ms, p50 / p95 of 10)',
        `${ms(idleLatency)} / ${round(percentile(idleLatency, 95), 0)}`,
      ],
      ['event to page, real renewals running (ms, p50 / p95 of 20)', `${loadP50} / ${loadP95}`],
      [
        "the lab's event loop delay, p95 (ms): idle / real renewals / 300 toggles/s",
        `${idleLoopP95} / ${renewLoopP95} / ${eventLoopP95}`,
      ],
      [
        'renewals during that probe: started / completed (per s; 100/s asked)',
        `${round(renewStartRate)} / ${round(renewalRate)}`,
      ],
      [
        'renewals total (ok / failed) over the load (s)',
        `${renewals} / ${failedRenewals} in ${round(loadS)} s`,
      ],
      ['most frequent renewal failure (count)', topReason ? `${topReason[0]} (${topReason[1]})` : '-'],
      [
        'event to page, 300 fault toggles/s (= 100 renewals/s of events) (ms, p50 / p95 of 20)',
        `${ms(eventLoadLatency)} / ${eventP95}`,
      ],
      ['lab events during that probe (per s)', round(eventRate)],
      ['lab events in that phase', eventsInPhase],
      ['lab CPU, page open, idle (% of a core, 10 s)', round(cpuWithPage)],
      ['reference: lab CPU, no page (% of a core, 10 s)', round(cpuNoPage)],
    ];
    const targets: Target[] = [
      {
        name: `first paint of the dashboard of ${n} boxes`,
        target: full ? '< 2000 ms' : '< 2000 ms (full size: 1000 boxes)',
        measured: `${paintMs} ms`,
        met: paintMs < 2000,
      },
      {
        name: 'an event reaches the page with real renewals running (p95)',
        target: `< 1000 ms at 100 renewals/s (here ${round(renewalRate)}/s completed)`,
        measured: `${loadP95} ms`,
        met: loadP95 < 1000 && renewalRate >= 100,
      },
      {
        name: 'an event reaches the page under the events of 100 renewals/s (p95)',
        target: `< 1000 ms at >= 300 events/s (here ${round(eventRate)}/s)`,
        measured: `${eventP95} ms`,
        met: eventP95 < 1000 && eventRate >= 300,
      },
      {
        name: 'lab CPU for the idle page (with page - without)',
        target: '< 10% of a core',
        measured: `${round(cpuWithPage - cpuNoPage)}% (${round(cpuWithPage)} vs ${round(cpuNoPage)})`,
        met: cpuWithPage - cpuNoPage < 10,
      },
    ];
    writeResult({
      name: 'dashboard',
      full,
      figures: {
        boxes: n,
        labUpSeconds: upS,
        certificatesValid: valid,
        loadAverageAtStart: load0.map((x) => round(x, 2)),
        loadAverageAtEnd: loadavg().map((x) => round(x, 2)),
        firstPaintMs: paints.map((p) => round(p.ms, 0)),
        firstContentfulPaintMs: paints.map((p) => round(p.fcp, 0)),
        boxGuiFirstPaintMs: guiPaints.map((p) => round(p.ms, 0)),
        eventToPageIdleMs: idleLatency,
        eventToPageUnderLoadMs: loadLatency,
        renewalsStartedPerSecondDuringProbe: round(renewStartRate),
        renewalsPerSecondDuringProbe: round(renewalRate),
        eventToPageUnderEventLoadMs: eventLoadLatency,
        eventsPerSecondDuringEventProbe: round(eventRate),
        renewalFailureReasons: Object.fromEntries(failReasons),
        firstMessageBytes: snapshotBytes,
        firstMessageLabMs: snapshotMs,
        labEventLoopDelayP95Ms: { idle: idleLoopP95, renewals: renewLoopP95, toggles: eventLoopP95 },
        renewalsOk: renewals,
        renewalsFailed: failedRenewals,
        labCpuPercentPageIdle: round(cpuWithPage),
        labCpuPercentNoPage: round(cpuNoPage),
      },
      targets,
      table: table(['figure', 'value'], rows),
    });
  } finally {
    await browser.close();
    await plane.close();
    await lab.down();
    await rm(labsDir, { recursive: true, force: true });
  }
}
