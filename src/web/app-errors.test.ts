// A client leaving a server-sent-event stream prints nothing; another failure
// of an answer is one logged line, never koa's stack on stderr.
import t, { type Test } from 'tap';
import Koa from 'koa';
import { createServer, get } from 'node:http';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { reportAppErrors } from './app-errors.js';
import type { Logger } from '../lib/logger.js';

function recordingLogger(lines: string[]): Logger {
  const log: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (msg, fields) => void lines.push(`${msg} ${JSON.stringify(fields)}`),
    child: () => log,
  };
  return log;
}

/** An app whose one answer is a stream the test controls; resolves when a client has it open. */
async function streamingServer(t: Test, lines: string[]) {
  const app = new Koa();
  reportAppErrors(app, recordingLogger(lines));
  const body = new PassThrough();
  app.use((ctx) => {
    ctx.type = 'text/event-stream';
    ctx.body = body;
    body.write('retry: 1000\n\n');
  });
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- koa's callback() catches its own errors
  const server = createServer(app.callback());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const req = get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const [res] = (await once(req, 'response')) as [NodeJS.ReadableStream];
  await once(res, 'data');
  return { body, req };
}

t.test('a client closing its stream: nothing logged, nothing on stderr', async (t) => {
  const lines: string[] = [];
  const printed: unknown[] = [];
  const consoleError = console.error;
  console.error = (...a: unknown[]) => void printed.push(a);
  t.teardown(() => (console.error = consoleError));
  const { req } = await streamingServer(t, lines);
  req.on('error', () => undefined);
  req.destroy();
  await new Promise((r) => setTimeout(r, 200));
  t.same(lines, []);
  t.same(printed, [], "koa's default stack print is replaced");
});

t.test('a stream that fails otherwise: one error line with its message', async (t) => {
  const lines: string[] = [];
  const { body, req } = await streamingServer(t, lines);
  req.on('error', () => undefined);
  body.destroy(new Error('disk gone'));
  await new Promise((r) => setTimeout(r, 200));
  t.equal(lines.length, 1, lines.join(' / '));
  t.match(lines[0], /web answer failed .*disk gone/);
});
