// Issue 14 (items 4 and 5), on a live `lab up` of two boxes:
// - `lab inventory`'s caRoot is a file curl verifies a box's HTTPS with: the REST API line `lab up`
//   printed (`curl --cacert <root> --resolve <name>:443:<address> ...`) and the inventory's own
//   fields both reach box 1's REST API with full verification; another root is refused;
// - the `expiring` state: box 1's clock moved past its renewal moment (`lab time advance --keep`)
//   while its auto-renewal waits (one per box per minute) shows `expiring` in `lab status` and
//   `lab status --json`; box 2 stays `valid`.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import type { InventoryRow, LabBoxStatus } from '../../src/lab/lab.js';
import { ensureBuilt, labSkipReason, labStatusJson, runLabCli, startTopologyLab } from './lab-harness.js';

// Its own address block (127.0.17.x), apart from users' labs and other suites.
const BASE = '127.0.17';
const PASSWORD = 'Adm1n-lab-inventory';
const skip = await labSkipReason([`${BASE}.1`, `${BASE}.2`]);
const run = promisify(execFile);

/** curl with these arguments: its exit code, the body and what it said on stderr (never throws). */
async function curl(args: string[]): Promise<{ code: number; body: string; err: string }> {
  try {
    const r = await run('curl', ['--silent', '--show-error', '--fail', '--max-time', '20', ...args], {
      encoding: 'utf8',
    });
    return { code: 0, body: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, body: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

// A lab up, two curl rounds and about fifteen `lab` commands (a node start each): 170 s at load 11.
t.setTimeout(600_000);

t.test('inventory caRoot with curl, and the expiring state', { skip }, async (t) => {
  ensureBuilt();
  const { lab, labs } = await startTopologyLab(t, 'gvos-lab-inventory-', [
    'lab: e2e-inventory',
    `admin-password: ${PASSWORD}`,
    'boxes: 2',
    'network:',
    `  address-base: ${BASE}.0`,
    '  address-offset: 0',
  ]);
  t.match(lab.stdout(), /lab e2e-inventory is up: 2 boxes, 2 with a valid certificate/, 'the lab is up');

  await t.test("inventory's caRoot verifies a box's HTTPS with curl", async (t) => {
    const inv = await runLabCli(['inventory', '--format', 'json', '--labs-dir', labs]);
    t.equal(inv.code, 0, `lab inventory exits 0 ${inv.stderr}`);
    const rows = JSON.parse(inv.stdout) as InventoryRow[];
    const box1 = rows.find((r) => r.boxId === 1)!;
    t.match(
      box1,
      { hostname: 'gigavue-1', address: `${BASE}.1`, domain: 'gigavue-1.lab.test', user: 'admin' },
      'box 1: name, address, domain and user',
    );
    t.ok(box1.caRoot && existsSync(box1.caRoot), `caRoot is a file (${box1.caRoot})`);

    // The REST API line as `lab up` printed it for box 1, with the password given (curl would ask).
    const hint = /REST API: {2}(curl --cacert (\S+) --resolve (\S+) -u admin (\S+))$/m.exec(lab.stdout());
    t.ok(hint, 'lab up printed a curl line for the REST API');
    if (!hint) return;
    t.equal(hint[2], box1.caRoot, 'the printed --cacert is the inventory caRoot');
    t.equal(
      hint[3],
      `${box1.domain}:443:${box1.address}`,
      'the printed --resolve is the inventory name and address',
    );
    const printed = await curl([
      '--cacert',
      hint[2]!,
      '--resolve',
      hint[3]!,
      '-u',
      `admin:${PASSWORD}`,
      hint[4]!,
    ]);
    t.equal(printed.code, 0, `curl by the printed line succeeds ${printed.err}`);
    t.match(
      JSON.parse(printed.body || '{}'),
      { productName: 'GigaVUE-OS', hostId: box1.hostId },
      'box 1 answers',
    );

    // From the inventory alone, as a manager's tooling would, for every box.
    for (const r of rows) {
      const url = `https://${r.domain}:${r.ports.https}/api/v1/system`;
      const got = await curl([
        ...['--cacert', r.caRoot!, '--resolve', `${r.domain}:${r.ports.https}:${r.address}`],
        ...['-u', `${r.user}:${PASSWORD}`, url],
      ]);
      t.equal(got.code, 0, `box ${r.boxId}: curl verifies ${r.domain} against caRoot ${got.err}`);
      t.match(JSON.parse(got.body || '{}'), { hostname: r.hostname }, `box ${r.boxId} answers`);
    }

    // The check can fail: without the lab's root (curl's system bundle only) the certificate is refused.
    const system = await curl([
      ...['--resolve', `${box1.domain}:443:${box1.address}`],
      `https://${box1.domain}/api/v1/system/version`,
    ]);
    t.equal(system.code, 60, `without the lab's root curl refuses the certificate (exit 60) ${system.err}`);
    const byAddress = await curl(['--cacert', box1.caRoot!, `https://${box1.address}/api/v1/system/version`]);
    t.not(byAddress.code, 0, `by bare address (no --resolve) the name does not match ${byAddress.err}`);
  });

  await t.test('a box past its renewal moment shows expiring', async (t) => {
    const before = await labStatusJson(labs);
    t.same(
      before.map((r) => r.certificate.status),
      ['valid', 'valid'],
      'both valid at first',
    );
    // 61 days ahead, kept: 90-day certificates are due after 60; box 1 auto-renews at once...
    const first = await runLabCli(['time', 'advance', '61d', '--box', '1', '--keep', '--labs-dir', labs]);
    t.equal(first.code, 0, `lab time advance 61d --keep ${first.stderr}`);
    const until = Date.now() + 60_000;
    let renewed: LabBoxStatus | undefined;
    while (Date.now() < until) {
      const row = (await labStatusJson(labs)).find((r) => r.boxId === 1)!;
      if (
        row.certificate.lastRequest?.type === 'Auto-Renew' &&
        row.certificate.lastRequest.status === 'Success'
      ) {
        renewed = row;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    t.ok(renewed, 'box 1 renewed once by itself');
    t.not(renewed?.certificate.serial, before[0]!.certificate.serial, 'with a new certificate');
    t.equal(renewed?.certificate.status, 'valid', 'and is valid again');
    // ...and 61 more: the new certificate is due by the box's clock, but the next auto-renewal waits
    // for its minute (the renewal-loop guard): the certificate is expiring meanwhile.
    const second = await runLabCli(['time', 'advance', '61d', '--box', '1', '--keep', '--labs-dir', labs]);
    t.equal(second.code, 0, `a second lab time advance 61d --keep ${second.stderr}`);
    const rows = await labStatusJson(labs);
    t.equal(rows[0]!.certificate.status, 'expiring', 'lab status --json: box 1 is expiring');
    t.equal(rows[0]!.certificate.serial, renewed?.certificate.serial, 'its certificate is the one renewed');
    t.equal(rows[1]!.certificate.status, 'valid', 'box 2 is still valid');
    const table = await runLabCli(['status', '--labs-dir', labs]);
    t.equal(table.code, 0, `lab status exits 0 ${table.stderr}`);
    const line = (id: number) => table.stdout.split('\n').find((l) => l.startsWith(`${id} `)) ?? '';
    t.match(line(1), /\bexpiring\b/, `lab status: box 1's row says expiring (${line(1).trim()})`);
    t.match(line(2), /\bvalid\b/, "lab status: box 2's row says valid");
    t.notMatch(line(2), /\bexpiring\b/, "box 2's row does not");
  });
});
