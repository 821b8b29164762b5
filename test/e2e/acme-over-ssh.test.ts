/**
 * The "Done when" of the ACME issue, as a user does it: a real Pebble (with
 * pebble-challtestsrv as the box's name server), the real box process
 * (`bin/gvos-sim.js box`, built), and the OpenSSH client logging in with a
 * password (sshpass) against a known_hosts line made from the host key the
 * box keeps in its state.json (not trusted on first use).
 *
 * Over SSH the user trusts Pebble (its listener CA and its issuing root into
 * the CA list, each pasted as a PEM over several lines), sets the name
 * server, issues a certificate, polls `show crypto acme client info` until
 * Success, then renews, revokes and clears. After each step a fresh TLS
 * connection checks what the box serves: `openssl verify` against Pebble's
 * root, Pebble's own view of the serials (/cert-status-by-serial), and the
 * default certificate after the clear. Once for an IP identifier (the box's
 * address) and once for a DNS name that challtestsrv maps to it.
 *
 * The time from the issue command to the new certificate on the HTTPS port
 * is measured (a TLS handshake every few ms meanwhile) and printed as a
 * comment; it is not asserted.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import t, { type Test } from 'tap';
import { freePort } from '../../src/lib/net.js';
import { REPO_ROOT, startBoxProcess } from '../harness/box-process.js';
import { TEST_PASSWORD } from '../harness/boxes.js';
import { opensslVerify, servedCertificate, startPebble } from '../harness/pebble.js';
import {
  checkTranscript,
  killSshClients,
  PROMPT,
  runScriptSteps,
  sshConversation,
  writeKnownHosts,
  type SshTarget,
  type Step,
} from './cli-helpers.js';

/** This file's loopback address: the box's listeners; Pebble's VA dials its http port there. */
const ADDRESS = '127.0.0.74';
/** The DNS name of the second life: challtestsrv answers it with ADDRESS (an A record the test adds). */
const DNS_NAME = 'box74.lab.test';
const HINT = 'Check status using "show crypto acme client info box-id 1".';

const built = existsSync(join(REPO_ROOT, 'dist', 'src', 'main.js'));

