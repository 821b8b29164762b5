/**
 * The box's HTTPS/HTTP servers with real TLS clients: the certificate served
 * before and after `web https certificate ...`, under a loop of fresh
 * handshakes (none may fail), http-01 tokens and the redirect.
 */
import t, { type Test } from 'tap';
import { connect, type PeerCertificate } from 'node:tls';
import { get as httpGet } from 'node:http';
import { X509Certificate } from 'node:crypto';
import { generateKeyPair } from '../../src/pki/keys.js';
import { createSelfSigned } from '../../src/pki/self-signed.js';
import { WebServer } from '../../src/web/server.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SystemClock } from '../../src/lib/clock.js';
import { ADMIN, makeTestBox } from '../harness/boxes.js';

/** One fresh TLS handshake trusting exactly `ca`; resolves the presented leaf. */
function handshake(port: number, ca: string, servername: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = connect(
      { host: '127.0.0.1', port, ca, servername, checkServerIdentity: () => undefined },
      () => {
        const cert = s.getPeerCertificate();
        s.end();
        resolve(cert);
      },
    );
    s.once('error', reject);
  });
}

async function selfSigned(cn: string) {
  const k = await generateKeyPair('prime256v1');
  const cert = await createSelfSigned({
    privateKeyPem: k.privateKeyPem,
    keyAlgorithm: 'prime256v1',
    commonName: cn,
    altNames: [cn, '127.0.0.1'],
    notBeforeMs: Date.now(),
    validDays: 30,
  });
  return { cert, key: k.privateKeyPem, serial: new X509Certificate(cert).serialNumber };
}

/** A test box's web server listening on free ports, closed at the end of the test. */
async function listeningWebServer(t: Test) {
  const { box } = await makeTestBox({ clock: new SystemClock() });
  const web = new WebServer({ box, address: '127.0.0.1', httpsPort: 0, httpPort: 0, logger: silentLogger });
  const { https } = await web.listen();
  t.teardown(() => web.close());
  return { box, web, https };
}

t.test(
  'web certificate change: new handshakes get the new certificate at once, none fails under load',
  async (t) => {
    const { box, web, https } = await listeningWebServer(t);

    const def = box.webCredentials().certPem;
    const defSerial = new X509Certificate(def).serialNumber;
    const a = await selfSigned('a.lab.test');
    const b = await selfSigned('b.lab.test');
    await box.addPublicCertificate(ADMIN, 'a', a.cert);
    await box.addPrivateKey(ADMIN, 'a', a.key);
    await box.addPublicCertificate(ADMIN, 'b', b.cert);
    await box.addPrivateKey(ADMIN, 'b', b.key);
    const ca = [def, a.cert, b.cert].join('');

    t.equal((await handshake(https, ca, 'box1')).serialNumber, defSerial, 'default certificate before');

    // Handshake loop (4 clients) while the mapping flips a <-> b.
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) {
        try {
          seen.add((await handshake(https, ca, 'box1')).serialNumber);
          ok++;
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    });
    for (let i = 0; i < 20; i++) {
      await box.setWebCertificate(ADMIN, i % 2 ? 'b' : 'a');
      await new Promise((r) => setTimeout(r, 15));
    }
    stop = true;
    await Promise.all(clients);
    t.same(failures, [], 'no handshake failed');
    t.ok(ok > 20, `handshakes done under swaps (${ok})`);
    t.ok(seen.has(a.serial) && seen.has(b.serial), 'clients saw both certificates');

    await box.setWebCertificate(ADMIN, 'a');
    t.equal(
      (await handshake(https, ca, 'box1')).serialNumber,
      a.serial,
      'the very next handshake gets the new one',
    );
    t.equal(web.swaps, 21, 'one swap per mapping change');
  },
);

