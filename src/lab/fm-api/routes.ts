/**
 * The GigaVUE-FM-shaped fleet API: routes of the lab's control plane (its
 * table, its authentication, body limit and OpenAPI document), under FM's
 * prefix /api/v1.3 so automation written against the manager's API can
 * drive a simulated fleet:
 * - GET  /api/v1.3/acme/certificate/nodes[/{clusterId}]: per-device issuedCert / lastAcmeRequest;
 * - POST /api/v1.3/acme/certificate/nodes/{issue|renew|revoke|clear}: 202 with a task;
 * - GET  /api/v1.3/acme/certificate/tasks/{taskId}: progress and per-device results;
 * - GET|PUT|POST /api/v1.3/acme/certificate/globalConfig: the global template.
 * Reads need the monitor role, operations admin (x-min-role, checked by the control plane).
 */
import type Koa from 'koa';
import { route, type AnyRoute } from '../../web/api/route-table.js';
import { FLEET_OPS, type Lab } from '../lab.js';
import type { FmFleet } from './fm-fleet.js';
import {
  AcmeGlobalConfigDetails,
  FmAcmeNode,
  FmAcmeNodes,
  FmAcmeOperation,
  FmTask,
  FmTaskAccepted,
} from './models.js';

/** What the FM routes get from the control plane. */
export interface FmCall {
  lab: Lab;
  fm: FmFleet;
}

// EMULATION: FM's prefix for the device ACME paths; FM 6.14 serves /api/v1.3 (reference §4).
const PREFIX = '/api/v1.3/acme/certificate';
// EMULATION: FM's paths of the task and of the global template are not in its public schema.
const TASKS = `${PREFIX}/tasks`;
const GLOBAL = `${PREFIX}/globalConfig`;

const fmRoute = route<FmCall>();
const read = { 'x-min-role': 'monitor' };
const write = { 'x-min-role': 'admin' };

function send(ctx: Koa.Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.body = body;
}

/** 202 with the task's id and where to poll it. */
function accepted(ctx: Koa.Context, taskId: string): void {
  const statusUrl = `${TASKS}/${taskId}`;
  ctx.set('Location', statusUrl);
  send(ctx, 202, { taskId, statusUrl });
}

const acceptedAnswer = {
  202: {
    description: 'The task was created; poll statusUrl.',
    schema: FmTaskAccepted,
    headers: { Location: 'The task (statusUrl).' },
  },
};

/** Every route of the FM-shaped API. */
export const FM_ROUTES: readonly AnyRoute<FmCall>[] = [
  fmRoute({
    method: 'get',
    path: `${PREFIX}/nodes`,
    operationId: 'fmListAcmeNodes',
    summary: 'Every box: issuedCert and lastAcmeRequest (GigaVUE-FM device ACME details).',
    tags: ['fm'],
    extra: read,
    responses: { 200: { description: 'The boxes, by box-id.', schema: FmAcmeNodes } },
    handler: (ctx, { fm }) => send(ctx, 200, { certificateInfo: fm.nodes() }),
  }),
  fmRoute({
    method: 'get',
    path: `${PREFIX}/nodes/:clusterId`,
    operationId: 'fmGetAcmeNode',
    summary: 'One box by clusterId (its hostname, lab name or address).',
    tags: ['fm'],
    extra: read,
    params: { clusterId: "The box's hostname, lab name or address." },
    responses: { 200: { description: 'The box.', schema: FmAcmeNode } },
    errors: ['NotFound'],
    handler: (ctx, { fm, params }) => send(ctx, 200, fm.node(params.clusterId)),
  }),
  ...FLEET_OPS.map((op) =>
    fmRoute({
      method: 'post',
      path: `${PREFIX}/nodes/${op}`,
      operationId: `fmAcme${op[0]!.toUpperCase()}${op.slice(1)}`,
      summary: `ACME ${op} on the boxes of the acmeCertificate entries (all boxes when none).`,
      description:
        'Each entry selects boxes by clusterId, boxIds or domain; its absent fields come from the global template. ' +
        'Runs as `lab acme ' +
        op +
        '` does; answers 202 at once with the task.',
      tags: ['fm'],
      extra: write,
      body: FmAcmeOperation,
      bodyRequired: false,
      responses: acceptedAnswer,
      errors: ['NotFound'],
      handler: (ctx, { fm, body }) => accepted(ctx, fm.start(op, body.acmeCertificate ?? [])),
    }),
  ),
  fmRoute({
    method: 'get',
    path: `${TASKS}/:taskId`,
    operationId: 'fmGetTask',
    summary: 'A fleet operation: progress and the result of each box that finished.',
    tags: ['fm'],
    extra: read,
    params: { taskId: 'The taskId of the 202 answer.' },
    responses: { 200: { description: 'The task.', schema: FmTask } },
    errors: ['NotFound'],
    handler: (ctx, { fm, params }) => send(ctx, 200, fm.task(params.taskId)),
  }),
  fmRoute({
    method: 'get',
    path: GLOBAL,
    operationId: 'fmGetGlobalConfig',
    summary: 'The global ACME template (AcmeGlobalConfigDetails).',
    tags: ['fm'],
    extra: read,
    responses: { 200: { description: 'The template.', schema: AcmeGlobalConfigDetails } },
    handler: (ctx, { fm }) => send(ctx, 200, fm.globalTemplate()),
  }),
  fmRoute({
    method: 'put',
    path: GLOBAL,
    operationId: 'fmSetGlobalConfig',
    summary: 'Store the global ACME template (the fields given); operations without their own fields use it.',
    tags: ['fm'],
    extra: write,
    body: AcmeGlobalConfigDetails,
    responses: { 200: { description: 'The template now.', schema: AcmeGlobalConfigDetails } },
    handler: (ctx, { fm, body }) => send(ctx, 200, fm.setGlobalTemplate(body)),
  }),
  fmRoute({
    method: 'post',
    path: GLOBAL,
    operationId: 'fmApplyGlobalConfig',
    summary: 'Store the global ACME template and run its operationType on every box.',
    tags: ['fm'],
    extra: write,
    body: AcmeGlobalConfigDetails,
    responses: acceptedAnswer,
    handler: (ctx, { fm, body }) => {
      const t = fm.setGlobalTemplate(body);
      accepted(ctx, fm.start(t.operationType, []));
    },
  }),
];
