/**
 * The schema of a box's state file (state.json), checked whole when it is
 * loaded: a document that parses but would boot a broken box (a PEM that
 * does not parse, no admin user, a web certificate that is not stored, an
 * unknown crypto mode, a hostname with control characters) is refused like
 * an unparseable file, with one line naming the field (issue 15 item 5).
 *
 * Two steps: the shape, from one TypeBox schema (types, enums, the hostname
 * rule of device/limits.ts), then the facts a schema cannot state
 * (certificates parse, private keys have a key's DER form: hasPrivateKeyForm
 * says why not a full decode; names refer to stored certificates, an admin
 * exists). Objects are
 * open (unknown fields are kept, not refused): a state written by a newer
 * simulator must not stop an older one over a field it does not use.
 */
import { Type } from '@sinclair/typebox';
import { KEY_ALGORITHMS } from '../device/key-algorithms.js';
import { BOX_ID_MAX, BOX_ID_MIN, HOSTNAME_PATTERN } from '../device/limits.js';
import { CRYPTO_MODES, type BoxDocument } from '../device/model.js';
import { ROLES } from '../device/roles.js';
import { compileSchema } from '../lib/json-schema.js';
import { Nullable, StringEnum } from '../lib/typebox.js';
import { parseChain } from '../pki/certificate.js';
import { hasPrivateKeyForm } from '../pki/keys.js';

const Text = () => Type.String();
const Ms = () => Type.Number();

const Certificate = Type.Object({
  name: Text(),
  certPem: Text(),
  keyPem: Type.Optional(Text()),
  origin: StringEnum(['default', 'user', 'acme']),
  addedAtMs: Ms(),
});

/** The running configuration, in the state file and in a configuration file (`configuration fetch`). */
const ConfigSchema = Type.Object({
  hostname: Type.String({
    pattern: HOSTNAME_PATTERN.source,
    description: '1-63 letters, digits or hyphens, not starting or ending with a hyphen',
  }),
  nameServers: Type.Array(Text()),
  domainList: Type.Array(Text()),
  users: Type.Record(
    Type.String(),
    Type.Object({ role: StringEnum(ROLES), passwordHash: Type.String({ minLength: 1 }) }),
  ),
  cryptoMode: StringEnum(CRYPTO_MODES),
  snmp: Type.Object({
    enabled: Type.Boolean(),
    notifyEnabled: Type.Boolean(),
    targets: Type.Array(Type.Object({ host: Text(), port: Type.Integer() })),
    users: Type.Array(Type.Object({ name: Text() })),
    events: Type.Array(Text()),
  }),
  cliPaging: Type.Optional(Type.Boolean()),
});

/** The shape of a state file (schema 1). */
const BoxDocumentSchema = Type.Object({
  schema: Type.Unsafe<1>({ type: 'integer', enum: [1] }),
  identity: Type.Object({
    boxId: Type.Integer({ minimum: BOX_ID_MIN, maximum: BOX_ID_MAX }),
    serial: Text(),
    hostId: Text(),
    model: Text(),
    sysObjectId: Type.Optional(Text()),
  }),
  config: ConfigSchema,
  crypto: Type.Object({
    certificates: Type.Record(Type.String(), Certificate),
    caList: Type.Array(Text()),
    webCert: Text(),
  }),
  acme: Type.Object({
    issued: Nullable(
      Type.Object({
        domain: Text(),
        address: Type.Optional(Text()),
        directoryUrl: Text(),
        keyAlgorithm: StringEnum(KEY_ALGORITHMS),
        certName: Text(),
        expiresMs: Ms(),
      }),
    ),
    lastRequest: Nullable(Type.Object({ domain: Text(), startedMs: Ms() })),
    accounts: Type.Array(Type.Object({ directoryUrl: Text(), accountKeyPem: Text() })),
  }),
  firmware: Type.Object({
    running: Text(),
    fetched: Type.Array(Text()),
    nextBoot: Nullable(Text()),
    installed: Nullable(Text()),
  }),
  snmpEngine: Type.Object({ boots: Type.Integer({ minimum: 0 }) }),
  configFiles: Type.Optional(
    Type.Record(Type.String(), Type.Object({ config: ConfigSchema, storedAtMs: Ms() })),
  ),
  activeConfigFile: Type.Optional(Text()),
  sshHostKey: Text(),
});

