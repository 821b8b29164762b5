/**
 * Hostile input on the CLI, end to end: a seeded fuzzer builds command lines
 * from the CLI's grammar (test/harness/cli-grammar.ts over the command
 * tree), mangles some and mixes in garbage (control characters, invalid
 * UTF-8, lines and PEM values over the limits), and sends them to a real box
 * process over SSH (an ssh2 shell without pty, plus exec channels) and over
 * TCP at the same time. It checks:
 *
 * - no crash: the box process stays up, and a fresh login works at the end;
 * - every reply ends with a prompt: after each fuzzed line a sentinel line
 *   (an unknown command with a unique name) is sent, and its answer must come
 *   right after a prompt; a line that left a quote open or sent control
 *   characters is first cancelled with Ctrl-C, as a user would;
 * - no command fails inside ("Internal error" is never printed);
 * - exec channels always end with exit status 0 or 1;
 * - memory stays bounded: the box's RSS, sampled all along, does not grow
 *   by more than a fixed margin from the first tenth of the run to the end.
 *
 * Quick (CI): 3,000 lines. Full: GVOS_FULL=1 (100,000 lines), or
 * GVOS_FUZZ_LINES=<n>. GVOS_SEED=<text> replays a run.
 */
import t from 'tap';
import ssh2 from 'ssh2';
import { randomLine, sanitizeLine } from '../harness/cli-grammar.js';
import { connect, type Socket } from 'node:net';
import { PROMPT } from '../e2e/cli-helpers.js';
import type { BoxProcess } from '../harness/box-process.js';
import { cli, PASSWORD, Rng, sampleRss, SEED, served, size, startBox } from './helpers.js';

const LINES = size('FUZZ_LINES', 5_000, 100_000);
/**
 * RSS growth allowed from the first half of the run to the second (peak to
 * peak). The heap settles within the first half; a leak of a few hundred
 * bytes a line shows over a full run.
 */
const RSS_MARGIN_KIB = 48 * 1024;

/** What a fuzzing driver reports. */
interface Tally {
  lines: number;
  skipped: number;
  rawBytes: number;
  execs: number;
  failures: string[];
}

/**
 * Output that keeps arriving, of which only the part not yet matched is kept
 * (the e2e Reader keeps everything, which makes 100k lines quadratic).
 */
class Tail {
  private buf = '';
  private waiters: (() => void)[] = [];

  push(s: string): void {
    this.buf += s;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Wait until the unmatched output matches `pattern`; returns it up to the match's end and drops that. */
  async until(pattern: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.buf);
      if (m) {
        const out = this.buf.slice(0, m.index + m[0].length);
        this.buf = this.buf.slice(m.index + m[0].length);
        return out;
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${String(pattern)}; got: ${JSON.stringify(this.buf.slice(-300))}`,
        );
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

/** A CLI session the drivers talk to: send bytes, read what comes back. */
interface Conversation {
  out: Tail;
  send(s: string | Buffer): void;
  close(): void;
}

const SENTINEL = (n: number) => `zzs${n}`;
/** A prompt, an echoed end of line, then the sentinel's error and the next prompt. */
const sentinelAnswer = (n: number) =>
  new RegExp(
    `(?:^|\\n)[\\w.-]+ (?:>|#|\\(config\\) #) \\n% Unrecognized command "${SENTINEL(n)}"\\.\\nType "\\?" for help\\.\\n[\\w.-]+ (?:>|#|\\(config\\) #) $`,
  );

/**
 * Send `count` fuzzed lines through `c`, each followed by a sentinel; a line
 * whose reply does not end with a prompt within `timeoutMs` is a failure.
 */
async function fuzz(
  c: Conversation,
  rng: Rng,
  count: number,
  tally: Tally,
  exec?: (line: string) => Promise<void>,
) {
  /** The last lines sent, for the failure message: a hang may come from the line before. */
  const recent: string[] = [];
  for (let i = 0; i < count; i++) {
    let payload: string | Buffer;
    let shown: string;
    if (rng.chance(0.02)) {
      // Raw bytes, invalid UTF-8 included.
      const bytes = Buffer.from(Array.from({ length: rng.int(1, 200) }, () => rng.int(0, 255)));
      // Judged as the box decodes it (bytes that are not UTF-8 become U+FFFD).
      if (sanitizeLine(bytes.toString('utf8')) === undefined) {
        tally.skipped++;
        continue;
      }
      payload = bytes;
      shown = `<${bytes.length} raw bytes>`;
      tally.rawBytes++;
    } else {
      const line = sanitizeLine(randomLine(rng));
      if (line === undefined) {
        tally.skipped++;
        continue;
      }
      payload = line;
      shown = JSON.stringify(line.length > 120 ? line.slice(0, 120) + `...(${line.length})` : line);
      // An exec request travels in one SSH packet (at most 32 KiB, RFC 4253 §6.1): longer ones are
      // a client's protocol error, which ends the whole connection.
      if (exec && rng.chance(0.01) && Buffer.byteLength(line) < 16_384) {
        tally.execs++;
        await exec(line);
      }
    }
    // Control characters or a quote may leave the line editor inside a value: Ctrl-C ends it.
    const cancel = typeof payload !== 'string' || hasControlOrQuote(payload) ? '\x03' : '';
    // One write: two small ones would wait for each other (Nagle and delayed ACKs, 40 ms a line).
    c.send(Buffer.concat([Buffer.from(payload), Buffer.from(`\n${cancel}${SENTINEL(i)}\n`)]));
    recent.push(`${i}: ${shown}`);
    if (recent.length > 3) recent.shift();
    let reply: string;
    try {
      reply = await c.out.until(sentinelAnswer(i), 15_000);
    } catch (e) {
      tally.failures.push(`${(e as Error).message.slice(0, 300)}; the last lines: ${recent.join(' | ')}`);
      return;
    }
    if (/Internal error/.test(reply)) tally.failures.push(`line ${i} ${shown}: ${reply.slice(-300)}`);
    tally.lines++;
  }
}

/** True when `s` has a control character or a double quote. */
function hasControlOrQuote(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x22) return true;
  }
  return false;
}

/** A TCP CLI session logged in as admin. */
async function tcpSession(port: number): Promise<Conversation> {
  const out = new Tail();
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  sock.setNoDelay(true);
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => out.push(d));
  sock.on('error', () => undefined);
  await out.until(/login: $/, 10_000);
  sock.write('admin\n');
  await out.until(/Password: $/, 10_000);
  sock.write(PASSWORD + '\n');
  await out.until(PROMPT, 10_000);
  return { out, send: (s) => sock.write(s), close: () => sock.destroy() };
}

