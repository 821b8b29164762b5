/**
 * Configuration files to and from `file://` URLs (`configuration upload`,
 * `configuration fetch`): the device's ConfigFileTransfer port.
 *
 * EMULATION: the real box moves its configuration files over scp, sftp, ftp,
 * tftp or http to another host; the simulator reaches no network, so it
 * takes `file:///<absolute path>` on the machine it runs on, and its file is
 * JSON (the real file is the framework's own database format, not public).
 *
 * What the file holds, and why it is written 0600: the saved configuration
 * of the box, that is hostname, name servers, domain list, the users with
 * their scrypt password hashes (never a password), the crypto mode, the
 * SNMP settings with the community strings and the SNMPv3 passphrases (in
 * clear: the agent needs them, as the state file keeps them), and the CLI
 * default. No certificate, no private key, no ACME account.
 *
 * Path rules (EMULATION: a real box's rules for local paths are not public;
 * these refuse what could harm the machine the simulator runs on):
 * `file:` only, no host but `localhost`, an absolute path without `.`/`..`
 * segments, encoded slashes or control characters, at most 1024 characters;
 * upload: the directory exists, the target is absent or a regular file (not
 * a symlink), written whole or not at all (temporary file, then rename);
 * fetch: a regular file (no symlink, FIFO or device), at most 1 MiB.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeviceError } from '../device/errors.js';
import { MAX_CONFIG_FILE_BYTES, MAX_CONFIG_URL_LENGTH } from '../device/limits.js';
import type { RunningConfig } from '../device/model.js';
import type { ConfigFileContent, ConfigFileTransfer } from '../device/ports.js';
import { clip } from '../device/validate.js';
import { configProblem } from './state-schema.js';

/** The format marker of a configuration file, checked on fetch. */
const FORMAT = 'gvos-sim configuration file';
const VERSION = 1;
const HOLDS =
  'the saved configuration: hostname, name servers, domain list, users with scrypt password hashes, ' +
  'crypto mode, SNMP settings with communities and v3 passphrases, CLI defaults; no certificates or keys';

/** The ConfigFileTransfer for `file://` URLs on this machine. */
export class FileUrlConfigTransfer implements ConfigFileTransfer {
  async upload(url: string, file: ConfigFileContent): Promise<string> {
    const path = localPath(url);
    const dir = dirname(path);
    const d = await stat(dir).catch(() => undefined);
    if (!d?.isDirectory()) throw bad(`Directory ${clip(dir, 200)} does not exist.`);
    const existing = await lstat(path).catch(() => undefined);
    if (existing && !existing.isFile())
      throw bad(`${clip(path, 200)} exists and is not a regular file; give a new file name.`);
    const text =
      JSON.stringify(
        {
          format: FORMAT,
          version: VERSION,
          holds: HOLDS,
          name: file.name,
          model: file.model,
          release: file.release,
          config: file.config,
        },
        null,
        2,
      ) + '\n';
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await fh.writeFile(text);
        // The mode is 0600 whatever the umask or an earlier file's mode.
        await fh.chmod(0o600);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw ioError('write', path, err);
    }
    return path;
  }

  async fetch(url: string): Promise<ConfigFileContent> {
    const path = localPath(url);
    let text: string;
    try {
      // O_NOFOLLOW: no symlink; O_NONBLOCK: a FIFO does not hang the box (refused below).
      const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw bad(`${clip(path, 200)} is not a regular file.`);
        if (st.size > MAX_CONFIG_FILE_BYTES) throw tooBig(path);
        const buf = Buffer.alloc(MAX_CONFIG_FILE_BYTES + 1);
        let n = 0;
        for (;;) {
          const r = await fh.read(buf, n, buf.length - n, n);
          if (r.bytesRead === 0) break;
          n += r.bytesRead;
          if (n > MAX_CONFIG_FILE_BYTES) throw tooBig(path);
        }
        text = buf.subarray(0, n).toString('utf8');
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw ioError('read', path, err);
    }
    return parseConfigFile(text, path);
  }
}

function bad(message: string): DeviceError {
  return new DeviceError('bad-input', message);
}

function tooBig(path: string): DeviceError {
  return bad(
    `${clip(path, 200)} is larger than ${MAX_CONFIG_FILE_BYTES} bytes; it is no configuration file.`,
  );
}

/** An fs error as one line naming the path (never the file's content). */
function ioError(what: 'read' | 'write', path: string, err: unknown): DeviceError {
  if (err instanceof DeviceError) return err;
  const e = err as NodeJS.ErrnoException;
  const why =
    e.code === 'ENOENT'
      ? 'no such file'
      : e.code === 'ELOOP'
        ? 'it is a symbolic link'
        : e.code === 'EACCES' || e.code === 'EPERM'
          ? 'permission denied'
          : e.code === 'EISDIR'
            ? 'it is a directory'
            : e.code === 'ENOSPC'
              ? 'the file system is full'
              : (e.code ?? 'error');
  return new DeviceError(
    e.code === 'ENOENT' ? 'not-found' : 'bad-input',
    `Cannot ${what} ${clip(path, 200)}: ${why}.`,
  );
}

/** The local path of a `file://` URL that passes the path rules (module comment). */
function localPath(url: string): string {
  if (url.length > MAX_CONFIG_URL_LENGTH)
    throw bad(`URL too long (at most ${MAX_CONFIG_URL_LENGTH} characters).`);
  const m = /^file:\/\/([^/]*)(\/[^?#]*)$/i.exec(url);
  if (!m)
    throw bad(
      `Give a file:///<absolute path> URL ("${clip(url)}" is not one); the simulator reaches no other host.`,
    );
  const [, host, rawPath] = m as unknown as [string, string, string];
  if (host !== '' && host.toLowerCase() !== 'localhost')
    throw bad(`Only local files: give file:///<path> (no host "${clip(host)}").`);
  if (/%2f|%5c|%00/i.test(rawPath)) throw bad('The path may not contain encoded slashes or NUL.');
  let segments: string[];
  try {
    segments = rawPath.split('/').map((s) => decodeURIComponent(s));
  } catch {
    throw bad('The path has a malformed %-escape.');
  }
  if (segments.some((s) => s === '.' || s === '..'))
    throw bad('The path may not contain "." or ".." segments; give it whole.');
  // eslint-disable-next-line no-control-regex -- the point: no control character may reach a path
  if (segments.some((s) => /[\x00-\x1f\x7f]/.test(s)))
    throw bad('The path may not contain control characters.');
  if (rawPath.endsWith('/')) throw bad('Give a file name, not a directory.');
  return fileURLToPath(`file://${rawPath}`);
}

/** Parse and check a configuration file's text; errors name the field, never quote the content. */
function parseConfigFile(text: string, path: string): ConfigFileContent {
  const notOne = (why: string) =>
    bad(`${clip(path, 200)} is not a configuration file this box can use: ${why}.`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw notOne('not JSON');
  }
  const d = doc as Partial<Record<'format' | 'version' | 'name' | 'model' | 'release', unknown>> & {
    config?: unknown;
  };
  if (typeof doc !== 'object' || doc === null || d.format !== FORMAT)
    throw notOne(`no "format": "${FORMAT}"`);
  if (d.version !== VERSION) throw notOne(`version ${VERSION} expected`);
  const problem = configProblem(d.config);
  if (problem) throw notOne(problem);
  const str = (v: unknown) => (typeof v === 'string' ? v : 'unknown');
  return {
    config: d.config as RunningConfig,
    name: str(d.name),
    model: str(d.model),
    release: str(d.release),
  };
}
