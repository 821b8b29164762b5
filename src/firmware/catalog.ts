/**
 * The firmware catalog: one JSON file per image in firmware-sim/ (version,
 * build id and date, models, feature flags). Read once at start; a bad file
 * is an error naming it, so a broken catalog never boots a box silently.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareVersions, type FirmwareCatalog, type FirmwareImage } from '../device/firmware.js';

/** firmware-sim/ of this package (works from src/ via tsx and from dist/). */
function defaultFirmwareDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      readdirSync(join(dir, 'firmware-sim'));
      return join(dir, 'firmware-sim');
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error('firmware-sim/ not found next to the package');
}

export class FileFirmwareCatalog implements FirmwareCatalog {
  private readonly images: FirmwareImage[];

  constructor(dir: string = defaultFirmwareDir()) {
    this.images = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => parseImage(join(dir, f)))
      .sort((a, b) => compareVersions(a.version, b.version));
  }

  get(version: string): FirmwareImage | undefined {
    return this.images.find((i) => i.version === version);
  }

  resolve(nameOrUrl: string): FirmwareImage | undefined {
    const last = nameOrUrl.split('/').pop() ?? nameOrUrl;
    return this.images.find((i) => i.version === last || i.file === last);
  }

  list(): FirmwareImage[] {
    return [...this.images];
  }

  /** The newest version (the default firmware of a new box). */
  latest(): FirmwareImage {
    return this.images[this.images.length - 1]!;
  }
}

function parseImage(file: string): FirmwareImage {
  let o: FirmwareImage;
  try {
    o = JSON.parse(readFileSync(file, 'utf8')) as FirmwareImage;
  } catch (err) {
    throw new Error(`firmware image ${file}: ${(err as Error).message}`);
  }
  if (
    typeof o.version !== 'string' ||
    !Array.isArray(o.models) ||
    typeof o.features?.acme !== 'boolean' ||
    typeof o.file !== 'string'
  ) {
    throw new Error(`firmware image ${file}: needs version, buildId, buildDate, models, features.acme, file`);
  }
  return o;
}
