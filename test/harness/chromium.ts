/**
 * Debian's Chromium for the browser tests and benches (playwright-core;
 * nothing downloaded), trusting what a test says and nothing else added:
 * an NSS database in a fresh $HOME with the given root as the only added
 * trust anchor (certutil), so Chromium builds and verifies chains itself.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';

/** Debian's package puts it here. */
const CHROMIUM = '/usr/bin/chromium';
const execFileP = promisify(execFile);

/** Why Chromium tests cannot run here (a package missing, with the command that installs it), or false. */
export function chromiumMissing(): string | false {
  for (const [bin, pkg] of [
    [CHROMIUM, 'chromium'],
    ['/usr/bin/certutil', 'libnss3-tools'],
  ] as const) {
    if (!existsSync(bin)) return `${bin} is missing: apt-get install -y --no-install-recommends ${pkg}`;
  }
  return false;
}

/** A fresh $HOME whose NSS database trusts `rootPem` (the first certificate of it) as a CA for TLS servers. */
async function homeTrusting(rootPem: string): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'gvos-chromium-home-'));
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  writeFileSync(join(home, 'root.pem'), rootPem);
  await execFileP('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  await execFileP('certutil', [
    '-A',
    '-d',
    `sql:${db}`,
    '-n',
    'test-root',
    '-t',
    'C,,',
    '-i',
    join(home, 'root.pem'),
  ]);
  return home;
}

/**
 * Headless Chromium trusting `rootPem`, with `args` added (an SPKI list,
 * host resolver rules). Playwright gives it a fresh --user-data-dir.
 */
export async function launchChromium(rootPem: string, args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...args,
    ],
    env: { ...process.env, HOME: await homeTrusting(rootPem) },
    timeout: 30_000,
  });
}
