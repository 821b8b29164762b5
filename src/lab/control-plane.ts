/**
 * The lab's control plane: HTTP on 127.0.0.1 with a bearer token, for
 * tests, demos and managers' test suites. `gvos-sim lab <verb>` is a client
 * of it. It is a koa app built from one route table (ROUTES below) by the
 * same mechanism as the box's REST API (web/api/route-table.ts): the routes,
 * the body validation (Ajv, compiled once) and the OpenAPI 3.1 document at
 * `GET /v1/openapi.json` all come from the table; `GET /v1` lists the routes.
 *
 * Every other request needs `Authorization: Bearer <token>` (the scheme in
 * any case, RFC 7235 §2.1; the token compared in constant time) or, as
 * GigaVUE-FM's clients send, `Basic` with the lab's admin credentials
 * (admin and the lab's admin password), or a dashboard session
 * (dashboard/auth.ts); each is the admin role, and a route's `x-min-role`
 * is checked against it. Answers are
 * JSON; errors are problem+json (RFC 9457) with `detail` the one-line reason
 * and a stable `code`. A refused request whose body has not arrived is
 * answered at once and its connection closed; an accepted one must send its
 * body within a short deadline (5 s), so a client trickling a body cannot
 * hold a connection.
 *
 * `boxes` is a list of box-ids or "all"; absent = every box. Requests are
 * handled concurrently; operations on one box are serialised by the runner.
 *
 * The GigaVUE-FM-shaped fleet API (fm-api/) is part of the same table, under
 * /api/v1.3, and of the same document: one place for a client to learn the
 * whole plane, one authentication and one body limit.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import { PassThrough } from 'node:stream';
import Koa from 'koa';
import { Router } from '@koa/router';
import { Type } from '@sinclair/typebox';
import { listenOn } from '../lib/net.js';
import { isDeviceError } from '../device/errors.js';
import { roleAllows, type Role } from '../device/roles.js';
import { CRYPTO_MODES } from '../device/model.js';
import { MAX_LAB_BOXES, MAX_RENEW_DAYS } from '../device/limits.js';
import { KEY_ALGORITHMS } from '../device/key-algorithms.js';
import { clip } from '../device/validate.js';
import { silentLogger } from '../lib/logger.js';
import { reportAppErrors } from '../web/app-errors.js';
import { component, StringEnum } from '../lib/typebox.js';
import type { OpenApiDocument } from '../web/api/openapi.js';
import { problemResponse } from '../web/api/openapi.js';
import { PROBLEM_CODES, PROBLEM_TYPE_PREFIX, problemMiddleware, WebError } from '../web/api/problem.js';
import { problemSchema } from '../web/api/models.js';
import {
  componentSchemas,
  mountRoutes,
  pathsOf,
  route,
  toOpenApiPath,
  type AnyRoute,
  type InterfaceSpec,
} from '../web/api/route-table.js';
import { CONTENT_SECURITY_POLICY } from '../web/app.js';
import { PlaneAuth } from './dashboard/auth.js';
import { dashboardFiles } from './dashboard/files.js';
import { dashboardRow, dashboardRows } from './dashboard/rows.js';
import { DashboardFeed } from './dashboard/stream.js';
import { SESSION_COOKIE, type DashboardSession } from './dashboard/sessions.js';
import { FAULT_NAMES } from './faults.js';
import { formatBoxList, MAX_BOX_SELECTOR, parseBoxList } from './lab-args.js';
import { statusSummary, statusTable } from './lab-tables.js';
import { FLEET_OPS, inventoryCsv, type FleetIssueSettings, type Lab } from './lab.js';
import type { LabEvent } from './lab-events.js';
import { FmFleet } from './fm-api/fm-fleet.js';
import { FM_COMPONENTS } from './fm-api/models.js';
import { FM_ROUTES } from './fm-api/routes.js';

/** Largest request body the control plane reads. */
const MAX_BODY_BYTES = 64 * 1024;
/** The whole body of an accepted request must arrive within this. */
const BODY_DEADLINE_MS = 5_000;
/** An SSE stream sends a comment this often, so a vanished client is noticed and proxies keep it open. */
const SSE_KEEPALIVE_MS = 15_000;
/** A client this far behind (bytes queued) is cut off; it reconnects with Last-Event-ID and catches up from the ring. */
const SSE_MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** What each handler gets. */
interface PlaneCall {
  lab: Lab;
  onDown: () => void;
  document: OpenApiDocument;
  auth: PlaneAuth;
  /** The dashboard session the request came with (undefined: the bearer token, or a public route). */
  session: DashboardSession | undefined;
  /** The FM-shaped API's template and tasks. */
  fm: FmFleet;
}

