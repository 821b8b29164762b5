import t from 'tap';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { canListen, freePort, hostPort, listenOn, urlHostPort } from './net.js';

t.test('hostPort brackets IPv6 only', async (t) => {
  t.equal(hostPort('127.0.0.1', 22), '127.0.0.1:22');
  t.equal(hostPort('::1', 22), '[::1]:22');
});

t.test('urlHostPort: host without brackets, default port by scheme', async (t) => {
  t.same(urlHostPort('https://127.0.0.1:14000/dir'), ['127.0.0.1', 14000]);
  t.same(urlHostPort('https://[::1]/dir'), ['::1', 443]);
  t.same(urlHostPort('http://ca.lab.test/x'), ['ca.lab.test', 80]);
});

t.test('listenOn resolves the bound port, and names address, port and cause when taken', async (t) => {
  const a = createServer();
  const port = await listenOn(a, '127.0.0.1', 0, 'first');
  t.teardown(() => a.close());
  t.ok(port > 0, 'port 0 gives the real port');
  t.notOk(await canListen('127.0.0.1', port), 'canListen sees it taken');
  const b = createServer();
  await t.rejects(listenOn(b, '127.0.0.1', port, 'second'), {
    message: `second: cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE).`,
  });
  t.notOk(b.listening, 'the failed server is not listening');
  await t.rejects(listenOn(createServer(), '192.0.2.1', 0, 'third'), {
    message:
      /third: cannot listen on 192\.0\.2\.1:0: the address is not configured on this host \(EADDRNOTAVAIL\)/,
  });
});

t.test('freePort gives a port free for the protocol asked', async (t) => {
  const tcp = await freePort();
  t.ok(await canListen('127.0.0.1', tcp), 'TCP port free');
  for (const proto of ['udp', 'both'] as const) {
    const p = await freePort('127.0.0.1', proto);
    const ok = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(p, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    t.ok(ok, `${proto}: UDP port ${p} binds`);
    if (proto === 'both') t.ok(await canListen('127.0.0.1', p), 'and TCP too');
  }
});
