/**
 * The schemas of the box's REST API, each defined once in TypeBox: the
 * router validates request bodies with them (Ajv), the handlers get their
 * static types, and the OpenAPI document lists them under
 * components/schemas (their names are the `component` names).
 *
 * Request schemas check the shape (types, required and unknown fields, the
 * words an enum allows). Values with device rules (a domain, a port, renew
 * days 1-365, a PEM up to 64 KiB) are checked by the Box itself, so the REST
 * API gives the very message the CLI prints after "% ". Descriptions state
 * those rules.
 */
import { Type } from '@sinclair/typebox';
import { MANAGER_ALGORITHM_NAMES as FM_ALGORITHM_NAMES } from '../../device/key-algorithms.js';
import {
  DEFAULT_SNMP_RATE_PER_SEC,
  MAX_EXPIRING_SOON_DAYS,
  MAX_SNMP_COMMUNITIES,
  MAX_SNMP_COMMUNITY_LENGTH,
  MAX_SNMP_RATE_PER_SEC,
  MAX_SNMP_TEXT_LENGTH,
  PORT_MAX,
  SNMP_PASSPHRASE_LENGTH,
  SNMP_TRAP_PORT,
} from '../../device/limits.js';
import { CRYPTO_MODES, SNMP_AUTH_PROTOCOLS, SNMP_EVENTS, SNMP_PRIV_PROTOCOLS } from '../../device/model.js';
import { ROLES } from '../../device/roles.js';
import { component, Nullable, StringEnum } from '../../lib/typebox.js';
import { PROBLEM_CODES } from './problem.js';

const closed = { additionalProperties: false } as const;
const dateTime = (description: string) => Nullable(Type.String({ format: 'date-time' }), { description });
const CryptoModeName = () => StringEnum(CRYPTO_MODES);
const FmAlgorithmName = () => StringEnum(FM_ALGORITHM_NAMES);
const RoleName = () => StringEnum(ROLES);

/**
 * RFC 9457 problem details as problem.ts writes them, for an API whose
 * `code`s are `codes`: the box's REST API (Problem below) and the lab's
 * control plane (src/lab/control-plane.ts) answer errors with this one body;
 * each says in `detail` what its `detail` holds.
 */
export function problemSchema(o: { codes: readonly string[]; detail: string; errors?: string }) {
  return Type.Object(
    {
      type: Type.String({ description: 'urn:gvos-sim:problem:<code>' }),
      title: Type.String(),
      status: Type.Integer(),
      detail: Type.String({ description: o.detail }),
      code: StringEnum(o.codes),
      errors: Type.Optional(
        Type.Array(
          Type.Object({ path: Type.String(), message: Type.String() }, closed),
          o.errors === undefined ? {} : { description: o.errors },
        ),
      ),
    },
    { description: 'RFC 9457 problem details, with a stable `code`.', ...closed },
  );
}

const Problem = component(
  'Problem',
  problemSchema({
    codes: PROBLEM_CODES,
    detail: 'What is wrong and what to do: the CLI text after "% ".',
    errors: 'Every schema violation of the request body.',
  }),
);

export const LoginRequest = component(
  'LoginRequest',
  Type.Object({ username: Type.String(), password: Type.String() }, closed),
);

export const LoginResult = component(
  'LoginResult',
  Type.Object(
    {
      token: Type.String({ description: 'Send as "Authorization: Bearer <token>".' }),
      tokenType: StringEnum(['Bearer']),
      expiresAt: Type.String({ format: 'date-time', description: 'When the token ends if not used again.' }),
      user: Type.String(),
      role: RoleName(),
    },
    closed,
  ),
);

export const Session = component(
  'Session',
  Type.Object(
    {
      user: Type.String(),
      role: RoleName(),
      authenticatedBy: StringEnum(['basic', 'token']),
      expiresAt: dateTime('When the token ends if not used again; null with HTTP Basic.'),
    },
    closed,
  ),
);

export const CryptoMode = component(
  'CryptoMode',
  Type.Object(
    {
      active: CryptoModeName(),
      configured: CryptoModeName(),
      reloadNeeded: Type.Boolean({
        description: 'True when the configured mode differs from the running one.',
      }),
      algorithms: Type.Array(FmAlgorithmName(), {
        description: 'ACME key algorithms the running mode allows.',
      }),
    },
    closed,
  ),
);

export const CryptoModeUpdate = component(
  'CryptoModeUpdate',
  Type.Object({ mode: CryptoModeName() }, closed),
);

