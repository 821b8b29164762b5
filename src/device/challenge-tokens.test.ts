import t from 'tap';
import { createServer } from 'node:net';
import { connect } from 'node:tls';
import { ChallengeTokens, offeredAlpnProtocols, reverseDnsName } from './challenge-tokens.js';

/** The first bytes a real Node TLS client sends with these ALPN protocols. */
function clientHello(alpn: string[] | undefined): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = createServer((sock) => {
      sock.once('data', (d: Buffer) => {
        resolve(d);
        sock.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const c = connect({
        host: '127.0.0.1',
        port,
        servername: 'box1.lab.test',
        ...(alpn ? { ALPNProtocols: alpn } : {}),
      });
      c.on('error', () => undefined);
    });
  });
}

t.test('offeredAlpnProtocols reads the ALPN list of a real ClientHello', async (t) => {
  t.same(offeredAlpnProtocols(await clientHello(['acme-tls/1'])), ['acme-tls/1']);
  t.same(offeredAlpnProtocols(await clientHello(['h2', 'http/1.1'])), ['h2', 'http/1.1']);
  t.same(offeredAlpnProtocols(await clientHello(undefined)), [], 'no ALPN extension');
  const hello = await clientHello(['acme-tls/1']);
  t.equal(offeredAlpnProtocols(hello.subarray(0, 40)), undefined, 'a partial hello: read more');
  t.equal(offeredAlpnProtocols(Buffer.from('GET / HTTP/1.1\r\n\r\n')), undefined, 'not TLS');
});

t.test('reverseDnsName (RFC 8738 §6)', async (t) => {
  t.equal(reverseDnsName('127.0.0.51'), '51.0.0.127.in-addr.arpa');
  t.equal(
    reverseDnsName('2001:db8::1'),
    '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
  );
  t.equal(reverseDnsName('box1.lab.test'), undefined);
});

t.test('tls-alpn-01 certificates are found by name, reverse name, or alone without SNI', async (t) => {
  const c = new ChallengeTokens();
  t.same(
    c.responders,
    { 'http-01': true, 'tls-alpn-01': false },
    'http-01 only until the web server says otherwise',
  );
  const cred = { certPem: 'cert', keyPem: 'key' };
  c.setAlpnCertificate('127.0.0.51', cred);
  t.equal(c.getAlpnCertificate('51.0.0.127.in-addr.arpa'), cred);
  t.equal(c.getAlpnCertificate('127.0.0.51'), cred);
  t.equal(c.getAlpnCertificate(undefined), cred, 'the only one, without SNI');
  c.setAlpnCertificate('Box1.Lab.Test', { certPem: 'c2', keyPem: 'k2' });
  t.equal(c.getAlpnCertificate('box1.lab.test.')?.certPem, 'c2', 'case and trailing dot do not matter');
  t.equal(c.getAlpnCertificate(undefined), undefined, 'ambiguous without SNI');
  t.equal(c.alpnSize, 2);
  c.deleteAlpnCertificate('127.0.0.51');
  c.deleteAlpnCertificate('box1.lab.test');
  t.equal(c.alpnSize, 0);
});
