/**
 * Roles, table-driven over the whole command tree and the whole REST API:
 *
 * - CLI: every command (one sample line per entry of src/cli/commands/, as
 *   src/cli/parser.test.ts walks the parser) runs through a real Session in
 *   every mode it exists in, as every role. A role below the entry's is
 *   refused with exactly "% Permission denied." and the box (saved document
 *   and running config) is unchanged; a role at or above it is never
 *   refused for its role, so the command layer (the Box) agrees with the
 *   CLI's table.
 * - REST: every route of src/web/api/router.ts, without credentials (401)
 *   and as every role: below the route's role 403 with code
 *   permission-denied and nothing changed; at or above it, no 401/403.
 *
 * parser.test.ts checks the same table at parse level; this runs the
 * commands and routes for real, so a Box method that asks more (or less)
 * than the table says shows here.
 */
import t from 'tap';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ALL_COMMANDS } from '../../src/cli/commands/index.js';
import { Session } from '../../src/cli/session.js';
import type { Mode } from '../../src/cli/tree.js';
import type { Box } from '../../src/device/box.js';
import { Cluster } from '../../src/device/cluster.js';
import { roleAllows, ROLES, type Role } from '../../src/device/roles.js';
import { ROUTES } from '../../src/web/api/router.js';
import { createHttpsApp } from '../../src/web/app.js';
import { ADMIN, makeTestBox, TEST_PASSWORD } from '../harness/boxes.js';
import { sampleLine } from '../harness/cli-grammar.js';

const DENIED = '% Permission denied.\n';
const PASSWORDS: Record<Role, [string, string]> = {
  admin: ['admin', TEST_PASSWORD],
  operator: ['op', 'Op3rator-pw'],
  monitor: ['mon', 'M0nitor-pw'],
};

async function boxWithUsers(): Promise<Box> {
  const { box } = await makeTestBox({});
  for (const role of ['operator', 'monitor'] as const) {
    const [user, pw] = PASSWORDS[role];
    box.setUserPassword(ADMIN, user, pw);
    box.setUserCapability(ADMIN, user, role);
  }
  await box.writeMemory(ADMIN);
  return box;
}

/** The box's whole state: saved document and running config. */
const stateOf = (box: Box) => JSON.stringify({ doc: box.snapshot(), running: box.config });

/** The lines that reach `mode` from a fresh exec session (which starts in enable mode). */
const ENTER: Record<Mode, string> = { standard: 'disable\n', enable: '', config: 'configure terminal\n' };

t.test('CLI: every command, in every mode it exists in, as every role', async (t) => {
  const box = await boxWithUsers();
  const c = new Cluster('roles');
  c.set(box);
  let refused = 0;
  let allowed = 0;
  for (const spec of ALL_COMMANDS) {
    const line = sampleLine(spec);
    for (const mode of spec.modes) {
      for (const role of ROLES) {
        // Monitors never reach config mode; their refusals there are the parser's (parser.test.ts).
        if (mode === 'config' && !roleAllows(role, 'operator')) continue;
        const session = new Session({
          cluster: c,
          boxId: box.boxId,
          user: PASSWORDS[role][0],
          role,
          source: 'roles-test',
          interactive: false,
          startMode: 'enable',
          write: () => undefined,
          close: () => undefined,
        });
        if (ENTER[mode]) await session.runOnce(ENTER[mode]);
        const before = stateOf(box);
        const out = await session.runOnce(line);
        const name = `${role} in ${mode} mode: ${line.split('\n')[0]}`;
        if (roleAllows(role, spec.role)) {
          allowed++;
          if (out === DENIED) t.fail(`${name}: refused although the table allows ${spec.role}`);
        } else {
          refused++;
          t.equal(out, DENIED, `${name}: refused`);
          t.equal(stateOf(box), before, `${name}: nothing changed`);
        }
      }
    }
  }
  t.ok(refused >= 10 && allowed > 100, `${refused} refusals and ${allowed} allowed runs checked`);
});

/** A request to the in-process API over plain HTTP (roles, not TLS, are under test). */
function call(port: number, method: string, path: string, auth: string | undefined, body?: unknown) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<{ status: number; json: { code?: string; detail?: string; token?: string } }>(
    (resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method,
          path,
          headers: {
            ...(auth ? { Authorization: auth } : {}),
            ...(payload
              ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }
              : {}),
          },
        },
        (res) => {
          let text = '';
          // A server-sent-event stream (GET /acme/events) never ends: its status is the answer here.
          if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
            resolve({ status: res.statusCode ?? 0, json: {} });
            req.destroy();
            return;
          }
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            let json = {};
            try {
              json = text ? JSON.parse(text) : {};
            } catch {
              // Not JSON: only the status matters then.
            }
            resolve({ status: res.statusCode ?? 0, json });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    },
  );
}

t.test('REST: every route, without credentials and as every role', async (t) => {
  const box = await boxWithUsers();
  const app = createHttpsApp(() => box);
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- koa's callback() catches its own errors
  const server: Server = createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  // One session token per role: HTTP Basic would hash a password on every request.
  const bearer = {} as Record<Role, string>;
  for (const role of ROLES) {
    const [username, password] = PASSWORDS[role];
    const r = await call(port, 'POST', '/api/v1/login', undefined, { username, password });
    bearer[role] = `Bearer ${r.json.token}`;
  }
  let checked = 0;
  for (const r of ROUTES) {
    if (!r.role) continue;
    const path = '/api/v1' + r.path.replace(/:[A-Za-z]+/g, 'x1');
    const method = r.method.toUpperCase();
    const body = method === 'GET' || method === 'DELETE' ? undefined : {};
    const anon = await call(port, method, path, undefined, body);
    t.equal(anon.status, 401, `${method} ${r.path} without credentials: 401`);
    for (const role of ROLES) {
      const before = stateOf(box);
      const res = await call(port, method, path, bearer[role], body);
      checked++;
      if (roleAllows(role, r.role)) {
        t.notOk([401, 403].includes(res.status), `${method} ${r.path} as ${role}: allowed (${res.status})`);
        // The logout route ends the session: log in again for the next rows.
        if (r.path === '/logout') {
          const [username, password] = PASSWORDS[role];
          bearer[role] =
            `Bearer ${(await call(port, 'POST', '/api/v1/login', undefined, { username, password })).json.token}`;
        }
      } else {
        t.equal(res.status, 403, `${method} ${r.path} as ${role}: 403`);
        t.match(res.json, { code: 'permission-denied', detail: 'Permission denied.' });
        t.equal(stateOf(box), before, `${method} ${r.path} as ${role}: nothing changed`);
      }
    }
  }
  t.ok(checked >= ROUTES.length * 2, `${checked} route and role pairs`);
});
