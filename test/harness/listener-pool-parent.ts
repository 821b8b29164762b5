/**
 * A lab's process reduced to its listener pool, for test/integration/listener-orphans.test.ts:
 * run as `node <execArgv> listener-pool-parent.ts <address>...`, it opens one listener per
 * address (port 0) through a real ListenerPool (src/host/listener-pool.ts), answers every
 * connection with `parent <pid>` and prints one JSON line: its PID, the listener processes'
 * PIDs and the bound `address:port`s. It then runs until it is killed (the test kills it).
 */
import { createServer, type Server } from 'node:net';
import { ListenerPool } from '../../src/host/listener-pool.js';
import { silentLogger } from '../../src/lib/logger.js';

const addresses = process.argv.slice(2);
const pool = new ListenerPool({ perProcess: 100, logger: silentLogger });
const servers: Server[] = [];
const endpoints: string[] = [];
for (const address of addresses) {
  const server = createServer((sock) => sock.end(`parent ${process.pid}\n`));
  servers.push(server);
  endpoints.push(`${address}:${await pool.listen(server, address, 0, `test listener ${address}`)}`);
}
process.stdout.write(
  JSON.stringify({ pid: process.pid, acceptors: pool.processes.map((p) => p.pid), endpoints }) + '\n',
);
// Stay up: the listeners belong to the pool's process, nothing here keeps the event loop alive.
setInterval(() => undefined, 60_000);
