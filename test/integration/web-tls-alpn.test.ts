/**
 * The https port's front (src/web/tls-alpn.ts): Pebble validates ACME
 * tls-alpn-01 on it (RFC 8737, for a DNS name and for an IP identifier,
 * RFC 8738 §6), while ordinary HTTPS on the same port is untouched; and the
 * routing holds for awkward clients: a hello split over several TCP
 * segments, a client offering acme-tls/1 among other protocols, acme-tls/1
 * with nothing pending, bytes that are not TLS, an idle connection at close.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { freePort } from '../../src/lib/net.js';
import { ACME_TLS_ALPN_PROTOCOL } from '../../src/device/challenge-tokens.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { createSelfSigned } from '../../src/pki/self-signed.js';
import { ADMIN } from '../harness/boxes.js';
import { nextEvent, opensslVerify, startAcmeBox, startPebble } from '../harness/pebble.js';

/** A fresh handshake offering `alpn`; resolves the negotiated protocol and the leaf, or rejects with the TLS error. */
function handshake(port: number, o: { alpn: string[]; servername?: string; ca?: string }) {
  return new Promise<{ protocol: string | false | null; leaf: X509Certificate }>((resolve, reject) => {
    const s = tlsConnect(
      {
        host: '127.0.0.1',
        port,
        ALPNProtocols: o.alpn,
        ...(o.servername ? { servername: o.servername } : {}),
        ...(o.ca ? { ca: o.ca } : { rejectUnauthorized: false }),
        // Only the routing is checked here; names are checked by the Pebble validation and the chain test.
        checkServerIdentity: () => undefined,
      },
      () => {
        const r = { protocol: s.alpnProtocol, leaf: new X509Certificate(s.getPeerCertificate().raw) };
        s.destroy();
        resolve(r);
      },
    );
    s.once('error', reject);
  });
}

/** The raw ClientHello a Node TLS client sends for these options (captured by a plain TCP server). */
async function rawClientHello(alpn: string[], servername: string): Promise<Buffer> {
  const server = createNetServer();
  const hello = new Promise<Buffer>((resolve) =>
    server.once('connection', (sock) => sock.once('data', (d: Buffer) => (resolve(d), sock.destroy()))),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const client = tlsConnect({
    host: '127.0.0.1',
    port,
    servername,
    ALPNProtocols: alpn,
    rejectUnauthorized: false,
  });
  client.on('error', () => undefined);
  const data = await hello;
  client.destroy();
  server.close();
  return data;
}

/** Send `parts` with pauses between them; resolves the first bytes the server answers (or '' when it closes). */
function sendInParts(port: number, parts: Buffer[], pauseMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => {
      s.setNoDelay(true);
      void (async () => {
        for (const p of parts) {
          s.write(p);
          await new Promise((r) => setTimeout(r, pauseMs));
        }
      })();
    });
    s.once('data', (d: Buffer) => {
      s.destroy();
      resolve(d);
    });
    s.once('end', () => resolve(Buffer.alloc(0)));
    s.once('error', reject);
  });
}

t.test('Pebble validates tls-alpn-01 on the https port; HTTPS keeps working there', async (t) => {
  const httpsPort = await freePort('127.0.0.1');
  // http-01 answers nowhere: Pebble's VA dials an unused port, so only tls-alpn-01 can succeed.
  const pebble = await startPebble({ httpPort: await freePort('127.0.0.1'), tlsPort: httpsPort });
  t.teardown(() => pebble.stop());
  const ab = await startAcmeBox(pebble, {
    address: '127.0.0.1',
    httpPort: 0,
    httpsPort,
    settings: { challengeTypes: ['tls-alpn-01'] },
  });
  t.teardown(() => ab.stop());
  const { box, agent, web } = ab;
  t.equal(box.challenges.responders['tls-alpn-01'], true, 'the web server says it answers tls-alpn-01');

  for (const domain of ['box1.lab.test', '127.0.0.1']) {
    if (domain !== '127.0.0.1') await pebble.addA(domain, '127.0.0.1');
    if (box.acmeState().issued) await box.acmeClear(ADMIN);
    const before = web!.alpnHandshakes;
    const finished = nextEvent(box, 'acme-request-finished');
    await box.acmeIssue(ADMIN, { domain, directoryUrl: pebble.directoryUrl });
    await agent.idle();
    t.match(
      (await finished).request,
      { type: 'Issue', status: 'Success' },
      `${domain}: issued (${box.acmeState().lastRequest?.reason ?? 'ok'})`,
    );
    t.ok(web!.alpnHandshakes > before, `${domain}: Pebble's VA was answered with acme-tls/1`);
    t.equal(box.challenges.alpnSize, 0, 'no challenge certificate left behind');
    const served = await ab.served();
    t.equal(served.serial, box.acmeState().issued?.serial);
    t.match(
      await opensslVerify(served.chainPem, await pebble.root(), domain),
      /: OK$/,
      `${domain}: the served chain verifies against Pebble's root`,
    );
  }

  // Ordinary HTTPS on the same port, verified against Pebble's root (name check on the IP SAN).
  const root = await pebble.root();
  const status = await new Promise<number>((resolve, reject) => {
    request({ host: '127.0.0.1', port: httpsPort, path: '/health', ca: root, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    })
      .once('error', reject)
      .end();
  });
  t.equal(status, 200);

  await ab.stop();
  t.equal(box.challenges.responders['tls-alpn-01'], false, 'off once the server is closed');
});