// ------------------------------------------------------------------ schemas

const Problem = component(
  'Problem',
  problemSchema({ codes: [...PROBLEM_CODES, 'conflict'], detail: 'What is wrong, in one line.' }),
);

const BoxList = Type.Unsafe<number[] | string>({
  anyOf: [
    { type: 'array', items: { type: 'integer' }, minItems: 1 },
    { type: 'string', minLength: 1, maxLength: MAX_BOX_SELECTOR },
  ],
  description:
    'Box-ids as a list, or as a selector like "1,3,5", "2-4" or "all" (what `lab --box` sends: ranges keep a many-box request small); absent: every box.',
});

const AddBox = component(
  'AddBox',
  Type.Object(
    {
      boxId: Type.Optional(Type.Integer({ description: 'Default: the next free box-id.' })),
      hostname: Type.Optional(Type.String()),
      cryptoMode: Type.Optional(StringEnum(CRYPTO_MODES)),
      model: Type.Optional(Type.String()),
      firmware: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  ),
);

const SetFault = component(
  'SetFault',
  Type.Object(
    {
      fault: StringEnum(FAULT_NAMES),
      on: Type.Boolean(),
      boxes: Type.Optional(BoxList),
      delayMs: Type.Optional(Type.Number({ minimum: 0, description: 'acme-slow: the delay per chunk.' })),
    },
    { additionalProperties: false },
  ),
);

const AdvanceTime = component(
  'AdvanceTime',
  Type.Object(
    {
      ms: Type.Number({ minimum: 0, description: 'Milliseconds to move the box clocks forward.' }),
      boxes: Type.Optional(BoxList),
      keep: Type.Optional(Type.Boolean({ description: 'Stay ahead instead of returning to real time.' })),
    },
    { additionalProperties: false },
  ),
);

const FleetAcme = component(
  'FleetAcme',
  Type.Object(
    {
      boxes: Type.Optional(BoxList),
      acmeServerUrl: Type.Optional(
        Type.String({ maxLength: 2048, description: 'Issue: the ACME directory URL; default the lab CA.' }),
      ),
      algorithm: Type.Optional(
        StringEnum(KEY_ALGORITHMS, {
          description: "Issue: the key algorithm (the CLI's words); default the topology's.",
        }),
      ),
      renewDays: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: MAX_RENEW_DAYS,
          description: "Issue: renew days; default the topology's.",
        }),
      ),
    },
    { additionalProperties: false },
  ),
);

const Login = component(
  'Login',
  Type.Object(
    {
      user: Type.Optional(Type.String({ maxLength: 64, description: 'The lab admin (default admin).' })),
      password: Type.Optional(Type.String({ maxLength: 256, description: 'The lab admin password.' })),
      token: Type.Optional(Type.String({ maxLength: 256, description: 'Or the lab token instead.' })),
    },
    { additionalProperties: false },
  ),
);

const any = (description: string) => Type.Unsafe<unknown>({ type: 'object', description });
const list = (description: string) => Type.Unsafe<unknown>({ type: 'array', description });

// ------------------------------------------------------------------ routes

const planeRoute = route<PlaneCall>();

function send(ctx: Koa.Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.body = body;
}

/** The box-id of a path segment; 404 naming the lab's box-ids (as ranges: 10,000 of them) when there is no such box. */
function boxIdOf(lab: Lab, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || !lab.runner.has(n))
    throw new WebError(
      'not-found',
      `no box with box-id ${s.slice(0, 20)} (box-ids: ${formatBoxList(lab.runner.ids()) || 'none'})`,
    );
  return n;
}

/** A `boxes` selector given in a query: bounded like the one in a body. */
function selectorQuery(s: string): string {
  if (s.length === 0 || s.length > MAX_BOX_SELECTOR)
    throw new WebError(
      'bad-input',
      `boxes takes 1 to ${MAX_BOX_SELECTOR} characters, like "1,3,5", "2-4" or "all".`,
    );
  return s;
}

/** The boxes a `boxes` field names; a selector string is read by the CLI's own parser (parseBoxList). */
function boxesOf(lab: Lab, b: number[] | string | undefined): number[] {
  let ids: number[] | undefined;
  if (typeof b === 'string') {
    try {
      ids = parseBoxList(b);
    } catch {
      throw new WebError(
        'bad-input',
        `boxes takes box-ids like "1,3,5", "2-4" or "all", got "${clip(b, 40)}".`,
      );
    }
  } else ids = b;
  if (ids === undefined) return lab.runner.ids();
  return ids.map((x) => boxIdOf(lab, String(x)));
}

