/**
 * Load generator for the hot-swap benchmark, run as a forked child so the
 * server's event loop is not shared with the clients': `concurrency` loops of
 * fresh TCP+TLS handshakes (agent-less, full chain verification against the
 * given CA) for `durationMs`. Sends {ok, failed, serials, errors} back.
 */
import { connect } from 'node:tls';

interface Job {
  port: number;
  ca: string;
  concurrency: number;
  durationMs: number;
}

process.once('message', (job: Job) => {
  const until = Date.now() + job.durationMs;
  let ok = 0;
  let failed = 0;
  const serials = new Set<string>();
  const errors: string[] = [];
  const one = () =>
    new Promise<void>((resolve) => {
      const s = connect(
        { host: '127.0.0.1', port: job.port, ca: job.ca, servername: 'bench.lab.test' },
        () => {
          serials.add(s.getPeerCertificate().serialNumber);
          ok++;
          s.destroy();
          resolve();
        },
      );
      s.once('error', (e) => {
        failed++;
        if (errors.length < 5) errors.push(e.message);
        s.destroy();
        resolve();
      });
    });
  const loop = async () => {
    while (Date.now() < until) await one();
  };
  void Promise.all(Array.from({ length: job.concurrency }, loop)).then(() => {
    process.send!({ ok, failed, serials: [...serials], errors });
  });
});
