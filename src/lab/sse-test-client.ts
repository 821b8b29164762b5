/**
 * For the control plane's unit tests: open a server-sent-event answer and
 * keep its text as it arrives (an SSE answer never ends on its own).
 */
import type { ClientRequest, IncomingMessage } from 'node:http';

/** An open stream: its status and type, the text so far, and close(). */
export interface SseAnswer {
  status: number;
  type: string;
  text: () => string;
  close: () => void;
}

/**
 * Resolves once the answer's headers are in. `send` makes the request with
 * the given response callback (http or https, any headers) and returns it;
 * it is ended here.
 */
export function openSse(
  send: (onResponse: (res: IncomingMessage) => void) => ClientRequest,
): Promise<SseAnswer> {
  return new Promise((resolve, reject) => {
    let text = '';
    const req = send((res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', () => undefined);
      resolve({
        status: res.statusCode ?? 0,
        type: String(res.headers['content-type']),
        text: () => text,
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
