// The addressing line of `lab up` (Lab's addressingNote): after the fallback
// to port offsets it says that boxes on the shared address get their
// certificate by name only when the topology asked for the address in it.
import t from 'tap';
import { DEFAULT_ADDRESSING } from './cluster-runner.js';
import { addressingNote } from './lab.js';
import { parseTopology } from './topology.js';

const topo = (onStart: string) => parseTopology(`boxes: 2\non-start: { ${onStart} }\n`, 'topology.yaml');
const ports = { ...DEFAULT_ADDRESSING, mode: 'ports' as const };
const why = 'box 1: 127.0.0.101:443 is taken (EADDRINUSE)';

t.test('the fallback says when address-in-certificate cannot apply', async (t) => {
  const on = addressingNote(topo('address-in-certificate: true'), ports, why);
  t.match(on, `because ${why}; network.mode addresses would refuse instead; `);
  t.match(on, /boxes on the shared address get certificates by name only/);
  t.notMatch(addressingNote(topo('issue-certificates: true'), ports, why), /by name only/, 'not when off');
  t.notMatch(
    addressingNote(
      topo('address-in-certificate: true'),
      { ...DEFAULT_ADDRESSING, mode: 'addresses' },
      undefined,
    ),
    /by name only/,
    'own addresses: the address goes in',
  );
});