export const System = component(
  'System',
  Type.Object(
    {
      boxId: Type.Integer(),
      hostname: Type.String(),
      clusterName: Type.String(),
      model: Type.String(),
      serialNumber: Type.String(),
      hostId: Type.String(),
      version: Type.String(),
      uptimeSec: Type.Integer(),
      cryptoMode: CryptoMode,
      unsavedChanges: Type.Boolean({ description: 'The running configuration differs from the saved one.' }),
    },
    closed,
  ),
);

export const Version = component(
  'Version',
  Type.Object(
    {
      productName: Type.String(),
      productRelease: Type.String(),
      buildId: Type.String(),
      buildDate: Type.String(),
      productModel: Type.String(),
      hostId: Type.String(),
      uptimeSec: Type.Integer(),
      acmeSupported: Type.Boolean({ description: 'The firmware has the ACME client (5.13.01 and later).' }),
    },
    closed,
  ),
);

export const ChassisEntry = component(
  'ChassisEntry',
  Type.Object(
    {
      boxId: Type.Integer(),
      local: Type.Boolean(),
      hostname: Type.String(),
      hwType: Type.String(),
      serialNumber: Type.String(),
      swRev: Type.String(),
      operStatus: StringEnum(['up']),
    },
    closed,
  ),
);

export const Certificate = component(
  'Certificate',
  Type.Object(
    {
      name: Type.String(),
      origin: StringEnum(['default', 'user', 'acme']),
      hasPrivateKey: Type.Boolean({
        description: 'Whether the box holds its key (the key itself is never shown).',
      }),
      inCaList: Type.Boolean(),
      usedByWeb: Type.Boolean(),
      subject: Type.String(),
      issuer: Type.String(),
      serial: Type.String({ description: 'Upper-case hex.' }),
      notBefore: dateTime('Start of validity.'),
      notAfter: dateTime('End of validity.'),
      keyType: Type.String(),
      keySize: Type.Integer(),
      sha1Fingerprint: Type.String(),
      sha256Fingerprint: Type.String(),
      subjectAltNames: Type.Array(Type.String()),
      selfSigned: Type.Boolean(),
      isCa: Type.Boolean(),
    },
    closed,
  ),
);

export const CertificateCreate = component(
  'CertificateCreate',
  Type.Object(
    {
      name: Type.String({ description: '1-64 letters, digits, dot, dash, underscore or @.' }),
      pem: Type.String({ description: 'One or more PEM certificates, leaf first; at most 64 KiB.' }),
    },
    closed,
  ),
);

export const PrivateKeyUpload = component(
  'PrivateKeyUpload',
  Type.Object(
    { pem: Type.String({ description: 'PKCS#8, PKCS#1 or SEC1 PEM, unencrypted; at most 64 KiB.' }) },
    closed,
  ),
);

export const NameRef = component(
  'NameRef',
  Type.Object({ name: Type.String({ description: 'A certificate name.' }) }, closed),
);

export const WebCertificate = component(
  'WebCertificate',
  Type.Object(
    {
      certName: Type.String(),
      acmeManaged: Type.Boolean({
        description: 'True while the ACME certificate is on web (then the mapping cannot change).',
      }),
      certificate: Certificate,
    },
    closed,
  ),
);

const SnmpKind = () => StringEnum(['traps', 'informs']);
const SnmpVersion = () => StringEnum(['1', '2c', '3']);

export const SnmpTarget = component(
  'SnmpTarget',
  Type.Object(
    {
      host: Type.String(),
      port: Type.Integer(),
      kind: SnmpKind(),
      version: SnmpVersion(),
      user: Type.Optional(Type.String()),
      ratePerSec: Type.Integer(),
    },
    closed,
  ),
);

export const SnmpTargetCreate = component(
  'SnmpTargetCreate',
  Type.Object(
    {
      host: Type.Unsafe<string>({
        anyOf: [
          { type: 'string', format: 'ipv4' },
          { type: 'string', format: 'ipv6' },
        ],
        description: 'An IPv4 or IPv6 address.',
      }),
      port: Type.Optional(
        Type.Integer({ description: `UDP port 1-${PORT_MAX}; ${SNMP_TRAP_PORT} when absent.` }),
      ),
      kind: SnmpKind(),
      version: SnmpVersion(),
      community: Type.Optional(Type.String({ description: 'v1/v2c community (never shown again).' })),
      user: Type.Optional(
        Type.String({
          description: 'v3 user: an SNMPv3 user the box already has ("snmp-server user ...").',
        }),
      ),
      ratePerSec: Type.Optional(
        Type.Integer({
          description: `Notifications per second to this target (1-${MAX_SNMP_RATE_PER_SEC}); ${DEFAULT_SNMP_RATE_PER_SEC} when absent.`,
        }),
      ),
    },
    closed,
  ),
);

