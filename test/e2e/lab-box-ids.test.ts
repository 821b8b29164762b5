// The whole box-id range at the lab's edge (issue 11): a lab whose boxes are
// 150 and 65535 comes up, and `gvos-sim lab stop|start|kill` and `lab acme
// --box` reach them by those ids, as a user types them. Box 150 lives at
// base + 150, box 65535 at base + 65535 (still in 127/8).
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canListen } from '../../src/lib/net.js';
import { ipv4Add } from '../../src/lab/cluster-runner.js';
import type { LabBoxStatus } from '../../src/lab/lab.js';
import { ensureBuilt, missingLabPeers, runLabCli, startLabUp } from './lab-harness.js';

// Its own address block: 127.0.10.x for box 150 and 127.1.10.x for box 65535.
const BASE = '127.0.10.0';
const A150 = ipv4Add(BASE, 150);
const A65535 = ipv4Add(BASE, 65535);
const canBind = (await canListen(A150, 443)) && (await canListen(A65535, 443));
const missing = missingLabPeers();
const skip = !canBind
  ? `cannot listen on ${A150}:443 and ${A65535}:443 (needs root and 127/8)`
  : missing.length
    ? `missing ${missing.join(', ')}: apt-get install pebble snmptrapd`
    : false;

t.test('lab verbs on box 150 and box 65535', { skip }, async (t) => {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'gvos-lab-ids-'));
  const labs = join(dir, 'labs');
  const topo = join(dir, 'topology.yaml');
  writeFileSync(
    topo,
    [
      'lab: e2e-ids',
      'network:',
      '  mode: addresses',
      `  address-base: ${BASE}`,
      '  address-offset: 0',
      'boxes:',
      '  list:',
      '    - box-id: 150',
      '    - box-id: 65535',
      '',
    ].join('\n'),
  );
  const lab = await startLabUp([topo, '--labs-dir', labs]);
  t.teardown(async () => {
    if (lab.proc.exitCode === null) lab.proc.kill('SIGTERM');
    await lab.exited;
    rmSync(dir, { recursive: true, force: true });
  });
  t.match(lab.stdout(), /lab e2e-ids is up: 2 boxes, 2 with a valid certificate/);
  const cli = (...args: string[]) => runLabCli([...args, '--labs-dir', labs]);
  const status = async () => {
    const st = await cli('status', '--json');
    t.equal(st.code, 0, st.stderr);
    return (JSON.parse(st.stdout) as LabBoxStatus[]).map((r) => [r.boxId, r.address, r.state]);
  };
  t.same(await status(), [
    [150, A150, 'running'],
    [65535, A65535, 'running'],
  ]);

  for (const [verb, id, state] of [
    ['stop', '150', 'stopped'],
    ['start', '150', 'running'],
    ['kill', '65535', 'killed'],
    ['start', '65535', 'running'],
  ] as const) {
    const r = await cli(verb, id);
    t.equal(r.code, 0, `lab ${verb} ${id}: ${r.stderr}`);
    t.match(r.stdout, `box ${id}: ${state}`);
  }
  const renew = await cli('acme', 'renew', '--box', '150,65535');
  t.equal(renew.code, 0, renew.stderr);
  t.match(renew.stdout, /2 of 2 boxes: renew succeeded/);
  const range = await cli('fault', 'snmp-muted', 'on', '--box', '100-200');
  t.equal(range.code, 1, '--box 100-200 parses; the lab refuses the ids it does not have');
  t.match(range.stderr, /no box with box-id 100 \(box-ids: 150,65535\)/);
  const outside = await cli('stop', '65536');
  t.equal(outside.code, 2);
  t.match(outside.stderr, /lab stop must be a box-id from 1 to 65535, got "65536"/);

  const down = await cli('down');
  t.equal(down.code, 0, down.stderr);
  t.equal(await lab.exited, 0);
  for (const a of [A150, A65535]) t.ok(await canListen(a, 443), `${a}:443 is free again`);
});
