// The lab across machines with the images of docker/, as the walkthrough in
// docker/README.md does it, on one host with loopback addresses standing in
// for two machines: the first machine's compose (docker/compose.yaml: its
// trap receiver, and its CA with the CA host's name in its TLS certificate:
// Pebble, then step-ca.yaml's step-ca), then a joining machine
// (docker/join.yaml: simulator boxes only, the CA URL and the trap receiver
// as variables, the CA root from a copied file). The site's DNS is Debian's
// pebble-challtestsrv on 127.0.0.150:8053. Checks what a user checks: the CA
// answers under its host's name with the copied root; a box of the joining
// machine serves a certificate from the first machine's CA for its name; its
// trap reaches the first machine's receiver from the box's address.
// Builds the images with scripts/docker-images.sh (nothing pulled; the
// step-ca image where Debian's Go sources of step-ca are installed, else that
// part is skipped saying so).
// Skipped, with the reason printed, where no Docker engine answers or no
// compose tool is installed.
import t, { type Test } from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { REPO_ROOT } from './lab-harness.js';
import { CHALLTESTSRV_READY, challtestsrvArgs, spawnDaemon } from '../../src/acme/pebble-launcher.js';
import { findBinary } from '../../src/lab/peers.js';

const DOCKER_DIR = join(REPO_ROOT, 'docker');
const CA_HOST = 'ca-host.lab.test'; // compose.yaml's Pebble
const STEP_CA_HOST = 'step-ca-host.lab.test'; // step-ca.yaml's step-ca
const SITE = '127.0.0.150'; // the first machine's address: Pebble, trap receiver, the site's DNS
const STEP_CA_ADDRESS = '127.0.0.151';
const DNS = `${SITE}:8053`;
const JOIN_BOX_1 = '127.0.0.171'; // join.yaml's default offset 170
const PASSWORD = 'Adm1n-test-pw';

/** The compose command: `docker compose` (v2) where the plugin exists, else Debian's docker-compose (1.29). */
function composeCommand(): string[] | undefined {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0)
    return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  return undefined;
}

let reason: string | false = false;
const engine = spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' });
const compose = composeCommand();
if (engine.error || engine.status !== 0)
  reason = `no Docker engine answers (${(engine.stderr || engine.error?.message || '').trim().split('\n')[0]}); as root: apt-get install docker.io && scripts/dockerd.sh start`;
else if (!compose)
  reason =
    'a Docker engine answers but neither "docker compose" nor docker-compose is installed (apt-get install docker-compose)';
if (reason) console.log(`# skipping lab-docker: ${reason}`);
// Building the images takes minutes on a busy 2-core machine: past the suite's per-file limit.
else t.setTimeout(1_800_000);

/**
 * End the site's DNS of a run that was killed before its teardown (a run cut
 * by the suite's time limit): the pebble-challtestsrv process serving this
 * test's DNS address, found by its arguments and ended by its PID.
 */
function stopLeftoverDns(): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    if (argv[0]?.endsWith('pebble-challtestsrv') && argv.includes(DNS))
      process.kill(Number(entry), 'SIGTERM');
  }
}

function run(
  cmd: string[],
  o: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd[0]!,
      cmd.slice(1),
      {
        cwd: o.cwd ?? REPO_ROOT,
        env: { ...process.env, ...(o.env ?? {}) },
        timeout: o.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** The certificate served at address:port for `servername`, verified against `ca` (rejects when it does not verify). */
function servedCertificate(
  address: string,
  port: number,
  servername: string,
  ca: string,
): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: address, port, servername, ca }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.once('error', reject);
  });
}

/** What one CA of the first machine is, for the joining machine. */
interface FirstMachineCa {
  /** The ACME directory URL by the CA host's name. */
  url: string;
  host: string;
  address: string;
  port: number;
  /** The container to copy ca-root.pem from. */
  containerId: string;
  /** The root the issued certificates chain to, from the copied file. */
  issuingRoot(bundle: string): string;
}

