import t from 'tap';
import { engineIdFor, engineTimeSeconds, MAX_ENGINE_VALUE } from './engine-id.js';

// RFC 3411 §5: 4 octets enterprise with the first bit set (26866 = 0x68F2),
// 1 octet format, then the format's octets.
const rows: { name: string; hostId: string; serial: string; want: string }[] = [
  {
    name: 'MAC host id -> format 03 + 6 octets',
    hostId: '02:ab:cd:ef:01:23',
    serial: '1A4B0023',
    want: '800068f20302abcdef0123',
  },
  { name: 'dashes are a MAC too', hostId: '02-AB-CD-EF-01-23', serial: 'X', want: '800068f20302abcdef0123' },
  {
    name: 'no MAC -> format 04 + serial text',
    hostId: 'not-a-mac',
    serial: '1A4B0023',
    want: '800068f2043141344230303233',
  },
  {
    name: 'text is cut to 27 octets (32-octet maximum)',
    hostId: '',
    serial: 'S'.repeat(40),
    want: '800068f204' + '53'.repeat(27),
  },
];
for (const r of rows) {
  t.test(r.name, async (t) => {
    const id = engineIdFor({ hostId: r.hostId, serial: r.serial });
    t.equal(id, r.want);
    t.ok(id.length / 2 >= 5 && id.length / 2 <= 32, 'RFC 3411: 5..32 octets');
  });
}

t.test('the prefix is the enterprise number 26866 with the high bit', async (t) => {
  t.equal(
    engineIdFor({ hostId: '02:00:00:00:00:01', serial: '' }).slice(0, 8),
    (0x80000000 + 26866).toString(16),
  );
});

const times: { name: string; now: number; booted: number; want: number }[] = [
  { name: 'whole seconds since boot', now: 10_999, booted: 1_000, want: 9 },
  { name: 'never negative (clock before boot)', now: 0, booted: 5_000, want: 0 },
  { name: 'capped at 2^31-1 (RFC 3414 §2.2)', now: 1e15, booted: 0, want: MAX_ENGINE_VALUE },
];
for (const r of times) {
  t.test(`engineTime: ${r.name}`, async (t) => {
    t.equal(engineTimeSeconds(r.now, r.booted), r.want);
  });
}
