// Issue 14 items 3 and 4 over a real lab (Pebble, snmptrapd, curl): the
// event feed in the `lab up` terminal, `lab events [--follow]`, `lab traps`
// with a time column and --follow/--tail; hints that work as printed (curl
// with only the printed line verifies the box's certificate and reaches its
// REST API), `lab hosts`, a lab found from another directory through the
// per-user registry; the address fallback's one line and the refusal of
// `network.mode: addresses` (lab-fallback.test.ts).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canListen } from '../../src/lib/net.js';
import type { LabEvent } from '../../src/lab/lab-events.js';
import { ensureBuilt, missingLabPeers, runLabCli, startLabUp } from './lab-harness.js';

// Its own address block (127.0.10.x), apart from other suites.
const BASE = '127.0.10';
const canBind = await canListen(`${BASE}.1`, 443);
const missing = missingLabPeers(['curl']);
const skip = !canBind
  ? `cannot listen on ${BASE}.1:443 (needs root and 127/8)`
  : missing.length
    ? `missing ${missing.join(', ')}: apt-get install pebble snmptrapd curl`
    : false;

/** Run a command to completion in the background (a --follow client ends when the lab goes down). */
function background(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  return runLabCli(args, env, cwd);
}

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// A lab, curl and about 15 CLI processes on a busy 2-core machine: more than the default 180 s.
t.setTimeout(400_000);

