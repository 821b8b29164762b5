/**
 * The lab's fleet dashboard in a real browser against a real lab: `gvos-sim
 * lab up` with 6 boxes (Pebble, snmptrapd), Debian's Chromium driven by
 * playwright-core, trusting only the lab's printed CA root (an NSS database
 * in a fresh $HOME) and reaching the dashboard and box 3 by name
 * (--host-resolver-rules, as /etc/hosts would). It checks what a presenter
 * sees:
 * - the dashboard verifies as <lab>.lab.test and lists all six boxes after a
 *   login with the lab's admin password;
 * - `lab acme revoke --box 3` run from another process (the CLI): the row's
 *   serial and last request change without a reload, and box 3's own GUI,
 *   open in another tab, shows the new serial too;
 * - a fault toggled in the page shows in `lab faults`;
 * - at 1024x768 every column header is in view, whole (no sideways scroll);
 * - a screenshot at 1024x768 goes to test-artifacts/dashboard.png.
 * Waits are bounded at 5 s where the issue says 2 s (a noisy 2-core
 * machine); the figures are in bench/dashboard.ts.
 */
import t from 'tap';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { LabStateFile } from '../../src/lab/lab.js';
import { chromiumMissing, launchChromium } from '../harness/chromium.js';
import { ensureBuilt, labSkipReason, REPO_ROOT, runLabCli, startTopologyLab } from './lab-harness.js';

const PASSWORD = 'Dash-adm1n-pw';
// Its own address block (127.0.8.x), apart from users' labs and other suites.
const BASE = '127.0.8';
const LAB = 'e2e-dash';
const SCREENSHOT = join(REPO_ROOT, 'test-artifacts', 'dashboard.png');
const skip = (await labSkipReason([`${BASE}.1`])) || chromiumMissing();

/** The text of one cell of box `id`'s row. */
const cell = (page: Page, id: number, field: string) =>
  page.locator(`#rows tr[data-box-id="${id}"] td[data-field="${field}"]`);

// A lab of six, a browser and a build when dist/ is stale: more than the suite's 180 s on a busy machine.
t.setTimeout(600_000);

