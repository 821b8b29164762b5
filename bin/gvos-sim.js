#!/usr/bin/env node
// Thin launcher: the compiled entry point lives in dist/ (npm run build); importing it runs nothing, main() does.
import('../dist/src/main.js').then(
  (m) => m.main(process.argv.slice(2)),
  (err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
      console.error('gvos-sim: not built yet; run "npm run build" first');
      process.exit(1);
    }
    throw err;
  },
);
