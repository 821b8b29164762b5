/**
 * The launcher against the real Pebble binary: Pebble prints its ready line
 * before it binds its port, so "ready" alone can hand a test somebody else's
 * server (seen in CI: a box's plain HTTP port answered on Pebble's port, and
 * every ACME request failed with "wrong version number"). With `serving`, a
 * port taken between choosing and binding ends in PortTakenError.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createListenerCertificate,
  pebbleArgs,
  pebbleConfig,
  pebbleEnv,
  PEBBLE_READY,
  PortTakenError,
  servesDirectory,
  spawnDaemon,
} from '../../src/acme/pebble-launcher.js';
import { freePort } from '../../src/lib/net.js';

const A = '127.0.0.1';
const dir = mkdtempSync(join(tmpdir(), 'gvos-launcher-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const listener = await createListenerCertificate(dir, [A]);

/** A Pebble config whose ACME port is `acmePort`; resolves the config path. */
async function configOn(acmePort: number): Promise<string> {
  const path = join(dir, `pebble-${acmePort}.json`);
  const config = pebbleConfig({
    listenAddress: `${A}:${acmePort}`,
    managementListenAddress: `${A}:${await freePort(A)}`,
    certificatePath: listener.certPath,
    privateKeyPath: listener.keyPath,
    httpPort: await freePort(A),
    tlsPort: await freePort(A),
  });
  writeFileSync(path, JSON.stringify(config));
  return path;
}

const start = (config: string, port: number) =>
  spawnDaemon('pebble', pebbleArgs(config, `${A}:1`), {
    env: pebbleEnv(),
    ready: PEBBLE_READY,
    serving: () => servesDirectory(`https://${A}:${port}/dir`, listener.caPem),
  });

t.test('a port held by another server ends in PortTakenError, not in a foreign server', async (t) => {
  const other = createServer((_req, res) => res.end('not pebble'));
  await new Promise<void>((r) => other.listen(0, A, r));
  t.teardown(() => other.close());
  const port = (other.address() as { port: number }).port;
  const got = await start(await configOn(port), port).then(
    async (d) => {
      const out = d.output();
      await d.stop();
      return out;
    },
    (e: unknown) => e,
  );
  t.ok(got instanceof PortTakenError, 'PortTakenError', { got: String(got).slice(-500) });
  t.equal(
    await servesDirectory(`https://${A}:${port}/dir`, listener.caPem),
    false,
    'the other server does not pass the check',
  );
});

t.test('a free port: resolves once the directory is served', async (t) => {
  const port = await freePort(A);
  const pebble = await start(await configOn(port), port);
  t.teardown(() => pebble.stop());
  t.equal(await servesDirectory(`https://${A}:${port}/dir`, listener.caPem), true);
});
