/**
 * Backup and restore of the saved configuration over OpenSSH, against the
 * real box process (CLI contract, "System"; the commands QualiSystems' shell
 * sends): `configuration upload active file:///...`, change the hostname and
 * a setting and save them, `configuration fetch` + `configuration switch-to`,
 * `reload`: the saved configuration is back, in the running config and in the
 * state file. The file is 0600 and holds no password and no key.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT, startBoxProcess } from '../harness/box-process.js';
import { killSshClients, runSsh, TEST_PASSWORD, writeKnownHosts, type SshTarget } from './cli-helpers.js';

const ADDRESS = '127.0.0.76';

if (!existsSync(join(REPO_ROOT, 'dist', 'src', 'main.js'))) {
  t.fail('not built: run npm run build first');
} else {
  const b = await startBoxProcess({ args: ['--hostname', 'backup-box', '--address', ADDRESS] });
  t.teardown(() => b.stop());
  const dir = mkdtempSync(join(tmpdir(), 'gvos-cfgfiles-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = () =>
    JSON.parse(readFileSync(join(b.dataDir, 'state.json'), 'utf8')) as {
      sshHostKey: string;
      config: { hostname: string; snmp: { location?: string; contact?: string } };
      activeConfigFile?: string;
    };
  const target: SshTarget = {
    address: ADDRESS,
    sshPort: b.ready.ports.ssh,
    knownHosts: join(dir, 'known_hosts'),
  };
  writeKnownHosts(target.knownHosts, ADDRESS, b.ready.ports.ssh, state().sshHostKey);
  t.teardown(() => killSshClients(target));
  /** Run lines over an exec channel of OpenSSH (it starts in enable mode); the output. */
  const ssh = async (...lines: string[]) => {
    const r = await runSsh(target, { command: lines.join('\n'), timeoutMs: 30_000 });
    t.equal(r.code, 0, `ssh exit 0 after "${lines[lines.length - 1]}"`, { output: r.stdout + r.stderr });
    return r.stdout;
  };
  const backup = join(dir, 'backup-1.json');

  t.test(
    'upload active to a file, change, fetch + switch-to, reload: the saved configuration is back',
    async (t) => {
      await ssh(
        'configure terminal',
        'snmp-server location Lab A, rack 3',
        'snmp-server contact noc@lab.test',
        'write memory',
      );
      t.match(
        await ssh('configure terminal', `configuration upload active file://${backup}`),
        /^Uploaded the active configuration to .*backup-1\.json \(mode 0600: it holds the users' password hashes and the SNMP secrets\)\.$/m,
      );
      t.equal(statSync(backup).mode & 0o777, 0o600, 'the backup is 0600');
      const text = readFileSync(backup, 'utf8');
      t.notMatch(text, new RegExp(TEST_PASSWORD), 'no password in the file (a hash)');
      t.notMatch(text, /PRIVATE KEY/, 'no private key in the file');

      await ssh('configure terminal', 'hostname changed-box', 'snmp-server location Lab B', 'write memory');
      t.equal(state().config.hostname, 'changed-box', 'the change is saved');
      t.match(await ssh('show running-config'), /^## Hostname: changed-box$/m);

      const out = await ssh(
        'configure terminal',
        `configuration fetch file://${backup} restore-1`,
        'configuration switch-to restore-1',
        'show configuration files',
      );
      t.match(out, /^Fetched configuration file "restore-1"/m);
      t.match(out, /^Switched to configuration file "restore-1"/m);
      t.match(
        out,
        /^restore-1 \(active\)\ninitial\n\nActive configuration: restore-1\nUnsaved changes: no$/m,
      );

      // The session ends with the reload; the box comes back on the same ports.
      await runSsh(target, { command: 'reload', timeoutMs: 30_000 });
      let config = '';
      for (let i = 0; i < 150 && !/^## Hostname:/m.test(config); i++) {
        await new Promise((r) => setTimeout(r, 200));
        config = (await runSsh(target, { command: 'show running-config', timeoutMs: 10_000 })).stdout;
      }
      t.match(config, /^## Hostname: backup-box$/m, 'after reload: the hostname of the backup');
      t.match(config, /^snmp-server location Lab A, rack 3$/m, 'and its location');
      t.match(config, /^snmp-server contact noc@lab.test$/m);
      t.match(await ssh('show version'), /^Uptime: +0d 0h 0m \d+s$/m, 'it did reload');
      const s = state();
      t.equal(s.config.hostname, 'backup-box', 'the state file has it saved');
      t.equal(s.activeConfigFile, 'restore-1');
      t.match(
        await ssh('show configuration files'),
        /^restore-1 \(active\)$/m,
        'the active file survives reload',
      );
    },
  );

  t.test('refused: another role, a non-local URL, a path with ..', async (t) => {
    await ssh('configure terminal', 'username op1 password "op pass 1"', 'username op1 capability operator');
    const op = await runSsh(target, {
      user: 'op1',
      password: 'op pass 1',
      command: `configure terminal\nconfiguration upload active file://${dir}/op.json`,
    });
    t.match(op.stdout, /^% Permission denied\.$/m, 'an operator may not upload');
    t.notOk(existsSync(join(dir, 'op.json')));
    const bad = await runSsh(target, {
      command: [
        'configure terminal',
        'configuration fetch scp://127.0.0.1/backup.json',
        `configuration fetch file://${dir}/../etc/passwd`,
      ].join('\n'),
    });
    t.equal(bad.code, 1, 'the exec channel exits 1');
    t.match(bad.stdout, /^% Give a file:\/\/\/<absolute path> URL/m);
    t.match(bad.stdout, /^% The path may not contain "\." or "\.\." segments/m);
  });
}
