/**
 * The dashboard's files, served by the control plane: index.html at "/",
 * dashboard.js and dashboard.css under /dashboard/. Plain static files in
 * src/lab/dashboard/ (no build step, no CDN; the script is hand-written
 * ES2022 with JSDoc types, type-checked by test/integration/web-gui-assets.test.ts),
 * read once when the control plane is built. No inline script or style: the
 * Content-Security-Policy forbids both.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};

/**
 * The directory of the files: beside this module when running from src/, or
 * src/lab/dashboard/ of the package when running from dist/ (tsc copies no
 * HTML). Throws naming where it looked.
 */
export function dashboardDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [here, join(here, '..', '..', '..', '..', 'src', 'lab', 'dashboard')];
  const found = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (!found) throw new Error(`the dashboard files were not found in ${candidates.join(' or ')}`);
  return found;
}

/** The files, read now (a missing file is an error at start); serve() answers GET/HEAD of one and says whether it did. */
export function dashboardFiles(dir = dashboardDir()): { serve(ctx: Koa.Context): boolean } {
  const bodies = new Map(
    Object.entries(FILES).map(([path, f]) => [path, { type: f.type, body: readFileSync(join(dir, f.file)) }]),
  );
  return {
    serve(ctx) {
      const f = bodies.get(ctx.path);
      if (!f || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return false;
      ctx.type = f.type;
      // Revalidate each time: small files that change with the software.
      ctx.set('Cache-Control', 'no-cache');
      ctx.body = f.body;
      return true;
    },
  };
}
