/**
 * A process that writes lab.log the way `gvos-sim lab up` does (src/lab/lab-log.ts), for
 * src/lab/lab-log.test.ts: run as `node <execArgv> lab-log-writer.ts <file> <mode>`.
 *   end:     logs 5,000 info lines (and one debug line the level drops) in one go, then
 *            ends by itself with the last batch still waiting.
 *   sigterm: handles SIGTERM as lab-up.ts does (flush, then stop and end by itself), prints
 *            "ready" once the first line is logged, then logs a numbered line every
 *            millisecond until the signal; on the signal it prints how many it logged.
 *   throw:   logs 100 lines, then throws (an uncaught exception ends it).
 */
import { openLabLog } from '../../src/lab/lab-log.js';

const [file, mode] = process.argv.slice(2) as [string, string];
const log = openLabLog(file, 'info', { lab: 'test' });
const logger = log.logger.child({ boxId: 7 });

if (mode === 'end') {
  for (let i = 0; i < 5000; i++) logger.info('line', { n: i });
  logger.debug('dropped', { n: -1 });
} else if (mode === 'throw') {
  for (let i = 0; i < 100; i++) logger.info('line', { n: i });
  setTimeout(() => {
    throw new Error('deliberate');
  }, 1);
} else {
  let n = 0;
  logger.info('line', { n: n++ });
  const tick = setInterval(() => logger.info('line', { n: n++ }), 1);
  process.on('SIGTERM', () => {
    log.flush();
    clearInterval(tick);
    process.stdout.write(`logged ${n}\n`);
  });
  process.stdout.write('ready\n');
}
