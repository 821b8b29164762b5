/**
 * The agent of the real box process configured through its CLI, polled by
 * net-snmp's snmpget as LibreNMS detects a GigaVUE: sysObjectID under
 * .26866.3, then version, serial and model read and equal to `show version`.
 * Communities stay masked in `show snmp` and the running config; `snmp-server
 * port` moves the agent; the framework's host grammar is accepted.
 */
import t from 'tap';
import { startBoxProcess } from '../harness/box-process.js';
import { TcpClient } from './cli-helpers.js';
import { netSnmpTool } from '../harness/net-snmp-tools.js';

const snmpget = (args: string[]) => netSnmpTool('snmpget', args);
const snmpwalk = (args: string[]) => netSnmpTool('snmpwalk', args);

t.test('configure by CLI, detect as LibreNMS does', async (t) => {
  const b = await startBoxProcess();
  t.teardown(() => b.stop());
  const c = await TcpClient.login(b.ready.ports.cli, 'admin', 'Adm1n-test-pw');
  await c.cmd('enable');
  await c.cmd('configure terminal');
  const target = `127.0.0.1:${b.ready.ports.snmp}`;
  t.match(
    await snmpget(['-v2c', '-c', 'secret-ro', target, '1.3.6.1.2.1.1.5.0']),
    /Timeout/,
    'SNMP off: no answer',
  );
  for (const line of [
    'snmp-server enable',
    'snmp-server community secret-ro ro',
    'snmp-server contact NOC team <noc@lab.test>',
    'snmp-server location Lab rack 4',
    'snmp-server host 127.0.0.9 traps port 1162 version 2c trapcomm',
  ]) {
    t.notMatch(await c.cmd(line), /%/, line);
  }
  const out = await snmpget([
    '-v2c',
    '-c',
    'secret-ro',
    target,
    '1.3.6.1.2.1.1.2.0',
    '1.3.6.1.2.1.1.4.0',
    '1.3.6.1.2.1.1.6.0',
    '1.3.6.1.4.1.26866.2.6.0',
    '1.3.6.1.4.1.26866.2.4.0',
    '1.3.6.1.4.1.26866.2.2.0',
  ]);
  t.match(
    out,
    /\.1\.3\.6\.1\.2\.1\.1\.2\.0 = OID: \.1\.3\.6\.1\.4\.1\.26866\.3\.\d+/,
    'sysObjectID under gigamonProducts',
  );
  t.match(out, /STRING: "NOC team <noc@lab.test>"/);
  t.match(out, /STRING: "Lab rack 4"/);
  const version = await c.cmd('show version');
  const release = /Product release: +(\S+)/.exec(version)![1]!;
  const serial = /System serial num: +(\S+)/.exec(version)![1]!;
  t.match(
    out,
    new RegExp(`26866\\.2\\.6\\.0 = STRING: "${release.replace(/\./g, '\\.')}"`),
    'version = show version',
  );
  t.match(out, new RegExp(`26866\\.2\\.4\\.0 = STRING: "${serial} *"`), 'serial = show version');
  t.match(out, /26866\.2\.2\.0 = STRING: "CHS-HC2 +"/, 'model = show chassis HW type');

  // The hardware the agent reports is the hardware show version prints (device/hardware.ts).
  const arch = /Target arch: +(\S+)/.exec(version)![1]!;
  const targetHw = /Target hw: +(\S+)/.exec(version)![1]!;
  const cpus = Number(/Number of CPUs: +(\d+)/.exec(version)![1]);
  const [, , freeMb, totalMb] = /System memory: +(\d+) MB used \/ (\d+) MB free \/ (\d+) MB total/
    .exec(version)!
    .map(Number);
  const hw = await snmpget([
    '-v2c',
    '-c',
    'secret-ro',
    target,
    '1.3.6.1.2.1.1.1.0',
    '1.3.6.1.2.1.25.2.2.0',
    '1.3.6.1.4.1.2021.4.5.0',
    '1.3.6.1.4.1.2021.4.6.0',
    '1.3.6.1.4.1.26866.2.19.1.0',
    '1.3.6.1.4.1.26866.2.19.2.0',
  ]);
  t.match(
    hw,
    new RegExp(`1\\.1\\.0 = STRING: "Linux \\S+ 2\\.6\\.34-GIGAMONsmp-${targetHw} .* SMP ${arch}"`),
    `sysDescr names show version's target hw ${targetHw} and arch ${arch}`,
  );
  for (const [oid, kb, what] of [
    ['1.3.6.1.2.1.25.2.2.0', totalMb! * 1024, 'hrMemorySize'],
    ['1.3.6.1.4.1.2021.4.5.0', totalMb! * 1024, 'memTotalReal'],
    ['1.3.6.1.4.1.2021.4.6.0', freeMb! * 1024, 'memAvailReal'],
    ['1.3.6.1.4.1.26866.2.19.1.0', totalMb! * 1024, 'gigamon total memory'],
    ['1.3.6.1.4.1.26866.2.19.2.0', freeMb! * 1024, 'gigamon free memory'],
  ] as const) {
    t.match(hw, new RegExp(`\\.${oid.replace(/\./g, '\\.')} = INTEGER: ${kb}\n`), `${what} = show version`);
  }
  const loads = await snmpwalk(['-v2c', '-c', 'secret-ro', target, '1.3.6.1.2.1.25.3.3.1.2']);
  t.equal(
    loads.split('\n').filter((l) => /25\.3\.3\.1\.2\.\d+ = INTEGER/.test(l)).length,
    cpus,
    'one hrProcessorLoad row per CPU of show version',
  );

  const show = await c.cmd('show snmp');
  t.match(show, /Communities: +\*{8} ro/);
  t.notMatch(show, /secret-ro/, 'the community is masked in show snmp');
  const rc = await c.cmd('show running-config');
  t.match(rc, /snmp-server community \*{8} ro/);
  t.notMatch(rc, /secret-ro|trapcomm/, 'and in the running config');
  t.match(
    rc,
    /snmp-server host 127\.0\.0\.9 port 1162 traps version 2c \*{8}/,
    'framework grammar shown the usual way',
  );
  t.match(await c.cmd('show snmp events'), /auth-fail +yes/);
  t.match(await c.cmd('show snmp user'), /No SNMPv3 users/);

  // snmp-server port moves the agent.
  t.notMatch(await c.cmd('snmp-server port 0'), /^$/, 'port 0 refused by the grammar');
  const free = b.ready.ports.snmp + 1 <= 65535 ? b.ready.ports.snmp + 1 : b.ready.ports.snmp - 1;
  t.notMatch(await c.cmd(`snmp-server port ${free}`), /%/);
  await new Promise((r) => setTimeout(r, 300));
  t.match(
    await snmpget(['-v2c', '-c', 'secret-ro', `127.0.0.1:${free}`, '1.3.6.1.2.1.1.6.0']),
    /Lab rack 4/,
    'answers on the new port',
  );
  t.match(await c.cmd('show snmp'), new RegExp(`UDP ${free}`));
  t.notMatch(await c.cmd('no snmp-server community secret-ro'), /%/);
  t.match(
    await snmpget(['-v2c', '-c', 'secret-ro', `127.0.0.1:${free}`, '1.3.6.1.2.1.1.6.0']),
    /Timeout/,
    'no community left: no answer',
  );
  c.send('exit\n');
});
