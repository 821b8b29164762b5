import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  createUserLine,
  parseTrapdLine,
  projectMibDir,
  trapdConfigText,
  trapdLaunch,
  trapdUserFor,
  varbindValue,
  TRAPD_FORMAT,
  type TrapdUser,
} from './trapd-launcher.js';

const userRows: { name: string; user: TrapdUser; want: string }[] = [
  { name: 'noAuthNoPriv for informs', user: { name: 'u1' }, want: 'createUser u1' },
  {
    name: 'authPriv bound to a sender engine (traps)',
    user: {
      name: 'u2',
      engineId: '800068f20302aabbccddee',
      auth: { protocol: 'SHA-256', password: 'authpass1' },
      priv: { protocol: 'AES', password: 'privpass1' },
    },
    want: 'createUser -e 0x800068f20302aabbccddee u2 SHA-256 "authpass1" AES "privpass1"',
  },
  {
    name: 'authNoPriv',
    user: { name: 'u3', auth: { protocol: 'SHA-512', password: 'p a s s' } },
    want: 'createUser u3 SHA-512 "p a s s"',
  },
];
for (const r of userRows) {
  t.test(`createUser line: ${r.name}`, async (t) => {
    t.equal(createUserLine(r.user), r.want);
  });
}

t.test('a passphrase with a double quote is refused (the config line could not hold it)', async (t) => {
  t.throws(() => createUserLine({ name: 'u', auth: { protocol: 'SHA', password: 'a"b' } }));
});

const mapRows: { name: string; protocol: [string, string?]; want: [string, string?] }[] = [
  { name: 'sha -> SHA, aes-128 -> AES', protocol: ['sha', 'aes-128'], want: ['SHA', 'AES'] },
  {
    name: 'sha256 -> SHA-256, aes-256 -> AES256 (Blumenthal, like net-snmp aes256b)',
    protocol: ['sha256', 'aes-256'],
    want: ['SHA-256', 'AES256'],
  },
  { name: 'sha512 -> SHA-512', protocol: ['sha512'], want: ['SHA-512'] },
  { name: 'md5 -> MD5, des -> DES', protocol: ['md5', 'des'], want: ['MD5', 'DES'] },
];
for (const r of mapRows) {
  t.test(`box user -> receiver user: ${r.name}`, async (t) => {
    const u = trapdUserFor(
      {
        name: 'x',
        auth: { protocol: r.protocol[0] as 'sha', password: 'authpass1' },
        ...(r.protocol[1] ? { priv: { protocol: r.protocol[1] as 'aes-128', password: 'privpass1' } } : {}),
      },
      'abcd',
    );
    t.equal(u.auth?.protocol, r.want[0]);
    t.equal(u.priv?.protocol, r.want[1]);
    t.equal(u.engineId, 'abcd');
  });
}

t.test('config: communities, users with one authUser per name at its lowest level', async (t) => {
  const text = trapdConfigText({
    communities: ['public', 'lab'],
    users: [
      {
        name: 'a',
        engineId: '80',
        auth: { protocol: 'SHA', password: 'authpass1' },
        priv: { protocol: 'AES', password: 'privpass1' },
      },
      { name: 'a', auth: { protocol: 'SHA', password: 'authpass1' } },
      { name: 'b' },
    ],
  });
  t.match(text, /^authCommunity log public$/m);
  t.match(text, /^authCommunity log lab$/m);
  t.equal(text.match(/^authUser log a auth$/gm)?.length, 1);
  t.match(text, /^authUser log b noauth$/m);
  t.notMatch(text, /disableAuthorization/);
  t.match(trapdConfigText({ communities: [], users: [], acceptAll: true }), /^disableAuthorization yes$/m);
  t.throws(() => trapdConfigText({ communities: ['has space'], users: [] }));
});

t.test(
  'launch: foreground, stdout log, no system config, the project MIB, the format, the address',
  async (t) => {
    const l = trapdLaunch({
      host: '127.0.0.1',
      port: 16200,
      configPath: '/d/c.conf',
      pidPath: '/d/p',
      persistentDir: '/d/persist',
    });
    t.equal(l.command, 'snmptrapd');
    t.same(l.env, { SNMP_PERSISTENT_DIR: '/d/persist' });
    t.same(l.args.slice(0, 7), ['-f', '-Lo', '-n', '-C', '-c', '/d/c.conf', '-p']);
    t.equal(l.args[l.args.indexOf('-M') + 1], projectMibDir());
    t.equal(l.args[l.args.indexOf('-m') + 1], 'GIGAMON-GVOS-SIM-MIB');
    t.equal(l.args[l.args.indexOf('-F') + 1], TRAPD_FORMAT);
    t.equal(l.args.at(-1), 'udp:127.0.0.1:16200');
    t.equal(
      trapdLaunch({
        host: '::1',
        port: 5,
        configPath: 'c',
        pidPath: 'p',
        persistentDir: 'd',
        mibModules: 'ALL',
      }).args.at(-1),
      'udp6:[::1]:5',
    );
    t.ok(existsSync(join(projectMibDir(), 'GIGAMON-GVOS-SIM-MIB.txt')));
  },
);

