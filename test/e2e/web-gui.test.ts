/**
 * The web GUI in a real browser against a real CA: headless Chromium (the
 * Debian package, driven by playwright-core; nothing downloaded) logs in to
 * a real box (BoxHost in this process: web, CLI, ACME agent, SNMP), sees a
 * refusal in the box's words, issues a certificate against Pebble, watches
 * the status go In Progress -> Success, and then loads the page over the new
 * certificate, which Chromium itself verifies against Pebble's root. A Node
 * TLS client with Pebble's root as its only CA checks the same afterwards.
 * A screenshot of the certificate page goes to
 * test-artifacts/web-gui-certificate.png.
 *
 * How Chromium is made to trust what it should, and nothing else:
 * - the box's self-signed default certificate, which it serves before the
 *   issuance: --ignore-certificate-errors-spki-list with that certificate's
 *   SPKI hash only (Chromium honours the list because Playwright gives it a
 *   fresh --user-data-dir);
 * - Pebble's root, for the issued certificate: an NSS database in a fresh
 *   $HOME with the root as the only added trust anchor (certutil). The new
 *   certificate's key is not on the SPKI list, so Chromium must build and
 *   verify the chain leaf -> Pebble intermediate -> Pebble root itself.
 */
import t from 'tap';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { adminHttps } from '../harness/https.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { Page } from 'playwright-core';
import { freePort } from '../../src/lib/net.js';
import { Cluster } from '../../src/device/cluster.js';
import type { Actor } from '../../src/device/roles.js';
import { FileFirmwareCatalog } from '../../src/firmware/catalog.js';
import { BoxHost } from '../../src/host/box-host.js';
import { SystemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { REPO_ROOT } from '../harness/box-process.js';
import { chromiumMissing, launchChromium } from '../harness/chromium.js';
import { FAST_ACME, startPebble } from '../harness/pebble.js';

const PASSWORD = 'Gui-adm1n-pw';
const SCREENSHOT = join(REPO_ROOT, 'test-artifacts', 'web-gui-certificate.png');
const SETUP: Actor = { user: 'admin', role: 'admin', source: 'test setup' };

/** base64(SHA-256(SubjectPublicKeyInfo)): the form --ignore-certificate-errors-spki-list takes. */
function spkiHash(certPem: string): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

/** A request over HTTPS trusting exactly `ca`; the default name check applies (IP SAN for 127.0.0.1). */
function httpsJson(
  port: number,
  ca: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return adminHttps({ host: '127.0.0.1', port, ca, password: PASSWORD, method, path, body });
}

/** The text of one value of a <dl> the page renders ("Request-Status" etc.). */
function field(page: Page, list: string, label: string) {
  return page.locator(`#${list} dd[data-field="${label}"]`);
}

t.test('Chromium issues a certificate from the GUI and then gets the page over it', async (t) => {
  // Fail with the fix, not with a stack: both come from Debian packages (nothing is downloaded).
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  // Pebble's VA fetches http-01 answers on a fixed port: the box's http port must be that port.
  const httpPort = await freePort('127.0.0.1');
  const pebble = await startPebble({ httpPort });
  t.teardown(() => pebble.stop());
  const cluster = new Cluster('gui-lab');
  const catalog = new FileFirmwareCatalog();
  const host = await BoxHost.start({
    boxId: 1,
    hostname: 'hc2-gui',
    address: '127.0.0.1',
    ports: { ssh: 0, cli: 0, https: 0, http: httpPort, snmp: 0 },
    dataDir: mkdtempSync(join(tmpdir(), 'gvos-gui-box-')),
    adminPassword: PASSWORD,
    firmware: catalog.latest().version,
    model: 'GigaVUE-HC2',
    // Classic mode: the form then offers RSA, and an RSA-4096 key takes long enough to see "In Progress".
    cryptoMode: 'classic',
    seed: 'web-gui',
    clock: new SystemClock(),
    logger: silentLogger,
    cluster,
    catalog,
    acmeSettings: { ...FAST_ACME, caRootUrls: () => [pebble.rootUrl] },
  });
  t.teardown(() => host.stop());
  const https = host.ports.https;
  const url = `https://127.0.0.1:${https}/`;
  const defaultCert = host.box.webCredentials().certPem;

  // Prerequisites (seed): DNS, and the ACME server's CA in the CA list; the latter over REST, as a manager would.
  host.box.addNameServer(SETUP, pebble.dnsServer);
  t.equal(
    (
      await httpsJson(https, defaultCert, 'POST', '/api/v1/certificates', {
        name: 'pebble-ca',
        pem: pebble.listenerCaPem,
      })
    ).status,
    201,
  );
  t.equal(
    (await httpsJson(https, defaultCert, 'POST', '/api/v1/ca-list', { name: 'pebble-ca' })).status,
    200,
  );

  const pebbleRoot = await pebble.root();
  // Playwright adds a fresh --user-data-dir itself; the SPKI list needs it to be there.
  const browser = await launchChromium(pebbleRoot, [
    `--ignore-certificate-errors-spki-list=${spkiHash(defaultCert)}`,
  ]);
  t.teardown(() => browser.close());

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  const watchConsole = (p: Page) => {
    // The refusals this test provokes (401, 400) are logged by Chromium as failed loads: expected, not errors.
    p.on('console', (m) => {
      if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) consoleErrors.push(m.text());
    });
    p.on('pageerror', (e) => consoleErrors.push(e.message));
  };
  watchConsole(page);

  const first = await page.goto(url);
  t.equal(first?.status(), 200);
  t.match((await first?.securityDetails())?.subjectName, 'hc2-gui', 'served the default certificate first');
  t.equal(await page.title(), 'hc2-gui - GigaVUE-OS');

  // A wrong password is refused in words; then the right one.
  await page.fill('#login-user', 'admin');
  await page.fill('#login-password', 'not-it');
  await page.click('#login-submit');
  await page.locator('#login-error').waitFor({ state: 'visible' });
  t.equal(await page.textContent('#login-error'), 'Wrong user name or password.');
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-submit');
  await page.locator('#cert-view').waitFor({ state: 'visible' });
  t.equal(await page.textContent('#user-role'), 'admin');
  await page.locator('#st-no-cert').waitFor({ state: 'visible', timeout: 5000 });
  t.equal(await page.textContent('#st-no-cert'), 'No ACME issued certificate.');
  t.same(
    await page
      .locator('#issue-algorithm option')
      .evaluateAll((os) => os.map((o) => (o as { value: string }).value)),
    ['rsa-2048', 'rsa-4096'],
  );

  // The box's own refusal, shown as the CLI would print it.
  await page.fill('#issue-domain', '*.lab.test');
  await page.fill('#issue-server', pebble.directoryUrl);
  await page.click('#issue-form button[type=submit]');
  await page.locator('#op-error').waitFor({ state: 'visible' });
  t.equal(
    await page.textContent('#op-error'),
    'Wildcard domain "*.lab.test" is not supported: give one host name or IP address.',
  );

  // Issue for the box's IP (the seed's example uses an IP domain too) and watch the status.
  await page.fill('#issue-domain', '127.0.0.1');
  await page.selectOption('#issue-algorithm', 'rsa-4096');
  await page.fill('#issue-renew-days', '30');
  await page.click('#issue-form button[type=submit]');
  const seen: string[] = [];
  let progressShown = false;
  for (let i = 0; i < 300; i++) {
    const status =
      (await field(page, 'st-request', 'Request-Status')
        .textContent({ timeout: 1000 })
        .catch(() => null)) ?? '';
    if (status && seen.at(-1) !== status) seen.push(status);
    progressShown ||= await page.isVisible('#acme-progress');
    if (status === 'Success' || status.startsWith('Failed')) break;
    await page.waitForTimeout(100);
  }
  t.equal(seen.at(-1), 'Success', `status went ${seen.join(' -> ')}`);
  t.ok(seen.includes('In Progress') && progressShown, 'the page showed the operation in progress');
  t.equal(await page.textContent('#op-ok'), 'Issue: Success.');
  t.equal(await field(page, 'st-issued', 'Domain').textContent(), '127.0.0.1');
  t.equal(await field(page, 'st-issued', 'Cert Name').textContent(), 'acme-https.crt');
  t.equal(await field(page, 'st-issued', 'Renewal Days').textContent(), '30');
  t.equal(await field(page, 'st-request', 'Type of Request').textContent(), 'Issue');
  t.match(await field(page, 'web-cert', 'Issuer').textContent(), /Pebble Intermediate/);
  t.ok(await page.isHidden('#acme-progress'), 'no progress once done');

  // A new context has its own connections: it gets the page over the new certificate, and Chromium verifies it.
  const fresh = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page2 = await fresh.newPage();
  watchConsole(page2);
  const second = await page2.goto(url);
  t.equal(second?.status(), 200, 'Chromium accepted the issued certificate');
  const sec = await second?.securityDetails();
  t.match(sec?.issuer, /Pebble Intermediate/, `issued by ${sec?.issuer}`);
  t.not(
    spkiHash(host.box.webCredentials().certPem),
    spkiHash(defaultCert),
    "a new key, not on the SPKI list: the trust came from Pebble's root",
  );
  await page2.fill('#login-user', 'admin');
  await page2.fill('#login-password', PASSWORD);
  await page2.click('#login-submit');
  await field(page2, 'st-request', 'Request-Status').waitFor();
  t.equal(await field(page2, 'st-request', 'Request-Status').textContent(), 'Success');
  mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
  await page2.screenshot({ path: SCREENSHOT, fullPage: true });
  t.comment(`screenshot: ${SCREENSHOT}`);

  // A monitor sees the same page, with the operations off and the reason said (seed: admin only).
  host.box.setUserPassword(SETUP, 'viewer', 'View3r-pw');
  const page3 = await (await browser.newContext()).newPage();
  watchConsole(page3);
  await page3.goto(url);
  await page3.fill('#login-user', 'viewer');
  await page3.fill('#login-password', 'View3r-pw');
  await page3.click('#login-submit');
  await page3.locator('#role-note').waitFor({ state: 'visible' });
  t.equal(
    await page3.textContent('#role-note'),
    'Issue, renew, revoke and clear need the admin role; you are logged in as monitor.',
  );
  t.ok(await page3.isDisabled('#issue-form button[type=submit]'), 'a monitor cannot submit');
  t.equal(
    await field(page3, 'st-request', 'Request-Status').textContent(),
    'Success',
    'but reads the status',
  );

  t.same(consoleErrors, [], 'no script errors or CSP violations in the pages');
  await browser.close();

  // After the browser: a Node TLS client whose only CA is Pebble's root verifies what the box serves.
  const leaf = await new Promise<X509Certificate>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: https, ca: pebbleRoot }, () => {
      const raw = s.getPeerCertificate().raw;
      s.end();
      resolve(new X509Certificate(raw));
    });
    s.once('error', reject);
  });
  t.ok(leaf.checkIP('127.0.0.1'), 'the leaf names 127.0.0.1');
  t.equal(
    leaf.serialNumber.toUpperCase(),
    host.box.acmeState().issued?.serial.toUpperCase(),
    'the box serves the certificate it issued',
  );
  const index = await httpsJson(https, pebbleRoot, 'GET', '/');
  t.equal(index.status, 200, "GET / verifies against Pebble's root alone");
  t.match(index.text, '<title>hc2-gui - GigaVUE-OS</title>');
});
