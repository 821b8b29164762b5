/**
 * The lab's control plane: HTTP on 127.0.0.1 with a bearer token, for
 * tests, demos and managers' test suites. `gvos-sim lab <verb>` is a client
 * of it. Every request needs `Authorization: Bearer <token>` (compared in
 * constant time); answers are JSON, errors `{ "error": "<one line>" }`.
 *
 * | method + path                    | body                                     | answer                          |
 * |----------------------------------|------------------------------------------|---------------------------------|
 * | GET  /v1/boxes                   |                                          | LabBoxStatus[]                  |
 * | POST /v1/boxes                   | {boxId?, hostname?, cryptoMode?, model?, firmware?} | LabBoxStatus          |
 * | DELETE /v1/boxes/<id>            |                                          | {removed: id}                   |
 * | POST /v1/boxes/<id>/<verb>       | verb: stop, start, kill, reload          | LabBoxStatus                    |
 * | GET  /v1/faults                  |                                          | FaultState[]                    |
 * | POST /v1/faults                  | {fault, on, boxes?, delayMs?}            | FaultState[] of those boxes     |
 * | POST /v1/time/advance            | {ms, boxes?, keep?}                      | [{boxId, offsetMs}]             |
 * | POST /v1/acme/<op>               | {boxes?}; op: issue, renew, revoke, clear | NDJSON: {event:"result",...} per box, then {event:"done",results} |
 * | GET  /v1/inventory[?format=csv]  |                                          | InventoryRow[] or CSV           |
 * | GET  /v1/info                    |                                          | {name, trapLog, caRoot, processes} |
 * | POST /v1/down                    |                                          | {down: true}, then the lab stops |
 *
 * `boxes` is a list of box-ids; absent = every box. Requests are handled
 * concurrently; operations on one box are serialised by the runner.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { listenOn } from '../web/server.js';
import { CRYPTO_MODES, type CryptoMode } from '../device/model.js';
import { FAULT_NAMES, type FaultName } from './faults.js';
import { FLEET_OPS, inventoryCsv, type FleetOp, type Lab } from './lab.js';

/** A refusal of the control plane: HTTP status and one line. */
class PlaneError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 64 * 1024;

/** The control plane of one lab (see the file comment); listen() once, close() frees its port. */
export class ControlPlane {
  private readonly server: Server;
  private readonly token: Buffer;
  private port = 0;

