/**
 * What real automation does against a GigaVUE-OS box, against the real box
 * process (real-device.md section 3):
 *
 * - netmiko (Debian's python3-netmiko 2.4, run with /usr/bin/python3): it has
 *   no Gigamon driver in that version, so the driver of the same CLI
 *   framework, `mellanox` (MLNX-OS: `>`/`#`/`(config) #` prompts, `no cli
 *   session paging enable`, `config term`), logs in, sends a config set,
 *   reads the running config and saves it; the test then checks the box
 *   persisted it.
 * - Netshot's GigaVUE-OS driver, step by step over an SSH shell with a pty
 *   (as its JSch session): its prompts, `enable`, `terminal length 999`,
 *   `show running-config full`, `show version`, Enter on a pager line, and
 *   its regular expressions for the inventory (with the SNMP location and
 *   contact an operator set).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type ClientChannel } from 'ssh2';
import t from 'tap';
import { REPO_ROOT, startBoxProcess } from '../harness/box-process.js';
import { runSsh, TEST_PASSWORD, writeKnownHosts } from './cli-helpers.js';

const ADDRESS = '127.0.0.75';

if (!existsSync(join(REPO_ROOT, 'dist', 'src', 'main.js'))) {
  t.fail('not built: run npm run build first');
} else {
  const b = await startBoxProcess({ args: ['--hostname', 'auto-box', '--address', ADDRESS] });
  t.teardown(() => b.stop());
  const dir = mkdtempSync(join(tmpdir(), 'gvos-auto-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const doc = JSON.parse(readFileSync(join(b.dataDir, 'state.json'), 'utf8')) as { sshHostKey: string };
  const knownHosts = join(dir, 'known_hosts');
  writeKnownHosts(knownHosts, ADDRESS, b.ready.ports.ssh, doc.sshHostKey);

  t.test('netmiko: login, send_config_set, show running-config, save_config', async (t) => {
    const script = `
import json, sys
from netmiko import ConnectHandler
a = json.loads(sys.argv[1])
c = ConnectHandler(device_type='mellanox', host=a['host'], port=a['port'], username='admin',
                   password=a['password'], ssh_strict=True, system_host_keys=False,
                   alt_host_keys=True, alt_key_file=a['known_hosts'], allow_agent=False)
out = {'prompt': c.find_prompt()}
c.enable()
out['config'] = c.send_config_set(['ip name-server 10.9.9.9', 'ip domain-list netmiko.test'])
out['running'] = c.send_command('show running-config')
out['save'] = c.save_config(cmd='write memory')
out['after'] = c.find_prompt()
c.disconnect()
print(json.dumps(out))
`;
    const args = JSON.stringify({
      host: ADDRESS,
      port: b.ready.ports.ssh,
      password: TEST_PASSWORD,
      known_hosts: knownHosts,
    });
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile('/usr/bin/python3', ['-c', script, args], { timeout: 120_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
    t.equal(r.code, 0, `netmiko ran: ${r.stderr.slice(-2000)}`);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    t.equal(out.prompt, 'auto-box >', 'netmiko found the standard-mode prompt');
    t.match(out.config, /auto-box \(config\) # /, 'config mode entered with config term');
    t.match(out.running, /^ip name-server 10\.9\.9\.9$/m, 'the running config has the new line');
    t.match(out.running, /^ip domain-list netmiko\.test$/m);
    t.notMatch(out.running, /lines \d+-\d+/, 'no pager in the way (no cli session paging enable)');
    t.equal(out.after, 'auto-box #', 'back out of config mode');
    const saved = JSON.parse(readFileSync(join(b.dataDir, 'state.json'), 'utf8')) as {
      config: { nameServers: string[]; domainList: string[] };
    };
    t.same(saved.config.nameServers, ['10.9.9.9'], 'save_config (write memory) persisted it');
    t.same(saved.config.domainList, ['netmiko.test']);
  });

  t.test("Netshot's GigaVUE-OS driver: the inventory from a backup", async (t) => {
    // The operator set where the box is and who runs it (Netshot reads them from the running config).
    const set = await runSsh(
      { address: ADDRESS, sshPort: b.ready.ports.ssh, knownHosts },
      {
        command: [
          'configure terminal',
          'snmp-server location Lab A, rack 3',
          'snmp-server contact noc@lab.test, +1 555 0100',
        ].join('\n'),
      },
    );
    t.equal(set.code, 0, 'snmp-server location and contact set over OpenSSH');
    const conn = new ssh2.Client();
    t.teardown(() => conn.end());
    const parsed = ssh2.utils.parseKey(doc.sshHostKey);
    if (parsed instanceof Error) throw parsed;
    const expected = (Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH().toString('base64');
    await new Promise<void>((resolve, reject) => {
      conn.on('ready', () => resolve()).on('error', reject);
      conn.connect({
        host: ADDRESS,
        port: b.ready.ports.ssh,
        username: 'admin',
        password: TEST_PASSWORD,
        hostVerifier: (key: Buffer) => key.toString('base64') === expected,
      });
    });
    // Netshot opens a shell with a pty (24 rows: the box pages until told otherwise).
    const sh = await new Promise<ClientChannel>((resolve, reject) =>
      conn.shell({ rows: 24, cols: 80, term: 'vt100' }, (err, s) => (err ? reject(err) : resolve(s))),
    );
    let buf = '';
    sh.on('data', (d: Buffer) => (buf += d.toString()));
    // The driver's patterns.
    const PROMPT = /^auto-box > $|^auto-box # $|^auto-box \(config\) # $/m;
    // The contract's form (collectors match ^lines [0-9]+-[0-9]+): it also answers the (END) line.
    const PAGER = /^lines [0-9]+-[0-9]+/m;
    const ERROR = /^% (.*)/m;
    let pagerAnswers = 0;
    /** Send a command and collect its output up to the next prompt, answering pager lines with Enter. */
    const cli = async (cmd: string): Promise<string> => {
      buf = '';
      sh.write(cmd + '\r');
      for (let i = 0; i < 600; i++) {
        const lines = buf.split(/\r?\n/);
        const last = lines[lines.length - 1]!;
        if (PAGER.test(last)) {
          pagerAnswers++;
          buf = buf.slice(0, buf.length - last.length);
          sh.write('\r');
        } else if (PROMPT.test(last) && lines.length > 1) {
          return lines.slice(1, -1).join('\n');
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no prompt after ${cmd}: ${buf.slice(-500)}`);
    };
    for (let i = 0; i < 400 && !PROMPT.test(buf); i++) await new Promise((r) => setTimeout(r, 25));
    t.match(buf, /auto-box > $/, 'the standard-mode prompt');
    // A page of the pager, answered with Enter as the driver does, before paging is turned off.
    const paged = await cli('show version');
    t.ok(pagerAnswers > 0, 'the pager line matched ^lines [0-9]+-[0-9]+$ and Enter went on');
    t.match(paged, /Product name: +GigaVUE-OS[\s\S]*Crypto mode/, 'the whole output came through the pager');
    t.notMatch(await cli('enable'), ERROR);
    t.notMatch(await cli('terminal length 999'), ERROR, 'terminal length 999 is accepted');
    const config = await cli('show running-config full');
    t.notMatch(config, ERROR);
    const version = await cli('show version');

    // What the driver extracts (its regular expressions).
    const hostname = /^## Hostname: (.*)$/m.exec(config)?.[1];
    const withoutDate = config
      .split('\n')
      .filter((l) => !/^## Generated at/.test(l))
      .join('\n');
    const location = /^snmp-server location (.*)$/m.exec(config)?.[1] ?? '';
    const contact = /^snmp-server contact (.*)$/m.exec(config)?.[1] ?? '';
    const interfaces: Record<string, { ip?: string; enabled: boolean; comment?: string }> = {};
    let current: string | undefined;
    for (const line of config.split('\n')) {
      const i = /^interface (\S+)$/.exec(line);
      if (i) {
        current = i[1]!;
        interfaces[current] = { enabled: false };
        continue;
      }
      if (!current) continue;
      if (!/^\s/.test(line)) {
        current = undefined;
        continue;
      }
      const ip = /^\s+ip address (\d+\.\d+\.\d+\.\d+) \/(\d+)$/.exec(line);
      if (ip) interfaces[current]!.ip = `${ip[1]}/${ip[2]}`;
      if (/^\s+no shutdown$/.test(line)) interfaces[current]!.enabled = true;
      const c = /^\s+comment "(.*)"$/.exec(line);
      if (c) interfaces[current]!.comment = c[1]!;
    }
    const release = /^Product release: +(.*)$/m.exec(version)?.[1];
    const family = /^Product name: +(.*)$/m.exec(version)?.[1];
    const model = /^Product model: +(.*)$/m.exec(version)?.[1];
    const hw = /^Product hw: +(.*)$/m.exec(version)?.[1];
    const hostId = /^Host ID: +(.*)$/m.exec(version)?.[1];
    const memory = /^System memory: .* ([0-9]+) MB total$/m.exec(version)?.[1];
    const inventory = {
      hostname,
      family,
      release,
      model,
      hw,
      hostId,
      memoryMb: Number(memory),
      location,
      contact,
      interfaces,
    };
    t.comment(JSON.stringify(inventory));
    t.equal(hostname, 'auto-box');
    t.notMatch(withoutDate, /Generated at/, 'the line the driver drops is there to drop');
    t.match(config, /^## Generated at \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d$/m);
    t.equal(family, 'GigaVUE-OS');
    t.match(release, /^\d+\.\d+\.\d+$/);
    t.equal(model, 'GigaVUE-HC2');
    t.equal(hw, 'gvhc2');
    t.match(hostId, /^[0-9a-f]{12}$/);
    t.equal(inventory.memoryMb, 3614);
    t.equal(location, 'Lab A, rack 3', "Netshot's location");
    t.equal(contact, 'noc@lab.test, +1 555 0100', "Netshot's contact");
    t.same(interfaces.eth0, { enabled: true, comment: 'management', ip: `${ADDRESS}/8` });
    sh.write('exit\r');
  });
}
