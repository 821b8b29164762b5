#!/usr/bin/env node
// Thin launcher: the compiled entry point lives in dist/ (npm run build).
import('../dist/src/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('gvos-sim: not built yet; run "npm run build" first');
    process.exit(1);
  }
  throw err;
});