// Checked now; compiled by Ajv at the first check of a state file (compileSchema).
const validateShape = compileSchema(
  // Type.Record writes patternProperties; the validator knows additionalProperties, which says the same for "any key".
  recordsAsAdditional(BoxDocumentSchema) as never,
  'state file',
);

const validateConfig = compileSchema(recordsAsAdditional(ConfigSchema) as never, 'configuration');

/**
 * The first problem of a parsed running configuration (a configuration
 * file's), as "<field>: <what is wrong>", or undefined when a box can run it.
 * Never throws; never quotes a secret.
 */
export function configProblem(config: unknown): string | undefined {
  const v = validateConfig(config)[0];
  if (v) return `${v.path || 'the configuration'}: ${fieldless(v.message)}`;
  return adminProblem((config as BoxDocument['config']).users, 'users');
}

function adminProblem(users: BoxDocument['config']['users'], at: string): string | undefined {
  return Object.values(users).some((u) => u.role === 'admin')
    ? undefined
    : `${at}: at least one admin user is required`;
}

/** A name or value from the file, safe to print in one line. */
function shown(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 64 ? printable.slice(0, 64) + '...' : printable;
}

/**
 * The first problem of a parsed state document, as "<field>: <what is
 * wrong>" (field names as dotted paths: "config.users",
 * "crypto.certificates.default-cert.keyPem"), or undefined when the document
 * can boot a box. Never throws; never quotes a secret.
 */
export function stateProblem(doc: unknown): string | undefined {
  const v = validateShape(doc)[0];
  if (v) return `${v.path || 'the document'}: ${fieldless(v.message)}`;
  const d = doc as BoxDocument;

  const noAdmin = adminProblem(d.config.users, 'config.users');
  if (noAdmin) return noAdmin;
  for (const [name, f] of Object.entries(d.configFiles ?? {})) {
    const p = adminProblem(f.config.users, `configFiles.${shown(name)}.config.users`);
    if (p) return p;
  }

  for (const [name, c] of Object.entries(d.crypto.certificates)) {
    const at = `crypto.certificates.${shown(name)}`;
    if (c.name !== name) return `${at}.name: "${shown(c.name)}" differs from its key "${shown(name)}"`;
    try {
      parseChain(c.certPem);
    } catch (err) {
      return `${at}.certPem: ${(err as Error).message}`;
    }
    if (c.keyPem !== undefined && !isPrivateKey(c.keyPem)) return `${at}.keyPem: not a valid private key PEM`;
  }
  const stored = (n: string) => Object.hasOwn(d.crypto.certificates, n);
  if (!stored(d.crypto.webCert))
    return `crypto.webCert: names "${shown(d.crypto.webCert)}", which is not a stored certificate`;
  if (d.crypto.certificates[d.crypto.webCert]!.keyPem === undefined)
    return `crypto.webCert: certificate "${shown(d.crypto.webCert)}" has no private key`;
  const missing = d.crypto.caList.findIndex((n) => !stored(n));
  if (missing >= 0)
    return `crypto.caList[${missing}]: names "${shown(d.crypto.caList[missing]!)}", which is not a stored certificate`;

  const badAccount = d.acme.accounts.findIndex((a) => !isPrivateKey(a.accountKeyPem));
  if (badAccount >= 0) return `acme.accounts[${badAccount}].accountKeyPem: not a valid private key PEM`;
  if (!isPrivateKey(d.sshHostKey)) return 'sshHostKey: not a valid private key PEM';
  return undefined;
}

function isPrivateKey(pem: string): boolean {
  return hasPrivateKeyForm(pem);
}

/** 'Field "a.b" must be ...' -> 'must be ...'; 'Missing required field "a.b".' -> 'missing'. */
function fieldless(message: string): string {
  if (message.startsWith('Missing required field')) return 'missing';
  return message
    .replace(/^Field "[^"]*" /, '')
    .replace(/^The request body /, '')
    .replace(/\.$/, '');
}

/** A copy of `schema` with TypeBox's Record (patternProperties "^.*$") written as additionalProperties. */
function recordsAsAdditional(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(recordsAsAdditional);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'patternProperties') {
      const [only] = Object.values(v as Record<string, unknown>);
      out.additionalProperties = recordsAsAdditional(only);
    } else out[k] = recordsAsAdditional(v);
  }
  return out;
}