/** An ssh2 client logged in to the box, with a shell channel without pty. */
async function sshShell(port: number): Promise<{ conv: Conversation; client: ssh2.Client }> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port, username: 'admin', password: PASSWORD, readyTimeout: 10_000 });
  });
  const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
    client.shell(false, (err, s) => (err ? reject(err) : resolve(s))),
  );
  const out = new Tail();
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => out.push(d));
  await out.until(PROMPT, 10_000);
  return {
    client,
    conv: { out, send: (s) => stream.write(s), close: () => client.end() },
  };
}

/** One exec channel: resolves its exit status (rejects after 15 s). */
function execOnce(client: ssh2.Client, command: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, ch) => {
      if (err) return reject(err);
      const timer = setTimeout(() => reject(new Error('exec channel did not close')), 15_000);
      let code: number | null = null;
      ch.on('exit', (c: number | null) => (code = c));
      ch.on('data', () => undefined);
      ch.stderr.on('data', () => undefined);
      ch.on('close', () => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  });
}

t.test(`fuzzing the CLI over SSH and TCP (${LINES} lines)`, async (t) => {
  const box: BoxProcess = await startBox({ args: ['--crypto-mode', 'secure-crypto'] });
  t.teardown(() => box.kill());
  const p = box.ready.ports;
  const rss = sampleRss(box.proc.pid!, 100);
  t.comment(`seed "${SEED}"`);

  const tcpTally: Tally = { lines: 0, skipped: 0, rawBytes: 0, execs: 0, failures: [] };
  const sshTally: Tally = { lines: 0, skipped: 0, rawBytes: 0, execs: 0, failures: [] };
  const tcp = await tcpSession(p.cli);
  const ssh = await sshShell(p.ssh);
  const execCodes = new Set<number | null>();
  const started = Date.now();
  await Promise.all([
    fuzz(tcp, new Rng(`${SEED}/fuzz-tcp`), Math.ceil(LINES / 2), tcpTally),
    fuzz(ssh.conv, new Rng(`${SEED}/fuzz-ssh`), Math.floor(LINES / 2), sshTally, async (line) => {
      try {
        execCodes.add(await execOnce(ssh.client, line));
      } catch (e) {
        sshTally.failures.push(`exec ${JSON.stringify(line.slice(0, 120))}: ${(e as Error).message}`);
      }
    }),
  ]);
  const seconds = (Date.now() - started) / 1000;
  tcp.close();
  ssh.conv.close();
  const samples = rss.stop();

  if (tcpTally.failures.length + sshTally.failures.length > 0) {
    t.comment(
      `box exit code ${box.proc.exitCode}, signal ${box.proc.signalCode}; stderr ends:\n${box.stderr().slice(-3000)}`,
    );
  }
  t.same(tcpTally.failures, [], `TCP: ${tcpTally.lines} lines, each answered with a prompt`);
  t.same(sshTally.failures, [], `SSH: ${sshTally.lines} lines, each answered with a prompt`);
  t.ok(
    tcpTally.lines + sshTally.lines >= LINES * 0.8,
    'most lines were sent (the rest were skipped as unsafe)',
  );
  t.ok(
    [...execCodes].every((c) => c === 0 || c === 1),
    `exec channels exit 0 or 1 (${sshTally.execs} run)`,
  );
  t.equal(box.proc.exitCode, null, 'the box process is still running');
  t.match(await cli(p.cli, ['show version']), /Product name/, 'a fresh login works');
  t.ok((await served(p.https)).serial, 'HTTPS still serves');

  const half = Math.ceil(samples.length / 2);
  const firstPeak = Math.max(...samples.slice(0, half));
  const secondPeak = Math.max(...samples.slice(half));
  const mib = (k: number) => (k / 1024).toFixed(0);
  t.comment(
    `${tcpTally.lines + sshTally.lines} lines in ${seconds.toFixed(1)} s ` +
      `(skipped ${tcpTally.skipped + sshTally.skipped} unsafe, ${tcpTally.rawBytes + sshTally.rawBytes} raw-byte lines, ${sshTally.execs} execs); ` +
      `RSS MiB: start ${mib(samples[0]!)}, peak of first half ${mib(firstPeak)}, of second half ${mib(secondPeak)}, end ${mib(samples.at(-1)!)}`,
  );
  t.ok(
    secondPeak - firstPeak < RSS_MARGIN_KIB,
    `RSS peak of the second half within ${RSS_MARGIN_KIB / 1024} MiB of the first half's`,
  );
  t.notMatch(box.stderr(), /"msg":"command failed"/, 'no command failed inside the box');
});

