// The compose lab (docker/compose.yaml) with testcontainers: step-ca with its
// ACME provisioner, the snmptrapd container and a simulator container
// running a four-box cluster; every box gets a certificate from step-ca.
// Skipped, with the reason printed, where no Docker engine answers.
import t from 'tap';
import { join } from 'node:path';
import { REPO_ROOT } from './lab-harness.js';

type Testcontainers = typeof import('testcontainers');

let tc: Testcontainers | undefined;
let reason: string | false = false;
try {
  tc = await import('testcontainers');
  await tc.getContainerRuntimeClient();
} catch (err) {
  reason = `no Docker engine answers (${(err as Error).message.split('\n')[0]}): the compose lab test needs one`;
}
if (reason) console.log(`# skipping lab-docker: ${reason}`);

t.test(
  'compose lab: step-ca issues a certificate to every box of a simulator container',
  { skip: reason, timeout: 900_000 },
  async (t) => {
    const { DockerComposeEnvironment, Wait } = tc!;
    const env = await new DockerComposeEnvironment(join(REPO_ROOT, 'docker'), 'compose.yaml')
      .withBuild()
      .withEnvironment({ GVOS_ADMIN_PASSWORD: 'Adm1n-test-pw' })
      .withWaitStrategy('sim-a-1', Wait.forHealthCheck())
      .withStartupTimeout(600_000)
      .up(['step-ca', 'snmptrapd', 'sim-a']);
    t.teardown(() => env.down({ removeVolumes: true }).then(() => undefined));
    const sim = env.getContainer('sim-a-1');
    const res = await sim.exec(['node', 'bin/gvos-sim.js', 'lab', 'status', '--json']);
    t.equal(res.exitCode, 0, res.output);
    const rows = JSON.parse(res.stdout) as {
      boxId: number;
      certificate: { status: string; serial: string | null };
    }[];
    t.equal(rows.length, 4);
    for (const r of rows)
      t.equal(r.certificate.status, 'valid', `box ${r.boxId} has a certificate from step-ca`);
    const revoke = await sim.exec([
      'node',
      'bin/gvos-sim.js',
      'lab',
      'acme',
      'revoke',
      '--box',
      '1',
      '--json',
    ]);
    t.equal(revoke.exitCode, 0, revoke.output);
    const traps = env.getContainer('snmptrapd-1');
    const logs = await new Promise<string>((resolve) => {
      let text = '';
      void traps.logs().then((stream) => {
        stream.on('data', (d: Buffer) => (text += d.toString()));
        setTimeout(() => resolve(text), 2_000);
      });
    });
    t.match(logs, /gvosSimCertRevoked/, 'the revocation trap reached the snmptrapd container');
  },
);