t.test('the dashboard of a 6-box lab, live', { skip, timeout: 600_000 }, async (t) => {
  ensureBuilt();
  const { lab, labs } = await startTopologyLab(
    t,
    'gvos-lab-dash-',
    [
      `lab: ${LAB}`,
      `admin-password: ${PASSWORD}`,
      'network:',
      `  address-base: ${BASE}.0`,
      '  address-offset: 0',
      'on-start:',
      '  domain: name',
    ],
    ['--boxes', '6'],
  );
  const cli = (...args: string[]) => runLabCli([...args, '--labs-dir', labs]);
  const state = JSON.parse(readFileSync(join(labs, LAB, 'lab.json'), 'utf8')) as LabStateFile;
  const url = new URL(state.controlPlane.dashboardUrl!);
  const name = state.controlPlane.dashboardName!;
  t.equal(name, `${LAB}.lab.test`);
  const out = lab.stdout();
  const rootFile = join(labs, LAB, 'ca-root.pem');
  t.match(
    out,
    `curl --cacert ${rootFile} --resolve ${name}:${url.port}:127.0.0.1 https://${name}:${url.port}/`,
  );

  const browser = await launchChromium(readFileSync(rootFile, 'utf8'), [
    `--host-resolver-rules=MAP ${name} 127.0.0.1, MAP gigavue-3.lab.test ${BASE}.3`,
  ]);
  t.teardown(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  const first = await page.goto(`https://${name}:${url.port}/`);
  t.equal(first?.status(), 200, 'Chromium verifies the dashboard by name against the lab root alone');
  await page.locator('#login-view').waitFor({ state: 'visible' });
  await page.fill('#login-password', 'not-it');
  await page.click('#login-form button[type=submit]');
  await page.locator('#login-error').waitFor({ state: 'visible' });
  t.match(await page.textContent('#login-error'), /wrong user, password or token/);
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.locator('#main-view').waitFor({ state: 'visible' });
  await page.locator('#rows tr.box').nth(5).waitFor();
  t.same(
    await page.locator('#rows tr.box td[data-field="boxId"]').allTextContents(),
    ['1', '2', '3', '4', '5', '6'],
    'all six boxes listed',
  );
  t.same(
    await page.locator('#rows tr.box td[data-field="hostname"]').allTextContents(),
    [1, 2, 3, 4, 5, 6].map((i) => `gigavue-${i}`),
  );
  t.same(
    await page.locator('#rows tr.box td[data-field="certificate"]').allTextContents(),
    Array(6).fill('valid'),
  );
  await page.locator('#live.on').waitFor({ timeout: 5000 });

  // Every column at 1024x768: each header inside the window and not cut, the table not scrolling sideways.
  const layout = (await page.evaluate(`(() => {
    const wrap = document.getElementById('table-wrap');
    return {
      width: document.documentElement.clientWidth,
      wrapScrolls: wrap.scrollWidth > wrap.clientWidth,
      headers: [...document.querySelectorAll('#boxes thead th')].map((th) => {
        const r = th.getBoundingClientRect();
        return { text: th.textContent.trim(), left: r.left, right: r.right, cut: th.scrollWidth > th.clientWidth };
      }),
    };
  })()`)) as {
    width: number;
    wrapScrolls: boolean;
    headers: { text: string; left: number; right: number; cut: boolean }[];
  };
  t.equal(layout.width, 1024);
  t.equal(layout.headers.length, 14, 'the 14 columns of the issue');
  t.same(
    layout.headers.filter((h) => h.left < 0 || h.right > layout.width || h.cut).map((h) => h.text),
    [],
    'every column header is within the 1024 px window and whole',
  );
  t.equal(layout.wrapScrolls, false, 'the table does not scroll sideways');

  // Box 3's own GUI in another tab, by name, over its ACME certificate.
  const gui = await context.newPage();
  gui.on('pageerror', (e) => pageErrors.push(e.message));
  const guiFirst = await gui.goto('https://gigavue-3.lab.test/');
  t.equal(guiFirst?.status(), 200, "box 3's GUI verifies by name");
  await gui.fill('#login-user', 'admin');
  await gui.fill('#login-password', PASSWORD);
  await gui.click('#login-submit');
  await gui.locator('#cert-view').waitFor({ state: 'visible' });
  const guiSerial = gui.locator('#web-cert dd[data-field="Serial"]');

  const serialBefore = await cell(page, 3, 'serial').getAttribute('title');
  const requestBefore = await cell(page, 3, 'lastRequest').textContent();
  t.match(serialBefore, /^[0-9A-F]+$/);
  t.equal(await guiSerial.textContent(), serialBefore, 'the GUI and the dashboard agree');

  const revoke = await cli('acme', 'revoke', '--box', '3', '--json');
  t.equal(revoke.code, 0, revoke.stderr);
  const serialAfter = (JSON.parse(revoke.stdout) as { serial: string }[])[0]!.serial;
  t.not(serialAfter, serialBefore, 'the revoke re-issued');
  // No reload: the page learns it from the event stream.
  await page
    .locator(`#rows tr[data-box-id="3"] td[data-field="serial"][title="${serialAfter}"]`)
    .waitFor({ timeout: 5000 });
  t.pass("the row's serial changed without a reload");
  const requestAfter = await cell(page, 3, 'lastRequest').textContent();
  t.not(requestAfter, requestBefore);
  t.match(requestAfter, /^Revoke Success/, 'and its last request');
  t.match(await cell(page, 3, 'serial').getAttribute('class'), /chg/, 'the changed cell is highlighted');
  t.equal(await cell(page, 2, 'serial').getAttribute('class'), 'mono', 'an unchanged row is not');
  await gui.locator('#web-cert dd[data-field="Serial"]', { hasText: serialAfter }).waitFor({ timeout: 5000 });
  t.pass("box 3's own GUI shows the new serial without a reload");
  await page.locator('#feed li', { hasText: 'box 3 (gigavue-3): revoke Success' }).waitFor({ timeout: 5000 });

  // A fault toggled in the page shows in `lab faults`.
  await page.click('#rows tr[data-box-id="2"] td[data-field="hostname"]');
  await page.locator('#sel-id', { hasText: '2' }).waitFor();
  await page.check('#sel-faults input[data-fault="acme-unreachable"]');
  // The cell shows the fault's short name; its title has the full one.
  await page
    .locator('#rows tr[data-box-id="2"] td[data-field="faults"][title="acme-unreachable"]', {
      hasText: 'unreach',
    })
    .waitFor({ timeout: 5000 });
  // While the changed cell still flashes.
  mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT });
  t.ok(existsSync(SCREENSHOT), `screenshot: ${SCREENSHOT}`);
  const faults = await cli('faults', '--json');
  t.equal(faults.code, 0, faults.stderr);
  const on = (JSON.parse(faults.stdout) as { boxId: number; fault: string; on: boolean }[]).filter(
    (f) => f.on,
  );
  t.same(
    on.map((f) => [f.boxId, f.fault]),
    [[2, 'acme-unreachable']],
    '`lab faults` shows the fault turned on in the page, and only it',
  );

  t.same(pageErrors, [], 'no script errors');

  const down = await cli('down');
  t.equal(down.code, 0, down.stderr);
  t.equal(await lab.exited, 0);
});
