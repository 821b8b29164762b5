import t from 'tap';
import { createServer, type Server } from 'node:net';
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
});

// No loopback address makes a TCP listen fail with EADDRNOTAVAIL (every
// address in 127.0.0.0/8 and ::1 binds), and the tests name no other
// address: the server below fails its listen with the error the kernel
// gives for an address the host does not have (a box configured with
// someone else's address), so the words a user reads for it are checked.
t.test('listenOn names an address the host does not have, and leaves the server closed', async (t) => {
  const s = createServer();
  s.listen = function (this: Server) {
    const err: NodeJS.ErrnoException = new Error('listen EADDRNOTAVAIL: address not available 127.0.0.9:0');
    err.code = 'EADDRNOTAVAIL';
    err.syscall = 'listen';
    process.nextTick(() => this.emit('error', err));
    return this;
  } as Server['listen'];
  await t.rejects(listenOn(s, '127.0.0.9', 0, 'third'), {
    message:
      'third: cannot listen on 127.0.0.9:0: the address is not configured on this host (EADDRNOTAVAIL).',
  });
  t.notOk(s.listening, 'the failed server is not listening');
  t.equal(s.listenerCount('listening'), 0, 'and listenOn left no handler on it');
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
