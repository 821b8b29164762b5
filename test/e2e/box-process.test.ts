/**
 * The box process as a user runs it: `bin/gvos-sim.js box ...`.
 */
import t from 'tap';
import { createServer } from 'node:net';
import { statSync, readdirSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { anyPortBoxArgs, runBoxCommand, startBoxProcess } from '../harness/box-process.js';

t.test('ready line with the real ports; SIGTERM stops cleanly with exit 0; state is 0600', async (t) => {
  const b = await startBoxProcess();
  t.equal(b.ready.event, 'ready');
  t.equal(b.ready.boxId, 1);
  t.equal(b.ready.address, '127.0.0.1');
  for (const k of ['ssh', 'cli', 'https', 'http', 'snmp'] as const)
    t.ok(b.ready.ports[k] > 0, `${k} port bound`);
  const served = await new Promise<string>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: b.ready.ports.https, rejectUnauthorized: false }, () => {
      // Only reading the self-signed default certificate's subject here; verification is tested elsewhere.
      const subject = String(s.getPeerCertificate().subject.CN);
      s.end();
      resolve(subject);
    });
    s.once('error', reject);
  });
  t.equal(served, 'gigavue-1');
  t.equal(await b.stop(), 0);
  t.equal(statSync(join(b.dataDir, 'state.json')).mode & 0o777, 0o600);
  t.same(
    readdirSync(b.dataDir).filter((f) => f.includes('.tmp-')),
    [],
    'no temporary files left',
  );
});

t.test('a later boot keeps the identity and does not need the password again', async (t) => {
  const first = await startBoxProcess({ args: ['--hostname', 'keepme'] });
  await first.stop();
  const again = await startBoxProcess({
    dataDir: first.dataDir,
    env: { GVOS_ADMIN_PASSWORD: '' },
    password: '',
  });
  t.teardown(() => again.stop());
  const cn = await new Promise<string>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: again.ready.ports.https, rejectUnauthorized: false }, () => {
      const subject = String(s.getPeerCertificate().subject.CN);
      s.end();
      resolve(subject);
    });
    s.once('error', reject);
  });
  t.equal(cn, 'keepme', 'same default certificate and hostname');
});

const badOptions: { name: string; args: string[]; env?: NodeJS.ProcessEnv; message: RegExp }[] = [
  { name: 'unknown option', args: ['box', '--nope'], message: /Unknown option '--nope'/ },
  { name: 'bad port', args: ['box', '--ssh-port', '70000'], message: /--ssh-port must be a port number/ },
  {
    name: 'bad address',
    args: ['box', '--address', 'localhost'],
    message: /--address must be an IPv4 or IPv6 address/,
  },
  {
    name: 'bad crypto mode',
    args: ['box', '--crypto-mode', 'rot13'],
    message: /--crypto-mode must be one of classic, secure-crypto, fips/,
  },
  { name: 'empty password', args: ['box', '--admin-password', ''], message: /may not be empty/ },
  {
    name: 'unknown firmware',
    args: ['box', '--firmware', '9.9.9', '--admin-password', 'x'],
    message: /--firmware 9\.9\.9 is not in firmware-sim/,
  },
  { name: 'unknown command', args: ['frobnicate'], message: /unknown command "frobnicate"/ },
];
for (const row of badOptions) {
  t.test(`bad options give one line on stderr and exit 2: ${row.name}`, async (t) => {
    const r = await runBoxCommand(row.args, { GVOS_ADMIN_PASSWORD: '', ...(row.env ?? {}) });
    t.equal(r.code, 2);
    t.match(r.stderr, row.message);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.equal(r.stdout, '');
  });
}

t.test('first boot without a password is refused, and nothing is created', async (t) => {
  const r = await runBoxCommand(anyPortBoxArgs('/tmp/gvos-nopw-' + process.pid), { GVOS_ADMIN_PASSWORD: '' });
  t.equal(r.code, 1);
  t.match(r.stderr, /first boot needs an admin password/);
});

t.test('a port in use: one clear line, exit 1, no listener left open', async (t) => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  t.teardown(() => blocker.close());
  const r = await runBoxCommand(
    [
      'box',
      '--data-dir',
      `/tmp/gvos-inuse-${process.pid}`,
      '--ssh-port',
      '0',
      '--cli-port',
      String(port),
      '--https-port',
      '0',
      '--http-port',
      '0',
    ],
    { GVOS_ADMIN_PASSWORD: 'x-pass-1' },
  );
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`cannot listen .*on 127\\.0\\.0\\.1:${port}: the port is (already )?in use`));
  t.equal(
    r.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('{')).length,
    1,
    'one line besides JSON logs',
  );
});

t.test('--help lists every option with its default', async (t) => {
  const r = await runBoxCommand(['box', '--help']);
  t.equal(r.code, 0);
  for (const o of [
    '--box-id',
    '--hostname',
    '--address',
    '--ssh-port',
    '--cli-port',
    '--https-port',
    '--http-port',
    '--data-dir',
    '--admin-password',
    '--firmware',
    '--model',
    '--crypto-mode',
  ]) {
    t.match(r.stdout, o);
  }
});
