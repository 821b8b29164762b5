/**
 * Firmware images (CLI contract, "Firmware"): fetch from firmware-sim/,
 * install, boot next. Persists at once; the image runs after `reload`.
 */
import { stored, UNCHANGED, type BoxCore } from './box-core.js';
import { DeviceError } from './errors.js';
import type { FirmwareImage } from './firmware.js';
import { requireRole, type Actor } from './roles.js';
import { clip } from './validate.js';

/** The firmware image the box runs. */
export function runningImage(core: BoxCore): FirmwareImage {
  const img = core.firmware.get(core.doc.firmware.running);
  if (!img) throw new DeviceError('internal', `Firmware ${core.doc.firmware.running} is not in the catalog.`);
  return img;
}

/** Images known to the box: running, fetched, installed, next boot. */
export function images(core: BoxCore): {
  running: string;
  fetched: string[];
  installed: string | null;
  nextBoot: string | null;
  catalog: FirmwareImage[];
} {
  return { ...structuredClone(core.doc.firmware), catalog: core.firmware.list() };
}

/** `image fetch <url-or-name>`: copy an image from firmware-sim/ to the box (audited even when already there). */
export async function imageFetch(core: BoxCore, actor: Actor, source: string): Promise<FirmwareImage> {
  requireRole(actor, 'admin');
  const img = core.firmware.resolve(source);
  if (!img) {
    const names = core.firmware
      .list()
      .map((i) => i.file)
      .join(', ');
    throw new DeviceError('not-found', `No firmware image "${clip(source)}"; available: ${names}.`);
  }
  const model = core.doc.identity.model;
  if (!img.models.includes(model)) {
    throw new DeviceError('unsupported', `Image ${img.version} does not support model ${model}.`);
  }
  await core.commit((d) => {
    if (d.firmware.fetched.includes(img.version)) return UNCHANGED;
    d.firmware.fetched.push(img.version);
  });
  core.audit(actor, `image fetch ${img.file}`);
  return img;
}

/** `image install <file>`: the image must have been fetched. */
export const imageInstall = stored({
  role: 'admin',
  apply: ({ draft, core }, file: string) => {
    const img = core.firmware.resolve(file);
    if (!img || !draft.firmware.fetched.includes(img.version)) {
      throw new DeviceError(
        'not-found',
        `Image "${clip(file)}" has not been fetched; use "image fetch ${clip(file)}" first.`,
      );
    }
    draft.firmware.installed = img.version;
    return img;
  },
  audit: (_args, img) => `image install ${img.file}`,
});

/** `image boot next`: boot the installed image on the next reload. */
export const imageBootNext = stored({
  role: 'admin',
  apply: ({ draft, core }) => {
    const v = draft.firmware.installed;
    if (!v) throw new DeviceError('precondition', 'No image installed; use "image install <file>" first.');
    draft.firmware.nextBoot = v;
    return core.firmware.get(v)!;
  },
  audit: () => 'image boot next',
});
