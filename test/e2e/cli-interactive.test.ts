/**
 * Line editing and history as an operator gets them: the real OpenSSH
 * client, in a real pty (a tmux pane: tmux is the terminal emulator, so the
 * screen checked is what a person would see), against the real box process.
 * Keys are sent with tmux send-keys (tmux translates Up, Left, C-a ... into
 * the bytes its terminal would send) and the screen is read with
 * capture-pane. The tmux server runs on its own socket (-L) and is ended by
 * that socket, the box by its PID.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { REPO_ROOT, startBoxProcess } from '../harness/box-process.js';
import { TEST_PASSWORD, writeKnownHosts } from './cli-helpers.js';

const run = promisify(execFile);
const ADDRESS = '127.0.0.74';

if (!existsSync(join(REPO_ROOT, 'dist', 'src', 'main.js'))) {
  t.fail('not built: run npm run build first');
} else {
  const b = await startBoxProcess({ args: ['--hostname', 'tty-box', '--address', ADDRESS] });
  t.teardown(() => b.stop());
  const dir = mkdtempSync(join(tmpdir(), 'gvos-tty-'));
  const socket = `gvos-tty-${process.pid}`;
  const tmux = (...args: string[]) => run('tmux', ['-L', socket, '-f', '/dev/null', ...args]);
  t.teardown(async () => {
    // Our own server, by its own socket.
    await tmux('kill-server').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const doc = JSON.parse(readFileSync(join(b.dataDir, 'state.json'), 'utf8')) as { sshHostKey: string };
  const knownHosts = join(dir, 'known_hosts');
  writeKnownHosts(knownHosts, ADDRESS, b.ready.ports.ssh, doc.sshHostKey);
  const passFile = join(dir, 'pw');
  writeFileSync(passFile, TEST_PASSWORD, { mode: 0o600 });
  const ssh = [
    'sshpass',
    '-f',
    passFile,
    'ssh',
    '-tt',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'PubkeyAuthentication=no',
    '-o',
    'LogLevel=ERROR',
    '-p',
    String(b.ready.ports.ssh),
    `admin@${ADDRESS}`,
  ].join(' ');

  /** The visible screen, trailing blanks trimmed. */
  const screen = async (join = true): Promise<string> =>
    (await tmux('capture-pane', '-p', ...(join ? ['-J'] : []), '-t', 'cli')).stdout.replace(/\s+$/, '');
  /** Wait until the screen matches (the pane is polled: no fixed sleeps). */
  const until = async (re: RegExp, what: string): Promise<string> => {
    let s = '';
    for (let i = 0; i < 300; i++) {
      s = await screen();
      if (re.test(s)) return s;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`screen never showed ${what}; it shows:\n${s}`);
  };
  const keys = (...k: string[]) => tmux('send-keys', '-t', 'cli', ...k);
  /** The last line on the screen (the prompt line being edited). */
  const lastLine = async () => (await screen()).split('\n').pop()!;
  /** The last line once it reads `want` (polled: the keys travel through ssh first), or what it shows after 10 s. */
  const lineAfterKeys = async (want: string): Promise<string> => {
    let got = '';
    for (let i = 0; i < 200; i++) {
      got = await lastLine();
      if (got === want) return got;
      await new Promise((r) => setTimeout(r, 50));
    }
    return got;
  };

  await tmux('new-session', '-d', '-s', 'cli', '-x', '100', '-y', '30', ssh);
  await until(/tty-box > ?$/, 'the first prompt');

  t.test('a line recalled with Up, edited mid-line, runs as edited', async (t) => {
    await keys('-l', 'show clock');
    await keys('Enter');
    await until(/Time zone:.*\n.*tty-box > ?$/, 'show clock ran');
    await keys('-l', 'show versoin');
    await keys('Enter');
    await until(/Unrecognized command "versoin"[\s\S]*tty-box > ?$/, 'the typo refused');
    // Up recalls the line; the typo is fixed in the middle of it.
    await keys('Up');
    await until(/tty-box > show versoin$/, 'the line recalled');
    // "versoin" -> "version": Left x2 (before "in"), erase the "o", Right over the "i", insert "o".
    await keys('Left', 'Left', 'BSpace', 'Right');
    await keys('-l', 'o');
    t.equal(await lineAfterKeys('tty-box > show version'), 'tty-box > show version', 'edited mid-line');
    await keys('Enter');
    const s = await until(/Product name:[\s\S]*Host ID:[\s\S]*tty-box > ?$/, 'show version ran');
    t.match(s, /tty-box > show version\nProduct name: +GigaVUE-OS/, 'the edited line ran');
    // Ctrl-P twice: the line before the last.
    await keys('C-p', 'C-p');
    await until(/tty-box > show versoin$/, 'Ctrl-P walks back');
    await keys('C-n');
    await until(/tty-box > show version$/, 'Ctrl-N walks forward');
    await keys('-l', 'x');
    await keys('Left', 'C-d');
    t.equal(
      await lineAfterKeys('tty-box > show version'),
      'tty-box > show version',
      'Ctrl-D erases under the cursor',
    );
    await keys('C-u');
    t.equal(await lineAfterKeys('tty-box >'), 'tty-box >', 'Ctrl-U empties the line');
  });

  t.test('Ctrl-A, Ctrl-E, Ctrl-W, Ctrl-K', async (t) => {
    await keys('-l', 'version show junk');
    await keys('C-w');
    t.equal(
      await lineAfterKeys('tty-box > version show'),
      'tty-box > version show',
      'Ctrl-W erases the last word',
    );
    await keys('C-a');
    await keys('-l', 'show ');
    t.equal(
      await lineAfterKeys('tty-box > show version show'),
      'tty-box > show version show',
      'Ctrl-A: typing at the start',
    );
    await keys('M-f', 'C-k');
    t.equal(
      await lineAfterKeys('tty-box > show version'),
      'tty-box > show version',
      'Esc f then Ctrl-K: the rest is gone',
    );
    await keys('C-a', 'C-e');
    await keys('-l', ' box-id 1');
    t.equal(
      await lineAfterKeys('tty-box > show version box-id 1'),
      'tty-box > show version box-id 1',
      'Ctrl-E: typing at the end',
    );
    await keys('Enter');
    await until(/Product release:[\s\S]*tty-box > ?$/, 'it ran');
    await keys('-l', 'show history');
    await keys('Enter');
    const s = await until(/\d+ +show history\n.*tty-box > ?$/, 'show history');
    t.match(
      s,
      / 1 +show clock\n +2 +show versoin\n +3 +show version\n +4 +show version box-id 1\n +5 +show history/,
    );
  });

  t.test('a long line wraps, and redraws after a resize', async (t) => {
    await keys('C-l');
    await until(/^tty-box > ?$/, 'Ctrl-L cleared the screen');
    const long =
      'crypto certificate acme issue domain gigavue-1.lab.test acme-server https://ca.lab.test:14000/dir';
    await keys('-l', long);
    await keys('Home');
    await keys('-l', 'x');
    await until(/tty-box > xcrypto/, 'insert at the start of a wrapped line');
    t.equal((await screen()).replace(/\n/g, ''), `tty-box > x${long}`, 'the wrapped line reads whole');
    await tmux('resize-window', '-t', 'cli', '-x', '40', '-y', '30');
    await keys('End');
    await keys('-l', 'Z');
    const s = await until(/dirZ$/, 'typing after the resize');
    t.equal(
      s
        .split('\n')
        .filter((l) => l)
        .join(''),
      `tty-box > x${long}Z`,
      'after the resize the line is redrawn once, whole',
    );
    t.ok(
      (await screen(false)).split('\n').every((l) => l.length <= 40),
      'rows fit the new width',
    );
    await keys('C-c');
    await until(/Z\^C\ntty-box > ?$/, 'Ctrl-C drops the line');
  });

  t.test('paging: lines 1-N, space continues, (END) on the last page', async (t) => {
    await keys('-l', 'terminal length 10');
    await keys('Enter');
    await keys('-l', 'show version');
    await keys('Enter');
    await until(/\nlines 1-9$/, 'the pager line');
    await keys('Space');
    await until(/\nlines 10-18$/, 'space: the next page');
    await keys('Space');
    const s = await until(/\nlines 19-(\d+)\/\1 \(END\)$/, 'the last page');
    t.match(s, /Crypto mode: +\S+\nlines/, 'the last page ends with the last line');
    await keys('q');
    await until(/\ntty-box > ?$/, 'q back to the prompt');
  });

  t.test('transcript', async (t) => {
    // Kept for the report: what the operator saw.
    const s = (await tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', 'cli')).stdout;
    writeFileSync(join(tmpdir(), 'gvos-tty-transcript.txt'), s);
    t.ok(s.length > 0);
  });
}
