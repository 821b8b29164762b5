/**
 * The schemas of the GigaVUE-FM-shaped fleet API (TypeBox: the router
 * validates bodies with them, the handlers get their types, the control
 * plane's OpenAPI document lists them).
 *
 * Field names come from GigaVUE-FM 6.14's API schema (the project's
 * reference, section 4, and a public client generated from FM's OpenAPI
 * document): `acmeCertificate` entries of `acmeServerUrl`, `domain`,
 * `algorithm`, `renewDays`; per-device `boxId`, `clusterId`, `clusterName`,
 * `issuedCert`, `lastAcmeRequest` (the very schema of the box's own
 * `GET /api/v1/acme`), listed under `certificateInfo`; the global template
 * `AcmeGlobalConfigDetails`. Each choice FM's documents do not settle is
 * marked below and listed in the README's emulation table.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MANAGER_ALGORITHM_NAMES } from '../../device/key-algorithms.js';
import { MAX_LAB_BOXES, MAX_RENEW_DAYS } from '../../device/limits.js';
import { component, Nullable, StringEnum } from '../../lib/typebox.js';
import { AcmeStatus } from '../../web/api/models.js';
import { FLEET_OPS } from '../lab.js';
import { MAX_BOX_SELECTOR } from '../lab-args.js';

const closed = { additionalProperties: false } as const;
const dateTime = (description: string) => Nullable(Type.String({ format: 'date-time' }), { description });

const acmeServerUrl = Type.String({
  maxLength: 2048,
  pattern: '^https://',
  description: 'The ACME directory URL, https:// (RFC 8555 §7.1.1).',
});
const algorithm = StringEnum(MANAGER_ALGORITHM_NAMES, {
  description:
    'Key algorithm, as the manager names it. Classic mode allows rsa-2048 and rsa-4096; secure-crypto and FIPS ec-prime256v1 and ec-secp384r1.',
});
const renewDays = Nullable(Type.Integer({ minimum: 1, maximum: MAX_RENEW_DAYS }), {
  description: `Renew this many days (1-${MAX_RENEW_DAYS}) before expiry; null: a third of the lifetime ("System Computed").`,
});

/** One entry of `acmeCertificate`: the manager's fields, and which boxes it is for. */
export const FmAcmeCertificate = component(
  'FmAcmeCertificate',
  Type.Object(
    {
      acmeServerUrl: Type.Optional(acmeServerUrl),
      domain: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 253,
          description:
            "The certificate's domain. Without clusterId and boxIds it also names the box (the box whose lab name or hostname it is).",
        }),
      ),
      algorithm: Type.Optional(algorithm),
      renewDays: Type.Optional(renewDays),
      // EMULATION: FM's entry has no device selector in the public schema; clusterId and boxIds are the simulator's.
      clusterId: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 253,
          description: 'One box: its hostname, lab name or address (as `GET .../nodes/{clusterId}`).',
        }),
      ),
      boxIds: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: MAX_BOX_SELECTOR,
          pattern: '^(all|[0-9,\\- ]+)$',
          description: 'Box-ids like "1,3,5", "2-4" or "1-65535", or "all".',
        }),
      ),
    },
    {
      ...closed,
      description:
        'Absent fields come from the global template (AcmeGlobalConfigDetails), then the lab (its CA, the topology).',
    },
  ),
);

/** POST .../acme/certificate/nodes/{issue|renew|revoke|clear}. */
export const FmAcmeOperation = component(
  'FmAcmeOperation',
  Type.Object(
    {
      acmeCertificate: Type.Optional(
        Type.Array(FmAcmeCertificate, {
          maxItems: MAX_LAB_BOXES,
          description: 'Absent or empty: every box, with the global template.',
        }),
      ),
    },
    closed,
  ),
);

/** The global template. */
export const AcmeGlobalConfigDetails = component(
  'AcmeGlobalConfigDetails',
  Type.Object(
    {
      acmeServerUrl: Type.Optional(
        Nullable(acmeServerUrl, { description: "The ACME directory URL; null: the lab's CA." }),
      ),
      operationType: Type.Optional(
        StringEnum(FLEET_OPS, { description: 'What POST runs on every box (PUT only stores it).' }),
      ),
      algorithm: Type.Optional(
        Nullable(algorithm, { description: "Key algorithm; null: the box's default." }),
      ),
      renewDays: Type.Optional(renewDays),
    },
    closed,
  ),
);

/** The stored template, every field present. */
export type GlobalTemplate = Required<Static<typeof AcmeGlobalConfigDetails>>;

/** One device as the manager lists it. */
export const FmAcmeNode = component(
  'FmAcmeNode',
  Type.Object(
    {
      ...AcmeStatus.properties,
      clusterId: Type.String({ description: 'The box as the manager names it: its hostname.' }),
      // EMULATION: FM's node schema has neither; the lab adds the address and the serial `lab status` shows.
      deviceAddress: Type.String({ description: "The box's address." }),
      serialNumber: Nullable(Type.String(), {
        description: 'Serial of the certificate the box serves, upper-case hex (as `lab status`).',
      }),
    },
    closed,
  ),
);

/** GET .../acme/certificate/nodes. */
export const FmAcmeNodes = component(
  'FmAcmeNodes',
  Type.Object({ certificateInfo: Type.Array(FmAcmeNode) }, closed),
);

/** The outcome of one box in a task. */
const FmTaskDevice = Type.Object(
  {
    boxId: Type.Integer(),
    clusterId: Type.String(),
    status: StringEnum(['SUCCESS', 'FAILED']),
    result: Type.String({ description: 'Success, Failed: <reason> or Refused: <the device message>.' }),
    serialNumber: Nullable(Type.String()),
    expiry: dateTime('Expiry of the certificate after the operation.'),
  },
  closed,
);

/** A fleet operation in progress or done. */
// EMULATION: FM's task object (fields, states) is not in its public schema; these are the simulator's.
export const FmTask = component(
  'FmTask',
  Type.Object(
    {
      taskId: Type.String(),
      operationType: StringEnum(FLEET_OPS),
      status: StringEnum(['IN_PROGRESS', 'COMPLETED'], {
        description: 'COMPLETED once every box has a result (each may have failed).',
      }),
      total: Type.Integer({ description: 'Boxes in the task.' }),
      completed: Type.Integer({ description: 'Boxes with a result.' }),
      succeeded: Type.Integer(),
      failed: Type.Integer(),
      createdAt: Type.String({ format: 'date-time' }),
      finishedAt: dateTime('When the last box finished; null while in progress.'),
      devices: Type.Array(FmTaskDevice, { description: 'The boxes with a result, by box-id.' }),
    },
    closed,
  ),
);

/** The 202 answer of an operation. */
// EMULATION: FM's 202 body is not in its public schema: the task's id and where to poll it.
export const FmTaskAccepted = component(
  'FmTaskAccepted',
  Type.Object(
    {
      taskId: Type.String(),
      statusUrl: Type.String({ description: 'GET it for progress (the same as the Location header).' }),
    },
    closed,
  ),
);

/** Every named schema of the FM-shaped API, for the document's components. */
export const FM_COMPONENTS = [
  FmAcmeCertificate,
  FmAcmeOperation,
  AcmeGlobalConfigDetails,
  FmAcmeNode,
  FmAcmeNodes,
  FmTask,
  FmTaskAccepted,
];