t.test('a machine joining a lab', { skip: reason, timeout: 1_800_000 }, async (t) => {
  const dc = compose!;
  const build = await run(['sh', 'scripts/docker-images.sh'], { timeoutMs: 1_500_000 });
  t.equal(build.code, 0, 'scripts/docker-images.sh built the images', { stderr: build.stderr.slice(-2000) });
  if (build.code !== 0) return;

  // The site's DNS: the CA hosts' names and the joining boxes' names.
  stopLeftoverDns();
  await new Promise((r) => setTimeout(r, 500));
  const dns = await spawnDaemon(
    findBinary('pebble-challtestsrv'),
    challtestsrvArgs({ dnsAddress: DNS, managementAddress: `${SITE}:8055`, defaultIPv4: SITE }),
    { ready: CHALLTESTSRV_READY },
  );
  t.teardown(() => dns.stop());
  for (const [host, address] of [
    [CA_HOST, SITE],
    [STEP_CA_HOST, STEP_CA_ADDRESS],
    ['join-1.lab.test', JOIN_BOX_1],
    ['join-2.lab.test', '127.0.0.172'],
  ] as const) {
    const res = await fetch(`http://${SITE}:8055/add-a`, {
      method: 'POST',
      body: JSON.stringify({ host, addresses: [address] }),
    });
    t.equal(res.status, 200, `the site's DNS knows ${host}`);
  }

  const work = mkdtempSync(join(tmpdir(), 'gvos-docker-'));
  const first =
    (file: string, project: string, env: NodeJS.ProcessEnv) => (args: string[], timeoutMs?: number) =>
      run([...dc, '-p', project, '-f', join(DOCKER_DIR, file), ...args], { cwd: DOCKER_DIR, timeoutMs, env });
  const firstMachine = first('compose.yaml', 'gvos-first', {
    GVOS_CA_NAMES: `localhost,${CA_HOST},${SITE}`,
    GVOS_CA_DNS: DNS,
  });
  const stepCa = first('step-ca.yaml', 'gvos-step-ca', {
    GVOS_CA_ADDRESS: STEP_CA_ADDRESS,
    GVOS_CA_NAMES: `localhost,${STEP_CA_HOST},${STEP_CA_ADDRESS}`,
    GVOS_CA_DNS: DNS,
  });
  const joining = (caUrl: string) => (args: string[], timeoutMs?: number) =>
    run([...dc, '-p', 'gvos-join', '-f', join(DOCKER_DIR, 'join.yaml'), ...args], {
      cwd: DOCKER_DIR,
      timeoutMs,
      env: {
        GVOS_CA_URL: caUrl,
        GVOS_TRAP_RECEIVER: `${SITE}:1162`,
        GVOS_NAME_SERVER: DNS,
        GVOS_CA_ROOT_FILE: join(work, 'ca-root.pem'),
        GVOS_ADMIN_PASSWORD: PASSWORD,
      },
    });
  const downAll = async () => {
    await joining('https://unused')(['down', '-v', '--timeout', '30'], 120_000);
    await stepCa(['down', '-v', '--timeout', '30'], 120_000);
    await firstMachine(['down', '-v', '--timeout', '30'], 120_000);
  };
  // Containers of a run killed before its teardown would hold the addresses.
  await downAll();
  t.teardown(downAll);

  const healthy = (what: string, id: string) =>
    until(
      what,
      async () => {
        const h = await run(['docker', 'inspect', '--format', '{{.State.Health.Status}}', id]);
        return h.stdout.trim() === 'healthy' ? true : undefined;
      },
      120_000,
    );

  // The first machine: its Pebble CA and trap receiver (its own simulator is not needed here).
  const upFirst = await firstMachine(['up', '-d', 'ca', 'snmptrapd'], 300_000);
  t.equal(upFirst.code, 0, 'the first machine is up (ca, snmptrapd)', { stderr: upFirst.stderr });
  const trapdId = (await firstMachine(['ps', '-q', 'snmptrapd'])).stdout.trim();
  const caId = (await firstMachine(['ps', '-q', 'ca'])).stdout.trim();
  await healthy('the CA container healthy', caId);
  await healthy('the trap receiver healthy', trapdId);

  /** The walkthrough's section 3 against one CA of the first machine. */
  const joinAgainst = async (t: Test, ca: FirstMachineCa) => {
    const joinCompose = joining(ca.url);
    // As the walkthrough: copy the CA root file to the joining machine.
    const cp = await run([
      'docker',
      'cp',
      `${ca.containerId}:/var/lib/gvos-ca/ca-root.pem`,
      join(work, 'ca-root.pem'),
    ]);
    t.equal(cp.code, 0, 'ca-root.pem copied out of the CA container', { stderr: cp.stderr });
    const rootBundle = readFileSync(join(work, 'ca-root.pem'), 'utf8');

    // The CA verifies under its host's name with only the copied root.
    const caCert = await servedCertificate(ca.address, ca.port, ca.host, rootBundle);
    t.match(caCert.subjectaltname, `DNS:${ca.host}`, "the CA's TLS certificate names its host");

    // The joining machine: boxes only, no CA of its own.
    const upJoin = await joinCompose(['up', '-d'], 300_000);
    t.equal(upJoin.code, 0, 'the joining machine is up', { stderr: upJoin.stderr });
    const status = await until(
      'both boxes of the joining machine with a valid certificate',
      async () => {
        const r = await joinCompose([
          'exec',
          '-T',
          'sim',
          'node',
          'bin/gvos-sim.js',
          'lab',
          'status',
          '--json',
        ]);
        if (r.code !== 0) return undefined;
        try {
          const rows = JSON.parse(r.stdout) as { boxId: number; certificate: { status: string } }[];
          return rows.length === 2 && rows.every((b) => b.certificate.status === 'valid') ? rows : undefined;
        } catch {
          return undefined;
        }
      },
      300_000,
    );
    t.equal(status.length, 2, 'both boxes of the joining machine hold a valid certificate');

    // What a user checks: box 1 serves, for its name, a certificate that verifies
    // against the first machine's issuing root alone (the TLS connection fails otherwise).
    const boxCert = await servedCertificate(JOIN_BOX_1, 443, 'join-1.lab.test', ca.issuingRoot(rootBundle));
    t.match(
      boxCert.subjectaltname,
      'DNS:join-1.lab.test',
      "the box's certificate, from the first machine's CA, names it",
    );

    // Its trap reaches the first machine's receiver.
    const since = new Date(Date.now() - 1_000).toISOString();
    const revoke = await joinCompose([
      'exec',
      '-T',
      'sim',
      'node',
      'bin/gvos-sim.js',
      'lab',
      'acme',
      'revoke',
      '--box',
      '1',
      '--json',
    ]);
    t.equal(revoke.code, 0, 'lab acme revoke --box 1 on the joining machine', { stderr: revoke.stderr });
    const line = await until(
      'the revocation trap of join-1 in the receiver',
      async () => {
        const logs = await run(['docker', 'logs', '--since', since, trapdId]);
        return `${logs.stdout}\n${logs.stderr}`
          .split('\n')
          .find((l) => l.includes('gvosSimCertRevoked') && l.includes('"join-1"'));
      },
      60_000,
    );
    t.match(line, /^GVOSSIM\|/, 'one line per notification, in the lab format');
    t.match(
      line,
      /\[127\.0\.0\.171\]:\d+->\[127\.0\.0\.150\]:1162/,
      "from the box's own address to the receiver",
    );

    const down = await joinCompose(['down', '-v', '--timeout', '30'], 120_000);
    t.equal(down.code, 0, 'the joining machine is down', { stderr: down.stderr });
  };

  await t.test("the first machine's Pebble (compose.yaml)", async (t) => {
    await joinAgainst(t, {
      url: `https://${CA_HOST}:14000/dir`,
      host: CA_HOST,
      address: SITE,
      port: 14000,
      containerId: caId,
      // ca-root.pem: the TLS root, then Pebble's issuing root.
      issuingRoot: (bundle) => {
        const pems = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
        t.equal(pems.length, 2, 'ca-root.pem holds the TLS root and the issuing root');
        return pems[1] ?? '';
      },
    });
  });

  const stepImage = spawnSync('docker', ['image', 'inspect', 'gvos-sim-step-ca:local'], { stdio: 'ignore' });
  await t.test(
    "the first machine's step-ca (step-ca.yaml)",
    {
      skip:
        stepImage.status === 0
          ? false
          : 'no gvos-sim-step-ca:local: scripts/docker-images.sh builds it where golang-go and golang-github-smallstep-certificates-dev are installed',
    },
    async (t) => {
      const up = await stepCa(['up', '-d'], 300_000);
      t.equal(up.code, 0, 'step-ca is up', { stderr: up.stderr });
      const id = (await stepCa(['ps', '-q', 'step-ca'])).stdout.trim();
      await healthy('step-ca healthy', id);
      await joinAgainst(t, {
        url: `https://${STEP_CA_HOST}:9000/acme/acme/directory`,
        host: STEP_CA_HOST,
        address: STEP_CA_ADDRESS,
        port: 9000,
        containerId: id,
        issuingRoot: (bundle) => bundle,
      });
    },
  );
});