// Lines as snmptrapd 5.9.3 printed them with TRAPD_FORMAT.
const V2 =
  'GVOSSIM|UDP: [127.0.0.1]:34518->[127.0.0.1]:16299|TRAP2, SNMP v2c, community public|.|0|0|0.0.0.0|' +
  'GIGAMON-GVOS-SIM-MIB::sysUpTime.0 = Timeticks: (8) 0:00:00.08\tGIGAMON-GVOS-SIM-MIB::snmpTrapOID.0 = OID: GIGAMON-GVOS-SIM-MIB::gvosSimCertRevoked\t' +
  'GIGAMON-GVOS-SIM-MIB::gvosSimHostname.0 = STRING: "box \\"1\\""\tGIGAMON-GVOS-SIM-MIB::gigamonSnmpNotifLevel.0 = INTEGER: minor(2)';
const V1 =
  'GVOSSIM|UDP: [127.0.0.1]:44164->[127.0.0.1]:16299|TRAP, SNMP v1, community public|GIGAMON-GVOS-SIM-MIB::gvosSimMIB|6|GIGAMON-GVOS-SIM-MIB::gvosSimCertRevoked|127.0.0.1|' +
  'GIGAMON-GVOS-SIM-MIB::gvosSimHostname.0 = STRING: "a|b"';
const V1COLD =
  'GVOSSIM|UDP: [127.0.0.1]:1->[127.0.0.1]:2|TRAP, SNMP v1, community public|GIGAMON-GVOS-SIM-MIB::gvosSimMIB|0|0|127.0.0.1|';
const V3 =
  'GVOSSIM|UDP: [127.0.0.1]:1->[127.0.0.1]:2|INFORM, SNMP v3, user informuser, context |.|0|0|0.0.0.0|.1.3.6.1.6.3.1.1.4.1.0 = OID: .1.3.6.1.4.1.26866.999.0.7';

t.test('parse: v2c trap, names without module, strings unescaped', async (t) => {
  const n = parseTrapdLine(V2)!;
  t.equal(n.pdu, 'TRAP2');
  t.equal(n.version, '2c');
  t.equal(n.community, 'public');
  t.equal(n.name, 'gvosSimCertRevoked');
  t.same(
    n.varbinds.map((v) => v.name),
    ['sysUpTime.0', 'snmpTrapOID.0', 'gvosSimHostname.0', 'gigamonSnmpNotifLevel.0'],
  );
  t.equal(varbindValue(n, 'gvosSimHostname'), 'box "1"');
  t.same(n.varbinds[3], { name: 'gigamonSnmpNotifLevel.0', type: 'INTEGER', value: 'minor(2)' });
  t.equal(n.varbinds[0]!.type, 'Timeticks');
});

t.test('parse: v1 enterprise-specific, v1 generic, v3 numeric', async (t) => {
  const v1 = parseTrapdLine(V1)!;
  t.same(
    [v1.version, v1.name, v1.enterprise, v1.genericTrap, v1.agentAddr],
    ['1', 'gvosSimCertRevoked', 'gvosSimMIB', 6, '127.0.0.1'],
  );
  t.equal(varbindValue(v1, 'gvosSimHostname'), 'a|b', 'a | inside the varbinds is kept');
  const cold = parseTrapdLine(V1COLD)!;
  t.same([cold.name, cold.genericTrap, cold.varbinds.length], ['coldStart', 0, 0]);
  const v3 = parseTrapdLine(V3)!;
  t.same([v3.pdu, v3.version, v3.user, v3.name], ['INFORM', '3', 'informuser', '.1.3.6.1.4.1.26866.999.0.7']);
  t.equal(parseTrapdLine('NET-SNMP version 5.9.3'), undefined);
});

t.test('parse: the time field (%t) when the line has it; lines without it still parse', async (t) => {
  // As snmptrapd 5.9.3 printed it with TRAPD_FORMAT's %t.
  const line =
    'GVOSSIM|1796453231|UDP: [127.0.0.1]:60336->[127.0.0.1]:16391|TRAP2, SNMP v2c, community public|.|0|0|0.0.0.0|' +
    'iso.3.6.1.2.1.1.3.0 = Timeticks: (1268377) 3:31:23.77\tiso.3.6.1.6.3.1.1.4.1.0 = OID: iso.3.6.1.6.3.1.1.5.1';
  const n = parseTrapdLine(line)!;
  t.equal(new Date(n.receivedMs!).toISOString(), '2026-12-05T06:47:11.000Z');
  t.equal(n.transport, 'UDP: [127.0.0.1]:60336->[127.0.0.1]:16391');
  t.equal(n.varbinds.length, 2);
  t.equal(parseTrapdLine(V2)!.receivedMs, undefined);
  t.ok(TRAPD_FORMAT.startsWith('GVOSSIM|%t|'));
});