const BOX_VERBS = ['stop', 'start', 'kill', 'reload'] as const;

/** Every route of the control plane. */
export const ROUTES: readonly AnyRoute<PlaneCall>[] = [
  planeRoute({
    method: 'get',
    path: '/v1/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This document.',
    tags: ['meta'],
    extra: { security: [] },
    responses: { 200: { description: 'The OpenAPI 3.1 document.', schema: { type: 'object' } } },
    handler: (ctx, { document }) => send(ctx, 200, structuredClone(document)),
  }),
  planeRoute({
    method: 'get',
    path: '/v1',
    operationId: 'listRoutes',
    summary: 'The routes: method, path and summary of each.',
    tags: ['meta'],
    extra: { security: [] },
    responses: { 200: { description: 'One entry per route.', schema: list('{method, path, summary}') } },
    handler: (ctx) =>
      send(
        ctx,
        200,
        ROUTES.map((r) => ({
          method: r.method.toUpperCase(),
          path: toOpenApiPath(r.path),
          summary: r.summary,
        })),
      ),
  }),
  planeRoute({
    method: 'get',
    path: '/v1/boxes',
    operationId: 'listBoxes',
    summary: 'Every box: state, addresses, ports, certificate status, serial, expiry.',
    tags: ['boxes'],
    query: {
      boxes: 'Only these box-ids, like "1,3,5", "2-4" or "all" (absent: every box).',
      format:
        '"table": the text `lab status` prints (the table, a blank line, the count of boxes and certificates in each state); "summary": that last line only; "json" (default): LabBoxStatus[].',
    },
    responses: {
      200: { description: 'LabBoxStatus[] (or text/plain).', schema: list('LabBoxStatus[]') },
    },
    errors: ['NotFound', 'BadInput'],
    handler: (ctx, { lab, query }) => {
      const rows = lab.status(
        query.boxes === undefined ? undefined : boxesOf(lab, selectorQuery(query.boxes)),
      );
      if (query.format === undefined || query.format === 'json') return send(ctx, 200, rows);
      if (query.format !== 'table' && query.format !== 'summary')
        throw new WebError('bad-input', `format is json, table or summary, got "${clip(query.format, 20)}".`);
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body =
        query.format === 'table'
          ? `${statusTable(rows)}\n\n${statusSummary(rows)}\n`
          : `${statusSummary(rows)}\n`;
    },
  }),
  planeRoute({
    method: 'post',
    path: '/v1/boxes',
    operationId: 'addBox',
    summary: 'Add a box (started, configured, issued as the topology says).',
    tags: ['boxes'],
    body: AddBox,
    bodyRequired: false,
    responses: { 201: { description: 'The new box.', schema: any('LabBoxStatus') } },
    errors: ['Conflict'],
    handler: async (ctx, { lab, body }) => send(ctx, 201, await lab.addBox(body)),
  }),
  planeRoute({
    method: 'delete',
    path: '/v1/boxes/:id',
    operationId: 'removeBox',
    summary: 'Stop and remove a box.',
    tags: ['boxes'],
    params: { id: 'The box-id.' },
    responses: { 200: { description: '{removed: id}', schema: any('{removed: <box-id>}') } },
    errors: ['NotFound', 'Conflict'],
    handler: async (ctx, { lab, params }) => {
      const boxId = boxIdOf(lab, params.id);
      await lab.removeBox(boxId);
      send(ctx, 200, { removed: boxId });
    },
  }),
  ...BOX_VERBS.map((verb) =>
    planeRoute({
      method: 'post',
      path: `/v1/boxes/:id/${verb}`,
      operationId: `${verb}Box`,
      summary:
        verb === 'kill'
          ? 'Stop a box abruptly (no state flushed).'
          : `${verb[0]!.toUpperCase()}${verb.slice(1)} one box; the others keep serving.`,
      tags: ['boxes'],
      params: { id: 'The box-id.' },
      responses: { 200: { description: 'The box after it.', schema: any('LabBoxStatus') } },
      errors: ['NotFound', 'Conflict'],
      handler: async (ctx, { lab, params }) => {
        const boxId = boxIdOf(lab, params.id);
        await lab.runner[verb](boxId);
        send(ctx, 200, lab.boxStatus(boxId));
      },
    }),
  ),
  planeRoute({
    method: 'post',
    path: '/v1/session',
    operationId: 'login',
    summary: 'Dashboard login: the lab admin password or the token; sets the session cookie (HTTPS only).',
    description:
      'Answers {user, csrfToken, expiresAt} and sets `__Host-gvos-lab` (HttpOnly, Secure, SameSite=Strict). ' +
      'With the cookie, every change must send the X-CSRF-Token header. 5 failed logins from a source within a minute lock it out for a minute (429).',
    tags: ['dashboard'],
    extra: { security: [] },
    body: Login,
    responses: { 200: { description: 'The session.', schema: any('{user, csrfToken, expiresAt}') } },
    errors: ['Unauthenticated', 'TooManyAttempts'],
    handler: (ctx, { auth, body }) => send(ctx, 200, auth.login(ctx, body)),
  }),
  planeRoute({
    method: 'get',
    path: '/v1/session',
    operationId: 'getSession',
    summary: "The dashboard session's user and CSRF token (a reloaded page asks here).",
    tags: ['dashboard'],
    responses: { 200: { description: 'The session.', schema: any('{user, csrfToken, expiresAt}') } },
    handler: (ctx, { auth, session }) => {
      if (!session) throw new WebError('not-found', 'no dashboard session: this request came with the token');
      send(ctx, 200, auth.info(session));
    },
  }),
  planeRoute({
    method: 'delete',
    path: '/v1/session',
    operationId: 'logout',
    summary: 'End the dashboard session and clear its cookie.',
    tags: ['dashboard'],
    responses: { 204: { description: 'Logged out.' } },
    handler: (ctx, { auth }) => {
      auth.logout(ctx);
      ctx.status = 204;
    },
  }),
  planeRoute({
    method: 'get',
    path: '/v1/dashboard/boxes',
    operationId: 'dashboardBoxes',
    summary:
      'Every box as the dashboard shows it: model, crypto mode, firmware, state, certificate, next renewal, last request, clock offset, faults, GUI URL.',
    tags: ['dashboard'],
    query: { ids: 'Comma-separated box-ids (at most the lab size limit); absent: every box.' },
    responses: {
      200: {
        description: 'DashboardRow[]',
        schema: list('DashboardRow[]'),
        headers: { 'X-Lab-Event-Seq': 'The last event (GET /v1/events) these rows include.' },
      },
    },
    errors: ['NotFound', 'BadInput'],
    handler: (ctx, { lab, query }) => {
      // Read before the rows: an event after this number may or may not be in them, so the page re-reads its box.
      ctx.set('X-Lab-Event-Seq', String(lab.events.lastSeq));
      if (query.ids === undefined) return send(ctx, 200, dashboardRows(lab));
      const ids = query.ids.split(',', MAX_LAB_BOXES + 1);
      if (ids.length > MAX_LAB_BOXES) throw new WebError('bad-input', `at most ${MAX_LAB_BOXES} box-ids`);
      // Boxes removed since the page saw them are left out: the page drops a row it does not get back on a full read.
      const known = ids.map(Number).filter((id) => lab.runner.has(id));
      send(
        ctx,
        200,
        known.map((id) => dashboardRow(lab, id)),
      );
    },
  }),
  planeRoute({
    method: 'get',
    path: '/v1/dashboard/stream',
    operationId: 'dashboardStream',
    summary:
      "The dashboard's live view (server-sent events): every box's row, then only the fields that change, with the events for the feed.",
    description:
      'Each SSE event is `event: dashboard`, `id: <newest lab event seq>`, `data: DashboardMessage` ' +
      '(src/lab/dashboard/stream.ts): the first has `whole: true` and every DashboardRow plus the last 50 lab events ' +
      '(a reconnect with Last-Event-ID: the events after it); then, as changes happen (at most one message every 50 ms), `whole: false` with patches ' +
      '({boxId, ...changed fields}), `removed` box-ids and the new events. A comment line every 15 s keeps it open.',
    tags: ['dashboard'],
    responses: {
      200: { description: 'text/event-stream of DashboardMessage.', schema: any('DashboardMessage stream') },
    },
    errors: ['BadInput'],
    handler: (ctx, { lab }) => {
      const raw = ctx.get('Last-Event-ID');
      if (raw && !/^\d{1,15}$/.test(raw))
        throw new WebError('bad-input', `Last-Event-ID must be a sequence number, got ${raw.slice(0, 20)}`);
      streamDashboard(ctx, lab, raw ? Number(raw) : undefined);
    },
  }),
  planeRoute({
    method: 'get',
    path: '/v1/faults',
    operationId: 'listFaults',
    summary: 'Every fault of every box, on or off, with its count.',
    tags: ['faults'],
    responses: { 200: { description: 'FaultState[]', schema: list('FaultState[]') } },
    handler: (ctx, { lab }) => send(ctx, 200, lab.faults.list(lab.runner.ids())),
  }),
  planeRoute({
    method: 'post',
    path: '/v1/faults',
    operationId: 'setFault',
    summary: 'Turn a fault on or off on some boxes.',
    tags: ['faults'],
    body: SetFault,
    responses: { 200: { description: 'FaultState[] of those boxes.', schema: list('FaultState[]') } },
    errors: ['NotFound', 'Conflict'],
    handler: (ctx, { lab, body }) =>
      send(ctx, 200, lab.setFault(body.fault, body.on, boxesOf(lab, body.boxes), body.delayMs)),
  }),
  planeRoute({
    method: 'post',
    path: '/v1/time/advance',
    operationId: 'advanceTime',
    summary: 'Move box clocks forward: due renewals run now.',
    tags: ['time'],
    body: AdvanceTime,
    responses: {
      200: {
        description: '[{boxId, offsetMs, warning?}]',
        schema: list(
          '[{boxId, offsetMs, warning?}]: warning (with keep) when certificates the CA issues now are already due by that box clock',
        ),
      },
    },
    errors: ['NotFound'],
    handler: (ctx, { lab, body }) =>
      send(ctx, 200, lab.advanceTime(body.ms, boxesOf(lab, body.boxes), body.keep ?? false)),
  }),
  ...FLEET_OPS.map((op) =>
    planeRoute({
      method: 'post',
      path: `/v1/acme/${op}`,
      operationId: `acme${op[0]!.toUpperCase()}${op.slice(1)}`,
      summary: `Fleet ACME ${op} (what GigaVUE-FM's global configuration does).`,
      description:
        'The answer is NDJSON (application/x-ndjson): {"event":"result",...} per box as it finishes, then {"event":"done","results":[...]}.',
      tags: ['acme'],
      body: FleetAcme,
      bodyRequired: false,
      responses: { 200: { description: 'NDJSON progress lines, then the results.' } },
      errors: ['NotFound'],
      handler: (ctx, { lab, body }) => {
        const boxes = boxesOf(lab, body.boxes);
        const settings: FleetIssueSettings = {
          ...(body.acmeServerUrl ? { directoryUrl: body.acmeServerUrl } : {}),
          ...(body.algorithm ? { keyAlgorithm: body.algorithm } : {}),
          ...(body.renewDays ? { renewDays: body.renewDays } : {}),
        };
        // Progress as it happens: one NDJSON line per box, then the table.
        const out = new PassThrough();
        ctx.status = 200;
        ctx.type = 'application/x-ndjson';
        ctx.body = out;
        lab
          .fleet(op, boxes, (r) => out.write(JSON.stringify({ event: 'result', ...r }) + '\n'), {
            settings: () => settings,
          })
          .then(
            (results) => out.end(JSON.stringify({ event: 'done', results }) + '\n'),
            (err: unknown) =>
              out.end(
                JSON.stringify({ event: 'error', detail: (err as Error).message?.split('\n')[0] }) + '\n',
              ),
          );
      },
    }),
  ),
  planeRoute({
    method: 'get',
    path: '/v1/events',
    operationId: 'listEvents',
    summary:
      'The lab event feed (LabEvent, src/lab/lab-events.ts), oldest first; with Accept: text/event-stream, a live stream.',
    description:
      'JSON: the kept events with seq > `since` (default 0: all kept, the newest 10,000). ' +
      'If the first has seq > since + 1, events were dropped from the ring: reload the state. ' +
      'Server-sent events (Accept: text/event-stream): those events, then each new one as it happens, ' +
      'as `id: <seq>` and `data: <LabEvent JSON>`; a reconnecting client sends Last-Event-ID instead of `since`. ' +
      'A comment line every 15 s keeps the stream open.',
    tags: ['lab'],
    query: { since: 'A sequence number: only events after it.' },
    responses: {
      200: {
        description: 'LabEvent[] (or text/event-stream).',
        schema: list('LabEvent[]: {seq, time, boxId, hostname, type, ...}'),
      },
    },
    errors: ['BadInput'],
    handler: (ctx, { lab, query }) => {
      const sse = ctx.accepts('application/json', 'text/event-stream') === 'text/event-stream';
      const raw = (sse ? ctx.get('Last-Event-ID') : '') || (query.since ?? '0');
      if (!/^\d{1,15}$/.test(raw))
        throw new WebError(
          'bad-input',
          `since (or Last-Event-ID) must be a sequence number, got ${raw.slice(0, 20)}`,
        );
      const since = Number(raw);
      if (!sse) return send(ctx, 200, lab.events.since(since));
      streamEvents(ctx, lab, since);
    },
  }),
  planeRoute({
    method: 'get',
    path: '/v1/inventory',
    operationId: 'getInventory',
    summary: 'box-id, hostname, address, ports and SNMP engine IDs for a manager.',
    tags: ['boxes'],
    query: {
      format: '"csv" for CSV; JSON otherwise.',
      pretty: '"true": the JSON indented by two spaces, as `lab inventory` prints it.',
    },
    responses: { 200: { description: 'InventoryRow[] (or text/csv).', schema: list('InventoryRow[]') } },
    handler: (ctx, { lab, query }) => {
      const rows = lab.inventory();
      if (query.format === 'csv') {
        ctx.type = 'text/csv';
        ctx.body = inventoryCsv(rows);
        return;
      }
      if (query.pretty === 'true') {
        ctx.type = 'application/json';
        ctx.body = JSON.stringify(rows, null, 2) + '\n';
        return;
      }
      send(ctx, 200, rows);
    },
  }),
  planeRoute({
    method: 'get',
    path: '/v1/info',
    operationId: 'getInfo',
    summary: 'The lab: name, DNS domain of the boxes, trap log, CA root, processes, addressing.',
    tags: ['lab'],
    responses: {
      200: { description: '{name, domain, trapLog, caRoot, processes, addressing}', schema: any('info') },
    },
    handler: (ctx, { lab }) =>
      send(ctx, 200, {
        name: lab.topology.lab,
        domain: lab.topology.domain,
        trapLog: lab.trapLog,
        caRoot: lab.caRootPem ?? null,
        processes: lab.processes,
        addressing: lab.runner.addressing.mode,
      }),
  }),
  ...(FM_ROUTES as readonly AnyRoute<PlaneCall>[]),
  planeRoute({
    method: 'post',
    path: '/v1/down',
    operationId: 'down',
    summary: 'Stop the lab: every box and every process it started.',
    tags: ['lab'],
    responses: { 200: { description: '{down: true}, then the lab stops.', schema: any('{down: true}') } },
    handler: (ctx, { onDown }) => {
      send(ctx, 200, { down: true });
      ctx.res.once('finish', () => onDown());
    },
  }),
];

