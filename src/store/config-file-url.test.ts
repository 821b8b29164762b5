/**
 * The file:// configuration transfer: the path rules, the 0600 file, the
 * bounds, and what a fetched file must be (store/config-file-url.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { MAX_CONFIG_FILE_BYTES } from '../device/limits.js';
import type { ConfigFileContent } from '../device/ports.js';
import { FileUrlConfigTransfer } from './config-file-url.js';

const dir = mkdtempSync(join(tmpdir(), 'gvos-cfg-url-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const x = new FileUrlConfigTransfer();

const FILE: ConfigFileContent = {
  name: 'initial',
  model: 'GigaVUE-HC2',
  release: '6.5.00',
  config: {
    hostname: 'edge-1',
    nameServers: ['127.0.0.53'],
    domainList: [],
    users: { admin: { role: 'admin', passwordHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA' } },
    cryptoMode: 'secure-crypto',
    snmp: {
      enabled: true,
      notifyEnabled: false,
      targets: [],
      users: [],
      events: [],
      expiringSoonDays: 7,
      communities: ['c0mm'],
    },
  },
};

t.test('upload then fetch: the same configuration, a 0600 file written whole', async (t) => {
  const path = join(dir, 'a.json');
  writeFileSync(path, 'old', { mode: 0o644 });
  t.equal(await x.upload(`file://${path}`, FILE), path);
  t.equal(statSync(path).mode & 0o777, 0o600, '0600 even over a 0644 file');
  const text = readFileSync(path, 'utf8');
  t.match(
    text,
    /"holds": "the saved configuration: .*no certificates or keys"/,
    'the file says what it holds',
  );
  t.same(await x.fetch(`file://${path}`), FILE);
  t.same(await x.fetch(`file://localhost${path}`), FILE, 'host localhost is this machine');
  t.same(await x.fetch(`file://${dir}/%61.json`), FILE, '%-escapes are decoded');
});

t.test('path rules', async (t) => {
  const refused: [string, RegExp][] = [
    ['http://127.0.0.1/a.json', /^Give a file:\/\/\/<absolute path> URL/],
    ['scp://host/a.json', /^Give a file:\/\/\/<absolute path> URL/],
    ['file:a.json', /^Give a file:\/\/\/<absolute path> URL/],
    [`file://other.host${dir}/a.json`, /^Only local files/],
    [`file://${dir}/../etc/passwd`, /"\." or "\.\." segments/],
    [`file://${dir}/%2e%2e/x`, /"\." or "\.\." segments/],
    [`file://${dir}/a%2fb`, /encoded slashes/],
    [`file://${dir}/a%00b`, /encoded slashes or NUL/],
    [`file://${dir}/a%0ab`, /control characters/],
    [`file://${dir}/%zz`, /malformed %-escape/],
    [`file://${dir}/`, /not a directory/],
    [`file://${dir}/${'a'.repeat(1100)}`, /URL too long/],
  ];
  for (const [url, re] of refused) {
    await t.rejects(x.fetch(url), { name: 'DeviceError', message: re }, `fetch ${url.slice(0, 60)}`);
    await t.rejects(x.upload(url, FILE), { name: 'DeviceError', message: re }, `upload ${url.slice(0, 60)}`);
  }
  await t.rejects(x.upload(`file://${dir}/no-dir/a.json`, FILE), {
    message: /^Directory .* does not exist\.$/,
  });
  mkdirSync(join(dir, 'sub'));
  await t.rejects(x.upload(`file://${dir}/sub`, FILE), { message: /exists and is not a regular file/ });
  await t.rejects(x.fetch(`file://${dir}/sub`), { message: /is not a regular file/ });
  symlinkSync(join(dir, 'a.json'), join(dir, 'link.json'));
  await t.rejects(x.upload(`file://${dir}/link.json`, FILE), { message: /exists and is not a regular file/ });
  await t.rejects(x.fetch(`file://${dir}/link.json`), { message: /: it is a symbolic link\.$/ });
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  await t.rejects(
    x.fetch(`file://${dir}/fifo`),
    { message: /is not a regular file/ },
    'a FIFO does not hang',
  );
  await t.rejects(x.fetch('file:///dev/zero'), { message: /is not a regular file/ });
  await t.rejects(x.fetch(`file://${dir}/none.json`), { code: 'not-found', message: /no such file/ });
});

t.test('what a fetched file must be; errors never quote it', async (t) => {
  const put = (name: string, body: string) => {
    writeFileSync(join(dir, name), body);
    return `file://${dir}/${name}`;
  };
  const doc = (over: Record<string, unknown>) =>
    JSON.stringify({ format: 'gvos-sim configuration file', version: 1, config: FILE.config, ...over });
  await t.rejects(x.fetch(put('t1', 'SECRET-LINE not json')), { message: /: not JSON\.$/ });
  await t.rejects(x.fetch(put('t1', 'SECRET-LINE not json')), { message: /^(?!.*SECRET)/ });
  await t.rejects(x.fetch(put('t2', '{"a":1}')), { message: /no "format": "gvos-sim configuration file"/ });
  await t.rejects(x.fetch(put('t3', doc({ version: 2 }))), { message: /version 1 expected/ });
  await t.rejects(x.fetch(put('t4', doc({ config: { ...FILE.config, hostname: '-x' } }))), {
    message: /: hostname: /,
  });
  await t.rejects(
    x.fetch(
      put('t5', doc({ config: { ...FILE.config, users: { op: { role: 'operator', passwordHash: 'h' } } } })),
    ),
    { message: /users: at least one admin user is required/ },
  );
  await t.rejects(x.fetch(put('t6', doc({ config: { ...FILE.config, cryptoMode: 'none' } }))), {
    message: /cryptoMode/,
  });
  await t.rejects(x.fetch(put('big', ' '.repeat(MAX_CONFIG_FILE_BYTES + 1))), {
    message: new RegExp(`larger than ${MAX_CONFIG_FILE_BYTES} bytes`),
  });
  t.ok(await x.fetch(put('ok', doc({}))), 'a good one');
});
