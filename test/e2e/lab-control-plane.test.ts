// The lab's control plane over HTTP with its token: kill and restart a box
// (its certificate comes back), each fault makes its failure and is counted,
// a clock advance triggers a real renewal, fleet revoke gives one trap per
// box in the trap log, inventory, add and remove.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { parseTrapdLine, varbindValue } from '../../src/snmp/trapd-launcher.js';
import { canListen } from '../../src/lib/net.js';
import { ControlPlane } from '../../src/lab/control-plane.js';
import type { FleetResult, LabBoxStatus } from '../../src/lab/lab.js';
import type { FaultState } from '../../src/lab/faults.js';
import { inProcessLab, inProcessLabSkip } from './lab-harness.js';

const BASE = '127.0.5';
const skip = await inProcessLabSkip(BASE);

t.test('control plane', { skip }, async (t) => {
  const { lab, down } = await inProcessLab({ name: 'e2e-cp', base: BASE, boxes: 3 });
  const token = 'test-token-0123456789';
  const plane = new ControlPlane(lab, token, () => undefined);
  const url = await plane.listen();
  t.teardown(async () => {
    await plane.close();
    await down();
  });
  const root = lab.caRootPem!;

  const api = (
    method: string,
    path: string,
    body?: unknown,
    auth = `Bearer ${token}`,
  ): Promise<{ status: number; body: unknown; text: string }> =>
    new Promise((resolve, reject) => {
      const req = request(`${url}${path}`, { method, headers: { authorization: auth } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          const ct = res.headers['content-type'] ?? '';
          const parsed = ct.includes('ndjson')
            ? text
                .trim()
                .split('\n')
                .map((l) => JSON.parse(l) as unknown)
            : ct.includes('json')
              ? (JSON.parse(text) as unknown)
              : text;
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  const fleet = async (op: string, boxes: number[]): Promise<FleetResult[]> => {
    const r = await api('POST', `/v1/acme/${op}`, { boxes });
    const lines = r.body as { event: string; results?: FleetResult[] }[];
    t.equal(
      lines.filter((l) => l.event === 'result').length,
      boxes.length,
      `one progress line per box (${op})`,
    );
    return lines.at(-1)!.results!;
  };
  const status = async (id: number) =>
    ((await api('GET', '/v1/boxes')).body as LabBoxStatus[]).find((b) => b.boxId === id)!;
  const faultCount = async (id: number, fault: string) =>
    ((await api('GET', '/v1/faults')).body as FaultState[]).find((f) => f.boxId === id && f.fault === fault)!
      .count;
  const servedSerial = (address: string, servername: string) =>
    new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: address, port: 443, servername, ca: root }, () => {
        resolve(s.getPeerCertificate().serialNumber.toUpperCase());
        s.end();
      });
      s.on('error', reject);
    });
  const traps = (name: string) =>
    readFileSync(lab.trapLog!, 'utf8')
      .split('\n')
      .map(parseTrapdLine)
      .filter((n) => n !== undefined && n.name === name)
      .map((n) => varbindValue(n!, 'gvosSimHostname'));
  const waitFor = async (what: string, test: () => boolean | Promise<boolean>, ms = 15_000) => {
    const until = Date.now() + ms;
    while (!(await test())) {
      if (Date.now() > until) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  await t.test('the token is required', async (t) => {
    t.equal((await api('GET', '/v1/boxes', undefined, 'Bearer wrong')).status, 401);
    t.equal((await api('GET', '/v1/boxes', undefined, '')).status, 401);
    const ok = await api('GET', '/v1/boxes');
    t.equal(ok.status, 200);
    t.same(
      (ok.body as LabBoxStatus[]).map((b) => b.certificate.status),
      ['valid', 'valid', 'valid'],
    );
  });

  await t.test('kill -9 and restart a box: its certificate comes back', async (t) => {
    const before = await status(2);
    t.equal(await servedSerial(`${BASE}.2`, 'gigavue-2.lab.test'), before.certificate.serial);
    const killed = await api('POST', '/v1/boxes/2/kill');
    t.equal((killed.body as LabBoxStatus).state, 'killed');
    await t.rejects(servedSerial(`${BASE}.2`, 'gigavue-2.lab.test'), 'box 2 does not answer');
    t.equal(
      await servedSerial(`${BASE}.1`, 'gigavue-1.lab.test'),
      (await status(1)).certificate.serial,
      'box 1 keeps serving',
    );
    const started = await api('POST', '/v1/boxes/2/start');
    t.equal((started.body as LabBoxStatus).state, 'running');
    t.equal(
      (started.body as LabBoxStatus).certificate.serial,
      before.certificate.serial,
      'same certificate after restart',
    );
    t.equal(
      await servedSerial(`${BASE}.2`, 'gigavue-2.lab.test'),
      before.certificate.serial,
      'and it is served',
    );
  });

  await t.test('fault acme-unreachable: the CA cannot be reached, counted', async (t) => {
    await api('POST', '/v1/faults', { fault: 'acme-unreachable', on: true, boxes: [1] });
    const [r] = await fleet('renew', [1]);
    t.notOk(r!.ok, r!.result);
    t.match(r!.result, /ECONNRESET|reach|connect/i);
    t.ok((await faultCount(1, 'acme-unreachable')) > 0, 'counted');
    await api('POST', '/v1/faults', { fault: 'acme-unreachable', on: false, boxes: [1] });
    const [again] = await fleet('renew', [1]);
    t.ok(again!.ok, `off again: ${again!.result}`);
  });

  await t.test('fault acme-slow: CA answers held back past the request timeout, counted', async (t) => {
    await api('POST', '/v1/faults', { fault: 'acme-slow', on: true, boxes: [1], delayMs: 3_000 });
    const [r] = await fleet('renew', [1]);
    t.notOk(r!.ok, r!.result);
    t.match(r!.result, /within|time|slow/i);
    t.ok((await faultCount(1, 'acme-slow')) > 0, 'counted');
    await api('POST', '/v1/faults', { fault: 'acme-slow', on: false, boxes: [1] });
    await waitFor('box 1 idle', async () => (await status(1)).certificate.status !== 'in-progress');
    const [again] = await fleet('renew', [1]);
    t.ok(again!.ok, `off again: ${again!.result}`);
  });

  await t.test(
    'fault acme-drop: the path to the CA drops packets, the box times out (no reset), counted',
    async (t) => {
      await api('POST', '/v1/faults', { fault: 'acme-drop', on: true, boxes: [1] });
      const [r] = await fleet('renew', [1]);
      t.notOk(r!.ok, r!.result);
      t.match(r!.result, /no answer .* within \d+ ms/);
      t.notMatch(r!.result, /ECONNRESET/);
      t.ok((await faultCount(1, 'acme-drop')) > 0, 'counted');
      await api('POST', '/v1/faults', { fault: 'acme-drop', on: false, boxes: [1] });
      await waitFor('box 1 idle', async () => (await status(1)).certificate.status !== 'in-progress');
      const [again] = await fleet('renew', [1]);
      t.ok(again!.ok, `off again: ${again!.result}`);
    },
  );

  await t.test('fault challenge-wrong: validation fails, counted', async (t) => {
    await api('POST', '/v1/faults', { fault: 'challenge-wrong', on: true, boxes: [3] });
    const [r] = await fleet('renew', [3]);
    t.notOk(r!.ok, r!.result);
    t.ok((await faultCount(3, 'challenge-wrong')) > 0, 'counted');
    await api('POST', '/v1/faults', { fault: 'challenge-wrong', on: false, boxes: [3] });
    const [again] = await fleet('renew', [3]);
    t.ok(again!.ok, `off again: ${again!.result}`);
  });

  await t.test('fault snmp-muted: no trap leaves the box, counted', async (t) => {
    const before = traps('gvosSimCertRenewed').filter((h) => h === 'gigavue-1').length;
    await api('POST', '/v1/faults', { fault: 'snmp-muted', on: true, boxes: [1] });
    const [r] = await fleet('renew', [1]);
    t.ok(r!.ok, r!.result);
    await new Promise((res) => setTimeout(res, 1_000));
    t.equal(
      traps('gvosSimCertRenewed').filter((h) => h === 'gigavue-1').length,
      before,
      'no renewed trap from box 1',
    );
    t.ok((await faultCount(1, 'snmp-muted')) > 0, 'counted');
    await api('POST', '/v1/faults', { fault: 'snmp-muted', on: false, boxes: [1] });
    t.equal(lab.runner.box(1)!.config.snmp.targets.length, 1, 'the trap receiver is back');
  });

  await t.test(
    'advancing a box clock triggers a real renewal, then the box is back on real time',
    async (t) => {
      const before = (await status(2)).certificate.serial;
      const r = await api('POST', '/v1/time/advance', { ms: 17 * 3_600_000, boxes: [2] });
      t.same(r.body, [{ boxId: 2, offsetMs: 17 * 3_600_000 }]);
      await waitFor('auto-renewal of box 2', async () => {
        const s = await status(2);
        return s.certificate.status === 'valid' && s.certificate.serial !== before;
      });
      t.equal(lab.runner.box(2)!.acmeState().lastRequest?.type, 'Auto-Renew');
      t.equal(lab.runner.clock(2).offset, 0, 'box 2 is back on real time');
      t.equal(
        await servedSerial(`${BASE}.2`, 'gigavue-2.lab.test'),
        (await status(2)).certificate.serial,
        'the new certificate is served',
      );
    },
  );

  await t.test('fleet revoke: one trap per box', async (t) => {
    const count = (h: string) => traps('gvosSimCertRevoked').filter((x) => x === h).length;
    const before = [1, 2, 3].map((i) => count(`gigavue-${i}`));
    const results = await fleet('revoke', [1, 2, 3]);
    t.same(
      results.map((r) => [r.boxId, r.ok]),
      [
        [1, true],
        [2, true],
        [3, true],
      ],
      results.map((r) => r.result).join('; '),
    );
    await waitFor(
      'three revoked traps',
      () => [1, 2, 3].every((i, k) => count(`gigavue-${i}`) === before[k]! + 1),
      10_000,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}: before ${before.join(',')}, now ${[1, 2, 3].map((i) => count(`gigavue-${i}`)).join(',')}; targets ${JSON.stringify([1, 2, 3].map((i) => lab.runner.box(i)?.config.snmp))}`,
      );
    });
    t.pass('one gvosSimCertRevoked per box');
  });

  await t.test('inventory: JSON and CSV with SNMP engine IDs', async (t) => {
    const rows = (await api('GET', '/v1/inventory')).body as {
      boxId: number;
      snmpEngineId: string;
      address: string;
    }[];
    t.equal(rows.length, 3);
    for (const r of rows) t.match(r.snmpEngineId, /^[0-9a-f]{10,64}$/i);
    const csv = (await api('GET', '/v1/inventory?format=csv')).text.trim().split('\r\n');
    t.equal(
      csv[0],
      'box-id,hostname,address,ssh-port,cli-port,https-port,http-port,snmp-port,serial,host-id,model,firmware,snmp-engine-id,domain,ca-root,user',
    );
    t.equal(csv.length, 4);
    t.match(csv[1], new RegExp(`^1,gigavue-1,${BASE}\\.1,22,23,443,80,161,`));
  });

  await t.test('add and remove a box', async (t) => {
    const added = await api('POST', '/v1/boxes', { boxId: 4 });
    t.equal(added.status, 201, added.text);
    t.equal((added.body as LabBoxStatus).certificate.status, 'valid');
    t.equal((await api('DELETE', '/v1/boxes/4')).status, 200);
    t.same(lab.runner.ids(), [1, 2, 3]);
    t.ok(await canListen(`${BASE}.4`, 443), 'its port is free');
    t.equal((await api('POST', '/v1/boxes/9/stop')).status, 404);
  });
});
