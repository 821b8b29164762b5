// Topology validation: every invalid field gets a message naming the field
// and its line; defaults; the JSON Schema describes exactly the accepted fields.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseTopology, TOPOLOGY_FIELDS, defaultTopology, type TopologyContext } from './topology.js';
import { TopologyError } from './topology-error.js';
import { repoPath } from '../lib/repo-root.js';
import { MAX_LAB_BOXES, PORT_MAX } from '../device/limits.js';

const ctx: TopologyContext = {
  firmware: [
    { version: '5.12.00', models: ['GigaVUE-HC2'], acme: false },
    { version: '6.5.00', models: ['GigaVUE-HC2', 'GigaVUE-HC3'], acme: true },
  ],
  defaultFirmware: '6.5.00',
};

function problems(yaml: string): string[] {
  try {
    parseTopology(yaml, 'topology.yaml', ctx);
  } catch (e) {
    if (e instanceof TopologyError) return e.problems;
    throw e;
  }
  return [];
}

// name, yaml, expected problem (file:line: path: ...)
const invalid: [string, string, RegExp][] = [
  ['lab name', 'lab: Bad_Name\n', /^topology\.yaml:1: lab: must be 1-32 lower-case/],
  [
    'unknown top field',
    'lab: a\nbogus: 1\n',
    /^topology\.yaml:2: bogus: unknown field; allowed here: lab, cluster/,
  ],
  [
    'box count too big',
    `boxes: ${MAX_LAB_BOXES + 1}\n`,
    new RegExp(`^topology\\.yaml:1: boxes: must be a whole number from 1 to ${MAX_LAB_BOXES}`),
  ],
  [
    'count in mapping',
    'boxes:\n  count: 0\n',
    new RegExp(`^topology\\.yaml:2: boxes\\.count: must be a whole number from 1 to ${MAX_LAB_BOXES}`),
  ],
  [
    'crypto-mode of list item',
    'lab: a\nboxes:\n  count: 3\n  list:\n    - box-id: 1\n    - box-id: 2\n    - box-id: 3\n      crypto-mode: fipz\n',
    /^topology\.yaml:8: boxes\.list\[2\]\.crypto-mode: must be one of classic, secure-crypto, fips$/,
  ],
  [
    'sys-object-id of list item',
    'boxes:\n  list:\n    - box-id: 2\n      sys-object-id: 1.3.6.1.4.1.26866.03\n',
    /^topology\.yaml:4: boxes\.list\[0\]\.sys-object-id: must be a numeric OID such as 1\.3\.6\.1\.4\.1\.26866\.3\.6$/,
  ],
  [
    'template crypto-mode',
    'boxes:\n  template:\n    crypto-mode: none\n',
    /^topology\.yaml:3: boxes\.template\.crypto-mode: must be one of/,
  ],
  [
    'template hostname',
    'boxes:\n  template:\n    hostname: "-bad"\n',
    /^topology\.yaml:3: boxes\.template\.hostname: must be a hostname/,
  ],
  [
    'template firmware',
    'boxes:\n  template:\n    firmware: 9.9\n',
    /^topology\.yaml:3: boxes\.template\.firmware: must be a firmware in firmware-sim\//,
  ],
  [
    'template model',
    'boxes:\n  template:\n    model: HC9\n',
    /^topology\.yaml:3: boxes\.template\.model: must be a model of firmware-sim\//,
  ],
  [
    'unknown template field',
    'boxes:\n  template:\n    colour: red\n',
    /^topology\.yaml:3: boxes\.template\.colour: unknown field/,
  ],
  [
    'list item without box-id',
    'boxes:\n  list:\n    - hostname: a\n',
    /^topology\.yaml:3: boxes\.list\[0\]\.box-id: is required/,
  ],
  [
    'duplicate box-id',
    'boxes:\n  list:\n    - box-id: 2\n    - box-id: 2\n',
    /^topology\.yaml:4: boxes\.list\[1\]\.box-id: box-id 2 is listed twice/,
  ],
  [
    'box hostname',
    'boxes:\n  list:\n    - box-id: 2\n      hostname: "a b"\n',
    /^topology\.yaml:4: boxes\.list\[0\]\.hostname: must be 1-63/,
  ],
  [
    'duplicate hostname',
    'boxes:\n  count: 2\n  list:\n    - box-id: 2\n      hostname: gigavue-1\n',
    /^topology\.yaml:4: boxes\.list\[0\]\.hostname: hostname "gigavue-1" is used by box 1 too/,
  ],
  [
    'box address',
    'boxes:\n  list:\n    - box-id: 1\n      address: 300.1.1.1\n',
    /^topology\.yaml:4: boxes\.list\[0\]\.address: must be an IPv4 or IPv6 address/,
  ],
  [
    'box port',
    'boxes:\n  list:\n    - box-id: 1\n      ports:\n        ssh: 70000\n',
    /^topology\.yaml:5: boxes\.list\[0\]\.ports\.ssh: must be a whole number from 0 to 65535/,
  ],
  [
    'box port name',
    'boxes:\n  list:\n    - box-id: 1\n      ports:\n        telnet: 23\n',
    /^topology\.yaml:5: boxes\.list\[0\]\.ports\.telnet: unknown field/,
  ],
  [
    'box model',
    'boxes:\n  list:\n    - box-id: 1\n      model: X\n',
    /^topology\.yaml:4: boxes\.list\[0\]\.model: must be a model/,
  ],
  [
    'box firmware',
    'boxes:\n  list:\n    - box-id: 1\n      firmware: "1.0"\n',
    /^topology\.yaml:4: boxes\.list\[0\]\.firmware: must be a firmware/,
  ],
  ['list not a list', 'boxes:\n  list: 3\n', /^topology\.yaml:2: boxes\.list: must be a list of boxes/],
  [
    'network mode',
    'network:\n  mode: bridge\n',
    /^topology\.yaml:2: network\.mode: must be one of auto, addresses, ports/,
  ],
  [
    'network base',
    'network:\n  address-base: ::1\n',
    /^topology\.yaml:2: network\.address-base: must be an IPv4 address/,
  ],
  [
    'network offset',
    'network:\n  address-offset: 250\n',
    /^topology\.yaml:2: network\.address-offset: must be a whole number from 0 to 190/,
  ],
  [
    'network shared',
    'network:\n  shared-address: x\n',
    /^topology\.yaml:2: network\.shared-address: must be an IPv4 or IPv6/,
  ],
  [
    'challenge port',
    'network:\n  challenge-port: 0\n',
    /^topology\.yaml:2: network\.challenge-port: must be a whole number from 1 to 65535/,
  ],
  [
    'port base',
    'network:\n  port-base:\n    https: 65500\n',
    new RegExp(
      `^topology\\.yaml:3: network\\.port-base\\.https: must be a whole number from 1 to ${PORT_MAX - MAX_LAB_BOXES}`,
    ),
  ],
  ['ca type', 'ca:\n  type: letsencrypt\n', /^topology\.yaml:2: ca\.type: must be one of pebble, external/],
  [
    'ca validity',
    'ca:\n  validity-hours: 0\n',
    /^topology\.yaml:2: ca\.validity-hours: must be a whole number from 1/,
  ],
  [
    'external ca without url',
    'name-server: 127.0.0.11\nca:\n  type: external\n  root: r.pem\n',
    /^topology\.yaml:3: ca\.directory-url: is required when ca\.type is external/,
  ],
  [
    'external ca without root',
    'ca:\n  type: external\n  directory-url: https://ca:9000/acme/acme/directory\n',
    /^topology\.yaml:2: ca\.root: is required/,
  ],
  [
    'external ca http url',
    'ca:\n  type: external\n  directory-url: http://ca/dir\n  root: r.pem\n',
    /^topology\.yaml:3: ca\.directory-url: must be an https:\/\//,
  ],
  [
    'pebble with root',
    'ca:\n  root: r.pem\n',
    /^topology\.yaml:2: ca\.root: applies to ca\.type: external only/,
  ],
  [
    'name server',
    'name-server: dns.local\nca: { type: external, directory-url: "https://ca/dir", root: r.pem }\n',
    /^topology\.yaml:1: name-server: must be an IP address/,
  ],
  [
    'name server required with external ca',
    'ca: { type: external, directory-url: "https://ca/dir", root: r.pem }\n',
    /^topology\.yaml:1: name-server: is required with an external CA/,
  ],
  [
    'name server with pebble',
    'name-server: 127.0.0.11\n',
    /^topology\.yaml:1: name-server: is the lab's pebble-challtestsrv/,
  ],
  [
    'trap type',
    'trap-receiver:\n  type: syslog\n',
    /^topology\.yaml:2: trap-receiver\.type: must be one of snmptrapd, external/,
  ],
  [
    'trap address',
    'trap-receiver:\n  type: external\n  address: nowhere\n',
    /^topology\.yaml:3: trap-receiver\.address: must be host:port/,
  ],
  [
    'trap address missing',
    'trap-receiver:\n  type: external\n',
    /^topology\.yaml:2: trap-receiver\.address: is required/,
  ],
  [
    'trap community',
    'trap-receiver:\n  community: "a b"\n',
    /^topology\.yaml:2: trap-receiver\.community: must be 1-32 printable/,
  ],
  [
    'on-start domain',
    'on-start:\n  domain: fqdn\n',
    /^topology\.yaml:2: on-start\.domain: must be one of name, ip/,
  ],
  [
    'on-start algorithm',
    'on-start:\n  key-algorithm: dsa\n',
    /^topology\.yaml:2: on-start\.key-algorithm: must be one of rsa-2048/,
  ],
  [
    'algorithm vs mode',
    'boxes:\n  template:\n    crypto-mode: classic\non-start:\n  key-algorithm: prime256v1\n',
    /^topology\.yaml:5: on-start\.key-algorithm: prime256v1 is not allowed on box 1 \(classic mode/,
  ],
  [
    'renew-days',
    'on-start:\n  renew-days: 400\n',
    /^topology\.yaml:2: on-start\.renew-days: must be a whole number from 1 to 365/,
  ],
  [
    'issue flag',
    'on-start:\n  issue-certificates: yes please\n',
    /^topology\.yaml:2: on-start\.issue-certificates: must be true or false/,
  ],
  [
    'firmware without acme',
    'boxes:\n  template:\n    firmware: 5.12.00\n',
    /^topology\.yaml:3: boxes\.template\.firmware: firmware 5\.12\.00 of box 1 has no ACME client/,
  ],
  [
    'ip domain in ports mode',
    'network:\n  mode: ports\non-start:\n  domain: ip\n',
    /^topology\.yaml:4: on-start\.domain: ip needs one address per box/,
  ],
  [
    'address-in-certificate with domain ip',
    'on-start:\n  domain: ip\n  address-in-certificate: true\n',
    /^topology\.yaml:3: on-start\.address-in-certificate: on-start\.domain ip already puts the address/,
  ],
  [
    'address-in-certificate in ports mode',
    'network:\n  mode: ports\non-start:\n  address-in-certificate: true\n',
    /^topology\.yaml:4: on-start\.address-in-certificate: needs one address per box, but network\.mode ports puts box 1 on the shared address/,
  ],
  [
    'address-in-certificate of one box in ports mode',
    'network:\n  mode: ports\nboxes:\n  count: 2\n  list:\n    - box-id: 2\n      address-in-certificate: true\n',
    /^topology\.yaml:6: boxes\.list\[0\]\.address-in-certificate: needs one address per box, but .* box 2 /,
  ],
  [
    'address-in-certificate not a boolean',
    'on-start:\n  address-in-certificate: yes please\n',
    /^topology\.yaml:2: on-start\.address-in-certificate: must be true or false/,
  ],
  ['password empty', 'admin-password: ""\n', /^topology\.yaml:1: admin-password: must be 1-128 characters/],
  [
    'password env',
    'admin-password-env: "1X"\n',
    /^topology\.yaml:1: admin-password-env: must be an environment variable name/,
  ],
  ['domain', 'domain: Lab_Test\n', /^topology\.yaml:1: domain: must be a DNS name/],
  ['not a mapping', '- a\n- b\n', /^topology\.yaml:1: \(top\): must be a mapping/],
  ['yaml syntax', 'lab: [a\n', /^topology\.yaml:\d+: /],
  ['duplicate key', 'lab: a\nlab: b\n', /^topology\.yaml:2: Map keys must be unique/],
];

for (const [name, yaml, expected] of invalid) {
  t.test(name, async (t) => {
    const p = problems(yaml);
    t.ok(
      p.some((l) => expected.test(l)),
      `a problem matches ${expected}`,
      { problems: p },
    );
  });
}

t.test('every problem is reported, not only the first', async (t) => {
  const p = problems('lab: A\nca:\n  type: x\non-start:\n  domain: y\n');
  t.equal(p.length, 3, p.join('\n'));
  t.match(p[0], /:1: lab:/);
  t.match(p[1], /:3: ca\.type:/);
  t.match(p[2], /:5: on-start\.domain:/);
});

t.test('defaults and overrides', async (t) => {
  const topo = parseTopology(
    [
      'lab: demo',
      'boxes:',
      '  count: 3',
      '  template: { hostname: "edge-{id}", crypto-mode: secure-crypto }',
      '  list:',
      '    - box-id: 2',
      '      hostname: core',
      '      crypto-mode: fips',
      '      ports: { ssh: 2022 }',
      '    - box-id: 5',
      'name-server: "127.0.0.11:53"',
      'ca: { type: external, directory-url: "https://ca.lab.test:9000/acme/acme/directory", root: certs/root.pem }',
      'trap-receiver: { type: external, address: "127.0.0.1:16262" }',
      'on-start: { key-algorithm: ec-prime256v1, renew-days: 20, domain: ip }',
    ].join('\n'),
    '/labs/demo/topology.yaml',
    ctx,
  );
  t.equal(topo.lab, 'demo');
  t.equal(topo.cluster, 'demo');
  t.equal(topo.seed, 'demo');
  t.same(
    topo.boxes.map((b) => [b.boxId, b.hostname, b.cryptoMode, b.firmware]),
    [
      [1, 'edge-1', 'secure-crypto', '6.5.00'],
      [2, 'core', 'fips', '6.5.00'],
      [3, 'edge-3', 'secure-crypto', '6.5.00'],
      [5, 'edge-5', 'secure-crypto', '6.5.00'],
    ],
  );
  t.same(topo.boxes[1]!.ports, { ssh: 2022 });
  t.same(topo.ca, {
    type: 'external',
    directoryUrl: 'https://ca.lab.test:9000/acme/acme/directory',
    rootFile: '/labs/demo/certs/root.pem',
  });
  t.same(topo.trapReceiver, { type: 'external', host: '127.0.0.1', port: 16262, community: 'public' });
  t.same(topo.onStart, {
    issueCertificates: true,
    domain: 'ip',
    addressInCertificate: false,
    keyAlgorithm: 'prime256v1',
    renewDays: 20,
  });
  t.equal(topo.network.mode, 'auto');
});

t.test(
  'address-in-certificate: lab-wide, overridden per box; a box with its own address may use it in ports mode',
  async (t) => {
    const topo = parseTopology(
      [
        'boxes:',
        '  count: 3',
        '  list:',
        '    - box-id: 3',
        '      address-in-certificate: false',
        'on-start: { address-in-certificate: true }',
      ].join('\n'),
      'topology.yaml',
      ctx,
    );
    t.equal(topo.onStart.addressInCertificate, true);
    t.same(
      topo.boxes.map((b) => b.addressInCertificate),
      [undefined, undefined, false],
      'box 3 says no; the others follow the lab',
    );
    const ports = parseTopology(
      [
        'network: { mode: ports }',
        'boxes:',
        '  count: 2',
        '  list:',
        '    - box-id: 2',
        '      address: 127.0.0.42',
        '      address-in-certificate: true',
      ].join('\n'),
      'topology.yaml',
      ctx,
    );
    t.equal(ports.boxes[1]!.addressInCertificate, true);
    t.equal(defaultTopology(1, ctx).onStart.addressInCertificate, false, 'off by default');
  },
);

t.test('default topology: three boxes, Pebble, snmptrapd, certificates by name', async (t) => {
  const topo = defaultTopology(3, ctx);
  t.equal(topo.boxes.length, 3);
  t.same(topo.ca, { type: 'pebble', validityHours: 2160 });
  t.same(topo.trapReceiver, { type: 'snmptrapd', community: 'public' });
  t.equal(topo.onStart.domain, 'name');
  t.equal(topo.adminPasswordEnv, 'GVOS_ADMIN_PASSWORD');
});

t.test('the JSON Schema describes exactly the fields the validator accepts', async (t) => {
  type S = { properties?: Record<string, S>; items?: S; oneOf?: S[]; $ref?: string };
  const schema = JSON.parse(readFileSync(repoPath('src', 'lab', 'topology.schema.json'), 'utf8')) as S;
  const paths = new Set<string>();
  const walk = (s: S, prefix: string) => {
    for (const alt of s.oneOf ?? []) walk(alt, prefix);
    if (s.items) walk(s.items, prefix + '[]');
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      const p = prefix ? `${prefix}.${k}` : k;
      paths.add(p);
      walk(v, p);
    }
  };
  walk(schema, '');
  // Items of a list carry their path as "list[].field".
  const normalised = new Set([...paths].map((p) => p.replace('[].', '[].')));
  for (const f of TOPOLOGY_FIELDS) t.ok(normalised.has(f), `schema has ${f}`);
  for (const p of normalised)
    t.ok((TOPOLOGY_FIELDS as readonly string[]).includes(p), `validator accepts ${p}`);
});

