/**
 * The SNMPv3 engine of the real box process, as a trap-receiver tester uses
 * it: `show snmp engineID` gives the engine ID and the `createUser -e` line;
 * a real snmptrapd configured from it accepts the box's v3 traps; engine
 * boots grow on every reload and every restart of the process.
 */
import t from 'tap';
import { startBoxProcess } from '../harness/box-process.js';
import { TrapReceiver } from '../harness/snmptrapd.js';
import { TcpClient } from './cli-helpers.js';

const PW = 'Adm1n-test-pw';

async function login(port: number): Promise<TcpClient> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await TcpClient.login(port, 'admin', PW);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function engineOf(show: string): { id: string; boots: number } {
  const id = /0x([0-9a-fA-F]+)/.exec(show)?.[1];
  const boots = /boots\D*(\d+)/i.exec(show)?.[1];
  if (!id || !boots) throw new Error(`no engine ID / boots in:\n${show}`);
  return { id: id.toLowerCase(), boots: Number(boots) };
}

t.test('a v3 receiver configured from "show snmp engineID" accepts the traps; boots grow', async (t) => {
  const b = await startBoxProcess();
  t.teardown(() => b.stop());
  let c = await login(b.ready.ports.cli);
  await c.cmd('enable');
  await c.cmd('configure terminal');
  t.notMatch(await c.cmd('snmp-server user u3 v3 auth sha256 authpass123 priv aes-256 privpass123'), /%/);
  const show1 = await c.cmd('show snmp engineID');
  t.match(show1, /createUser -e 0x[0-9a-fA-F]+ u3 SHA-256 \S+ AES256 \S+/, 'the line a receiver needs');
  const e1 = engineOf(show1);

  // The receiver learns the engine ID only from the show output.
  const rx = await TrapReceiver.start({
    users: [
      {
        name: 'u3',
        engineId: e1.id,
        auth: { protocol: 'SHA-256', password: 'authpass123' },
        priv: { protocol: 'AES256', password: 'privpass123' },
      },
    ],
  });
  t.teardown(() => rx.stop());
  await c.cmd('snmp-server enable');
  await c.cmd('snmp-server enable notify');
  t.notMatch(await c.cmd(`snmp-server host 127.0.0.1 port ${rx.port} traps version 3 user u3`), /%/);
  t.notMatch(await c.cmd('snmp-server notify send-test'), /%/);
  const n = await rx.waitFor((x) => x.name === 'gvosSimTest', 10_000);
  t.equal(n.version, '3', 'an SNMPv3 notification');
  t.equal(n.user, 'u3', 'from the configured user');
  t.equal(n.name, 'gvosSimTest', 'decoded by name with the project MIB');
  await c.cmd('write memory');

  // Reload: boots + 1.
  c.send('reload\n');
  await c.closed;
  c = await login(b.ready.ports.cli);
  const e2 = engineOf(await c.cmd('show snmp engineID'));
  t.equal(e2.id, e1.id, 'the engine ID is stable');
  t.equal(e2.boots, e1.boots + 1, 'engineBoots grows on reload');
  c.end();

  // Restart of the process: boots + 1 again.
  t.equal(await b.stop(), 0);
  const again = await startBoxProcess({ dataDir: b.dataDir });
  t.teardown(() => again.stop());
  c = await login(again.ready.ports.cli);
  const e3 = engineOf(await c.cmd('show snmp engineID'));
  t.equal(e3.id, e1.id);
  t.equal(e3.boots, e2.boots + 1, 'engineBoots grows on restart');
  c.end();
});
