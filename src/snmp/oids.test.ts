// The OIDs in oids.ts and the MIB module must say the same thing.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GIGAMON_NOTIFS, GVOS_SIM_OID, MIB_MODULE, NOTIFICATIONS, OBJECTS } from './oids.js';
import { projectMibDir } from './trapd-launcher.js';

const mib = readFileSync(join(projectMibDir(), `${MIB_MODULE}.txt`), 'utf8');

for (const [kind, def] of Object.entries(NOTIFICATIONS)) {
  if (!def.oid.startsWith(GVOS_SIM_OID)) continue; // coldStart/warmStart: SNMPv2-MIB's
  t.test(`${kind}: ${def.name} is defined in the MIB at ${def.oid}`, async (t) => {
    const arc = def.oid.slice(`${GVOS_SIM_OID}.0.`.length);
    t.match(
      mib,
      new RegExp(`^${def.name} NOTIFICATION-TYPE[\\s\\S]*?::= \\{ gvosSimNotifications ${arc} \\}`, 'm'),
    );
  });
}

const objectNames: Record<keyof typeof OBJECTS, string> = {
  hardwareName: 'gigamonSnmpNotifHardWareName',
  level: 'gigamonSnmpNotifLevel',
  description: 'gigamonSnmpNotifDescription',
  boxId: 'gvosSimBoxId',
  hostname: 'gvosSimHostname',
  domain: 'gvosSimDomain',
  certSerial: 'gvosSimCertSerial',
  certExpiry: 'gvosSimCertExpiry',
  reason: 'gvosSimReason',
  certPreviousSerial: 'gvosSimCertPreviousSerial',
  certDaysLeft: 'gvosSimCertDaysLeft',
  firmwareName: 'gigamonSnmpNotifFirmwareName',
  userName: 'gigamonSnmpNotifUserName',
  fileName: 'gigamonSnmpNotifFileName',
};

for (const [kind, def] of Object.entries(NOTIFICATIONS)) {
  if (!def.oid.startsWith(GIGAMON_NOTIFS + '.')) continue;
  t.test(`${kind}: Gigamon's ${def.name} is defined in the MIB at ${def.oid}`, async (t) => {
    const arc = def.oid.slice(`${GIGAMON_NOTIFS}.`.length);
    t.match(
      mib,
      new RegExp(
        `^${def.name} NOTIFICATION-TYPE[\\s\\S]*?::= \\{ gigamonSnmpNotificationTypes ${arc} \\}`,
        'm',
      ),
    );
  });
}
for (const [key, name] of Object.entries(objectNames) as [keyof typeof OBJECTS, string][]) {
  t.test(`object ${key}: ${name} at ${OBJECTS[key]}`, async (t) => {
    const arc = OBJECTS[key].split('.').at(-2);
    const parent = OBJECTS[key].startsWith(GVOS_SIM_OID)
      ? 'gvosSimObjects'
      : 'gigamonSnmpNotificationObjects';
    t.match(mib, new RegExp(`^${name} OBJECT-TYPE[\\s\\S]*?::= \\{ ${parent} ${arc} \\}`, 'm'));
  });
}
