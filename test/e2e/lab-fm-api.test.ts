// The GigaVUE-FM-shaped fleet API of a running `gvos-sim lab up` (real
// Pebble), driven with plain HTTP requests as the manager sends them
// (fetch, JSON bodies, the token or Basic): the global template, an issue on
// boxes 1-2 polled to done, GET nodes equal to `lab status --json` and to
// the certificate each box serves, a revoke on one box by its clusterId,
// a bad body (400 problem) and no credentials (401).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { canListen } from '../../src/lib/net.js';
import type { LabBoxStatus, LabStateFile } from '../../src/lab/lab.js';
import { ensureBuilt, runLabCli, startLabUp } from './lab-harness.js';

// Its own address block, apart from users' labs and other suites.
const BASE = '127.0.11';
const PASSWORD = 'Fm-api-test-pw1';
const canBind = await canListen(`${BASE}.1`, 443);
const missing = ['pebble', 'pebble-challtestsrv', 'snmptrapd'].filter((b) => {
  try {
    execFileSync('sh', ['-c', `command -v ${b} || test -x /usr/sbin/${b}`], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
});
const skip = !canBind
  ? `cannot listen on ${BASE}.1:443 (needs root and 127/8)`
  : missing.length
    ? `missing ${missing.join(', ')}: apt-get install pebble snmptrapd`
    : false;

interface Node {
  boxId: number;
  clusterId: string;
  serialNumber: string | null;
  issuedCert: { expiry: string; algorithm: string; renewDays: number | null; domain: string } | null;
  lastAcmeRequest: { type: string; status: string; finishedAt: string | null } | null;
}
interface Task {
  status: string;
  total: number;
  completed: number;
  succeeded: number;
  failed: number;
  devices: { boxId: number; result: string; serialNumber: string | null }[];
}

t.test('FM-shaped API on a running lab', { skip }, async (t) => {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'gvos-lab-fm-'));
  const labs = join(dir, 'labs');
  const topo = join(dir, 'topology.yaml');
  writeFileSync(
    topo,
    [
      'lab: e2e-fm',
      `admin-password: ${PASSWORD}`,
      'network:',
      `  address-base: ${BASE}.0`,
      '  address-offset: 0',
      'on-start:',
      '  issue-certificates: false',
      '',
    ].join('\n'),
  );
  const lab = await startLabUp([topo, '--boxes', '2', '--labs-dir', labs]);
  t.teardown(async () => {
    if (lab.proc.exitCode === null) lab.proc.kill('SIGTERM');
    await lab.exited;
    rmSync(dir, { recursive: true, force: true });
  });
  const state = JSON.parse(readFileSync(join(labs, 'e2e-fm', 'lab.json'), 'utf8')) as LabStateFile;
  const root = readFileSync(join(labs, 'e2e-fm', 'ca-root.pem'), 'utf8');
  const base = `${state.controlPlane.url}/api/v1.3/acme/certificate`;
  const bearer = `Bearer ${state.controlPlane.token}`;
  const basic = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;

  /** One request as the manager sends it: JSON in, JSON (or a problem) out. */
  const fm = async (method: string, path: string, body?: unknown, auth: string | null = bearer) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(auth ? { authorization: auth } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      location: res.headers.get('location'),
      json: text ? JSON.parse(text) : undefined,
    };
  };
  const nodes = async () => (await fm('GET', '/nodes')).json.certificateInfo as Node[];
  const labStatus = async () => {
    const st = await runLabCli(['status', '--json', '--labs-dir', labs]);
    t.equal(st.code, 0, st.stderr);
    return JSON.parse(st.stdout) as LabBoxStatus[];
  };
  /** Poll the task until COMPLETED (bounded: a stuck task fails the test instead of hanging it). */
  const finished = async (statusUrl: string, auth = bearer): Promise<Task> => {
    for (let i = 0; i < 600; i++) {
      const r = await fetch(`${state.controlPlane.url}${statusUrl}`, { headers: { authorization: auth } });
      const task = (await r.json()) as Task;
      if (task.status === 'COMPLETED') return task;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`task ${statusUrl} did not complete`);
  };
  /** The serial of the certificate a box serves, as openssl prints it, verified against the lab root. */
  const served = (address: string, name: string) =>
    new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: address, port: 443, servername: name, ca: root }, () => {
        resolve(s.getPeerCertificate().serialNumber.toUpperCase());
        s.end();
      });
      s.on('error', reject);
    });

  await t.test('before: two boxes, nothing issued; the document lists the FM routes', async (t) => {
    const before = await nodes();
    t.same(
      before.map((n) => [n.boxId, n.clusterId, n.issuedCert, n.serialNumber]),
      [
        [1, 'gigavue-1', null, null],
        [2, 'gigavue-2', null, null],
      ],
    );
    const doc = (await (await fetch(`${state.controlPlane.url}/v1/openapi.json`)).json()) as {
      paths: Record<string, object>;
    };
    for (const p of ['/nodes', '/nodes/{clusterId}', '/nodes/issue', '/tasks/{taskId}', '/globalConfig'])
      t.ok(doc.paths[`/api/v1.3/acme/certificate${p}`], `document has ${p}`);
  });

  await t.test('the template, then an issue on boxes 1-2 polled to done', async (t) => {
    // The lab's boxes run secure-crypto: the device refuses an RSA template, per box, in the task.
    t.equal((await fm('PUT', '/globalConfig', { algorithm: 'rsa-4096' })).status, 200);
    const refused = await fm('POST', '/nodes/issue', { acmeCertificate: [{ boxIds: '1-2' }] });
    t.equal(refused.status, 202);
    t.match(await finished(refused.json.statusUrl as string), {
      total: 2,
      failed: 2,
      devices: [1, 2].map((boxId) => ({
        boxId,
        result: /^Refused: Key algorithm rsa-4096 is not allowed in secure-crypto mode/,
      })),
    });
    const put = await fm('PUT', '/globalConfig', { algorithm: 'ec-secp384r1', renewDays: 20 });
    t.equal(put.status, 200);
    t.same(put.json, {
      acmeServerUrl: null,
      operationType: 'issue',
      algorithm: 'ec-secp384r1',
      renewDays: 20,
    });
    const r = await fm('POST', '/nodes/issue', { acmeCertificate: [{ boxIds: '1-2' }] });
    t.equal(r.status, 202);
    t.equal(r.location, r.json.statusUrl);
    const task = await finished(r.json.statusUrl as string);
    t.match(task, { total: 2, completed: 2, succeeded: 2 });
    t.same(
      task.devices.map((d) => [d.boxId, d.result]),
      [
        [1, 'Success'],
        [2, 'Success'],
      ],
    );
    const after = await nodes();
    for (const n of after) {
      t.match(
        n.issuedCert,
        { algorithm: 'ec-secp384r1', renewDays: 20, domain: `${n.clusterId}.lab.test` },
        'the template was used',
      );
      t.match(n.lastAcmeRequest, { type: 'Issue', status: 'Success' });
    }
  });

  await t.test('GET nodes equals lab status --json and what each box serves', async (t) => {
    const [view, rows] = [await nodes(), await labStatus()];
    t.equal(view.length, rows.length);
    for (const [i, n] of view.entries()) {
      const row = rows[i]!;
      t.equal(n.boxId, row.boxId);
      t.equal(n.serialNumber, row.certificate.serial, `box ${n.boxId}: serial`);
      t.equal(n.issuedCert?.expiry, row.certificate.expires, `box ${n.boxId}: expiry`);
      t.same(
        [n.lastAcmeRequest?.type, n.lastAcmeRequest?.status, n.lastAcmeRequest?.finishedAt],
        [
          row.certificate.lastRequest?.type,
          row.certificate.lastRequest?.status,
          row.certificate.lastRequest?.at,
        ],
        `box ${n.boxId}: last request`,
      );
      t.equal(
        await served(row.address, `${row.hostname}.lab.test`),
        n.serialNumber,
        `box ${n.boxId} serves it`,
      );
    }
  });

  await t.test(
    'revoke on one box by clusterId (Basic auth): its serial changes, the other stays',
    async (t) => {
      const before = await nodes();
      const r = await fm('POST', '/nodes/revoke', { acmeCertificate: [{ clusterId: 'gigavue-1' }] }, basic);
      t.equal(r.status, 202);
      const task = await finished(r.json.statusUrl as string, basic);
      t.match(task, { total: 1, succeeded: 1, devices: [{ boxId: 1, result: 'Success' }] });
      const one = (await fm('GET', '/nodes/gigavue-1')).json as Node;
      t.not(one.serialNumber, before[0]!.serialNumber, 'box 1 has a new serial');
      t.match(one.lastAcmeRequest, { type: 'Revoke', status: 'Success' });
      t.equal(task.devices[0]!.serialNumber, one.serialNumber, 'the task reports the new serial');
      const rows = await labStatus();
      t.equal(rows[0]!.certificate.serial, one.serialNumber, 'lab status agrees');
      t.equal(rows[1]!.certificate.serial, before[1]!.serialNumber, 'box 2 is untouched');
      t.equal(
        await served(rows[0]!.address, 'gigavue-1.lab.test'),
        one.serialNumber,
        'box 1 serves the new one',
      );
    },
  );

  await t.test('a bad body is a 400 problem; no credentials a 401', async (t) => {
    const bad = await fm('POST', '/nodes/renew', {
      acmeCertificate: [{ boxIds: '1-2', algorithm: 'dsa-512' }],
    });
    t.equal(bad.status, 400);
    t.match(bad.type, /^application\/problem\+json/);
    t.match(bad.json, {
      type: 'urn:gvos-sim:problem:bad-input',
      status: 400,
      code: 'bad-input',
      detail: /algorithm/,
    });
    const none = await fm('GET', '/nodes', undefined, null);
    t.equal(none.status, 401);
    t.match(none.json, { code: 'unauthenticated' });
    const wrong = await fm(
      'POST',
      '/nodes/issue',
      {},
      `Basic ${Buffer.from('admin:nope').toString('base64')}`,
    );
    t.equal(wrong.status, 401);
  });

  const down = await runLabCli(['down', '--name', 'e2e-fm', '--labs-dir', labs]);
  t.equal(down.code, 0, down.stderr);
  t.equal(await lab.exited, 0, 'lab up exits 0');
});
