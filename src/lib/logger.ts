/**
 * A small structured logger. Lines are JSON on the given sink (stderr by
 * default, because stdout carries the box's machine-readable "ready" line).
 *
 * Secrets: any field whose name looks like a secret (key, password, pem,
 * secret, token, community, hash) is replaced by "[redacted]" before the line
 * is written, so a private key can never reach a log by accident.
 *
 * Control characters: JSON escapes C0; C1 and bidi controls are escaped too
 * (lib/escape.ts), so printing a log line cannot drive a terminal.
 */
import { escapeUnsafeJson } from './escape.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const SECRET_FIELD = /(key|password|passwd|pem|secret|token|community|hash|priv|auth)/i;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line (e.g. the box-id). */
  child(fields: Record<string, unknown>): Logger;
}

/** Whether field `k` holds a secret (its name looks like one; two key names that are not secrets excepted). */
function isSecretField(k: string): boolean {
  return SECRET_FIELD.test(k) && k !== 'keyAlgorithm' && k !== 'keyType';
}

/** Replace secret-looking fields (recursively, one level of objects deep is enough for our events). */
function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (isSecretField(k)) out[k] = '[redacted]';
    else if (v instanceof Error) out[k] = v.message;
    else out[k] = v;
  }
  return out;
}

/** The members of a JSON object text, without its braces ('' for {}). */
function members(json: string): string {
  return json.slice(1, -1);
}

/**
 * JSON-lines logger.
 *
 * A line is `{"t":...,"level":...,"msg":...}`, then the logger's own fields
 * (child()), then the call's; a call's field replaces a logger field of the
 * same name in its place. The logger's fields are redacted and serialized
 * once, at its first line, so a line serializes only the call's fields (a
 * lab logs about four lines per certificate).
 */
export class JsonLogger implements Logger {
  /** The base's members, redacted and escaped, with a leading comma unless empty; undefined until the first line. */
  private baseMembers: string | undefined;
  /** The base has a field named t, level or msg: such a logger builds each line whole (see write). */
  private readonly baseShadowsHead: boolean;

  constructor(
    private readonly level: LogLevel = 'info',
    private readonly base: Record<string, unknown> = {},
    private readonly sink: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  ) {
    this.baseShadowsHead = this.inBase('t') || this.inBase('level') || this.inBase('msg');
  }

  /**
   * Whether the base has field `k` (one of Object.keys(base)). Asked of the
   * base itself, not of a set of its keys built per logger: a lab makes five
   * loggers per box (a set and Object.keys' enum cache each: about 0.25 KiB
   * per box, bench/scale-lab-mem.ts).
   */
  private inBase(k: string): boolean {
    return Object.prototype.propertyIsEnumerable.call(this.base, k);
  }

  private write(level: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const t = new Date().toISOString();
    // C1 and bidi controls from outside input (user names, subjects) reach the log escaped.
    if (
      this.baseShadowsHead ||
      typeof msg !== 'string' ||
      (fields !== undefined && Object.keys(fields).some((k) => this.inBase(k)))
    ) {
      // A field replaces another in its place: build the whole object.
      const line = { t, level, msg, ...redact({ ...this.base, ...(fields ?? {}) }) };
      this.sink(escapeUnsafeJson(JSON.stringify(line)));
      return;
    }
    // No field replaces another: the same text, from parts (the base's serialized once).
    if (this.baseMembers === undefined) {
      const m = members(escapeUnsafeJson(JSON.stringify(redact(this.base))));
      this.baseMembers = m && `,${m}`;
    }
    const own = fields ? members(escapeUnsafeJson(JSON.stringify(redact(fields)))) : '';
    const head = `{"t":"${t}","level":"${level}","msg":${escapeUnsafeJson(JSON.stringify(msg))}`;
    this.sink(`${head}${this.baseMembers}${own && `,${own}`}}`);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }
  child(fields: Record<string, unknown>): Logger {
    return new JsonLogger(this.level, { ...this.base, ...fields }, this.sink);
  }
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = new JsonLogger('silent');

/** Parse a log level name, or throw with the accepted names. */
export function parseLogLevel(s: string): LogLevel {
  if (s in ORDER) return s as LogLevel;
  throw new Error(`unknown log level "${s}" (use ${Object.keys(ORDER).join(', ')})`);
}