/** What docker/render-topology.mjs does to a compose template, with its defaults and these required values. */
function renderTemplate(text: string): string {
  const required: Record<string, string> = {
    GVOS_NAME_SERVER: '127.0.0.1:8053',
    GVOS_CA_URL: 'https://127.0.0.1:14000/dir',
    GVOS_TRAP_RECEIVER: '127.0.0.1:16200',
  };
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}/g,
    (_, name: string, op: string | undefined, arg: string) => (op === '-' ? arg : (required[name] ?? '')),
  );
}

t.test('the example topologies are valid', async (t) => {
  for (const f of [
    'examples/four-box-lab.yaml',
    'docker/topologies/lab.yaml',
    'docker/topologies/join.yaml',
  ]) {
    const topo = parseTopology(renderTemplate(readFileSync(repoPath(f), 'utf8')), f, ctx);
    t.ok(topo.boxes.length >= 1, f);
  }
});

t.test('listed box-ids range over the device box-ids 1-65535 (box 150, box 65535)', async (t) => {
  const topo = parseTopology(
    'boxes:\n  count: 1\n  list:\n    - box-id: 150\n    - box-id: 65535\n',
    't.yaml',
    ctx,
  );
  t.same(
    topo.boxes.map((b) => b.boxId),
    [1, 150, 65535],
  );
  t.match(problems('boxes:\n  count: 1\n  list:\n    - box-id: 65536\n'), [
    /boxes\.list\[0\]\.box-id: must be a whole number from 1 to 65535/,
  ]);
});

t.test('a listed box may override its sysObjectID', async (t) => {
  const topo = parseTopology(
    'boxes:\n  count: 2\n  list:\n    - box-id: 2\n      sys-object-id: 1.3.6.1.4.1.26866.3.42\n',
    'topology.yaml',
    ctx,
  );
  t.equal(topo.boxes[1]!.sysObjectId, '1.3.6.1.4.1.26866.3.42');
  t.equal(topo.boxes[0]!.sysObjectId, undefined, "box 1 keeps its model's");
});
