/**
 * Firmware images (CLI contract, "System"): fetch from firmware-sim/,
 * install, choose for the next boot; `reload` then runs the new version.
 */
import type { Box } from '../../device/box.js';
import { CONFIG_ONLY, type CommandSpec } from '../tree.js';
import { showOfBox } from './common.js';
import { keyValues } from '../format.js';
import { table } from '../../lib/table.js';

/** `show images`. EMULATION: the layout is ours (the contract names the command only). */
function renderImages(box: Box): string[] {
  const s = box.images();
  const running = box.image;
  const file = (v: string) => s.catalog.find((i) => i.version === v)?.file ?? v;
  return [
    ...keyValues([
      [
        'Running version',
        `${running.version} (${running.file}, build ${running.buildId}, ${running.buildDate})`,
      ],
      ['Installed image', s.installed ? `${s.installed} (${file(s.installed)})` : 'none'],
      [
        'Next boot',
        s.nextBoot ? `${s.nextBoot} (${file(s.nextBoot)})` : `${running.version} (the running version)`,
      ],
    ]),
    '',
    'Images fetched to this box:',
    ...s.fetched.map((v) => `  ${file(v)}  (${v})`),
    '',
    'Images available to fetch:',
    ...table(
      ['File', 'Version', 'Build ID', 'Build date', 'ACME', `Runs on ${box.identity.model}`],
      s.catalog.map((i) => [
        i.file,
        i.version,
        i.buildId,
        i.buildDate,
        i.features.acme ? 'yes' : 'no',
        i.models.includes(box.identity.model) ? 'yes' : 'no',
      ]),
    ).map((l) => '  ' + l),
  ];
}

/** Firmware image commands (admin) and `show images`. */
export const FIRMWARE_COMMANDS: readonly CommandSpec[] = [
  {
    // EMULATION: the image commands answer with one line each (the real device shows progress).
    syntax: 'image fetch <source>',
    values: { source: (box) => box.images().catalog.map((i) => i.file) },
    modes: CONFIG_ONLY,
    role: 'admin',
    help: {
      fetch: 'Copy a firmware image to the box',
      '<source>': 'Image file name, version, or a URL ending in the file name',
    },
    run: async (ctx, a) => {
      const img = await ctx.box().imageFetch(ctx.actor, a.get('source'));
      return `Fetched ${img.file} (version ${img.version}). Install it with "image install ${img.file}".`;
    },
  },
  {
    syntax: 'image install <file>',
    values: {
      file: (box) => {
        const s = box.images();
        return s.fetched.map((v) => s.catalog.find((i) => i.version === v)?.file ?? v);
      },
    },
    modes: CONFIG_ONLY,
    role: 'admin',
    help: { install: 'Install a fetched image', '<file>': 'The image file name (see "show images")' },
    run: async (ctx, a) => {
      const img = await ctx.box().imageInstall(ctx.actor, a.get('file'));
      return `Installed ${img.file} (version ${img.version}). Use "image boot next" to boot it at the next reload.`;
    },
  },
  {
    syntax: 'image boot next',
    modes: CONFIG_ONLY,
    role: 'admin',
    help: { boot: 'Choose the image to boot', next: 'Boot the installed image at the next reload' },
    run: async (ctx) => {
      const img = await ctx.box().imageBootNext(ctx.actor);
      return `Next boot: version ${img.version} (${img.file}). It runs after "reload".`;
    },
  },
  showOfBox('images', { images: 'Firmware images: running, fetched, installed, next boot' }, renderImages),
];
