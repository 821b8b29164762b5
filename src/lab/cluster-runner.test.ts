// The cluster runner: three boxes in one process, each on its own loopback
// address and the standard ports; every box reachable; a reload of one box
// does not disturb the others' HTTPS nor an open CLI session; kill and start.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { request } from 'node:https';
import { FileFirmwareCatalog } from '../firmware/catalog.js';
import { SystemClock } from '../lib/clock.js';
import { silentLogger } from '../lib/logger.js';
import { canListen } from '../lib/net.js';
import {
  ClusterRunner,
  DEFAULT_ADDRESSING,
  endpointFor,
  ipv4Add,
  portsModeMaxId,
  type Addressing,
} from './cluster-runner.js';

const PASSWORD = 'Adm1n-test-pw';
// An address block of its own, so a user's lab (127.0.0.10x) and other suites never collide.
const addressing: Addressing = {
  ...DEFAULT_ADDRESSING,
  mode: 'addresses',
  addressBase: '127.0.3.0',
  addressOffset: 0,
};

t.test('addresses and port offsets (pure)', async (t) => {
  t.equal(ipv4Add('127.0.0.0', 103), '127.0.0.103');
  t.equal(ipv4Add('127.0.0.250', 10), '127.0.1.4');
  t.throws(() => ipv4Add('255.255.255.255', 1));
  t.same(endpointFor({ boxId: 3 }, DEFAULT_ADDRESSING), {
    address: '127.0.0.103',
    ports: { ssh: 22, cli: 23, https: 443, http: 80, snmp: 161 },
  });
  t.same(endpointFor({ boxId: 3 }, { ...DEFAULT_ADDRESSING, mode: 'ports' }), {
    address: '127.0.0.1',
    ports: { ssh: 2203, cli: 2303, https: 4403, http: 8003, snmp: 16103 },
  });
  t.same(endpointFor({ boxId: 3, address: '127.0.9.9', ports: { ssh: 2022 } }, DEFAULT_ADDRESSING), {
    address: '127.0.9.9',
    ports: { ssh: 2022, cli: 23, https: 443, http: 80, snmp: 161 },
  });
});

t.test('the whole box-id range has an endpoint: box 150 and box 65535', async (t) => {
  t.equal(
    endpointFor({ boxId: 150 }, DEFAULT_ADDRESSING).address,
    '127.0.0.250',
    'box 150 on its own address',
  );
  t.equal(
    endpointFor({ boxId: 65535 }, DEFAULT_ADDRESSING).address,
    '127.1.0.99',
    'box 65535 still in 127/8',
  );
  const ports = { ...DEFAULT_ADDRESSING, mode: 'ports' as const };
  t.equal(portsModeMaxId(DEFAULT_ADDRESSING.portBase), 100, 'default bases are 100 apart');
  t.same(endpointFor({ boxId: 100 }, ports).ports, {
    ssh: 2300,
    cli: 2400,
    https: 4500,
    http: 8100,
    snmp: 16200,
  });
  for (const boxId of [101, 150, 65535])
    t.same(
      endpointFor({ boxId }, ports),
      { address: '127.0.0.1', ports: { ssh: 0, cli: 0, https: 0, http: 0, snmp: 0 } },
      `ports mode, box ${boxId}: any free ports, never another box's or past 65535`,
    );
  t.same(endpointFor({ boxId: 150, ports: { ssh: 2022 } }, ports).ports.ssh, 2022, 'a given port still wins');
  t.equal(portsModeMaxId({ ssh: 60000, cli: 61000, https: 62000, http: 63000, snmp: 65000 }), 535);
});