const SnmpEvent = () => StringEnum(SNMP_EVENTS);
const MASKED = 'Masked: "********" per configured one (a secret; never shown).';
const snmpText = (what: string) =>
  Type.String({
    maxLength: MAX_SNMP_TEXT_LENGTH,
    description: `${what}: at most ${MAX_SNMP_TEXT_LENGTH} printable characters; "" for none.`,
  });

const SnmpUserView = component(
  'SnmpUserView',
  Type.Object(
    {
      name: Type.String(),
      securityLevel: StringEnum(['noAuthNoPriv', 'authNoPriv', 'authPriv']),
      auth: Nullable(StringEnum(SNMP_AUTH_PROTOCOLS)),
      priv: Nullable(StringEnum(SNMP_PRIV_PROTOCOLS)),
    },
    { ...closed, description: 'An SNMPv3 user, without its passphrases.' },
  ),
);

export const SnmpSettings = component(
  'SnmpSettings',
  Type.Object(
    {
      enabled: Type.Boolean({ description: '"snmp-server enable".' }),
      notifyEnabled: Type.Boolean({ description: '"snmp-server enable notify".' }),
      communitiesEnabled: Type.Boolean({ description: '"snmp-server enable communities" (v1/v2c access).' }),
      agentPort: Nullable(Type.Integer(), { description: '"snmp-server port"; null: the box\'s default.' }),
      agentPortInUse: Nullable(Type.Integer(), { description: 'The UDP port the agent listens on now.' }),
      contact: Type.String({ description: 'sysContact ("snmp-server contact").' }),
      location: Type.String({ description: 'sysLocation ("snmp-server location").' }),
      communities: Type.Array(Type.String(), { description: MASKED }),
      users: Type.Array(SnmpUserView),
      events: Type.Array(SnmpEvent(), { description: 'The notification events sent.' }),
      expiringSoonDays: Type.Integer(),
    },
    { ...closed, description: '"show snmp": the agent and notification settings (running configuration).' },
  ),
);

export const SnmpSettingsUpdate = component(
  'SnmpSettingsUpdate',
  Type.Object(
    {
      enabled: Type.Optional(Type.Boolean()),
      notifyEnabled: Type.Optional(Type.Boolean()),
      communitiesEnabled: Type.Optional(Type.Boolean()),
      agentPort: Type.Optional(
        Nullable(Type.Integer({ minimum: 1, maximum: PORT_MAX }), {
          description: `UDP port 1-${PORT_MAX} of the agent; null: back to the box's default.`,
        }),
      ),
      contact: Type.Optional(snmpText('sysContact')),
      location: Type.Optional(snmpText('sysLocation')),
      expiringSoonDays: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EXPIRING_SOON_DAYS })),
      events: Type.Optional(
        Type.Array(SnmpEvent(), {
          maxItems: SNMP_EVENTS.length,
          description: 'The full set of events to send (the others are turned off).',
        }),
      ),
    },
    { ...closed, description: 'Absent fields stay as they are; all changes apply or none.' },
  ),
);

export const SnmpCommunities = component(
  'SnmpCommunities',
  Type.Object(
    {
      communities: Type.Array(Type.String({ minLength: 1, maxLength: MAX_SNMP_COMMUNITY_LENGTH }), {
        maxItems: MAX_SNMP_COMMUNITIES,
        description: `Every read-only community of the agent (replaces the list; 1-${MAX_SNMP_COMMUNITY_LENGTH} printable characters without spaces each, at most ${MAX_SNMP_COMMUNITIES}). Never shown again.`,
      }),
    },
    closed,
  ),
);

const passphrase = () =>
  Type.String({ minLength: SNMP_PASSPHRASE_LENGTH.min, maxLength: SNMP_PASSPHRASE_LENGTH.max });

export const SnmpUserUpdate = component(
  'SnmpUserUpdate',
  Type.Object(
    {
      auth: Type.Optional(
        Type.Object({ protocol: StringEnum(SNMP_AUTH_PROTOCOLS), password: passphrase() }, closed),
      ),
      priv: Type.Optional(
        Type.Object({ protocol: StringEnum(SNMP_PRIV_PROTOCOLS), password: passphrase() }, closed),
      ),
    },
    {
      ...closed,
      description:
        '"snmp-server user <name> v3 [auth ... [priv ...]]": passphrases of 8-64 characters, never shown again; MD5 and DES are refused in FIPS mode.',
    },
  ),
);

export const AcmeAccepted = component(
  'AcmeAccepted',
  Type.Object(
    {
      operation: StringEnum(['issue', 'renew', 'revoke', 'clear']),
      statusUrl: Type.String({
        description: 'GET it for the status (the same as the Location header).',
      }),
    },
    closed,
  ),
);

