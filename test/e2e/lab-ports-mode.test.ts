// Ports mode (what a non-root user or a container gets): every box on one
// address with port offsets; Pebble's VA reaches each box through the lab's
// http-01 router by name. And a lab that fails half-way is cleaned up.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { FileFirmwareCatalog } from '../../src/firmware/catalog.js';
import { silentLogger } from '../../src/lib/logger.js';
import { canListen } from '../../src/lib/net.js';
import { Lab } from '../../src/lab/lab.js';
import { parseTopology } from '../../src/lab/topology.js';

const haveBins = (() => {
  try {
    execFileSync(
      'sh',
      ['-c', 'command -v pebble && command -v pebble-challtestsrv && test -x /usr/sbin/snmptrapd'],
      { stdio: 'ignore' },
    );
    return true;
  } catch {
    return false;
  }
})();
const catalog = new FileFirmwareCatalog();
const ctx = { defaultFirmware: catalog.latest().version };

/** Live child processes of this process (the lab's peers are its children), by name. */
function childProcesses(): string[] {
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z') out.push(`${comm} (${d})`);
    } catch {
      // gone
    }
  }
  return out;
}

t.test(
  'ports mode: one address, port offsets, certificates through the http-01 router',
  { skip: haveBins ? false : 'apt-get install pebble snmptrapd' },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gvos-lab-ports-'));
    const topology = parseTopology(
      [
        'lab: e2e-ports',
        'admin-password: Adm1n-test-pw',
        'boxes: 3',
        'network:',
        '  mode: ports',
        '  port-base: { ssh: 12200, cli: 12300, https: 14400, http: 18000 }',
        '',
      ].join('\n'),
      'ports.yaml',
      ctx,
    );
    const lab = await Lab.up({ topology, labsDir: dir, catalog, logger: silentLogger });
    t.teardown(async () => {
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    });
    const rows = lab.status();
    t.same(
      rows.map((r) => [r.address, r.ports, r.certificate.status]),
      [1, 2, 3].map((i) => [
        '127.0.0.1',
        { ssh: 12200 + i, cli: 12300 + i, https: 14400 + i, http: 18000 + i, snmp: 16100 + i },
        'valid',
      ]),
    );
    for (const r of rows) {
      const ok = await new Promise<boolean>((resolve, reject) => {
        const s = tlsConnect(
          {
            host: '127.0.0.1',
            port: r.ports.https,
            servername: `${r.hostname}.lab.test`,
            ca: lab.caRootPem!,
          },
          () => {
            resolve(s.authorized);
            s.end();
          },
        );
        s.on('error', reject);
      });
      t.ok(ok, `box ${r.boxId}'s certificate verifies for ${r.hostname}.lab.test`);
    }
  },
);

t.test(
  'a lab that fails half-way leaves nothing running',
  { skip: haveBins ? false : 'apt-get install pebble snmptrapd' },
  async (t) => {
    if (!(await canListen('127.0.6.2', 443))) return t.pass('cannot use 127.0.6.2:443 here; nothing to show');
    const dir = mkdtempSync(join(tmpdir(), 'gvos-lab-half-'));
    // Box 2's HTTPS port is taken: the lab starts its peers and box 1, then box 2 fails. Its port is
    // listed in the topology: listed ports are not probed before the start (a taken standard port
    // would make network.mode addresses refuse at once, starting nothing).
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(443, '127.0.6.2', () => r()));
    t.teardown(() => {
      blocker.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const topology = parseTopology(
      [
        'lab: e2e-half',
        'admin-password: Adm1n-test-pw',
        'boxes: { count: 3, list: [{ box-id: 2, ports: { https: 443 } }] }',
        'network: { mode: addresses, address-base: 127.0.6.0, address-offset: 0 }',
        '',
      ].join('\n'),
      'half.yaml',
      ctx,
    );
    const before = childProcesses();
    t.same(
      before.filter((c) => /pebble|snmptrapd/.test(c)),
      [],
      'no peer runs before',
    );
    const err = await Lab.up({ topology, labsDir: dir, catalog, logger: silentLogger }).then(
      async (lab) => {
        await lab.down();
        return new Error('lab up succeeded');
      },
      (e: Error) => e,
    );
    t.match(err.message, /127\.0\.6\.2:443: the port is (already )?in use/);
    t.same(
      childProcesses().filter((c) => /pebble|snmptrapd/.test(c)),
      [],
      'no Pebble, challtestsrv or snmptrapd left',
    );
    for (const a of ['127.0.6.1', '127.0.6.3'])
      for (const p of [22, 23, 80, 443]) t.ok(await canListen(a, p), `${a}:${p} is free`);
  },
);
