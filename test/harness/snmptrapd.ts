/**
 * A real snmptrapd for tests: started on 127.0.0.1 on a free UDP port with
 * the project's MIB, a private temp dir (config, SNMP_PERSISTENT_DIR, log),
 * and the one-line-per-notification format of src/snmp/trapd-launcher.ts.
 * Stopped by its PID. Needs the Debian package snmptrapd.
 *
 *   const rx = await startTrapReceiver({ communities: ['public'] });
 *   ... point a box at rx.host / rx.port ...
 *   const n = await rx.waitFor((n) => n.name === 'gvosSimCertRevoked');
 *   await rx.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { freePort } from '../../src/lib/net.js';
import {
  parseTrapdLine,
  trapdConfigText,
  trapdLaunch,
  TRAPD_LINE_PREFIX,
  TRAPD_READY_TEXT,
  udpPortBound,
  type ReceivedNotification,
  type TrapdUser,
} from '../../src/snmp/trapd-launcher.js';

export type { ReceivedNotification };

export interface TrapReceiverOptions {
  /** v1/v2c communities to accept; default ["public"]. */
  communities?: string[];
  /** v3 users (createUser -e <engineId> for traps; without engineId for informs). */
  users?: TrapdUser[];
  /** Log everything whatever the community or user. */
  acceptAll?: boolean;
  /** -M and -m (default: the project's mibs/ and module). */
  mibDirs?: string[];
  mibModules?: string[] | 'ALL';
  /** Give up starting after this long; default 5000 ms. */
  startTimeoutMs?: number;
}

/** A running snmptrapd. Not shared between test files. */
export class TrapReceiver {
  readonly host = '127.0.0.1';
  private offset = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly received: ReceivedNotification[] = [];
  private exited = false;
  private readonly exitedPromise: Promise<void>;
  private readonly onProcessExit = () => this.killNow();

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly logPath: string,
    private readonly child: ChildProcess,
  ) {
    this.exitedPromise = new Promise((resolve) =>
      child.once('exit', () => {
        this.exited = true;
        resolve();
      }),
    );
    // A test that crashes must not leave a daemon behind.
    process.once('exit', this.onProcessExit);
  }

  /** Start a receiver; resolves once it listens. Retries on another port if the chosen one was taken. */
  static async start(o: TrapReceiverOptions = {}): Promise<TrapReceiver> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'gvos-trapd-'));
      try {
        return await TrapReceiver.startIn(dir, await freePort('127.0.0.1', 'udp'), o);
      } catch (err) {
        lastError = err;
        rmSync(dir, { recursive: true, force: true });
      }
    }
    throw lastError;
  }

  private static async startIn(dir: string, port: number, o: TrapReceiverOptions): Promise<TrapReceiver> {
    const configPath = join(dir, 'snmptrapd.conf');
    const logPath = join(dir, 'snmptrapd.log');
    writeFileSync(
      configPath,
      trapdConfigText({
        communities: o.communities ?? ['public'],
        users: o.users ?? [],
        acceptAll: o.acceptAll ?? false,
      }),
      { mode: 0o600 },
    );
    const launch = trapdLaunch({
      host: '127.0.0.1',
      port,
      configPath,
      pidPath: join(dir, 'snmptrapd.pid'),
      persistentDir: join(dir, 'persist'),
      ...(o.mibDirs ? { mibDirs: o.mibDirs } : {}),
      ...(o.mibModules ? { mibModules: o.mibModules } : {}),
    });
    const fd = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(launch.command, launch.args, {
        env: { ...process.env, ...launch.env },
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const rx = new TrapReceiver(port, dir, logPath, child);
    const deadline = Date.now() + (o.startTimeoutMs ?? 5000);
    for (;;) {
      const log = readFileSync(logPath, 'utf8');
      if (log.includes(TRAPD_READY_TEXT) && udpPortBound(port)) return rx;
      if (rx.exited || Date.now() > deadline) {
        await rx.stop({ keepDir: true });
        throw new Error(
          `snmptrapd did not start on port ${port}: ${log.trim().slice(-500) || '(no output)'}`,
        );
      }
      await sleep(20);
    }
  }

  /** PID of snmptrapd. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Every notification line logged so far. */
  lines(): string[] {
    return this.notifications().map((n) => n.line);
  }

  /** Every notification logged so far, parsed. */
  notifications(): ReceivedNotification[] {
    this.readNew();
    return [...this.received];
  }

  /** How many notifications (matching `pred`) were logged. */
  count(pred?: (n: ReceivedNotification) => boolean): number {
    this.readNew();
    return pred ? this.received.filter(pred).length : this.received.length;
  }

  /** The whole log (diagnostics). */
  log(): string {
    return readFileSync(this.logPath, 'utf8');
  }

  /** The first notification matching `pred`, waiting up to `timeoutMs`. Rejects with the log tail on timeout. */
  async waitFor(pred: (n: ReceivedNotification) => boolean, timeoutMs = 5000): Promise<ReceivedNotification> {
    const [first] = await this.waitForCount(1, pred, timeoutMs);
    return first!;
  }

  /** Wait until `count` notifications match `pred`; resolves with them. */
  async waitForCount(
    count: number,
    pred: (n: ReceivedNotification) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<ReceivedNotification[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.readNew();
      const hits = this.received.filter(pred);
      if (hits.length >= count) return hits;
      if (Date.now() > deadline) {
        throw new Error(
          `snmptrapd: ${hits.length} of ${count} notifications after ${timeoutMs} ms; log tail:\n${this.log().slice(-1500)}`,
        );
      }
      await sleep(20);
    }
  }

  /** Stop snmptrapd (SIGTERM by PID, SIGKILL after 3 s) and remove its dir. */
  async stop(o: { keepDir?: boolean } = {}): Promise<void> {
    process.removeListener('exit', this.onProcessExit);
    if (!this.exited && this.child.pid !== undefined) {
      this.child.kill('SIGTERM');
      const killer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await this.exitedPromise;
      clearTimeout(killer);
    }
    if (!o.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  private killNow(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  /** Read what the log grew by since the last call; keep a partial last line for later. */
  private readNew(): void {
    let fd: number;
    try {
      fd = openSync(this.logPath, 'r');
    } catch {
      return; // dir removed after stop()
    }
    try {
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.partial += this.decoder.write(buf.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    const parts = this.partial.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.startsWith(TRAPD_LINE_PREFIX)) continue;
      const n = parseTrapdLine(line);
      if (n) this.received.push(n);
    }
  }
}

/** Start a receiver (TrapReceiver.start). */
export function startTrapReceiver(o: TrapReceiverOptions = {}): Promise<TrapReceiver> {
  return TrapReceiver.start(o);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