/**
 * Answer this request with server-sent events: `start` gets the writer and
 * returns what stops its source. The stream ends when the client goes (or
 * falls SSE_MAX_QUEUED_BYTES behind, or the plane closes): the source is
 * stopped then, so no listener or timer outlives the connection.
 */
function serveSse(ctx: Koa.Context, start: (write: (chunk: string) => void) => () => void): void {
  const out = new PassThrough();
  ctx.status = 200;
  ctx.type = 'text/event-stream';
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('X-Accel-Buffering', 'no');
  ctx.body = out;
  let ended = false;
  // Set once start() returns: a stream cut while starting stops its source right after.
  const source: { stop?: () => void } = {};
  const keepalive = setInterval(() => write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
  keepalive.unref();
  function end(): void {
    if (ended) return;
    ended = true;
    source.stop?.();
    clearInterval(keepalive);
    out.end();
  }
  function write(chunk: string): void {
    if (ended) return;
    out.write(chunk);
    if (out.writableLength > SSE_MAX_QUEUED_BYTES) end();
  }
  // The retry hint first: a browser's EventSource reconnects after 1 s, sending Last-Event-ID.
  out.write('retry: 1000\n\n');
  source.stop = start(write);
  if (ended) source.stop();
  // The response's close: the client went or the plane closed the connection (not the request's, which
  // fires once its body was read).
  ctx.res.once('close', end);
}

/** Serve the bus as server-sent events: the kept events after `since`, then every new one. */
function streamEvents(ctx: Koa.Context, lab: Lab, since: number): void {
  serveSse(ctx, (write) => {
    const send = (e: LabEvent) => write(`id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`);
    // The bus is synchronous: nothing is published between reading the backlog and subscribing.
    for (const e of lab.events.since(since)) send(e);
    return lab.events.subscribe(send);
  });
}

/** Serve the dashboard's stream (dashboard/stream.ts): the whole fleet, then patches; `id:` is the lab event seq. */
function streamDashboard(ctx: Koa.Context, lab: Lab, afterSeq: number | undefined): void {
  serveSse(ctx, (write) => {
    const feed = new DashboardFeed(
      {
        events: lab.events,
        ids: () => lab.runner.ids(),
        row: (id) => (lab.runner.has(id) ? dashboardRow(lab, id) : undefined),
      },
      (m) => write(`id: ${m.seq}\nevent: dashboard\ndata: ${JSON.stringify(m)}\n\n`),
      { afterSeq },
    );
    return () => feed.close();
  });
}

const ERRORS: Record<string, [number, string]> = {
  BadInput: [400, 'Malformed JSON, wrong types, unknown fields, a body too slow (code bad-input).'],
  Unauthenticated: [
    401,
    'No bearer token or Basic admin credentials or wrong ones, and no dashboard session (code unauthenticated).',
  ],
  Forbidden: [
    403,
    "A change made with a dashboard session without its X-CSRF-Token, or a role below the route's x-min-role (code permission-denied).",
  ],
  TooManyAttempts: [429, 'Too many failed logins from this source (code too-many-attempts).'],
  NotFound: [404, 'No such box or path (code not-found).'],
  Conflict: [409, 'The lab refuses it now: a box not running, a box-id taken... (code conflict).'],
  PayloadTooLarge: [413, 'The body is over 64 KiB (code payload-too-large).'],
  UnsupportedMediaType: [415, 'The body is not JSON (code unsupported-media-type).'],
};

const PLANE: InterfaceSpec = {
  errorStatus: Object.fromEntries(Object.entries(ERRORS).map(([k, [s]]) => [k, s])),
  errorsOf: (r) => [
    ...(r.body ? ['BadInput', 'PayloadTooLarge', 'UnsupportedMediaType'] : []),
    ...(r.extra?.security ? [] : ['Unauthenticated']),
    ...(r.method !== 'get' && !r.extra?.security ? ['Forbidden'] : []),
  ],
};

/** The control plane's OpenAPI document (a fresh object each call). */
export function controlPlaneDocument(): OpenApiDocument {
  return {
    openapi: '3.1.0',
    info: {
      title: 'gvos-sim lab control plane',
      version: '1.0.0',
      description:
        'Drives a running lab: boxes, faults, box clocks, fleet ACME, inventory. `gvos-sim lab <verb>` is a client of it. ' +
        'Send "Authorization: Bearer <token>" (the token is in the lab state file, mode 0600), Basic with the lab\'s admin credentials, or log in at POST /v1/session ' +
        '(the dashboard at / does) and send the session cookie, with X-CSRF-Token on every change. ' +
        'Under /api/v1.3: the GigaVUE-FM-shaped fleet API (device ACME operations as tasks, per-device status, the global template).',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }, { basicAuth: [] }, { sessionCookie: [] }],
    paths: pathsOf(ROUTES as AnyRoute<never>[], PLANE),
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'The lab token (lab state file).' },
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: 'A dashboard session (POST /v1/session); changes also need the X-CSRF-Token header.',
        },
        basicAuth: { type: 'http', scheme: 'basic', description: "admin and the lab's admin password." },
      },
      responses: Object.fromEntries(
        Object.entries(ERRORS).map(([k, [, description]]) => [k, problemResponse(description)]),
      ),
      schemas: componentSchemas([Problem, AddBox, SetFault, AdvanceTime, FleetAcme, Login, ...FM_COMPONENTS]),
    },
  };
}