/** Key fragments of an interactive session: editing keys, arrows of every terminal, and hostile sequences. */
const KEYS = [
  'show ',
  'version',
  'crypto certificate acme issue domain a.lab.test acme-server https://ca.lab.test/dir ',
  '"quoted value',
  '\x1b[A', // Up (CSI)
  '\x1bOA', // Up (SS3)
  '\x1b[B',
  '\x1b[D',
  '\x1bOD',
  '\x1b[C',
  '\x1b[1~', // Home (PuTTY)
  '\x1b[4~', // End (PuTTY)
  '\x1b[7~',
  '\x1b[3~', // Delete
  '\x1b[1;5C', // Ctrl-Right
  '\x1b[99;99;99z', // unknown CSI
  '\x1bOP', // F1 (unknown SS3)
  '\x1b[' + '9;'.repeat(30) + 'm', // overlong parameters
  '\x1b', // a lone Escape
  '\x01',
  '\x02',
  '\x04',
  '\x05',
  '\x06',
  '\x0b',
  '\x0c',
  '\x0e',
  '\x10',
  '\x15',
  '\x17',
  '\x7f',
  '\b',
  '\t',
  '?',
  'é😀',
];

t.test('fuzzing the interactive key paths (pty): every path ends with a prompt', async (t) => {
  const box: BoxProcess = await startBox({});
  t.teardown(() => box.kill());
  const client = new ssh2.Client();
  t.teardown(() => client.end());
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: box.ready.ports.ssh,
      username: 'admin',
      password: PASSWORD,
      readyTimeout: 10_000,
    });
  });
  const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
    client.shell({ rows: 24, cols: 40, term: 'xterm' }, (err, s) => (err ? reject(err) : resolve(s))),
  );
  const out = new Tail();
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => out.push(d));
  await out.until(/ > $/, 10_000);
  stream.write('terminal length 999\r');
  await out.until(/ > $/, 10_000);
  // History past its bound: more lines than the history keeps, then walk far back.
  for (let i = 0; i < 120; i++) stream.write(`sentinel-h${i}\r`);
  stream.write('\x1b[A'.repeat(150) + '\x03');
  await out.until(/sentinel-h119"\.[\s\S]*\^C\r\n\S+ > $/, 20_000);

  const rng = new Rng(`${SEED}/keys`);
  const rounds = size('KEY_ROUNDS', 300, 5000);
  const failures: string[] = [];
  for (let i = 0; i < rounds; i++) {
    let keys = '';
    const n = rng.int(1, 12);
    for (let k = 0; k < n; k++) keys += KEYS[rng.int(0, KEYS.length - 1)];
    // Sent in two pieces cut anywhere (an escape sequence cut in half), with a resize in between now and then.
    const cut = rng.int(0, keys.length);
    stream.write(keys.slice(0, cut));
    // Never narrower than prompt + sentinel, so the sentinel's echo does not wrap.
    if (rng.int(0, 3) === 0) stream.setWindow(24, rng.int(40, 140), 0, 0);
    stream.write(keys.slice(cut));
    // Ctrl-C abandons whatever is left (a quote, a sequence), then the sentinel must answer after a prompt.
    stream.write(`\x03sentinel-${i}\r`);
    try {
      await out.until(
        new RegExp(`\\S+ > sentinel-${i}\\r\\n% Unrecognized command "sentinel-${i}"\\.`),
        10_000,
      );
    } catch {
      failures.push(`round ${i}: ${JSON.stringify(keys)}`);
      break;
    }
  }
  t.same(failures, [], `${rounds} rounds of keys, each ended with a prompt`);
  t.equal(box.proc.exitCode, null, 'the box process is still running');
  t.notMatch(box.stderr(), /"msg":"command failed"/, 'no command failed inside the box');
});
