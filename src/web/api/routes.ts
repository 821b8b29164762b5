/**
 * The REST API of a box under /api/v1, one row per route: method, path, the
 * lowest role allowed, what the OpenAPI document says of it, its parameters
 * and body schema, its answers, and a handler that calls one Box method (the
 * command layer shared with the CLI) and shapes the answer. The router
 * (router.ts) and the document (openapi.ts) are generated from this table.
 */
import { streamAcme, type StreamCount } from './acme-stream.js';
import type Koa from 'koa';
import { Type, type TSchema } from '@sinclair/typebox';
import type { Box } from '../../device/box.js';
import { MANAGER_ALGORITHMS } from '../../device/key-algorithms.js';
import { DEFAULT_SNMP_RATE_PER_SEC, PORT_MAX, PORT_MIN, SNMP_TRAP_PORT } from '../../device/limits.js';
import type { SnmpTarget } from '../../device/model.js';
import type { Actor, Role } from '../../device/roles.js';
import { validateInt } from '../../device/validate.js';
import type { Logins } from '../../device/login.js';
import type { Logger } from '../../lib/logger.js';
import { checkPassword, restSource, type AuthState, type SessionStore } from './auth.js';
import * as M from './models.js';
import type { OpenApiDocument } from './openapi.js';
import { WebError } from './problem.js';
import { route as anyRoute, type AnyRoute, type RouteDef } from './route-table.js';
import {
  acmeJson,
  certificateJson,
  chassisJson,
  cryptoModeJson,
  isoOrNull,
  snmpSettingsJson,
  snmpTargetJson,
  systemJson,
  versionJson,
  webCertificateJson,
} from './views.js';

/** Where the API is mounted (openapi.ts says the same; kept here so that the table imports no document code). */
const API_PREFIX = '/api/v1';

/** What every handler of the box API gets besides the request. */
export interface BoxCall {
  box: Box;
  /** The caller; on public routes a stand-in that is never audited. */
  actor: Actor;
  auth: AuthState | undefined;
  /** The cluster's boxes (/system/chassis). */
  clusterBoxes: (() => Box[]) | undefined;
  sessions: SessionStore;
  logins: Logins;
  logger: Logger;
  /** The served document (built once with the router). */
  document: OpenApiDocument;
  /** The status streams open on this box (acme-stream.ts bounds them). */
  streams: StreamCount;
}

/** A row of the box API: a route with the lowest role allowed (undefined = no login). */
export type RouteSpec = AnyRoute<BoxCall> & { role: Role | undefined };

/** One row: the role also goes into the document (x-min-role, or no security for public routes). */
function boxRoute<
  const P extends string,
  B extends TSchema | undefined = undefined,
  Q extends string = never,
>(role: Role | undefined, r: Omit<RouteDef<BoxCall, B, P, Q>, 'extra'>): RouteSpec {
  const extra = role ? { 'x-min-role': role } : { security: [] };
  return { ...anyRoute<BoxCall>()<P, B, Q>({ ...r, extra }), role };
}

/** The status URL every ACME operation points to. */
const ACME_STATUS_URL = `${API_PREFIX}/acme`;

function send(ctx: Koa.Context, status: number, body?: unknown): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (body !== undefined) ctx.body = body;
}

function acmeAccepted(ctx: Koa.Context, operation: 'issue' | 'renew' | 'revoke' | 'clear'): void {
  ctx.set('Location', ACME_STATUS_URL);
  send(ctx, 202, { operation, statusUrl: ACME_STATUS_URL });
}

const certUrl = (name: string) => `${API_PREFIX}/certificates/${encodeURIComponent(name)}`;

const ok = (schema: TSchema, description: string) => ({ 200: { description, schema } });
const listOf = (schema: TSchema) => Type.Array(schema);
const CERTIFICATE_PARAM = { name: 'The certificate name.' };

const ACME_ACCEPTED = {
  202: {
    description: 'Started; follow the status at the URL given in Location and in the body.',
    headers: { Location: 'The status resource, /api/v1/acme.' },
    schema: M.AcmeAccepted,
  },
};
const ACME_ERRORS = ['Conflict', 'Precondition', 'Unsupported'];

function caList(box: Box) {
  return box
    .certificates()
    .filter((c) => c.inCaList)
    .map(certificateJson);
}