/** Where the routes are listed, for a 404. */
const ROUTES_AT = 'GET /v1';
/** The path prefixes the plane serves (its own, the FM-shaped API's). */
const SERVED = ['/v1', '/api/v1.3'];
/** The role of every identity the plane knows (PlaneAuth): the lab's admin. */
const PLANE_ROLE: Role = 'admin';

/**
 * The control plane's koa app (no socket: tests inject into its callback).
 * `onDown` runs after the answer to POST /v1/down was sent.
 */
export function createControlPlaneApp(
  lab: Lab,
  token: string,
  onDown: () => void,
  o: { bodyDeadlineMs?: number } = {},
): Koa {
  const auth = new PlaneAuth(token, lab.adminPassword, lab.clock);
  const document = controlPlaneDocument();
  const files = dashboardFiles();
  const fm = new FmFleet(lab);
  const router = new Router();
  mountRoutes<PlaneCall>(
    router,
    ROUTES,
    (ctx, r) => {
      if (r.extra?.security) return { lab, onDown, document, auth, session: undefined, fm };
      const session = auth.check(ctx);
      // Every identity of the plane (token, Basic admin, dashboard session) is the lab's admin; the check
      // stays so that a lesser identity added later meets the x-min-role the document shows.
      const needed = r.extra?.['x-min-role'] as Role | undefined;
      if (needed && !roleAllows(PLANE_ROLE, needed))
        throw new WebError('permission-denied', `${r.operationId} needs the ${needed} role.`);
      return { lab, onDown, document, auth, session, fm };
    },
    { maxBytes: MAX_BODY_BYTES, untypedIsJson: true, deadlineMs: o.bodyDeadlineMs ?? BODY_DEADLINE_MS },
  );
  const problems = problemMiddleware(silentLogger, {
    routesAt: ROUTES_AT,
    classify: (err) => {
      // Refusals of the lab (box not running, name taken...) are plain Errors: 409; programming errors stay 500.
      if (err instanceof WebError || isDeviceError(err) || !(err instanceof Error)) return undefined;
      if (err instanceof TypeError || err instanceof RangeError) return undefined;
      return {
        type: `${PROBLEM_TYPE_PREFIX}conflict`,
        title: 'Conflict',
        status: 409,
        detail: err.message.split('\n')[0]!,
        code: 'conflict',
      };
    },
  });
  const app = new Koa();
  reportAppErrors(app, lab.logger);
  app.use(async (ctx, next) => {
    // The dashboard's page is served here too: the same policy as a box's GUI (nothing inline, nothing from elsewhere).
    ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    if (ctx.secure) ctx.set('Strict-Transport-Security', 'max-age=31536000');
    await next();
    // A refusal sent before the body arrived: close, so a trickled body cannot hold the connection.
    if (ctx.status >= 400 && !ctx.req.complete) ctx.set('Connection', 'close');
  });
  app.use((ctx, next) =>
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- koa's Middleware type returns any
    problems(ctx, async () => {
      if (files.serve(ctx)) return;
      if (!SERVED.some((p) => ctx.path === p || ctx.path.startsWith(`${p}/`)))
        throw new WebError(
          'not-found',
          `No such path ${ctx.path.slice(0, 100)}; the routes are listed in ${ROUTES_AT}.`,
        );
      await (router.routes() as unknown as Koa.Middleware)(ctx, () =>
        // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- koa's Middleware type returns any
        (router.allowedMethods() as unknown as Koa.Middleware)(ctx, next),
      );
    }),
  );
  return app;
}