t.test('routing: split hellos, mixed ALPN lists, nothing pending, not TLS, idle at close', async (t) => {
  const ab = await startAcmeBox(undefined, { address: '127.0.0.1', httpPort: 0, nameServer: null });
  const port = ab.httpsPort;
  const webSerial = new X509Certificate(ab.box.webCredentials().certPem).serialNumber;

  // A pending challenge certificate (what the agent would set).
  const k = await generateKeyPair('prime256v1');
  const alpnCert = await createSelfSigned({
    privateKeyPem: k.privateKeyPem,
    keyAlgorithm: 'prime256v1',
    commonName: 'alpn.lab.test',
    altNames: ['alpn.lab.test'],
    notBeforeMs: Date.now(),
    validDays: 1,
  });
  ab.box.challenges.setAlpnCertificate('alpn.lab.test', { certPem: alpnCert, keyPem: k.privateKeyPem });
  const alpnSerial = new X509Certificate(alpnCert).serialNumber;

  const only = await handshake(port, { alpn: [ACME_TLS_ALPN_PROTOCOL], servername: 'alpn.lab.test' });
  t.same(
    [only.protocol, only.leaf.serialNumber],
    [ACME_TLS_ALPN_PROTOCOL, alpnSerial],
    'acme-tls/1 alone: the challenge certificate',
  );
  const mixed = await handshake(port, {
    alpn: ['http/1.1', ACME_TLS_ALPN_PROTOCOL],
    servername: 'alpn.lab.test',
  });
  t.same(
    mixed.leaf.serialNumber,
    webSerial,
    'acme-tls/1 among others: an ordinary client, the web certificate',
  );
  const plain = await handshake(port, { alpn: [] });
  t.equal(plain.leaf.serialNumber, webSerial, 'no ALPN: the web certificate');
  await t.rejects(
    handshake(port, { alpn: [ACME_TLS_ALPN_PROTOCOL], servername: 'other.lab.test' }),
    'acme-tls/1 for a name with nothing pending fails',
  );

  // The same hello cut into three TCP segments: routed the same way once complete.
  const hello = await rawClientHello([ACME_TLS_ALPN_PROTOCOL], 'alpn.lab.test');
  const answer = await sendInParts(
    port,
    [hello.subarray(0, 3), hello.subarray(3, 60), hello.subarray(60)],
    30,
  );
  t.equal(answer[0], 22, 'a split hello gets a ServerHello (handshake record)');
  const webHello = await rawClientHello(['http/1.1'], 'box1');
  t.equal(
    (await sendInParts(port, [webHello.subarray(0, 10), webHello.subarray(10)], 30))[0],
    22,
    'a split ordinary hello too',
  );

  // Not TLS: handed to the HTTPS server, which refuses it as before.
  const junk = await sendInParts(port, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')], 10);
  t.ok(junk.length === 0 || junk[0] !== 22, 'plain HTTP on the https port is not answered with TLS');
  t.equal((await handshake(port, { alpn: [] })).leaf.serialNumber, webSerial, 'and the port still works');

  // An idle connection (no hello yet) does not hold close() up.
  const idle = netConnect({ host: '127.0.0.1', port });
  idle.on('error', () => undefined);
  await new Promise((r) => idle.once('connect', r));
  const started = Date.now();
  await ab.stop();
  t.ok(Date.now() - started < 2000, `close() ends at once (${Date.now() - started} ms)`);
});