/** Every operation of the API. */
export const ROUTES: readonly RouteSpec[] = [
  boxRoute(undefined, {
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This document.',
    tags: ['meta'],
    responses: { 200: { description: 'The OpenAPI 3.1 document.', schema: { type: 'object' } } },
    handler: (ctx, { document }) => send(ctx, 200, structuredClone(document)),
  }),
  boxRoute(undefined, {
    method: 'post',
    path: '/login',
    operationId: 'login',
    summary: 'Log in: a session token for "Authorization: Bearer".',
    description:
      'The token ends after 30 minutes without use or 12 hours after login, on logout, and when the box reloads.',
    tags: ['session'],
    body: M.LoginRequest,
    responses: ok(M.LoginResult, 'Logged in.'),
    errors: ['Unauthenticated', 'TooManyAttempts'],
    handler: async (ctx, { box, body, logins, logger, sessions }) => {
      const { username, password } = body;
      const role = await checkPassword(ctx, logins, username, password, () => {
        // (The failure itself is logged by the host from the box's login-failed event.)
        // A Bearer challenge only: the GUI's login form must not trigger the browser's own dialog.
        return new WebError('unauthenticated', 'Wrong user name or password.', {
          'WWW-Authenticate': 'Bearer realm="gvos-sim"',
        });
      });
      const s = sessions.create(username, box.credentialStamp(username));
      logger.info('REST login', { user: username, source: restSource(ctx) });
      send(ctx, 200, {
        token: s.token,
        tokenType: 'Bearer',
        expiresAt: isoOrNull(s.expiresMs),
        user: username,
        role,
      });
    },
  }),
  boxRoute('monitor', {
    method: 'post',
    path: '/logout',
    operationId: 'logout',
    summary: 'End the session of the token sent (no-op with HTTP Basic).',
    tags: ['session'],
    responses: { 204: { description: 'Logged out.' } },
    handler: (ctx, { auth, sessions }) => {
      if (auth?.via.kind === 'token') sessions.revoke(auth.via.token);
      send(ctx, 204);
    },
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/session',
    operationId: 'getSession',
    summary: 'Who is logged in, with which role.',
    tags: ['session'],
    responses: ok(M.Session, 'The caller.'),
    handler: (ctx, { actor, auth }) => {
      const via = auth!.via;
      send(ctx, 200, {
        user: actor.user,
        role: actor.role,
        authenticatedBy: via.kind,
        expiresAt: via.kind === 'token' ? isoOrNull(via.expiresMs) : null,
      });
    },
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/system',
    operationId: 'getSystem',
    summary: 'Identity, firmware, uptime and crypto mode of the box.',
    tags: ['system'],
    responses: ok(M.System, 'The box.'),
    handler: (ctx, { box }) => send(ctx, 200, systemJson(box)),
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/system/version',
    operationId: 'getVersion',
    summary: '"show version".',
    tags: ['system'],
    responses: ok(M.Version, 'The firmware the box runs.'),
    handler: (ctx, { box }) => send(ctx, 200, versionJson(box)),
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/system/chassis',
    operationId: 'getChassis',
    summary: '"show chassis": the boxes of the cluster this box knows, `local` marks this one.',
    tags: ['system'],
    responses: ok(listOf(M.ChassisEntry), 'One entry per box.'),
    handler: (ctx, { box, clusterBoxes }) => {
      const boxes = clusterBoxes?.() ?? [box];
      send(
        ctx,
        200,
        boxes.map((b) => chassisJson(b, box.boxId)),
      );
    },
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/system/crypto-mode',
    operationId: 'getCryptoMode',
    summary: 'The crypto mode running, the one configured, and the key algorithms allowed now.',
    tags: ['system'],
    responses: ok(M.CryptoMode, 'The crypto mode.'),
    handler: (ctx, { box }) => send(ctx, 200, cryptoModeJson(box)),
  }),
  boxRoute('admin', {
    method: 'put',
    path: '/system/crypto-mode',
    operationId: 'setCryptoMode',
    summary: '"crypto mode <mode>": takes effect after write-memory and a reload.',
    tags: ['system'],
    body: M.CryptoModeUpdate,
    responses: ok(M.CryptoMode, 'The crypto mode after the change.'),
    handler: (ctx, { box, actor, body }) => {
      box.setCryptoMode(actor, body.mode);
      send(ctx, 200, cryptoModeJson(box));
    },
  }),
  boxRoute('operator', {
    method: 'post',
    path: '/system/write-memory',
    operationId: 'writeMemory',
    summary: '"write memory": the running configuration becomes the saved one.',
    tags: ['system'],
    responses: { 204: { description: 'Saved.' } },
    errors: ['Storage'],
    handler: async (ctx, { box, actor }) => {
      await box.writeMemory(actor);
      send(ctx, 204);
    },
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/certificates',
    operationId: 'listCertificates',
    summary: '"show crypto certificate": every certificate with its facts (never a key).',
    tags: ['certificates'],
    responses: ok(listOf(M.Certificate), 'The certificates, by name.'),
    handler: (ctx, { box }) => send(ctx, 200, box.certificates().map(certificateJson)),
  }),
  boxRoute('operator', {
    method: 'post',
    path: '/certificates',
    operationId: 'addCertificate',
    summary: '"crypto certificate name <name> public-cert pem": add a certificate (a chain: leaf first).',
    tags: ['certificates'],
    body: M.CertificateCreate,
    responses: {
      201: { description: 'Added.', headers: { Location: 'The new certificate.' }, schema: M.Certificate },
    },
    errors: ['Conflict'],
    handler: async (ctx, { box, actor, body }) => {
      await box.addPublicCertificate(actor, body.name, body.pem);
      ctx.set('Location', certUrl(body.name));
      send(ctx, 201, certificateJson(box.certificate(body.name)));
    },
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/certificates/:name',
    operationId: 'getCertificate',
    summary: '"show crypto certificate name <name>".',
    tags: ['certificates'],
    params: CERTIFICATE_PARAM,
    responses: ok(M.Certificate, 'The certificate.'),
    errors: ['NotFound'],
    handler: (ctx, { box, params }) => send(ctx, 200, certificateJson(box.certificate(params.name))),
  }),
  boxRoute('operator', {
    method: 'delete',
    path: '/certificates/:name',
    operationId: 'deleteCertificate',
    summary: '"no crypto certificate name <name>": refused while web or the CA list uses it.',
    tags: ['certificates'],
    params: CERTIFICATE_PARAM,
    responses: { 204: { description: 'Deleted.' } },
    errors: ['NotFound', 'Conflict'],
    handler: async (ctx, { box, actor, params }) => {
      await box.deleteCertificate(actor, params.name);
      send(ctx, 204);
    },
  }),
  boxRoute('operator', {
    method: 'put',
    path: '/certificates/:name/private-key',
    operationId: 'setPrivateKey',
    summary:
      '"crypto certificate name <name> private-key pem": the key must match the certificate. The key is never shown again.',
    tags: ['certificates'],
    params: CERTIFICATE_PARAM,
    body: M.PrivateKeyUpload,
    responses: ok(M.Certificate, 'The certificate, now with a key.'),
    errors: ['NotFound', 'Conflict'],
    handler: async (ctx, { box, actor, params, body }) => {
      await box.addPrivateKey(actor, params.name, body.pem);
      send(ctx, 200, certificateJson(box.certificate(params.name)));
    },
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/ca-list',
    operationId: 'listCaCertificates',
    summary: '"show crypto certificate ca-list": the certificates trusted as CAs (for the ACME server).',
    tags: ['certificates'],
    responses: ok(listOf(M.Certificate), 'The CA list.'),
    handler: (ctx, { box }) => send(ctx, 200, caList(box)),
  }),
  boxRoute('operator', {
    method: 'post',
    path: '/ca-list',
    operationId: 'addCaCertificate',
    summary: '"crypto certificate ca-list default-ca-list name <name>".',
    tags: ['certificates'],
    body: M.NameRef,
    responses: ok(listOf(M.Certificate), 'The CA list after the change.'),
    errors: ['NotFound'],
    handler: async (ctx, { box, actor, body }) => {
      await box.addCaListEntry(actor, body.name);
      send(ctx, 200, caList(box));
    },
  }),
  boxRoute('operator', {
    method: 'delete',
    path: '/ca-list/:name',
    operationId: 'removeCaCertificate',
    summary: '"no crypto certificate ca-list default-ca-list name <name>".',
    tags: ['certificates'],
    params: CERTIFICATE_PARAM,
    responses: { 204: { description: 'Removed from the CA list.' } },
    errors: ['NotFound'],
    handler: async (ctx, { box, actor, params }) => {
      await box.removeCaListEntry(actor, params.name);
      send(ctx, 204);
    },
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/web/certificate',
    operationId: 'getWebCertificate',
    summary: '"show web": the certificate the HTTPS server presents.',
    tags: ['certificates'],
    responses: ok(M.WebCertificate, 'The web certificate mapping.'),
    handler: (ctx, { box }) => send(ctx, 200, webCertificateJson(box)),
  }),
  boxRoute('operator', {
    method: 'put',
    path: '/web/certificate',
    operationId: 'setWebCertificate',
    summary: '"web https certificate name <name>" (or "default-cert"); refused while ACME manages web.',
    tags: ['certificates'],
    body: M.NameRef,
    responses: ok(
      M.WebCertificate,
      'The mapping after the change; new connections get the certificate at once.',
    ),
    errors: ['NotFound', 'Conflict', 'Precondition'],
    handler: async (ctx, { box, actor, body }) => {
      await box.setWebCertificate(actor, body.name);
      send(ctx, 200, webCertificateJson(box));
    },
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/snmp/targets',
    operationId: 'listSnmpTargets',
    summary: '"show snmp host": the notification receivers (communities are not shown).',
    tags: ['snmp'],
    responses: ok(listOf(M.SnmpTarget), 'The targets.'),
    handler: (ctx, { box }) => send(ctx, 200, box.config.snmp.targets.map(snmpTargetJson)),
  }),
  boxRoute('operator', {
    method: 'post',
    path: '/snmp/targets',
    operationId: 'addSnmpTarget',
    summary:
      '"snmp-server host <ip> [port <p>] {traps|informs} version ...": add or replace (same host, port and kind).',
    tags: ['snmp'],
    body: M.SnmpTargetCreate,
    responses: {
      201: {
        description: 'Added (running configuration).',
        headers: { Location: 'The target host.' },
        schema: M.SnmpTarget,
      },
    },
    errors: ['NotFound'],
    handler: (ctx, { box, actor, body }) => {
      const target: SnmpTarget = {
        ...body,
        port: body.port ?? SNMP_TRAP_PORT,
        ratePerSec: body.ratePerSec ?? DEFAULT_SNMP_RATE_PER_SEC,
      };
      box.snmpSetTarget(actor, target);
      ctx.set('Location', `${API_PREFIX}/snmp/targets/${encodeURIComponent(target.host)}`);
      send(ctx, 201, snmpTargetJson(target));
    },
  }),
  boxRoute('operator', {
    method: 'delete',
    path: '/snmp/targets/:host',
    operationId: 'removeSnmpTarget',
    summary: '"no snmp-server host <ip>": every target of that host, or only the one on `port`.',
    tags: ['snmp'],
    params: { host: 'The target IP address.' },
    query: { port: 'Only the target on this UDP port (1-65535).' },
    responses: { 204: { description: 'Removed.' } },
    errors: ['BadInput', 'NotFound'],
    handler: (ctx, { box, actor, params, query }) => {
      const port = query.port === undefined ? undefined : validateInt('port', query.port, PORT_MIN, PORT_MAX);
      box.snmpRemoveTarget(actor, params.host, port);
      send(ctx, 204);
    },
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/snmp',
    operationId: 'getSnmp',
    summary: '"show snmp": agent and notification settings (communities masked, no v3 passphrase).',
    tags: ['snmp'],
    responses: ok(M.SnmpSettings, 'The SNMP settings.'),
    handler: (ctx, { box }) => send(ctx, 200, snmpSettingsJson(box)),
  }),
  boxRoute('operator', {
    method: 'put',
    path: '/snmp',
    operationId: 'updateSnmp',
    summary:
      '"snmp-server enable [notify|communities]", "contact", "location", "port", "notify event", "notify expiring-soon-days": the fields given, all or none.',
    tags: ['snmp'],
    body: M.SnmpSettingsUpdate,
    responses: ok(M.SnmpSettings, 'The settings after the change (running configuration).'),
    handler: (ctx, { box, actor, body }) => {
      box.snmpUpdate(actor, body);
      send(ctx, 200, snmpSettingsJson(box));
    },
  }),
  boxRoute('admin', {
    method: 'put',
    path: '/snmp/communities',
    operationId: 'setSnmpCommunities',
    summary:
      '"snmp-server community <c> ro" for each: replace the read-only communities of the agent (admin).',
    tags: ['snmp'],
    body: M.SnmpCommunities,
    responses: ok(M.SnmpSettings, 'The settings after the change; communities masked.'),
    handler: (ctx, { box, actor, body }) => {
      box.snmpSetCommunities(actor, body.communities);
      send(ctx, 200, snmpSettingsJson(box));
    },
  }),
  boxRoute('admin', {
    method: 'put',
    path: '/snmp/users/:name',
    operationId: 'setSnmpUser',
    summary:
      '"snmp-server user <name> v3 ...": add or replace an SNMPv3 user of the agent and notifications (admin).',
    tags: ['snmp'],
    params: { name: 'The SNMPv3 user name.' },
    body: M.SnmpUserUpdate,
    responses: ok(M.SnmpSettings, 'The settings after the change; no passphrase shown.'),
    errors: ['Unsupported'],
    handler: (ctx, { box, actor, params, body }) => {
      box.snmpSetUser(actor, { name: params.name, ...body });
      send(ctx, 200, snmpSettingsJson(box));
    },
  }),
  boxRoute('admin', {
    method: 'delete',
    path: '/snmp/users/:name',
    operationId: 'removeSnmpUser',
    summary: '"no snmp-server user <name>": refused while a notification host uses it (admin).',
    tags: ['snmp'],
    params: { name: 'The SNMPv3 user name.' },
    responses: { 204: { description: 'Removed.' } },
    errors: ['NotFound', 'Conflict'],
    handler: (ctx, { box, actor, params }) => {
      box.snmpRemoveUser(actor, params.name);
      send(ctx, 204);
    },
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/acme',
    operationId: 'getAcme',
    summary: '"show crypto acme client info", with GigaVUE-FM\'s field names.',
    tags: ['acme'],
    responses: ok(M.AcmeStatus, 'The issued certificate and the last request.'),
    handler: (ctx, { box }) => send(ctx, 200, acmeJson(box)),
  }),
  boxRoute('monitor', {
    method: 'get',
    path: '/acme/events',
    operationId: 'getAcmeEvents',
    summary:
      'The ACME status as server-sent events: `event: acme` now and after each change, from any interface.',
    description:
      'text/event-stream; each `data:` is the body of GET /acme. Changes within 50 ms come as one event. ' +
      'The stream ends after 10 minutes or when the box reloads; reconnect (credentials are checked again). ' +
      'At most 32 streams per box (409 busy).',
    tags: ['acme'],
    responses: { 200: { description: 'text/event-stream of AcmeStatus.' } },
    errors: ['Conflict'],
    handler: (ctx, { box, streams }) => streamAcme(ctx, box, streams),
  }),
  boxRoute('admin', {
    method: 'post',
    path: '/acme/issue',
    operationId: 'acmeIssue',
    summary: '"crypto certificate acme issue": get a certificate for the web server.',
    description:
      "Prerequisites are checked before anything starts (firmware 5.13.01, a name server, the ACME server's CA in the CA list, " +
      'nothing else running); the issuance itself runs in the background.',
    tags: ['acme'],
    body: M.AcmeIssueRequest,
    responses: ACME_ACCEPTED,
    errors: ACME_ERRORS,
    handler: async (ctx, { box, actor, body }) => {
      await box.acmeIssue(actor, {
        domain: body.domain,
        directoryUrl: body.acmeServerUrl,
        keyAlgorithm: body.algorithm === undefined ? undefined : MANAGER_ALGORITHMS[body.algorithm],
        renewDays: body.renewDays ?? undefined,
      });
      acmeAccepted(ctx, 'issue');
    },
  }),
  boxRoute('admin', {
    method: 'post',
    path: '/acme/renew',
    operationId: 'acmeRenew',
    summary: '"crypto certificate acme renew domain <domain>".',
    description:
      "Only `domain` is used: a renewal keeps the issued certificate's ACME server, algorithm and renew days " +
      "(seed: the renewal period cannot be changed after issue). The other fields are accepted for the manager's schema.",
    tags: ['acme'],
    body: M.AcmeDomainRequest,
    responses: ACME_ACCEPTED,
    errors: ACME_ERRORS,
    handler: async (ctx, { box, actor, body }) => {
      await box.acmeRenew(actor, body.domain);
      acmeAccepted(ctx, 'renew');
    },
  }),
  boxRoute('admin', {
    method: 'post',
    path: '/acme/revoke',
    operationId: 'acmeRevoke',
    summary:
      '"crypto certificate acme revoke domain <domain>": re-issue, put the new certificate on web, then revoke the old one.',
    description: 'Only `domain` is used, as for renew.',
    tags: ['acme'],
    body: M.AcmeDomainRequest,
    responses: ACME_ACCEPTED,
    errors: ACME_ERRORS,
    handler: async (ctx, { box, actor, body }) => {
      await box.acmeRevoke(actor, body.domain);
      acmeAccepted(ctx, 'revoke');
    },
  }),
  boxRoute('admin', {
    method: 'post',
    path: '/acme/clear',
    operationId: 'acmeClear',
    summary:
      '"crypto certificate acme clear": remove the ACME certificate, map web to the default one, cancel renewals.',
    description: 'The body may be empty; its fields are accepted and not used.',
    tags: ['acme'],
    body: M.AcmeClearRequest,
    bodyRequired: false,
    responses: ACME_ACCEPTED,
    errors: ACME_ERRORS,
    handler: async (ctx, { box, actor }) => {
      await box.acmeClear(actor);
      acmeAccepted(ctx, 'clear');
    },
  }),
];
