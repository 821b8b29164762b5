/**
 * The GUI's files are read once per process and shared by every box's
 * router: a lab of 10,000 boxes held a copy per box (22 KiB each once the
 * box had served HTTPS). Serving them is tested with a real box in
 * test/integration/web-gui-assets.test.ts.
 */
import t from 'tap';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Box } from '../../device/box.js';
import { createGuiRouter, guiAssetDir } from './gui-router.js';

t.test('a box router holds no copy of its own of the GUI files', (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const dir = guiAssetDir();
  const filesBytes = ['app.js', 'style.css', 'favicon.svg'].reduce(
    (n, f) => n + statSync(join(dir, f)).size,
    0,
  );
  t.ok(filesBytes > 4096, 'the files are big enough for a copy to show');
  const getBox = (): Box => {
    throw new Error('not asked while the router is built');
  };
  const routers = [createGuiRouter(getBox, dir)];
  gc();
  const before = process.memoryUsage().arrayBuffers;
  const boxes = 200;
  for (let i = 0; i < boxes; i++) routers.push(createGuiRouter(getBox, dir));
  gc();
  const grown = process.memoryUsage().arrayBuffers - before;
  t.equal(routers.length, boxes + 1);
  // A copy per router would be boxes x filesBytes (about 4.4 MB here).
  t.ok(grown < filesBytes, `${boxes} more routers hold ${grown} bytes of buffers (one copy: ${filesBytes})`);
  t.end();
});
