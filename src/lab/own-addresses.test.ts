// Whether a lab's boxes can listen on their own addresses is probed before
// they start: every port of the first and last box, one port of each box
// between (another lab on some of the addresses holds all of their ports).
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:net';
import { DEFAULT_ADDRESSING, ipv4Add, ownAddressesProblem, type Addressing } from './cluster-runner.js';

const base: Addressing = {
  ...DEFAULT_ADDRESSING,
  addressBase: '127.78.0.0',
  addressOffset: 0,
  standardPorts: { ssh: 4022, cli: 4023, https: 4443, http: 4080, snmp: 4161 },
};
const boxes = Array.from({ length: 5 }, (_, i) => ({ boxId: i + 1 }));

/** A listener on box `id`'s address and `port`, as another program would hold it. */
async function hold(t: Test, id: number, port: number): Promise<void> {
  const s: Server = createServer();
  await new Promise<void>((r) => s.listen({ host: ipv4Add(base.addressBase, id), port, exclusive: true }, r));
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
}

t.test('free addresses: no problem', async (t) => {
  t.equal(await ownAddressesProblem(boxes, base), undefined);
});

t.test('another program on a middle box address: named', async (t) => {
  await hold(t, 3, 4443);
  t.equal(await ownAddressesProblem(boxes, base), 'box 3: 127.78.0.3:4443 is taken (EADDRINUSE)');
});

t.test('any port of the first or the last box: named', async (t) => {
  await hold(t, 5, 4080);
  t.equal(await ownAddressesProblem(boxes, base), 'box 5: 127.78.0.5:4080 is taken (EADDRINUSE)');
});

t.test('one other port of a middle box is left to its own start (one probe per box between)', async (t) => {
  await hold(t, 3, 4022);
  t.equal(await ownAddressesProblem(boxes, base), undefined);
});
