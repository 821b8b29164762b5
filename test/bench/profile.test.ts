/**
 * Where the lab regression says a certificate's CPU goes (bench/profile.ts):
 * each sample counts for the innermost frame of ours or of a dependency on
 * its stack (a native call for the code that made it), and the busy
 * samples' shares are scaled to the main thread's measured CPU per
 * certificate, idle and the profiler's own work left out.
 */
import t from 'tap';
import {
  breakdown,
  CERT_CPU_CATEGORIES,
  perUnitCpuMs,
  type Profile,
  type ProfileNode,
} from '../../bench/profile.js';

const ROOT = 'file:///repo';

/** A profile from call paths: each path is [functionName, url] frames, outermost first, sampled `ms` ms. */
function profileOf(paths: { frames: [string, string][]; ms: number }[]): Profile {
  const nodes: ProfileNode[] = [{ id: 1, callFrame: { functionName: '(root)', url: '' }, children: [] }];
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  for (const { frames, ms } of paths) {
    let parent = nodes[0]!;
    for (const [functionName, url] of frames) {
      const id = nodes.length + 1;
      const node: ProfileNode = { id, callFrame: { functionName, url }, children: [] };
      nodes.push(node);
      parent.children!.push(id);
      parent = node;
    }
    samples.push(parent.id);
    timeDeltas.push(ms * 1000);
  }
  return { nodes, samples, timeDeltas };
}

t.test(
  "a sample counts for the innermost frame of ours or a dependency's: natives for their caller",
  async (t) => {
    const b = breakdown(
      profileOf([
        // The TLS write of a request: native, under Node's net, under the HTTP/1.1 client.
        {
          frames: [
            ['exchange', `${ROOT}/dist/src/acme/http1.js`],
            ['Socket._write', 'node:net'],
            ['writeBuffer', ''],
          ],
          ms: 7,
        },
        // The ES256 signature of a JWS, made by the session's JWS builder (acme-client's layers for the rest).
        {
          frames: [
            ['post', `${ROOT}/dist/src/acme/session.js`],
            ['sign', `${ROOT}/dist/src/acme/jws.js`],
            ['signOneShot', 'node:internal/crypto/sig'],
          ],
          ms: 5,
        },
        { frames: [['signedRequest', `${ROOT}/node_modules/acme-client/src/http.js`]], ms: 3 },
        // X.509 parsing inside the chain check counts as parsing (pki), the check's own code as the check.
        {
          frames: [
            ['verifyIssuedCertificate', `${ROOT}/dist/src/acme/verify.js`],
            ['parseChain', `${ROOT}/dist/src/pki/certificate.js`],
            ['X509Certificate', 'node:internal/crypto/x509'],
          ],
          ms: 3,
        },
        { frames: [['verifyIssuedCertificate', `${ROOT}/dist/src/acme/verify.js`]], ms: 1 },
        // A trap sent from a certificate event's listener, called by the box's install: the trap's.
        {
          frames: [
            ['installAcmeCertificate', `${ROOT}/dist/src/device/acme-agent-port.js`],
            ['emit', `${ROOT}/dist/src/lib/emitter.js`],
            ['onCertificateEvent', `${ROOT}/dist/src/snmp/notifier.js`],
            ['doSend', 'node:dgram'],
          ],
          ms: 4,
        },
        { frames: [['(garbage collector)', '']], ms: 2 },
        { frames: [['(program)', '']], ms: 1 },
        { frames: [['(idle)', '']], ms: 50 },
      ]),
      CERT_CPU_CATEGORIES,
    );
    t.same(b, {
      'ACME requests: HTTP/1.1 client, TLS, gate': 7,
      'ACME protocol: RFC 8555 session, JWS (ES256)': 8,
      'key, CSR, X.509 parsing (pki)': 3,
      'chain check (verify.ts, less X.509 parsing)': 1,
      'SNMP traps (notifier, encoding, UDP send)': 4,
      'garbage collection': 2,
      other: 1,
      idle: 50,
    });
  },
);

t.test(
  'per certificate: the busy shares scaled to the measured CPU, idle and the profiler left out',
  async (t) => {
    const per = perUnitCpuMs({ state: 10, acme: 30, idle: 100, 'profiler (inspector)': 5 }, 80, 4);
    t.same(per, { acme: 15, state: 5 }, '30 and 10 of 40 busy ms, of 80 ms of CPU over 4 certificates');
    t.same(Object.keys(per), ['acme', 'state'], 'largest first');
    t.equal(
      Object.values(per).reduce((a, b) => a + b, 0),
      20,
      'the categories add up to the CPU per certificate (80 / 4)',
    );
    t.same(perUnitCpuMs({ idle: 10 }, 80, 4), {}, 'no busy sample: nothing to share out');
  },
);