  /** `onDown` runs after the answer to POST /v1/down was sent. */
  constructor(
    private readonly lab: Lab,
    token: string,
    private readonly onDown: () => void,
  ) {
    this.token = Buffer.from(`Bearer ${token}`);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // Refusals of the lab (box not running, name taken...) are plain Errors: 409; programming errors stay 500.
        const status =
          err instanceof PlaneError
            ? err.status
            : err instanceof TypeError || err instanceof RangeError
              ? 500
              : 409;
        const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
        if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: msg }) + '\n');
      });
    });
    this.server.requestTimeout = 0; // fleet operations on 50 boxes take longer than a default timeout
  }

  /** Listen on 127.0.0.1 (port 0 = any free port); resolves the URL. */
  async listen(address = '127.0.0.1', port = 0): Promise<string> {
    this.port = await listenOn(this.server, address, port, 'the lab control plane');
    return `http://${address}:${this.port}`;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  private authorized(req: IncomingMessage): boolean {
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === this.token.length && timingSafeEqual(got, this.token);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.authorized(req))
      throw new PlaneError(401, 'missing or wrong bearer token (see the lab state file)');
    const url = new URL(req.url ?? '/', 'http://lab');
    const parts = url.pathname.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    const body = method === 'POST' ? await readJson(req) : {};
    const send = (v: unknown, status = 200) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v) + '\n');
    };
    const lab = this.lab;
    if (parts[0] !== 'v1') throw new PlaneError(404, `no such path ${url.pathname}; see GET /v1/boxes`);
    const [, what, id, verb] = parts;
    switch (`${method} ${what}${id !== undefined ? '/:id' : ''}${verb !== undefined ? '/:verb' : ''}`) {
      case 'GET boxes':
        return send(lab.status());
      case 'POST boxes': {
        const cryptoMode = optional(body, 'cryptoMode', 'string');
        if (cryptoMode !== undefined && !(CRYPTO_MODES as readonly string[]).includes(cryptoMode)) {
          throw new PlaneError(400, `cryptoMode must be one of ${CRYPTO_MODES.join(', ')}`);
        }
        const spec = {
          ...(optional(body, 'boxId', 'number') !== undefined
            ? { boxId: optional(body, 'boxId', 'number') }
            : {}),
          ...(optional(body, 'hostname', 'string') ? { hostname: optional(body, 'hostname', 'string') } : {}),
          ...(optional(body, 'model', 'string') ? { model: optional(body, 'model', 'string') } : {}),
          ...(optional(body, 'firmware', 'string') ? { firmware: optional(body, 'firmware', 'string') } : {}),
          ...(cryptoMode ? { cryptoMode: cryptoMode as CryptoMode } : {}),
        };
        return send(await lab.addBox(spec as Parameters<Lab['addBox']>[0]), 201);
      }
      case 'DELETE boxes/:id': {
        const boxId = this.boxId(id!);
        await lab.removeBox(boxId);
        return send({ removed: boxId });
      }
      case 'POST boxes/:id/:verb': {
        const boxId = this.boxId(id!);
        if (verb === 'stop') await lab.runner.stop(boxId);
        else if (verb === 'start') await lab.runner.start(boxId);
        else if (verb === 'kill') await lab.runner.kill(boxId);
        else if (verb === 'reload') await lab.runner.reload(boxId);
        else throw new PlaneError(404, `unknown verb ${verb}; use stop, start, kill or reload`);
        return send(lab.boxStatus(boxId));
      }
      case 'GET faults':
        return send(lab.faults.list(lab.runner.ids()));
      case 'POST faults': {
        const fault = optional(body, 'fault', 'string');
        if (!fault || !(FAULT_NAMES as readonly string[]).includes(fault))
          throw new PlaneError(400, `fault must be one of ${FAULT_NAMES.join(', ')}`);
        const on = optional(body, 'on', 'boolean');
        if (on === undefined) throw new PlaneError(400, 'on must be true or false');
        const delayMs = optional(body, 'delayMs', 'number');
        try {
          return send(lab.setFault(fault as FaultName, on, this.boxes(body), delayMs));
        } catch (err) {
          throw new PlaneError(409, (err as Error).message);
        }
      }
      case 'POST time/:id': {
        if (id !== 'advance') throw new PlaneError(404, 'use POST /v1/time/advance');
        const ms = optional(body, 'ms', 'number');
        if (ms === undefined || !(ms >= 0) || !Number.isFinite(ms))
          throw new PlaneError(400, 'ms must be a number of milliseconds >= 0');
        return send(lab.advanceTime(ms, this.boxes(body), optional(body, 'keep', 'boolean') ?? false));
      }
      case 'POST acme/:id': {
        const op = id as FleetOp;
        if (!(FLEET_OPS as readonly string[]).includes(op))
          throw new PlaneError(404, `unknown ACME operation ${id}; use ${FLEET_OPS.join(', ')}`);
        const boxes = this.boxes(body);
        // Progress as it happens: one NDJSON line per box, then the table.
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        const results = await lab.fleet(op, boxes, (r) =>
          res.write(JSON.stringify({ event: 'result', ...r }) + '\n'),
        );
        res.end(JSON.stringify({ event: 'done', results }) + '\n');
        return;
      }
      case 'GET inventory': {
        const rows = lab.inventory();
        if (url.searchParams.get('format') === 'csv') {
          res.writeHead(200, { 'content-type': 'text/csv' });
          res.end(inventoryCsv(rows));
          return;
        }
        return send(rows);
      }
      case 'GET info':
        return send({
          name: lab.topology.lab,
          trapLog: lab.trapLog,
          caRoot: lab.caRootPem ?? null,
          processes: lab.processes,
          addressing: lab.runner.addressing.mode,
        });
      case 'POST down':
        send({ down: true });
        res.once('finish', () => this.onDown());
        return;
      default:
        throw new PlaneError(404, `no such request ${method} ${url.pathname}`);
    }
  }

  private boxId(s: string): number {
    const n = Number(s);
    if (!Number.isInteger(n) || !this.lab.runner.has(n))
      throw new PlaneError(
        404,
        `no box with box-id ${s} (box-ids: ${this.lab.runner.ids().join(', ') || 'none'})`,
      );
    return n;
  }

  private boxes(body: Record<string, unknown>): number[] {
    const b = body['boxes'];
    if (b === undefined || b === 'all') return this.lab.runner.ids();
    if (!Array.isArray(b) || b.length === 0)
      throw new PlaneError(400, 'boxes must be a non-empty list of box-ids or "all"');
    return b.map((x) => this.boxId(String(x)));
  }
}

function optional<T extends 'string' | 'number' | 'boolean'>(
  body: Record<string, unknown>,
  key: string,
  type: T,
): (T extends 'string' ? string : T extends 'number' ? number : boolean) | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== type) throw new PlaneError(400, `${key} must be a ${type}`);
  return v as never;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new PlaneError(413, 'request body too large (64 KiB at most)');
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new PlaneError(400, 'the body must be a JSON object');
  }
}
