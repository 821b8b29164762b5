/**
 * Crash consistency, end to end: a real box process (`bin/gvos-sim.js box`)
 * with a real Pebble is killed with SIGKILL at a seeded random moment while
 * it issues, renews, revokes or clears its ACME certificate or writes its
 * memory (each driven over the TCP CLI), then started again on the same data
 * directory. After every restart:
 *
 * - state.json parses and is a box document; no temporary file is left;
 * - the served certificate is the one the state maps to web, its key is the
 *   stored key, and it is the old one or a new one (a new one only when the
 *   operation could make one: issued by Pebble for the domain, or the
 *   default certificate after clear);
 * - `show crypto acme client info` agrees: the issued block names the served
 *   certificate and its expiry, the last request is the one before or this
 *   one (Success, or "Failed: interrupted by restart"), never In Progress,
 *   and a Success matches what is served;
 * - no timer is lost: the Next Renewal shown is the moment recomputed from
 *   the served certificate and the renew-days;
 * - write memory leaves the old or the new hostname, and the box runs it.
 *
 * Quick (CI): 6 trials. Full: GVOS_FULL=1 (200 trials), or
 * GVOS_CRASH_TRIALS=<n>. GVOS_SEED=<text> replays a run.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renewalMoment } from '../../src/acme/scheduler.js';
import type { BoxDocument } from '../../src/device/model.js';
import { keyMatches } from '../../src/pki/keys.js';
import { TcpClient, PROMPT } from '../e2e/cli-helpers.js';
import type { BoxProcess } from '../harness/box-process.js';
import {
  acmeInfo,
  acmeSettled,
  cli,
  configureForAcme,
  DOMAIN,
  issueLine,
  parseBoxTime,
  PASSWORD,
  Rng,
  SEED,
  served,
  size,
  sleep,
  startAcmePeers,
  startBox,
  type AcmeInfo,
  type AcmePeers,
} from './helpers.js';

const TRIALS = size('CRASH_TRIALS', 6, 200);
type Op = 'issue' | 'renew' | 'revoke' | 'clear' | 'write memory';
const REQUEST_TYPE: Record<Op, string | undefined> = {
  issue: 'Issue',
  renew: 'Renew',
  revoke: 'Revoke',
  clear: 'Clear',
  'write memory': undefined,
};

interface Before {
  servedSerial: string;
  info: AcmeInfo;
  /** When the last request started (the status shows no time, so this tells an old Success from a new one). */
  requestStartedMs: number | undefined;
  hostname: string;
}

const readState = (dir: string) => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as BoxDocument;

