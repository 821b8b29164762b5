/**
 * Gigamon's public notifications from the real box process, decoded by a
 * real snmptrapd with the project's MIB: config save on `write memory`,
 * user authentication failure on a failed TCP login, reset (with warmStart)
 * and firmware change on a reload into a new image; each with exactly the
 * public MIB's objects. The v1 generic trap's enterprise is sysObjectID.
 */
import { connect } from 'node:net';
import t from 'tap';
import { startBoxProcess, type BoxProcess } from '../harness/box-process.js';
import { startTrapReceiver } from '../harness/snmptrapd.js';
import { varbindValue } from '../../src/snmp/trapd-launcher.js';
import { TcpClient } from './cli-helpers.js';

const PW = 'Adm1n-test-pw';

async function waitForLogin(b: BoxProcess): Promise<TcpClient> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await TcpClient.login(b.ready.ports.cli, 'admin', PW);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** One wrong password over the raw TCP CLI. */
async function failLogin(port: number, user: string): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => {
      out += d.toString();
      if (out.endsWith('login: ') && !out.includes('Password')) s.write(`${user}\n`);
      else if (out.endsWith('Password: ')) s.write('wrong-password\n');
      else if (/Login incorrect/.test(out)) s.end();
    });
    s.on('close', () => resolve());
    setTimeout(() => s.destroy(), 5000);
  });
}

t.test("Gigamon's notifications with exactly the public objects", async (t) => {
  const rx = await startTrapReceiver({ communities: ['public'] });
  t.teardown(() => rx.stop());
  const b = await startBoxProcess({ args: ['--firmware', '5.13.00'] });
  t.teardown(() => b.stop());
  let c = await waitForLogin(b);
  await c.cmd('enable');
  await c.cmd('configure terminal');
  for (const line of [
    'snmp-server enable',
    'snmp-server enable notify',
    `snmp-server host 127.0.0.1 port ${rx.port} informs version 2c public`,
    `snmp-server host 127.0.0.1 port ${rx.port} traps version 1 public`,
  ]) {
    t.notMatch(await c.cmd(line), /%/, line);
  }
  t.notMatch(await c.cmd('write memory'), /%/);
  const saved = await rx.waitFor(
    (n) => n.name === 'gigamonSnmpConfigSaveNotification' && n.pdu === 'INFORM',
    10_000,
  );
  t.same(
    saved.varbinds.map((v) => v.name.replace(/\.0$/, '')),
    [
      'sysUpTime',
      'snmpTrapOID',
      'gigamonSnmpNotifHardWareName',
      'gigamonSnmpNotifLevel',
      'gigamonSnmpNotifDescription',
      'gigamonSnmpNotifFileName',
    ],
    'config save: exactly the public objects',
  );
  t.equal(varbindValue(saved, 'gigamonSnmpNotifHardWareName'), 'GigaVUE-HC2');

  await failLogin(b.ready.ports.cli, 'mallory');
  const auth = await rx.waitFor(
    (n) => n.name === 'gigamonSnmpUserAuthFailNotification' && n.pdu === 'INFORM',
    10_000,
  );
  t.equal(varbindValue(auth, 'gigamonSnmpNotifUserName'), 'mallory');
  t.same(auth.varbinds.map((v) => v.name.replace(/\.0$/, '')).slice(2), [
    'gigamonSnmpNotifHardWareName',
    'gigamonSnmpNotifLevel',
    'gigamonSnmpNotifDescription',
    'gigamonSnmpNotifUserName',
  ]);

  t.notMatch(await c.cmd('image fetch image-gvos-6.5.00.img'), /^%/m);
  t.notMatch(await c.cmd('image install image-gvos-6.5.00.img'), /^%/m);
  t.notMatch(await c.cmd('image boot next'), /^%/m);
  c.send('reload\n');
  await c.closed;
  c = await waitForLogin(b);
  const fw = await rx.waitFor(
    (n) => n.name === 'gigamonSnmpFirmwareChangeNotification' && n.pdu === 'INFORM',
    15_000,
  );
  t.equal(varbindValue(fw, 'gigamonSnmpNotifFirmwareName'), '6.5.00');
  const reset = await rx.waitFor(
    (n) => n.name === 'gigamonSnmpResetSystemNotification' && n.pdu === 'INFORM',
    10_000,
  );
  t.same(reset.varbinds.map((v) => v.name.replace(/\.0$/, '')).slice(2), [
    'gigamonSnmpNotifHardWareName',
    'gigamonSnmpNotifLevel',
    'gigamonSnmpNotifDescription',
  ]);
  await rx.waitFor((n) => n.name === 'warmStart' && n.pdu === 'INFORM', 10_000);
  // SNMPv1: the generic warmStart trap carries the box's sysObjectID as its enterprise (RFC 1157 §4.1.6).
  const v1 = await rx.waitFor((n) => n.pdu === 'TRAP' && n.genericTrap === 1, 10_000);
  t.match(v1.enterprise, /26866\.3\.6$|gigamon.*3\.6$/i, `v1 enterprise is sysObjectID (${v1.enterprise})`);
  c.send('exit\n');
});