export const AcmeStatus = component(
  'AcmeStatus',
  Type.Object(
    {
      boxId: Type.Integer(),
      clusterName: Type.String(),
      issuedCert: Nullable(
        Type.Object(
          {
            domain: Type.String(),
            acmeCaUrl: Type.String(),
            algorithm: FmAlgorithmName(),
            certName: Type.String(),
            firstIssued: dateTime('First-Issued.'),
            nextRenew: dateTime('Next Renewal.'),
            expiry: dateTime('Expires.'),
            renewDays: Nullable(Type.Integer(), {
              description: 'Renewal Days; null = "System Computed".',
            }),
            lastSuccessRenew: dateTime('Last Succesful Renewal.'),
            lastFailedRenew: dateTime('Last Failed Renewal.'),
            status: StringEnum(['Active', 'Expired', 'Inactive'], {
              description:
                'Active: on web and valid; Expired: past its end; Inactive: web is on the default certificate.',
            }),
          },
          closed,
        ),
        { description: 'The ACME issued certificate; null when there is none.' },
      ),
      lastAcmeRequest: Nullable(
        Type.Object(
          {
            domainName: Type.String(),
            acmeCaUrl: Type.String(),
            type: StringEnum(['Issue', 'Renew', 'Revoke', 'Clear', 'Auto-Renew']),
            status: Type.String({ description: '"In Progress", "Success" or "Failed: <reason>".' }),
            startedAt: dateTime('When the request started.'),
            finishedAt: dateTime('When it reached Success or Failed; null while in progress.'),
          },
          closed,
        ),
        { description: 'Last Request Status Since Bootup; null when there was none.' },
      ),
    },
    closed,
  ),
);

/** The ACME request body's fields (GigaVUE-FM's device ACME schema); each operation requires its own. */
const acmeFields = {
  domain: Type.String({
    description: 'One host name or IP address: no second name, no wildcard (seed limitations).',
  }),
  acmeServerUrl: Type.String({ description: 'The ACME directory URL, https:// (RFC 8555 §7.1.1).' }),
  algorithm: StringEnum(FM_ALGORITHM_NAMES, {
    description:
      'Key algorithm. Classic mode allows rsa-2048 and rsa-4096; secure-crypto and FIPS allow ec-prime256v1 and ec-secp384r1.',
  }),
  renewDays: Nullable(Type.Integer(), {
    description:
      'Renew this many days (1-365) before expiry; absent or null: a third of the lifetime ("System Computed").',
  }),
};

/** POST /acme/issue. */
export const AcmeIssueRequest = Type.Object(
  {
    domain: acmeFields.domain,
    acmeServerUrl: acmeFields.acmeServerUrl,
    algorithm: Type.Optional(acmeFields.algorithm),
    renewDays: Type.Optional(acmeFields.renewDays),
  },
  { ...closed, description: 'Issue parameters (GigaVUE-FM device ACME schema).' },
);

/** POST /acme/renew and /acme/revoke: only the domain is used; the rest is accepted for the manager's schema. */
export const AcmeDomainRequest = Type.Object(
  {
    domain: acmeFields.domain,
    acmeServerUrl: Type.Optional(acmeFields.acmeServerUrl),
    algorithm: Type.Optional(acmeFields.algorithm),
    renewDays: Type.Optional(acmeFields.renewDays),
  },
  { ...closed, description: 'The domain of the issued certificate.' },
);

/** POST /acme/clear: every field accepted, none used. */
export const AcmeClearRequest = Type.Object(
  {
    domain: Type.Optional(acmeFields.domain),
    acmeServerUrl: Type.Optional(acmeFields.acmeServerUrl),
    algorithm: Type.Optional(acmeFields.algorithm),
    renewDays: Type.Optional(acmeFields.renewDays),
  },
  { ...closed, required: [], description: "Accepted for the manager's schema; not used." },
);

/** Every named schema of the API, in the order the document lists them. */
export const COMPONENTS = [
  Problem,
  LoginRequest,
  LoginResult,
  Session,
  CryptoMode,
  CryptoModeUpdate,
  System,
  Version,
  ChassisEntry,
  Certificate,
  CertificateCreate,
  PrivateKeyUpload,
  NameRef,
  WebCertificate,
  SnmpTarget,
  SnmpTargetCreate,
  SnmpUserView,
  SnmpSettings,
  SnmpSettingsUpdate,
  SnmpCommunities,
  SnmpUserUpdate,
  AcmeAccepted,
  AcmeStatus,
];