t.test(
  'certificate changes with nobody connecting build no TLS context; the next handshake builds one, with the last',
  async (t) => {
    const { box, web, https } = await listeningWebServer(t);
    const a = await selfSigned('a.lab.test');
    const b = await selfSigned('b.lab.test');
    for (const [name, c] of [
      ['a', a],
      ['b', b],
    ] as const) {
      await box.addPublicCertificate(ADMIN, name, c.cert);
      await box.addPrivateKey(ADMIN, name, c.key);
    }
    const ca = [box.webCredentials().certPem, a.cert, b.cert].join('');
    for (let i = 0; i < 10; i++) await box.setWebCertificate(ADMIN, i % 2 ? 'b' : 'a');
    t.equal(web.swaps, 10, 'every change reached the server');
    t.equal(web.contextsBuilt, 0, 'no context built while nobody connected');
    t.equal(
      (await handshake(https, ca, 'box1')).serialNumber,
      b.serial,
      'the next handshake: the last change',
    );
    t.equal(web.contextsBuilt, 1, 'one context built, for that handshake');
    t.equal((await handshake(https, ca, 'box1')).serialNumber, b.serial, 'and the one after');
    t.equal(web.contextsBuilt, 1, 'no change since: nothing built again');
  },
);

t.test('TLS 1.1 is refused; TLS 1.2 and 1.3 are offered', async (t) => {
  const { box } = await makeTestBox({ clock: new SystemClock() });
  const web = new WebServer({ box, address: '127.0.0.1', httpsPort: 0, httpPort: 0, logger: silentLogger });
  const { https } = await web.listen();
  t.teardown(() => web.close());
  const ca = box.webCredentials().certPem;
  const proto = (min: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3', max: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3') =>
    new Promise<string>((resolve, reject) => {
      const s = connect(
        {
          host: '127.0.0.1',
          port: https,
          ca,
          minVersion: min,
          maxVersion: max,
          checkServerIdentity: () => undefined,
        },
        () => {
          const p = s.getProtocol() ?? '';
          s.end();
          resolve(p);
        },
      );
      s.once('error', reject);
    });
  t.equal(await proto('TLSv1.3', 'TLSv1.3'), 'TLSv1.3');
  t.equal(await proto('TLSv1.2', 'TLSv1.2'), 'TLSv1.2');
  await t.rejects(proto('TLSv1.1', 'TLSv1.1'));
});

t.test('the http port answers ACME http-01 tokens and redirects everything else to HTTPS', async (t) => {
  const { box } = await makeTestBox({ clock: new SystemClock() });
  const web = new WebServer({ box, address: '127.0.0.1', httpsPort: 0, httpPort: 0, logger: silentLogger });
  const ports = await web.listen();
  t.teardown(() => web.close());
  const fetchHttp = (path: string) =>
    new Promise<{ status: number; body: string; location?: string }>((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port: ports.http, path }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body, location: res.headers.location }));
      }).once('error', reject);
    });
  box.challenges.set('tok_EN-1', 'tok_EN-1.thumbprint');
  t.same(await fetchHttp('/.well-known/acme-challenge/tok_EN-1'), {
    status: 200,
    body: 'tok_EN-1.thumbprint',
    location: undefined,
  });
  t.equal((await fetchHttp('/.well-known/acme-challenge/unknown')).status, 404);
  box.challenges.delete('tok_EN-1');
  t.equal((await fetchHttp('/.well-known/acme-challenge/tok_EN-1')).status, 404, 'gone once removed');
  const r = await fetchHttp('/some/page?x=1');
  t.equal(r.status, 301);
  t.equal(r.location, `https://127.0.0.1:${ports.https}/some/page?x=1`);

  // The Host header is never reflected as it came (issue 15 #6): only the box's own names pass.
  const withHost = (host: string) =>
    new Promise<string | undefined>((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port: ports.http, path: '/x', headers: { Host: host } }, (res) => {
        res.resume();
        resolve(res.headers.location);
      }).once('error', reject);
    });
  t.equal(
    await withHost('evil.example'),
    `https://127.0.0.1:${ports.https}/x`,
    'a foreign Host: the address',
  );
  t.equal(await withHost('evil.example:8080'), `https://127.0.0.1:${ports.https}/x`);
  t.equal(await withHost(`${box.hostname}:80`), `https://${box.hostname}:${ports.https}/x`, 'its hostname');
  t.equal(await withHost('127.0.0.1'), `https://127.0.0.1:${ports.https}/x`);
});