t.test(
  'the feed, the hints, lab hosts and a lab found from another directory',
  { skip, timeout: 400_000 },
  async (t) => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'gvos-lab-feed-'));
    const labs = join(dir, 'labs');
    const elsewhere = mkdtempSync(join(tmpdir(), 'gvos-elsewhere-'));
    // The registry of this test only (a user's running labs are not in the way).
    const env = { GVOS_SIM_REGISTRY_DIR: join(dir, 'registry'), GVOS_SIM_LABS_DIR: undefined };
    const topo = join(dir, 'topology.yaml');
    writeFileSync(
      topo,
      ['lab: e2e-feed', 'network:', `  address-base: ${BASE}.0`, '  address-offset: 0', ''].join('\n'),
    );
    const lab = await startLabUp([topo, '--boxes', '3', '--labs-dir', labs], 120_000, env);
    t.teardown(async () => {
      if (lab.proc.exitCode === null) lab.proc.kill('SIGTERM');
      await lab.exited;
      rmSync(dir, { recursive: true, force: true });
      rmSync(elsewhere, { recursive: true, force: true });
    });
    const up = lab.stdout();
    t.match(up, /lab e2e-feed is up: 3 boxes, 3 with a valid certificate/);
    t.match(up, /addressing: one address per box/);
    t.match(up, /web: +https:\/\/gigavue-3\.lab\.test\/ /, 'the URL by the name the certificate carries');
    t.match(
      up,
      /stop: +Ctrl-C, or node bin\/gvos-sim\.js lab down --name e2e-feed\n/,
      'the command as invoked',
    );
    t.match(up, /\nevents \(Ctrl-C stops the lab\):\n/);

    // --- curl with only the printed hint: full verification against the lab's root, by name.
    const hint = (label: string) => {
      const line = up.split('\n').find((l) => l.startsWith(`  ${label}:`));
      return line!.slice(line!.indexOf('curl ')).trim().split(/ +/);
    };
    const rest = hint('REST API');
    t.equal(rest[0], 'curl');
    t.ok(rest.includes('--cacert') && rest.includes('--resolve'), rest.join(' '));
    const version = JSON.parse(execFileSync('curl', rest.slice(1), { encoding: 'utf8' })) as {
      productName: string;
    };
    t.equal(version.productName, 'GigaVUE-OS', 'the REST API answered over verified TLS');
    execFileSync('curl', hint('curl').slice(1), { stdio: 'ignore' });
    t.pass('the web hint verifies too');

    // --- found from another directory (no --labs-dir): the per-user registry.
    t.equal(readdirSync(env.GVOS_SIM_REGISTRY_DIR).length, 1, 'one registry entry');
    const status = await runLabCli(['status', '--json'], env, elsewhere);
    t.equal(status.code, 0, status.stderr);
    t.equal((JSON.parse(status.stdout) as unknown[]).length, 3);

    // --- followers started before the actions; they end when the lab goes down.
    const follow = background(['events', '--follow', '--json'], env, elsewhere);
    const trapFollow = background(['traps', '--follow'], env, elsewhere);
    const hosts = await runLabCli(['hosts'], env, elsewhere);
    t.match(hosts.stdout, new RegExp(`^${BASE.replace(/\./g, '\\.')}\\.3 +gigavue-3\\.lab\\.test$`, 'm'));

    const revoke = await runLabCli(['acme', 'revoke', '--box', '3'], env, elsewhere);
    t.equal(revoke.code, 0, revoke.stderr);
    const fault = await runLabCli(['fault', 'acme-unreachable', 'on', '--box', '2'], env, elsewhere);
    t.equal(fault.code, 0, fault.stderr);
    await runLabCli(['kill', '1'], env, elsewhere);
    await runLabCli(['start', '1'], env, elsewhere);
    // The foreground terminal: one timestamped line per event.
    const iso = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
    await until('the feed lines', () => /box 1 gigavue-1: trap coldStart/.test(lab.stdout()));
    const feed = lab.stdout().slice(up.length);
    t.match(
      feed,
      new RegExp(`^${iso} box 3 gigavue-3: acme revoke requested for gigavue-3\\.lab\\.test$`, 'm'),
    );
    t.match(feed, new RegExp(`^${iso} box 3 gigavue-3: acme revoke: Success \\(serial [0-9A-F]+\\)$`, 'm'));
    t.match(
      feed,
      new RegExp(`^${iso} box 3 gigavue-3: trap gvosSimCertRevoked from ${BASE}\\.3:\\d+: `, 'm'),
    );
    t.match(feed, new RegExp(`^${iso} box 2 gigavue-2: fault acme-unreachable on$`, 'm'));
    t.match(feed, new RegExp(`^${iso} box 1 gigavue-1: killed$`, 'm'));
    t.match(feed, new RegExp(`^${iso} box 1 gigavue-1: started \\(firmware `, 'm'));

    // lab events --since <seq>: the JSON list after that event.
    const all = JSON.parse(
      '[' + (await runLabCli(['events', '--json'], env, elsewhere)).stdout.trim().split('\n').join(',') + ']',
    ) as LabEvent[];
    const revoked = all.find((e) => e.type === 'acme-finished' && e.op === 'revoke')!;
    t.match(revoked, { boxId: 3, hostname: 'gigavue-3', result: 'Success' });
    const after = (await runLabCli(['events', '--since', String(revoked.seq)], env, elsewhere)).stdout;
    t.notMatch(after, /acme revoke: Success/, 'not the event itself');
    t.match(after, /fault acme-unreachable on/, 'the ones after it');
    t.ok(
      all.every((e, i) => i === 0 || e.seq === all[i - 1]!.seq + 1),
      'sequence numbers without a gap',
    );

    // lab traps: a time column; --tail.
    const traps = (await runLabCli(['traps', '--tail', '2'], env, elsewhere)).stdout.split('\n');
    t.match(traps[0], /^time +notification +from/);
    t.equal(traps.filter((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ /.test(l)).length, 2, traps.join('\n'));

    const down = await runLabCli(['down'], env, elsewhere);
    t.equal(down.code, 0, down.stderr);
    t.equal(await lab.exited, 0);
    t.same(readdirSync(env.GVOS_SIM_REGISTRY_DIR), [], 'the registry entry is gone');
    const followed = await follow;
    t.equal(followed.code, 0, `events --follow ended with the lab: ${followed.stderr}`);
    const live = followed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LabEvent);
    t.ok(
      live.some((e) => e.type === 'fault' && e.boxId === 2 && e.on),
      'events --follow saw the fault',
    );
    t.ok(
      live.some((e) => e.type === 'box-killed' && e.boxId === 1),
      'and the kill',
    );
    const trapsFollowed = await trapFollow;
    t.equal(trapsFollowed.code, 0, trapsFollowed.stderr);
    t.match(
      trapsFollowed.stdout,
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +gvosSimCertRevoked /m,
      'traps --follow saw the revocation',
    );
  },
);