t.test(
  'ACME over SSH against the real box process: issue, renew, revoke, clear',
  { skip: !built && 'not built (npm run build)' },
  async (t) => {
    const httpPort = await freePort(ADDRESS);
    const pebble = await startPebble({ httpPort });
    t.teardown(() => pebble.stop());
    await pebble.addA(DNS_NAME, ADDRESS);
    const root = await pebble.root();

    const box = await startBoxProcess({
      args: ['--address', ADDRESS, '--http-port', String(httpPort)],
      password: TEST_PASSWORD,
    });
    t.teardown(async () => {
      await box.stop();
      rmSync(box.dataDir, { recursive: true, force: true });
    });
    const https = box.ready.ports.https;
    t.equal(box.ready.ports.http, httpPort, 'http-01 is served on the port Pebble validates');

    // known_hosts from the key the box keeps (SEC1 PEM in state.json), so the first login is checked too.
    const state = JSON.parse(readFileSync(join(box.dataDir, 'state.json'), 'utf8')) as { sshHostKey: string };
    const dir = mkdtempSync(join(tmpdir(), 'gvos-acme-ssh-'));
    const target: SshTarget = {
      address: ADDRESS,
      sshPort: box.ready.ports.ssh,
      knownHosts: join(dir, 'known_hosts'),
    };
    writeKnownHosts(target.knownHosts, ADDRESS, target.sshPort, state.sshHostKey);
    t.teardown(() => {
      killSshClients(target);
      rmSync(dir, { recursive: true, force: true });
    });

    // Trust Pebble and use its DNS, in one session.
    const setup: Step[] = [
      { line: 'enable' },
      { line: 'configure terminal', expect: /\(config\) # / },
      { line: `crypto certificate name pebble-ca public-cert pem "${pebble.listenerCaPem.trim()}"` },
      { line: 'crypto certificate ca-list default-ca-list name pebble-ca' },
      { line: `crypto certificate name pebble-root public-cert pem "${root.trim()}"` },
      { line: 'crypto certificate ca-list default-ca-list name pebble-root' },
      { line: `ip name-server ${pebble.dnsServer}` },
      {
        line: 'show crypto certificate ca-list',
        expect: /Default CA list:\n[\s\S]*pebble-ca [\s\S]*pebble-root /,
      },
      { line: 'write memory' },
      { line: 'exit' },
      { line: 'exit' },
    ];
    const s = sshConversation(target);
    const run = await runScriptSteps(s, setup);
    t.equal(run.error, undefined);
    t.same(checkTranscript(run.output, setup), [], 'Pebble trusted, name server set');
    t.equal(s.result().code, 0);
    t.notMatch(run.output, /% /, 'no command refused');

    const timings: string[] = [];
    for (const domain of [ADDRESS, DNS_NAME]) {
      await t.test(`the life of a certificate for ${domain}`, (t) =>
        life(t, { target, https, domain, directoryUrl: pebble.directoryUrl, root, pebble, timings }),
      );
    }
    for (const line of timings) t.comment(line);
  },
);

interface LifeContext {
  target: SshTarget;
  https: number;
  domain: string;
  directoryUrl: string;
  root: string;
  pebble: Awaited<ReturnType<typeof startPebble>>;
  /** Measured times, printed by the parent test. */
  timings: string[];
}

/** Issue, renew, revoke and clear for one domain in one SSH session, checking what HTTPS serves after each. */
async function life(t: Test, c: LifeContext): Promise<void> {
  const { domain } = c;
  const before = await servedCertificate(ADDRESS, c.https);
  const s = sshConversation(c.target);
  t.teardown(() => s.end());
  const cmd = async (line: string) => {
    s.send(line + '\n');
    return s.out.until(PROMPT, 30_000);
  };
  await s.out.until(PROMPT);
  await cmd('enable');
  await cmd('configure terminal');

  /** Poll `show crypto acme client info` until the request is no longer In Progress. */
  const poll = async () => {
    let inProgress = false;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const info = await cmd('show crypto acme client info');
      if (!/Request-Status +: In Progress\n/.test(info)) return { info, inProgress };
      inProgress = true;
      if (Date.now() > deadline) throw new Error(`still In Progress after 30 s:\n${info}`);
      await sleep(50);
    }
  };

  // ---- issue, timed until the new certificate is served
  const t0 = performance.now();
  const served = servedOtherThan(c.https, before.serial);
  const answer = await cmd(`crypto certificate acme issue domain ${domain} acme-server ${c.directoryUrl}`);
  t.match(answer, `\nIssuance in progress. ${HINT}\n`, 'the command answers at once');
  const issued = await poll();
  const got = await served;
  const issueMs = got.atMs - t0;
  t.match(
    issued.info,
    new RegExp(
      `https:\\n {2}Domain +: ${esc(domain)}\\n {2}Cert Name +: acme-https\\.crt\\n {2}Acme-Server +: ${esc(c.directoryUrl)}\\n[\\s\\S]*Request-Status +: Success\\n {2}Type of Request +: Issue\\n`,
    ),
    'show crypto acme client info: Success',
  );
  t.comment(`issue: In Progress ${issued.inProgress ? 'seen' : 'not seen (finished before the first poll)'}`);
  t.match(
    await opensslVerify(got.chainPem, c.root, domain),
    /: OK$/,
    "the served chain verifies against Pebble's root",
  );
  t.match(await c.pebble.certStatus(got.serial), { Status: 'Valid' }, 'Pebble knows the serial');

  // ---- renew: a new serial is served
  const t1 = performance.now();
  const renewedServed = servedOtherThan(c.https, got.serial);
  t.match(await cmd(`crypto certificate acme renew domain ${domain}`), `\nRenewal in progress. ${HINT}\n`);
  const renewed = await poll();
  t.match(
    renewed.info,
    /Last Succesful Renewal +: \d{4}\/[\s\S]*Request-Status +: Success\n {2}Type of Request +: Renew\n/,
  );
  const r = await renewedServed;
  const renewMs = r.atMs - t1;
  t.not(r.serial, got.serial, 'a new serial is served');
  t.match(await opensslVerify(r.chainPem, c.root, domain), /: OK$/);

  // ---- revoke: the old serial revoked at Pebble, a new certificate served
  const reissuedServed = servedOtherThan(c.https, r.serial);
  t.match(
    await cmd(`crypto certificate acme revoke domain ${domain}`),
    `\nRevocation in progress. ${HINT}\n`,
  );
  const revoked = await poll();
  t.match(revoked.info, /Request-Status +: Success\n {2}Type of Request +: Revoke\n/);
  const after = await reissuedServed;
  t.match(await c.pebble.certStatus(r.serial), { Status: 'Revoked' }, 'Pebble: the old serial is revoked');
  t.match(await c.pebble.certStatus(after.serial), { Status: 'Valid' }, 'Pebble: the new one is valid');
  t.match(await opensslVerify(after.chainPem, c.root, domain), /: OK$/);

  // ---- clear: the default certificate again
  t.match(
    await cmd('crypto certificate acme clear'),
    '\nACME certificate cleared on box-id 1; the web server uses the default certificate.\n',
  );
  t.match(
    await cmd('show crypto acme client info'),
    /No ACME issued certificate\.\n[\s\S]*Request-Status +: Success\n {2}Type of Request +: Clear\n/,
  );
  t.equal(
    (await servedCertificate(ADDRESS, c.https)).serial,
    before.serial,
    'the default certificate is served again',
  );
  await cmd('end');
  s.send('exit\nexit\n');
  await s.end();
  t.equal(s.result().code, 0, 'logged out');
  c.timings.push(
    `${domain}: issue command -> new certificate served ${issueMs.toFixed(0)} ms; renew -> served ${renewMs.toFixed(0)} ms`,
  );
}

/**
 * The first certificate other than `serial` that a fresh TLS connection to
 * the box gets, and when (performance.now()): a handshake every 5 ms. The
 * promise is marked handled at once, since the test awaits it only after
 * the status poll (which fails first, with the better message).
 */
function servedOtherThan(
  port: number,
  serial: string,
  timeoutMs = 30_000,
): Promise<{ serial: string; chainPem: string[]; atMs: number }> {
  const p = watchServed(port, serial, timeoutMs);
  p.catch(() => undefined);
  return p;
}

async function watchServed(
  port: number,
  serial: string,
  timeoutMs: number,
): Promise<{ serial: string; chainPem: string[]; atMs: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await servedCertificate(ADDRESS, port);
    if (s.serial !== serial) return { ...s, atMs: performance.now() };
    if (Date.now() > deadline) throw new Error(`still serving ${serial} after ${timeoutMs} ms`);
    await sleep(5);
  }
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
