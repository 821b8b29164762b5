/**
 * Child process of the fleet benchmarks (ServedProbe in fleet.ts): for each
 * message {id, address, port, serial}, connect with a fresh TLS handshake
 * until the server presents that serial, then answer {id, ok}. Gives up
 * after 10 s. No verification: only the serial is compared.
 */
import { connect } from 'node:tls';

interface Job {
  id: number;
  address: string;
  port: number;
  serial: string;
}

function servedSerial(address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: address, port, rejectUnauthorized: false, timeout: 5000 }, () => {
      const serial = s.getPeerCertificate().serialNumber.toUpperCase();
      s.destroy();
      resolve(serial);
    });
    s.once('error', (e: Error) => {
      s.destroy();
      reject(e);
    });
    s.once('timeout', () => s.destroy(new Error('timeout')));
  });
}

process.on('message', (job: Job) => {
  void (async () => {
    const until = Date.now() + 10_000;
    let last = '';
    let tries = 0;
    let answered = 0;
    while (Date.now() < until) {
      tries++;
      try {
        last = await servedSerial(job.address, job.port);
        answered++;
        if (last === job.serial.toUpperCase()) return process.send!({ id: job.id, ok: true });
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    // Which of the two it was tells a box that had not installed the certificate from one whose HTTPS did not answer.
    const why =
      answered > 0 && /^[0-9A-F]+$/.test(last)
        ? `served the old serial ${last} (${answered} of ${tries} handshakes answered)`
        : `no TLS answer (last: ${last}; ${answered} of ${tries} handshakes answered)`;
    process.send!({ id: job.id, ok: false, error: `not served within 10 s: ${why}` });
  })();
});