t.test('SIGKILL at random moments during issue, renew, revoke, clear and write memory', async (t) => {
  const peers: AcmePeers = await startAcmePeers();
  t.teardown(() => peers.pebble.stop());
  const args = ['--http-port', String(peers.httpPort), '--crypto-mode', 'secure-crypto'];
  let box: BoxProcess = await startBox({ args });
  const dataDir = box.dataDir;
  t.teardown(() => box.kill());
  t.match(await configureForAcme(box.ready.ports.cli, peers), /\(config\) # $/);

  // Calibration: how long a real issuance takes here, so kills land inside the work, not after it.
  const t0 = Date.now();
  await cli(box.ready.ports.cli, ['enable', 'configure terminal', issueLine(peers)]);
  const first = await acmeSettled(box.ready.ports.cli);
  const issueMs = Date.now() - t0;
  t.equal(first.request['Request-Status'], 'Success', 'the first issuance works');
  // The calibration includes a login, so these windows reach a little past the end of the work.
  const windowMs: Record<Op, number> = {
    issue: issueMs,
    renew: issueMs,
    revoke: Math.ceil(issueMs * 1.3),
    clear: 15,
    'write memory': 15,
  };
  const rng = new Rng(`${SEED}/crash`);
  t.comment(`seed "${SEED}", ${TRIALS} trials, issue takes ~${issueMs} ms`);

  const outcomes: Record<string, number> = {};
  for (let i = 0; i < TRIALS; i++) {
    const port = box.ready.ports;
    const state0 = readState(dataDir);
    const before: Before = {
      servedSerial: (await served(port.https)).serial,
      info: await acmeInfo(port.cli),
      requestStartedMs: state0.acme.lastRequest?.startedMs,
      hostname: state0.config.hostname,
    };
    const ops: Op[] = before.info.issued
      ? ['issue', 'renew', 'revoke', 'clear', 'write memory']
      : ['issue', 'issue', 'write memory'];
    const op = rng.pick(ops);
    const delayMs = rng.int(0, windowMs[op]);
    const renewDays = rng.pick([undefined, 30, 365]);
    const newHostname = `crash-${i}`;
    const line =
      op === 'issue'
        ? issueLine(peers, renewDays === undefined ? '' : ` renew-days ${renewDays}`)
        : op === 'renew'
          ? `crypto certificate acme renew domain ${DOMAIN}`
          : op === 'revoke'
            ? `crypto certificate acme revoke domain ${DOMAIN}`
            : op === 'clear'
              ? 'crypto certificate acme clear'
              : 'write memory';
    const name = `trial ${i}: ${op}, SIGKILL after ${delayMs} ms`;

    const c = await TcpClient.login(port.cli, 'admin', PASSWORD);
    await c.cmd('enable');
    await c.cmd('configure terminal');
    if (op === 'write memory') await c.cmd(`hostname ${newHostname}`);
    c.send(line + '\n');
    await sleep(delayMs);
    await box.kill();
    c.destroy();

    box = await startBox({ dataDir, args });
    const { problems, phase } = await check(box, dataDir, op, before, newHostname, peers);
    t.same(problems, [], name);
    const outcome = `${op}: ${phase}`;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  // Where the kills landed: before the operation was recorded, inside it, or after it finished.
  t.comment(`outcomes: ${JSON.stringify(outcomes, Object.keys(outcomes).sort())}`);
});

/** Where a kill landed. */
type Phase = 'not begun' | 'interrupted' | 'finished';

/** Every check of one restart: what is wrong (empty when all holds), and where the kill landed. */
async function check(
  box: BoxProcess,
  dataDir: string,
  op: Op,
  before: Before,
  newHostname: string,
  peers: AcmePeers,
): Promise<{ problems: string[]; phase: Phase }> {
  const problems: string[] = [];
  const fail = (s: string) => problems.push(s);
  let phase: Phase = 'not begun';
  const done = () => ({ problems, phase });

  let state: BoxDocument;
  try {
    state = readState(dataDir);
    if (state.schema !== 1 || !state.crypto || !state.acme) fail('state.json is not a box document');
  } catch (e) {
    fail(`state.json does not parse: ${(e as Error).message}`);
    return done();
  }
  const stray = readdirSync(dataDir).filter((f) => f.includes('.tmp-'));
  if (stray.length) fail(`temporary files left: ${stray.join(', ')}`);

  const s = await served(box.ready.ports.https);
  const web = state.crypto.certificates[state.crypto.webCert];
  if (!web || !web.keyPem) {
    fail(`web maps to ${state.crypto.webCert}, which has no certificate and key`);
    return done();
  }
  if (new X509Certificate(web.certPem).serialNumber.toUpperCase() !== s.serial)
    fail(`served serial ${s.serial} is not the stored web certificate ${state.crypto.webCert}`);
  if (!keyMatches(web.keyPem, s.cert.publicKey)) fail('the served certificate does not match the stored key');

  const isOld = s.serial === before.servedSerial;
  const defaultPem = state.crypto.certificates['default-cert']!.certPem;
  const isDefault = new X509Certificate(defaultPem).serialNumber.toUpperCase() === s.serial;
  if (!isOld) {
    if (op === 'write memory') fail('write memory changed the served certificate');
    if (op === 'clear' && !isDefault)
      fail('clear left a certificate that is neither the old one nor the default');
    if (op === 'issue' || op === 'renew' || op === 'revoke') {
      const issuer = new X509Certificate(await peers.pebble.intermediate());
      if (!s.cert.verify(issuer.publicKey) || !s.cert.checkIP(DOMAIN))
        fail(`a new certificate ${s.serial} that Pebble did not issue for ${DOMAIN}`);
    }
  }

  const info = await acmeInfo(box.ready.ports.cli);
  const r = info.request;
  if (r['Request-Status'] === 'In Progress') fail('a request is In Progress right after the restart');
  const unchanged =
    state.acme.lastRequest?.startedMs === before.requestStartedMs &&
    JSON.stringify(r) === JSON.stringify(before.info.request);
  const type = REQUEST_TYPE[op];
  const thisOne =
    type !== undefined &&
    r['Type of Request'] === type &&
    ['Success', 'Failed: interrupted by restart'].includes(r['Request-Status']!);
  if (!unchanged && !thisOne) fail(`unexpected last request: ${JSON.stringify(r)}`);
  if (!unchanged && thisOne) phase = r['Request-Status'] === 'Success' ? 'finished' : 'interrupted';
  if (!unchanged && thisOne && r['Request-Status'] === 'Success') {
    if (op === 'clear' && (info.issued || !isDefault))
      fail('Clear succeeded but an ACME certificate remains');
    if (op !== 'clear' && isOld) fail(`${type} succeeded but the old certificate is served`);
  }

  const issued = state.acme.issued;
  if (state.crypto.webCert === 'acme-https.crt') {
    if (!issued || !info.issued) {
      fail('the ACME certificate is served but no issued record is shown');
      return done();
    }
    if (issued.serial !== s.serial) fail(`issued record names ${issued.serial}, ${s.serial} is served`);
    if (info.issued['Cert Name'] !== 'acme-https.crt') fail(`Cert Name ${info.issued['Cert Name']}`);
    const notBefore = Date.parse(s.cert.validFrom);
    const notAfter = Date.parse(s.cert.validTo);
    if (parseBoxTime(info.issued['Expires']!) !== Math.floor(notAfter / 1000) * 1000)
      fail(`Expires ${info.issued['Expires']} is not the served certificate's ${s.cert.validTo}`);
    const want = renewalMoment(notBefore, notAfter, issued.renewDays, notBefore);
    if (parseBoxTime(info.issued['Next Renewal']!) !== Math.floor(want / 1000) * 1000)
      fail(
        `Next Renewal ${info.issued['Next Renewal']} is not ${new Date(want).toISOString()} (timer lost?)`,
      );
  } else if (info.issued) {
    fail(`web serves ${state.crypto.webCert} but an ACME certificate is shown`);
  }

  if (op === 'write memory') {
    if (![before.hostname, newHostname].includes(state.config.hostname))
      fail(`hostname after write memory is ${state.config.hostname}`);
    if (state.config.hostname === newHostname) phase = 'finished';
    const prompt = await cli(box.ready.ports.cli, ['show version']);
    if (!PROMPT.test(prompt) || !prompt.includes(`${state.config.hostname} > `))
      fail('the box does not run the stored hostname');
  }
  return done();
}
