/**
 * One HTTPS request as an admin would send it to a box's REST API: Basic
 * credentials, a JSON body when there is one, and the server checked against
 * exactly `ca` (no system roots, no switch that turns verification off). The
 * name checked is `servername` when given (a lab box's certificate name),
 * else the host (an IP SAN for 127.0.0.1). Resolves with the status and the
 * body's text.
 */
import { request } from 'node:https';

export interface AdminRequest {
  host: string;
  port: number;
  servername?: string;
  ca: string;
  password: string;
  method: string;
  path: string;
  body?: unknown;
}

export function adminHttps(o: AdminRequest): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
    const req = request(
      {
        host: o.host,
        port: o.port,
        ...(o.servername ? { servername: o.servername } : {}),
        method: o.method,
        path: o.path,
        ca: o.ca,
        agent: false,
        headers: {
          Authorization: 'Basic ' + Buffer.from(`admin:${o.password}`).toString('base64'),
          ...(payload
            ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.once('error', reject);
    req.end(payload);
  });
}
