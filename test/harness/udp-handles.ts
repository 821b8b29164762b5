/**
 * UDP sockets not yet closed in this process, counted by their handles.
 * A socket whose bind failed before the kernel socket was made (EINVAL: an
 * IPv4 socket bound to ::1, an IPv6 one to 127.0.0.1) holds no file
 * descriptor, so /proc/self/fd cannot see it left open; its handle stays
 * until it is closed. Tests that make a bind fail without leaving loopback
 * count these.
 *
 * Counting starts when this module is first imported: sockets made before
 * that are not seen, so import it at the top of the test file.
 */
import { createHook } from 'node:async_hooks';

const udpHandles = new Set<number>();
createHook({
  init: (id, type) => void (type === 'UDPWRAP' && udpHandles.add(id)),
  destroy: (id) => void udpHandles.delete(id),
}).enable();

/** UDP sockets open, once the closes asked for so far have completed (a close ends in a later turn of the loop). */
export async function openUdpSockets(): Promise<number> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  return udpHandles.size;
}
