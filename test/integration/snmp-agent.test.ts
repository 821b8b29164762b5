// The agent of a box as real managers see it: net-snmp's own tools
// (snmpget, snmpwalk, snmpbulkwalk, snmpset) against one box's agent.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import t from 'tap';
import { SystemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SnmpAgent, agentSettingsOf, type AgentSettings } from '../../src/snmp/agent.js';
import { SnmpNotifier } from '../../src/snmp/notifier.js';
import { createNetSnmpSender } from '../../src/snmp/net-snmp-sender.js';
import { ADMIN, makeTestBox } from '../harness/boxes.js';

const ADDR = '127.0.0.121';

/** Run a net-snmp tool without MIBs (the agent is in this process: never block the event loop). */
function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      ['-M', '/nonexistent', '-m', '', ...args],
      { encoding: 'utf8', timeout: 20_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
      },
    );
  });
}

t.test('one box answers net-snmp tools', async (t) => {
  const clock = new SystemClock();
  const { box } = await makeTestBox({ clock, boxId: 1, hostname: 'agent1', address: ADDR });
  const notifier = new SnmpNotifier({ senderFactory: createNetSnmpSender, box, clock, logger: silentLogger });
  box.attachSnmp(notifier);
  let extra: Partial<AgentSettings> = {
    communities: ['public'],
    contact: 'noc@lab.test',
    location: 'rack 4',
  };
  const agent = new SnmpAgent({
    box,
    engine: notifier,
    address: ADDR,
    port: 0,
    settings: () => ({ ...agentSettingsOf(box.config.snmp), ...extra }),
    logger: silentLogger,
  });
  const port = await agent.start();
  t.teardown(() => agent.close());
  const target = `${ADDR}:${port}`;
  box.snmpEnable(ADMIN, true);

  const get = await run('snmpget', [
    '-v2c',
    '-c',
    'public',
    '-On',
    target,
    '1.3.6.1.2.1.1.1.0',
    '1.3.6.1.2.1.1.2.0',
    '1.3.6.1.2.1.1.5.0',
  ]);
  t.equal(get.code, 0, get.out);
  t.match(
    get.out,
    /Linux agent1 2\.6\.34-GIGAMONsmp-gvhc2 GigaVUE-OS \S+ #\S+ .* SMP ppc"/,
    'the HC2 is a ppc box, as show version says',
  );
  t.match(get.out, /\.1\.3\.6\.1\.2\.1\.1\.2\.0 = OID: \.1\.3\.6\.1\.4\.1\.26866\.3\.6/);
  const walk = await run('snmpwalk', ['-v2c', '-c', 'public', '-On', target, '.1']);
  t.equal(walk.code, 0, walk.out);
  t.match(walk.out, /No more variables left in this MIB View/, 'the walk ends with endOfMibView');
  t.match(
    walk.out,
    /\.1\.3\.6\.1\.2\.1\.31\.1\.1\.1\.1\.17957120 = STRING: "1\/1\/x1"/,
    'ifName of the first port, real ifIndex',
  );
  t.match(walk.out, /\.1\.3\.6\.1\.4\.1\.26866\.2\.2\.0 = STRING: "CHS-HC2 {17}"/, 'model padded to 24');
  const bulk = await run('snmpbulkwalk', ['-v2c', '-c', 'public', '-On', '-Cr25', target, '.1']);
  t.equal(bulk.code, 0);
  t.equal(bulk.out.split('\n').length, walk.out.split('\n').length, 'bulkwalk and walk see the same objects');
  const v1 = await run('snmpwalk', ['-v1', '-c', 'public', '-On', target, '.1']);
  t.equal(v1.code, 0, v1.out.slice(-300));
  const bad = await run('snmpget', [
    '-v2c',
    '-c',
    'wrong',
    '-t',
    '0.3',
    '-r',
    '0',
    target,
    '1.3.6.1.2.1.1.5.0',
  ]);
  t.match(bad.out, /Timeout/);
  const set = await run('snmpset', ['-v2c', '-c', 'public', target, '1.3.6.1.2.1.1.5.0', 's', 'evil']);
  t.match(set.out, /notWritable/);
  t.equal(box.hostname, 'agent1');

  box.snmpSetUser(ADMIN, {
    name: 'u3',
    auth: { protocol: 'sha256', password: 'auth-pass-123' },
    priv: { protocol: 'aes-128', password: 'priv-pass-456' },
  });
  const v3 = await run('snmpget', [
    '-v3',
    '-l',
    'authPriv',
    '-u',
    'u3',
    '-a',
    'SHA-256',
    '-A',
    'auth-pass-123',
    '-x',
    'AES',
    '-X',
    'priv-pass-456',
    '-On',
    target,
    '1.3.6.1.2.1.1.5.0',
    '1.3.6.1.6.3.10.2.1.1.0',
  ]);
  t.equal(v3.code, 0, v3.out);
  t.match(v3.out, new RegExp(`Hex-STRING: ${notifier.engineId().toUpperCase().match(/../g)!.join(' ')}`));
  const v3bad = await run('snmpget', [
    '-v3',
    '-l',
    'authPriv',
    '-u',
    'u3',
    '-a',
    'SHA-256',
    '-A',
    'wrong-pass-1',
    '-x',
    'AES',
    '-X',
    'priv-pass-456',
    '-t',
    '0.5',
    '-r',
    '0',
    target,
    '1.3.6.1.2.1.1.5.0',
  ]);
  t.not(v3bad.code, 0, v3bad.out);

  // Hostile datagrams, then a good GET.
  const s = createSocket('udp4');
  // Bound on loopback: an unbound socket's first send binds it to every address (0.0.0.0).
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  for (const d of [
    Buffer.from('garbage'),
    Buffer.from([0x30, 0x82, 0xff, 0xff, 0x02]),
    Buffer.alloc(60000, 0x30),
  ]) {
    await new Promise<void>((r) => s.send(d, port, ADDR, () => r()));
  }
  s.close();
  const after = await run('snmpget', ['-v2c', '-c', 'public', '-On', target, '1.3.6.1.2.1.1.5.0']);
  t.match(after.out, /agent1/);
  const k = agent.status().counters;
  t.equal(k.badCommunityNames, 1, 'the wrong community is counted');
  t.ok(k.asnParseErrs >= 2, 'garbage and truncated datagrams are counted');
  t.equal(k.silentDrops, 1, 'the oversized datagram is dropped unread');
  t.ok(k.usmErrors >= 1, 'the wrong v3 key is counted');
  t.equal(k.setsRefused, 1);

  // Live values: a new hostname is in the next GET; no community = no answer.
  box.setHostname(ADMIN, 'renamed1');
  const renamed = await run('snmpget', ['-v2c', '-c', 'public', '-On', target, '1.3.6.1.2.1.1.5.0']);
  t.match(renamed.out, /STRING: "renamed1"/);
  extra = { communities: [] };
  const none = await run('snmpget', [
    '-v2c',
    '-c',
    'public',
    '-t',
    '0.3',
    '-r',
    '0',
    target,
    '1.3.6.1.2.1.1.5.0',
  ]);
  t.match(none.out, /Timeout/, 'no community configured: no answer');
});
