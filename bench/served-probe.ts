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
    while (Date.now() < until) {
      try {
        last = await servedSerial(job.address, job.port);
        if (last === job.serial.toUpperCase()) return process.send!({ id: job.id, ok: true });
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    process.send!({ id: job.id, ok: false, error: `still serving ${last}` });
  })();
});
