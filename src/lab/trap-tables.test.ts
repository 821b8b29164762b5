/** `lab traps --follow`: columns stay where the header put them, whatever each later line holds. */
import t from 'tap';
import type { ReceivedNotification } from '../snmp/trapd-launcher.js';
import { trapsFollowLayout, trapsTable } from './trap-tables.js';

/** A notification as the trap log parser gives it. */
function trap(
  name: string,
  from: string,
  hostname: string,
  serial: string,
  description = '',
): ReceivedNotification {
  return {
    line: '',
    receivedMs: Date.UTC(2026, 11, 5, 7, 25, 22),
    transport: `UDP: ${from}->[127.0.0.1]:16200`,
    pdu: 'TRAP2',
    version: '2c',
    name,
    enterprise: '',
    genericTrap: 0,
    specificTrap: '',
    agentAddr: '',
    varbinds: [
      { name: 'gvosSimHostname.0', type: 'STRING', value: hostname },
      { name: 'gvosSimCertSerial.0', type: 'STRING', value: serial },
      { name: 'gigamonSnmpNotifDescription.0', type: 'STRING', value: description },
    ],
  };
}

const HEADERS = ['time', 'notification', 'from', 'hostname', 'serial', 'description'];

t.test(
  'every line puts each column where the header put it (nothing printed before following)',
  async (t) => {
    const layout = trapsFollowLayout([]);
    const [header, rule] = layout.header;
    const starts = HEADERS.map((h) => header!.indexOf(h));
    t.same(
      starts.map((s) => rule![s]),
      HEADERS.map(() => '-'),
      'the rule starts under each header',
    );
    const later = [
      trap('coldStart', '[127.0.0.1]:1', 'a', '-', 'started'),
      trap(
        'gigamonSnmpFirmwareChangeNotification',
        '[127.0.100.200]:65000',
        'gigavue-1000',
        '1102C9B1AF9A54F9',
      ),
      trap('gvosSimCertRevoked', '[127.0.0.103]:40000', 'gigavue-3', '0A', 'revoked'),
    ];
    for (const n of later) {
      const line = layout.line(n);
      const cells = [
        line.slice(starts[1]!).split(' ')[0],
        line.slice(starts[2]!).split(' ')[0],
        line.slice(starts[3]!).split(' ')[0],
        line.slice(starts[4]!).split(' ')[0],
      ];
      t.same(
        cells,
        [
          n.name,
          n.transport.replace(/^UDP: /, '').replace(/->.*/, ''),
          n.varbinds[0]!.value,
          n.varbinds[1]!.value,
        ],
        `${n.name}: its cells start under their headers`,
      );
      for (const s of starts.slice(1, 5)) t.equal(line[s - 1], ' ', `${n.name}: a blank before column ${s}`);
    }
  },
);

t.test('the first page widens a column for good; a later, wider cell is cut with an ellipsis', async (t) => {
  const first = [trap('coldStart', '[127.0.0.1]:1', 'a-rather-long-hostname-1', '1102C9B1AF9A54F9')];
  const layout = trapsFollowLayout(first);
  const header = layout.header[0]!;
  const serialAt = header.indexOf('serial');
  const long = layout.line(trap('coldStart', '[127.0.0.1]:1', 'a-rather-long-hostname-1', 'AB'));
  t.equal(long.slice(serialAt, serialAt + 2), 'AB', 'a hostname as long as the first page fits');
  const longer = layout.line(trap('coldStart', '[127.0.0.1]:1', `${'x'.repeat(40)}`, 'AB'));
  t.equal(longer.slice(serialAt, serialAt + 2), 'AB', 'a longer hostname is cut, the serial stays in place');
  t.match(longer, /x… {2}AB/, 'ending in an ellipsis');
  t.equal(
    layout
      .line(trap('coldStart', '[127.0.0.1]:1', 'b', 'CD', 'the description is whole'))
      .endsWith('is whole'),
    true,
  );
});

t.test('the table without --follow is as wide as its widest cells', async (t) => {
  const out = trapsTable([trap('coldStart', '[127.0.0.1]:1', 'gigavue-1', 'AB', 'started')]).split('\n');
  t.equal(out[0], 'time                  notification  from           hostname   serial  description');
  t.equal(out[2], '2026-12-05 07:25:22Z  coldStart     [127.0.0.1]:1  gigavue-1  AB      started');
});
