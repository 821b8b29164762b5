/**
 * tls-alpn-01 (RFC 8737) against a real Pebble, for a box that cannot
 * answer http-01: the agent puts a challenge certificate into
 * box.challenges, and the web server's https port presents it to the
 * validation handshake (ALPN "acme-tls/1" only) while ordinary handshakes
 * keep getting the web certificate. The routing itself is tested in
 * web-tls-alpn.test.ts; this file checks the agent's side of it.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { freePort } from '../../src/lib/net.js';
import { ADMIN } from '../harness/boxes.js';
import { startAcmeBox, startPebble } from '../harness/pebble.js';

for (const row of [
  {
    name: 'an IP identifier (SNI is the reverse-DNS name, RFC 8738 §6)',
    address: '127.0.0.51',
    domain: '127.0.0.51',
  },
  { name: 'a DNS name', address: '127.0.0.52', domain: 'alpn52.lab.test' },
  {
    name: 'a DNS name and the address in one order (a lab box with address-in-certificate)',
    address: '127.0.0.54',
    domain: 'alpn54.lab.test',
    second: '127.0.0.54',
    sans: 'DNS:alpn54.lab.test, IP Address:127.0.0.54',
  },
] as { name: string; address: string; domain: string; second?: string; sans?: string }[]) {
  t.test(`tls-alpn-01 on the https port, ${row.name}`, async (t) => {
    const httpsPort = await freePort(row.address);
    const httpPort = await freePort(row.address);
    const pebble = await startPebble({ httpPort, tlsPort: httpsPort });
    t.teardown(() => pebble.stop());
    const ab = await startAcmeBox(pebble, { address: row.address, httpPort, httpsPort });
    t.teardown(() => ab.stop());
    const { box, agent } = ab;
    t.equal(box.challenges.responders['tls-alpn-01'], true, 'the web server answers tls-alpn-01');
    // This box cannot answer http-01 (e.g. its http port is not reachable from the CA).
    box.challenges.responders['http-01'] = false;
    if (row.domain !== row.address) await pebble.addA(row.domain, row.address);

    await box.acmeIssue(ADMIN, {
      domain: row.domain,
      ...(row.second ? { address: row.second } : {}),
      directoryUrl: pebble.directoryUrl,
    });
    await agent.idle();
    t.match(box.acmeState().lastRequest, { type: 'Issue', status: 'Success', reason: null });
    // One validation per identifier, each over its own handshake (Pebble's VA may make several).
    t.ok(ab.web!.alpnHandshakes >= (row.second ? 2 : 1), "Pebble's VA got the challenge certificate");
    t.equal(box.challenges.alpnSize, 0, 'the challenge certificate is removed afterwards');
    t.equal(box.challenges.size, 0, 'no http-01 token was used');
    t.equal(
      (await ab.served()).serial,
      box.acmeState().issued!.serial,
      'ordinary handshakes get the new web certificate',
    );
    if (row.sans)
      t.equal(new X509Certificate((await ab.served()).chainPem[0]!).subjectAltName, row.sans, 'both SANs');
  });
}

t.test('with no responder the box can use, the failure names what the CA offers', async (t) => {
  const address = '127.0.0.53';
  const pebble = await startPebble({ httpPort: await freePort(address) });
  t.teardown(() => pebble.stop());
  const ab = await startAcmeBox(pebble, { address, httpPort: 0, web: false });
  t.teardown(() => ab.stop());
  ab.box.challenges.responders['http-01'] = false;
  await ab.box.acmeIssue(ADMIN, { domain: address, directoryUrl: pebble.directoryUrl });
  await ab.agent.idle();
  t.match(ab.box.acmeState().lastRequest, {
    status: 'Failed',
    reason: /the CA offers http-01, tls-alpn-01 for 127\.0\.0\.53, but the box can answer only none/,
  });
});