/**
 * The control plane of one lab (see the file comment): HTTP for the CLI on
 * 127.0.0.1, and HTTPS for the dashboard and anyone else (listenHttps). Both
 * serve the same app. listen() and listenHttps() once each; close() frees
 * their ports.
 */
export class ControlPlane {
  private readonly server: Server;
  private tlsServer: TlsServer | undefined;
  private readonly callback: ReturnType<Koa['callback']>;
  private port = 0;

  /** `onDown` runs after the answer to POST /v1/down was sent. */
  constructor(lab: Lab, token: string, onDown: () => void, o: { bodyDeadlineMs?: number } = {}) {
    this.callback = createControlPlaneApp(lab, token, onDown, o).callback();
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- koa's callback() catches its own errors
    this.server = createServer(this.callback);
    ControlPlane.limits(this.server);
  }

  // Fleet operations on many boxes answer after minutes, and the event stream stays open: no limit on
  // the whole exchange; the body has its own deadline (above) and the headers Node's.
  private static limits(server: Server | TlsServer): void {
    server.requestTimeout = 0;
    server.headersTimeout = 10_000;
  }

  /** Listen on 127.0.0.1 (port 0 = any free port); resolves the URL. */
  async listen(address = '127.0.0.1', port = 0): Promise<string> {
    this.port = await listenOn(this.server, address, port, 'the lab control plane');
    return `http://${address}:${this.port}`;
  }

  /**
   * Listen over HTTPS with these credentials (dashboard/plane-tls.ts) on
   * `address` (port 0 = any free port); resolves the port.
   */
  async listenHttps(
    creds: { certPem: string; keyPem: string },
    address = '127.0.0.1',
    port = 0,
  ): Promise<number> {
    this.tlsServer = createTlsServer(
      { cert: creds.certPem, key: creds.keyPem, minVersion: 'TLSv1.2' },
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- koa's callback() catches its own errors
      this.callback,
    );
    ControlPlane.limits(this.tlsServer);
    return listenOn(this.tlsServer, address, port, 'the lab dashboard (HTTPS)');
  }

  async close(): Promise<void> {
    const closing = [this.server, this.tlsServer].map((server) =>
      server?.listening
        ? new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          })
        : Promise.resolve(),
    );
    await Promise.all(closing);
  }
}
