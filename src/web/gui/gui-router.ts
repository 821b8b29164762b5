/**
 * The web GUI's files, served by the box itself (no CDN): index.html at "/",
 * and app.js, style.css and favicon.svg under /gui/. They are plain static
 * files shipped in src/web/gui/ (the script is hand-written ES2022 with
 * JSDoc types, type-checked by a test against the DOM library), read once
 * when the app is built. The page carries no inline script or style, so the
 * Content-Security-Policy can forbid both.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router } from '@koa/router';
import type { Box } from '../../device/box.js';

/** The files under /gui/ with their media types. */
const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/**
 * The directory holding index.html and the assets: next to this module when
 * running from src/, or src/web/gui/ of the package when running from dist/
 * (tsc does not copy non-TypeScript files). Throws naming where it looked.
 */
export function guiAssetDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [here, join(here, '..', '..', '..', '..', 'src', 'web', 'gui')];
  const found = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (!found) throw new Error(`the web GUI files (index.html) were not found in ${candidates.join(' or ')}`);
  return found;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

interface GuiFiles {
  index: string;
  assets: Map<string, { type: string; body: Buffer }>;
}

/**
 * The GUI's files by directory, read at the first router of this process
 * and shared by every box's: a lab's boxes serve the same bytes. Read per
 * box, they were about 22 KiB of every box whose HTTPS app had been built
 * (220 MiB of a 10,000-box lab's memory once each box had served HTTPS).
 * The files are those of the running software: a change to them is seen by
 * the next process, as a change to the code is.
 */
const FILES = new Map<string, GuiFiles>();

function guiFiles(dir: string): GuiFiles {
  let files = FILES.get(dir);
  if (!files) {
    files = {
      index: readFileSync(join(dir, 'index.html'), 'utf8'),
      assets: new Map(
        Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(join(dir, name)) }]),
      ),
    };
    FILES.set(dir, files);
  }
  return files;
}

/**
 * Routes of the GUI. index.html gets the box's hostname and box-id filled in
 * (escaped) so the login page already says which box it is; everything else
 * comes from the REST API after login. The files are read at the first
 * router of the process (guiFiles): a missing file is an error at start, not
 * a 404 later.
 */
export function createGuiRouter(getBox: () => Box, dir: string = guiAssetDir()): Router {
  const { index, assets } = guiFiles(dir);
  const router = new Router();
  router.get('/', (ctx) => {
    const box = getBox();
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = index
      .replaceAll('{{hostname}}', escapeHtml(box.hostname))
      .replaceAll('{{boxId}}', String(box.boxId));
  });
  router.get('/gui/:file', (ctx) => {
    const a = assets.get(ctx.params.file ?? '');
    if (!a) return; // 404 from koa
    ctx.type = a.type;
    // Revalidate each time: the files change with the box's software, and they are small.
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = a.body;
  });
  return router;
}
