/**
 * `npm run bench [-- --full] [-- --only <name>]`: runs every benchmark (small
 * sizes by default, a few minutes; full sizes with --full), prints a table
 * per benchmark and writes bench/results/<name>.json.
 */
import { parseArgs } from 'node:util';
import { fleetIssuanceBench } from './fleet-issuance.js';
import { hotSwapBench } from './hot-swap.js';
import { notificationsBench } from './notifications.js';
import { scaleBench } from './scale.js';
import { soakBench } from './soak.js';

const BENCHES: Record<string, (full: boolean) => Promise<void>> = {
  'fleet-issuance': fleetIssuanceBench,
  'hot-swap': hotSwapBench,
  notifications: notificationsBench,
  scale: scaleBench,
  // --full only for the real soak (100 boxes, 200 SSH sessions, 5 min); without it a 100 s rehearsal.
  soak: soakBench,
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { full: { type: 'boolean', default: false }, only: { type: 'string', multiple: true } },
  });
  const names = values.only?.length ? values.only : Object.keys(BENCHES);
  for (const n of names) {
    const fn = BENCHES[n];
    if (!fn) throw new Error(`unknown benchmark "${n}" (have ${Object.keys(BENCHES).join(', ')})`);
    console.log(`running ${n}${values.full ? ' (full)' : ''}...`);
    await fn(values.full ?? false);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  },
);
