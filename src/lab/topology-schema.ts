/**
 * The shape of a topology file, defined once in TypeBox with the device's
 * vocabulary (device/limits.ts, key-algorithms.ts, model.ts). From it come:
 * - the JSON Schema for editors, src/lab/topology.schema.json
 *   (topologyJsonSchemaText(); a test fails when the committed file differs;
 *   `npm run schemas` rewrites it);
 * - TOPOLOGY_FIELDS, the field paths topology.ts accepts.
 * topology.ts checks the values against the same limits and reports each
 * problem with its line (the YAML nodes carry the lines; a JSON Schema
 * validator would not), and checks names against the firmware catalog.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { CLI_ALGORITHM_WORDS } from '../device/key-algorithms.js';
import { BOX_ID_MAX, HOSTNAME_PATTERN, MAX_LAB_BOXES, PORT_MAX, SNMP_OID_PATTERN } from '../device/limits.js';
import { CRYPTO_MODES, type CryptoMode } from '../device/model.js';
import { StringEnum } from '../lib/typebox.js';

const closed = { additionalProperties: false } as const;
const opt = <T extends TSchema>(s: T) => Type.Optional(s);
const port = () => Type.Integer({ minimum: 0, maximum: PORT_MAX });
/** A port base: box N listens on base + N, so the base leaves room for the largest lab. */
const portBase = (dflt: number) =>
  Type.Integer({ minimum: 1, maximum: PORT_MAX - MAX_LAB_BOXES, default: dflt });
const cryptoMode = (o: { default?: CryptoMode } = {}) => StringEnum(CRYPTO_MODES, o);
const boxCount = (o: object = {}) => Type.Integer({ minimum: 1, maximum: MAX_LAB_BOXES, ...o });
const ports = () =>
  Type.Object(
    { ssh: opt(port()), cli: opt(port()), https: opt(port()), http: opt(port()), snmp: opt(port()) },
    closed,
  );

