// The project's MIB module: snmptranslate accepts it with nothing but
// `-M mibs` on a Debian machine (no IETF MIBs there), agrees with
// src/snmp/oids.ts on every OID, and snmptrapd loads it without complaint.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MIB_MODULE, NOTIFICATIONS, OBJECTS } from '../../src/snmp/oids.js';
import { projectMibDir } from '../../src/snmp/trapd-launcher.js';
import { startTrapReceiver } from '../harness/snmptrapd.js';

const run = promisify(execFile);
const persist = mkdtempSync(join(tmpdir(), 'gvos-mib-'));
t.teardown(() => rmSync(persist, { recursive: true, force: true }));

/** snmptranslate with only the project's MIB; -PW prints every parser warning. */
function snmptranslate(...args: string[]) {
  return run('snmptranslate', ['-M', projectMibDir(), '-m', MIB_MODULE, '-PW', ...args], {
    env: { ...process.env, SNMP_PERSISTENT_DIR: persist },
  });
}

t.test('snmptranslate parses the module with no warning and lists every node', async (t) => {
  const { stdout, stderr } = await snmptranslate('-Tz');
  // The only line allowed: net-snmp creating its fresh SNMP_PERSISTENT_DIR.
  t.equal(stderr.replace(/^Created directory: .*\n/gm, ''), '', 'no parser warning or error');
  const labels = new Map([...stdout.matchAll(/^"([^"]+)"\s+"([\d.]+)"$/gm)].map((m) => [m[1]!, m[2]!]));
  for (const def of Object.values(NOTIFICATIONS))
    t.equal(labels.get(def.name), def.oid, `${def.name} = ${def.oid}`);
  const objects: [string, string][] = [
    ['gigamonSnmpNotifHardWareName', OBJECTS.hardwareName],
    ['gigamonSnmpNotifLevel', OBJECTS.level],
    ['gigamonSnmpNotifDescription', OBJECTS.description],
    ['gvosSimBoxId', OBJECTS.boxId],
    ['gvosSimHostname', OBJECTS.hostname],
    ['gvosSimDomain', OBJECTS.domain],
    ['gvosSimCertSerial', OBJECTS.certSerial],
    ['gvosSimCertExpiry', OBJECTS.certExpiry],
    ['gvosSimReason', OBJECTS.reason],
    ['gvosSimCertPreviousSerial', OBJECTS.certPreviousSerial],
    ['gvosSimCertDaysLeft', OBJECTS.certDaysLeft],
    ['sysUpTime', '1.3.6.1.2.1.1.3.0'],
    ['snmpTrapOID', '1.3.6.1.6.3.1.1.4.1.0'],
    ['snmpTrapEnterprise', '1.3.6.1.6.3.1.1.4.3.0'],
  ];
  for (const [name, instance] of objects) t.equal(`${labels.get(name)}.0`, instance, name);
});

const names = Object.values(NOTIFICATIONS).map((d) => d.name);
t.test('snmptranslate: name -> OID and OID -> name for every notification', async (t) => {
  for (const def of Object.values(NOTIFICATIONS)) {
    const forward = await snmptranslate('-On', `${MIB_MODULE}::${def.name}`);
    t.equal(forward.stdout.trim(), `.${def.oid}`, def.name);
    const back = await snmptranslate(def.oid);
    t.equal(back.stdout.trim(), `${MIB_MODULE}::${def.name}`);
  }
  t.equal(names.length, 13);
});

t.test('snmptranslate -Td shows a notification with its objects and description', async (t) => {
  const { stdout } = await snmptranslate('-Td', `${MIB_MODULE}::gvosSimCertRevoked`);
  t.match(stdout, /NOTIFICATION-TYPE/);
  t.match(
    stdout,
    /OBJECTS\s+\{ gigamonSnmpNotifHardWareName, gigamonSnmpNotifLevel, gigamonSnmpNotifDescription, gvosSimBoxId, gvosSimHostname, gvosSimDomain, gvosSimCertSerial, gvosSimCertExpiry, gvosSimReason \}/,
  );
  t.match(stdout, /revoked at the CA/);
});

t.test('snmptrapd loads the module without a complaint', async (t) => {
  const rx = await startTrapReceiver();
  const log = rx.log();
  await rx.stop();
  t.match(log, /NET-SNMP version 5\.9/);
  t.notMatch(log, /Cannot find module|Unlinked OID|Did not find|Cannot adopt|Warning|Error/i);
});