/** GET / over a fresh TLS connection (no keep-alive): resolves the status code. */
function httpsGet(address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: address, port, path: '/', agent: false, rejectUnauthorized: false, timeout: 5_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** A raw-TCP CLI session: log in, then send lines and wait for text. */
async function cliSession(
  address: string,
  port: number,
): Promise<{ sock: Socket; send(l: string): void; waitFor(re: RegExp): Promise<string>; text(): string }> {
  const sock = connect({ host: address, port });
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (buf += d));
  const waitFor = async (re: RegExp) => {
    const until = Date.now() + 10_000;
    while (!re.test(buf)) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${re}; got: ${buf.slice(-500)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return buf;
  };
  await waitFor(/login: $/);
  sock.write('admin\n');
  await waitFor(/Password: $/);
  sock.write(`${PASSWORD}\n`);
  await waitFor(/> $/);
  return { sock, send: (l) => sock.write(l + '\n'), waitFor, text: () => buf };
}

const canBind = await canListen('127.0.3.1', 443);
const skip = canBind ? false : 'cannot listen on 127.0.3.1:443 (needs root and the 127/8 loopback range)';

t.test('three boxes in one process', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gvos-lab-runner-'));
  const runner = new ClusterRunner({
    clusterName: 'runner-test',
    labDir: dir,
    seed: 'runner-test',
    adminPassword: PASSWORD,
    clock: new SystemClock(),
    logger: silentLogger,
    catalog: new FileFirmwareCatalog(),
    addressing,
  });
  t.teardown(async () => {
    await runner.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
  const latest = new FileFirmwareCatalog().latest().version;
  await Promise.all(
    [1, 2, 3].map((boxId) =>
      runner.add({
        boxId,
        hostname: `node-${boxId}`,
        model: 'GigaVUE-HC2',
        firmware: latest,
        cryptoMode: 'secure-crypto',
      }),
    ),
  );

  t.test('each box has its own address, identity and listeners', async (t) => {
    const infos = runner.list();
    t.same(
      infos.map((i) => [i.spec.boxId, i.address, i.ports.https, i.state]),
      [
        [1, '127.0.3.1', 443, 'running'],
        [2, '127.0.3.2', 443, 'running'],
        [3, '127.0.3.3', 443, 'running'],
      ],
    );
    const serials = new Set([1, 2, 3].map((id) => runner.box(id)!.identity.serial));
    t.equal(serials.size, 3, 'serials differ');
    t.same(runner.cluster.ids(), [1, 2, 3], 'one cluster holds all three');
    for (const i of infos) {
      t.equal(await httpsGet(i.address, i.ports.https), 200, `HTTPS of box ${i.spec.boxId}`);
      await new Promise<void>((resolve, reject) => {
        const s = connect({ host: i.address, port: i.ports.ssh }, () => {
          s.once('data', (d) => {
            t.match(d.toString(), /^SSH-2\.0-/, `SSH banner of box ${i.spec.boxId}`);
            s.destroy();
            resolve();
          });
        });
        s.on('error', reject);
      });
    }
  });

  t.test('a session on one box lists every box of the cluster', async (t) => {
    const s = await cliSession('127.0.3.1', 23);
    s.send('show chassis');
    const out = await s.waitFor(/node-3[\s\S]*> $/);
    for (const h of ['node-1', 'node-2', 'node-3']) t.match(out, h);
    s.sock.destroy();
  });

  t.test(
    'a reload of box 2 does not disturb the HTTPS of boxes 1 and 3, nor a session on box 1',
    async (t) => {
      const session = await cliSession('127.0.3.1', 23);
      let stop = false;
      let ok = 0;
      const failures: string[] = [];
      const hammer = async (address: string) => {
        while (!stop) {
          try {
            if ((await httpsGet(address, 443)) === 200) ok++;
            else failures.push(`${address}: bad status`);
          } catch (err) {
            failures.push(`${address}: ${(err as Error).message}`);
          }
        }
      };
      const loops = [hammer('127.0.3.1'), hammer('127.0.3.3')];
      const before = runner.box(2)!;
      await runner.reload(2);
      t.not(runner.box(2), before, 'box 2 is a new object after reload');
      t.equal(await httpsGet('127.0.3.2', 443), 200, 'box 2 serves again');
      stop = true;
      await Promise.all(loops);
      t.same(failures, [], 'no failed request on boxes 1 and 3');
      t.ok(ok > 5, `requests served during the reload (${ok})`);
      t.notOk(session.sock.destroyed, 'the session on box 1 is still open');
      session.send('show version');
      await session.waitFor(/Product[\s\S]*> $/);
      session.sock.destroy();
    },
  );

  t.test('kill and start: the box comes back from its stored state', async (t) => {
    const serial = runner.box(3)!.identity.serial;
    await runner.kill(3);
    t.equal(runner.info(3).state, 'killed');
    t.notOk(runner.cluster.has(3), 'a killed box leaves the cluster');
    await t.rejects(httpsGet('127.0.3.3', 443), 'its listeners are closed');
    t.ok(await canListen('127.0.3.3', 443), 'its ports are free');
    await runner.start(3);
    t.equal(runner.info(3).state, 'running');
    t.equal(runner.box(3)!.identity.serial, serial, 'same identity');
    t.equal(await httpsGet('127.0.3.3', 443), 200);
  });

  t.test('stop, remove and add', async (t) => {
    await runner.stop(2);
    t.equal(runner.info(2).state, 'stopped');
    t.equal(runner.boxIdAt('127.0.3.2'), 2, 'a stopped box is still found by its address');
    await runner.remove(2);
    t.notOk(runner.has(2));
    t.equal(runner.boxIdAt('127.0.3.2'), undefined, 'a removed box is no longer found by its address');
    t.equal(runner.boxIdAt('127.0.3.1'), 1, 'the others still are');
    await t.rejects(
      runner.add({
        boxId: 1,
        hostname: 'dup',
        model: 'GigaVUE-HC2',
        firmware: latest,
        cryptoMode: 'classic',
      }),
      /already in the lab/,
    );
    await runner.add({
      boxId: 2,
      hostname: 'node-2b',
      model: 'GigaVUE-HC2',
      firmware: latest,
      cryptoMode: 'secure-crypto',
    });
    t.equal(runner.box(2)!.hostname, 'node-2b', 'a removed box-id starts fresh');
  });
});