/** The topology file (YAML; this is its JSON Schema). */
const TopologySchema = Type.Object(
  {
    lab: opt(
      Type.String({
        pattern: '^[a-z0-9][a-z0-9-]{0,31}$',
        default: 'lab',
        description: 'Lab name: its state lives in .gvos-sim/labs/<lab>; `lab down --name <lab>` stops it.',
      }),
    ),
    cluster: opt(
      Type.String({
        pattern: '^[A-Za-z0-9._-]{1,64}$',
        description: 'Cluster name (default: the lab name).',
      }),
    ),
    seed: opt(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description:
          'Identity seed: the same seed and box-id give the same serial and host id (default: the lab name).',
      }),
    ),
    domain: opt(
      Type.String({
        default: 'lab.test',
        description: "DNS suffix of the boxes' names: box 3 is <hostname>.<domain> at the lab's name server.",
      }),
    ),
    'admin-password': opt(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: 'Admin password of every box on first boot. Prefer admin-password-env.',
      }),
    ),
    'admin-password-env': opt(
      Type.String({
        pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$',
        default: 'GVOS_ADMIN_PASSWORD',
        description:
          "Environment variable holding the admin password. Neither set: the lab makes one, prints it and keeps it in the lab's directory (0600).",
      }),
    ),
    'name-server': opt(
      Type.String({
        description:
          'External CA only: the boxes\' name server, "ip" or "ip:port" (e.g. 127.0.0.11 in Docker). With Pebble the lab\'s pebble-challtestsrv is used.',
      }),
    ),
    boxes: opt(
      Type.Unsafe({
        description: 'A box count, or a count and/or list of boxes with a template.',
        oneOf: [
          boxCount(),
          Type.Object(
            {
              count: opt(boxCount({ description: 'Boxes 1..count (listed box-ids are added).' })),
              template: opt(
                Type.Object(
                  {
                    hostname: opt(
                      Type.String({
                        default: 'gigavue-{id}',
                        description: 'Hostname; {id} stands for the box-id.',
                      }),
                    ),
                    model: opt(Type.String({ default: 'GigaVUE-HC2' })),
                    firmware: opt(
                      Type.String({ description: 'A version from firmware-sim/ (default: the newest).' }),
                    ),
                    'crypto-mode': opt(cryptoMode({ default: 'secure-crypto' })),
                  },
                  closed,
                ),
              ),
              list: opt(
                Type.Array(
                  Type.Object(
                    {
                      'box-id': Type.Integer({ minimum: 1, maximum: BOX_ID_MAX }),
                      hostname: opt(Type.String({ pattern: HOSTNAME_PATTERN.source })),
                      model: opt(Type.String()),
                      firmware: opt(Type.String()),
                      'crypto-mode': opt(cryptoMode()),
                      'sys-object-id': opt(
                        Type.String({
                          pattern: SNMP_OID_PATTERN.source,
                          description:
                            "The SNMP agent's sysObjectID (and SNMPv1 trap enterprise) instead of the model's, e.g. 1.3.6.1.4.1.26866.3.6; set at the box's first boot.",
                        }),
                      ),
                      address: opt(
                        Type.String({
                          description: 'IPv4 or IPv6 address every listener of this box binds.',
                        }),
                      ),
                      'address-in-certificate': opt(
                        Type.Boolean({
                          description:
                            'This box only: on-start.address-in-certificate (its certificate names its address beside its name).',
                        }),
                      ),
                      ports: opt(ports()),
                    },
                    closed,
                  ),
                ),
              ),
            },
            closed,
          ),
        ],
      }),
    ),
    network: opt(
      Type.Object(
        {
          mode: opt(
            StringEnum(['auto', 'addresses', 'ports'], {
              default: 'auto',
              description:
                'addresses: box N on <address-base>+<address-offset>+N, ports 22/23/443/80; ports: all on shared-address, port = port-base + N; auto: addresses when they bind, else ports.',
            }),
          ),
          'address-base': opt(Type.String({ default: '127.0.0.0' })),
          'address-offset': opt(Type.Integer({ minimum: 0, maximum: 190, default: 100 })),
          'shared-address': opt(Type.String({ default: '127.0.0.1' })),
          'challenge-port': opt(
            Type.Integer({
              minimum: 1,
              maximum: PORT_MAX,
              default: 80,
              description:
                "Ports mode with an external CA: the port of the lab's http-01 router, which passes each CA request to the box named in its Host header (the CA dials port 80; in a container allow it with the sysctl net.ipv4.ip_unprivileged_port_start=0).",
            }),
          ),
          'port-base': opt(
            Type.Object(
              {
                ssh: opt(portBase(2200)),
                cli: opt(portBase(2300)),
                https: opt(portBase(4400)),
                http: opt(portBase(8000)),
                snmp: opt(portBase(16100)),
              },
              closed,
            ),
          ),
        },
        closed,
      ),
    ),
    ca: opt(
      Type.Object(
        {
          type: opt(
            StringEnum(['pebble', 'external'], {
              default: 'pebble',
              description:
                "pebble: started by the lab with pebble-challtestsrv as the boxes' name server; external: an ACME server you run (e.g. step-ca).",
            }),
          ),
          'validity-hours': opt(
            Type.Integer({
              minimum: 1,
              maximum: 24 * 365 * 5,
              default: 2160,
              description: 'Pebble only: lifetime of the certificates it issues (default 90 days).',
            }),
          ),
          'directory-url': opt(
            Type.String({ pattern: '^https://', description: 'External only: the ACME directory URL.' }),
          ),
          root: opt(
            Type.String({
              description:
                "External only: PEM file of the root that signs the CA's TLS and its certificates (relative to this file).",
            }),
          ),
        },
        closed,
      ),
    ),
    'trap-receiver': opt(
      Type.Object(
        {
          type: opt(StringEnum(['snmptrapd', 'external'], { default: 'snmptrapd' })),
          address: opt(Type.String({ description: 'External only: host:port of the receiver.' })),
          community: opt(Type.String({ default: 'public', description: 'SNMPv2c community of the traps.' })),
        },
        closed,
      ),
    ),
    'on-start': opt(
      Type.Object(
        {
          'issue-certificates': opt(Type.Boolean({ default: true })),
          domain: opt(
            StringEnum(['name', 'ip'], {
              default: 'name',
              description: "name: <hostname>.<domain>; ip: the box's address.",
            }),
          ),
          'address-in-certificate': opt(
            Type.Boolean({
              default: false,
              description:
                "With domain name: one ACME order for the box's name and its address (a DNS and an IP identifier, RFC 8738), so https://<address>/ verifies too. Needs one address per box.",
            }),
          ),
          'key-algorithm': opt(
            StringEnum(Object.keys(CLI_ALGORITHM_WORDS), {
              description: "Default: the box's default for its crypto mode.",
            }),
          ),
          'renew-days': opt(
            Type.Integer({
              minimum: 1,
              maximum: 365,
              description: 'Default: system computed (a third of the lifetime).',
            }),
          ),
        },
        closed,
      ),
    ),
  },
  closed,
);

/** The editors' JSON Schema: TopologySchema with the document's own header. */
export function topologyJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://gvos-sim.invalid/topology.schema.json',
    title: 'gvos-sim lab topology',
    description:
      'The file `gvos-sim lab up <file>` builds a lab from. Generated from src/lab/topology-schema.ts (npm run schemas); the validator in src/lab/topology.ts also checks names against firmware-sim/ and reports each problem with its line.',
    ...(JSON.parse(JSON.stringify(TopologySchema)) as object),
  };
}

/** The text of src/lab/topology.schema.json (what the committed file must be, byte for byte). */
export function topologyJsonSchemaText(): string {
  return JSON.stringify(topologyJsonSchema(), null, 2) + '\n';
}

/** Every field path of the schema (`[]` = any list item), in the schema's order. */
export function fieldPaths(schema: unknown = TopologySchema, prefix = ''): string[] {
  const s = schema as { properties?: Record<string, unknown>; items?: unknown; oneOf?: unknown[] };
  const out: string[] = [];
  for (const alt of s.oneOf ?? []) out.push(...fieldPaths(alt, prefix));
  if (s.items) out.push(...fieldPaths(s.items, prefix + '[]'));
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.push(p, ...fieldPaths(v, p));
  }
  return out;
}
