/**
 * A real Pebble + pebble-challtestsrv for one test file, on free ports of
 * 127.0.0.1, with its own listener certificate and data in a temporary
 * folder. Thin: the launching logic is src/acme/pebble-launcher.ts (shared
 * with the lab). Stopped by PID in stop(); restart() keeps the ports (the
 * issuing root changes, as on every Pebble start).
 *
 * The VA's ports are fixed per Pebble: pass the box's http port (and https
 * port for tls-alpn-01). Boxes on different loopback addresses (127.0.0.x)
 * can share one Pebble when they use the same http port number.
 */
import { mkdtempSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  challtestsrvArgs,
  CHALLTESTSRV_READY,
  createListenerCertificate,
  pebbleArgs,
  pebbleConfig,
  pebbleEnv,
  PEBBLE_READY,
  servesDirectory,
  PortTakenError,
  spawnDaemon,
  type Daemon,
  type ListenerCertificate,
} from '../../src/acme/pebble-launcher.js';
import { freePort } from '../../src/lib/net.js';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AcmeAgent, type AcmeAgentSettings } from '../../src/acme/agent.js';
import type { TrustCache } from '../../src/acme/trust-cache.js';
import type { Box } from '../../src/device/box.js';
import { prepareBoot } from '../../src/device/first-boot.js';
import { FileFirmwareCatalog } from '../../src/firmware/catalog.js';
import type { CryptoMode } from '../../src/device/model.js';
import { SystemClock, type Clock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import type { MemoryStore } from '../../src/store/memory-store.js';
import { WebServer } from '../../src/web/server.js';
import { acmePortOf, ADMIN, createTestBox, makeTestBox } from './boxes.js';
import type { ConnectFaults } from '../../src/lib/connect-faults.js';

export interface PebbleOptions {
  /** The box's http port: Pebble's VA fetches http-01 answers there. */
  httpPort: number;
  /** The box's https port, for tls-alpn-01 (default: a free port nobody serves). */
  tlsPort?: number;
  /** Lifetime of issued certificates in seconds (default: Pebble's 5 years). */
  validitySeconds?: number;
  /** PEBBLE_WFE_NONCEREJECT (default 0). */
  nonceRejectPercent?: number;
  /** PEBBLE_AUTHZREUSE (default 0, which still reuses about 1 order in 100: see pebble-launcher.ts). */
  authzReusePercent?: number;
  /** What challtestsrv answers for every A query (default 127.0.0.1). */
  defaultIPv4?: string;
  /** Extra DNS names in Pebble's listener certificate (default pebble.lab.test). */
  listenerNames?: string[];
}

export interface Pebble {
  /** https://127.0.0.1:<port>/dir */
  readonly directoryUrl: string;
  /** The directory URL with another host (a DNS name of the listener certificate). */
  directoryUrlFor(host: string): string;
  /** The CA of Pebble's listener certificate: add it to the box's CA list. */
  readonly listenerCaPem: string;
  readonly listenerCaName: string;
  /** "127.0.0.1:<port>" of the mock DNS, for `ip name-server`. */
  readonly dnsServer: string;
  /** https://127.0.0.1:<mgmt>/roots/0 (settings.caRootUrls). */
  readonly rootUrl: string;
  readonly ports: {
    acme: number;
    management: number;
    dns: number;
    dnsManagement: number;
    http: number;
    tls: number;
  };
  /** The current issuing root (PEM); a new one after every (re)start. */
  root(): Promise<string>;
  /** Every issuing root (Pebble 2.4 has one unless PEBBLE_ALTERNATE_ROOTS is set): /roots/0. */
  roots(): Promise<string[]>;
  /** The current intermediate (PEM). */
  intermediate(): Promise<string>;
  /** Pebble's view of a certificate: "Valid" or "Revoked" with the RFC 5280 reason. */
  certStatus(serialHex: string): Promise<{ Status: string; Reason?: number }>;
  /** Make challtestsrv answer `host` with `ip` (A record). */
  addA(host: string, ip: string): Promise<void>;
  /** Stop Pebble only (the mock DNS keeps running). */
  stopCa(): Promise<void>;
  /** Start Pebble again on the same ports, after stopCa(). */
  startCa(): Promise<void>;
  /** stopCa() then startCa(). */
  restart(): Promise<void>;
  /** Stop both daemons by PID. */
  stop(): Promise<void>;
  /** Pebble's output so far (for failing tests). */
  log(): string;
}

const A = '127.0.0.1';

/** Start the mock DNS, then Pebble; retried with new ports if one was taken meanwhile. */
export async function startPebble(o: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'gvos-pebble-'));
  const listener = await createListenerCertificate(dir, [
    'localhost',
    A,
    '::1',
    ...(o.listenerNames ?? ['pebble.lab.test']),
  ]);
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(o, dir, listener);
    } catch (e) {
      if (!(e instanceof PortTakenError) || attempt >= 5) throw e;
    }
  }
}

async function launch(o: PebbleOptions, dir: string, listener: ListenerCertificate): Promise<Pebble> {
  const ports = {
    acme: await freePort(A),
    management: await freePort(A),
    dns: await freePort(A, 'both'),
    dnsManagement: await freePort(A),
    http: o.httpPort,
    tls: o.tlsPort ?? (await freePort(A)),
  };
  const configPath = join(dir, 'pebble-config.json');
  const config = pebbleConfig({
    listenAddress: `${A}:${ports.acme}`,
    managementListenAddress: `${A}:${ports.management}`,
    certificatePath: listener.certPath,
    privateKeyPath: listener.keyPath,
    httpPort: ports.http,
    tlsPort: ports.tls,
    certificateValidityPeriodSec: o.validitySeconds,
  });
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const dns = await spawnDaemon(
    'pebble-challtestsrv',
    challtestsrvArgs({
      dnsAddress: `${A}:${ports.dns}`,
      managementAddress: `${A}:${ports.dnsManagement}`,
      defaultIPv4: o.defaultIPv4 ?? A,
    }),
    { ready: CHALLTESTSRV_READY, logFile: join(dir, 'challtestsrv.log') },
  );
  const startCa = () =>
    spawnDaemon('pebble', pebbleArgs(configPath, `${A}:${ports.dns}`), {
      env: pebbleEnv({
        nonceRejectPercent: o.nonceRejectPercent ?? 0,
        authzReusePercent: o.authzReusePercent ?? 0,
      }),
      ready: PEBBLE_READY,
      serving: () => servesDirectory(`https://${A}:${ports.acme}/dir`, listener.caPem),
      logFile: join(dir, 'pebble.log'),
    });
  let ca: Daemon | undefined;
  try {
    ca = await startCa();
  } catch (e) {
    await dns.stop();
    throw e;
  }
  const mgmt = (path: string) => httpsGet(`https://${A}:${ports.management}${path}`, listener.caPem);
  const pebble: Pebble = {
    directoryUrl: `https://${A}:${ports.acme}/dir`,
    directoryUrlFor: (host) => `https://${host}:${ports.acme}/dir`,
    listenerCaPem: listener.caPem,
    listenerCaName: listener.caName,
    dnsServer: `${A}:${ports.dns}`,
    rootUrl: `https://${A}:${ports.management}/roots/0`,
    ports,
    root: async () => (await mgmt('/roots/0')).body,
    roots: async () => [(await mgmt('/roots/0')).body],
    intermediate: async () => (await mgmt('/intermediates/0')).body,
    certStatus: async (serial) => {
      const r = await mgmt(`/cert-status-by-serial/${serial.toLowerCase()}`);
      if (r.status !== 200) throw new Error(`cert-status-by-serial ${serial}: HTTP ${r.status} ${r.body}`);
      return JSON.parse(r.body) as { Status: string; Reason?: number };
    },
    addA: async (host, ip) => {
      const r = await httpPost(
        `http://${A}:${ports.dnsManagement}/add-a`,
        JSON.stringify({ host, addresses: [ip] }),
      );
      if (r.status !== 200) throw new Error(`add-a ${host}: HTTP ${r.status}`);
    },
    stopCa: async () => {
      await ca?.stop();
      ca = undefined;
    },
    startCa: async () => {
      if (!ca) ca = await startCa();
    },
    restart: async () => {
      await pebble.stopCa();
      await pebble.startCa();
    },
    stop: async () => {
      await Promise.all([ca?.stop(), dns.stop()]);
      ca = undefined;
      await rm(dir, { recursive: true, force: true });
    },
    log: () => ca?.output() ?? '',
  };
  return pebble;
}

function httpsGet(url: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: caPem, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function httpPost(url: string, body: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------- a box with an ACME agent
/** Settings that keep tests fast: quick polls and retries (a real CA gets the defaults). */
export const FAST_ACME: AcmeAgentSettings = {
  pollMinMs: 20,
  pollMaxMs: 200,
  pollAttempts: 50,
  requestTimeoutMs: 5_000,
  dnsTimeoutMs: 1_000,
  serverErrorDelayMs: 100,
  renewalRetryDelaysMs: [500, 1_000],
  lastChanceBeforeExpiryMs: 1_000,
  busyRetryMs: 200,
  // Under the shortest retry any test sets (300 ms), so the gap never delays one.
  autoRenewalMinGapMs: 100,
};

export interface AcmeBoxOptions {
  boxId?: number;
  /** The box's management address (a 127.x address) and the Pebble VA port it serves http-01 on. */
  address: string;
  httpPort: number;
  httpsPort?: number;
  cryptoMode?: CryptoMode;
  firmware?: string;
  clock?: Clock;
  /** Configure `ip name-server` and the listener CA in the CA list (default true for both). */
  nameServer?: string | null;
  trustListenerCa?: boolean;
  /** Agent settings; caRootUrls defaults to the Pebble's /roots/0 when `pebble` is given. */
  settings?: AcmeAgentSettings;
  /** Serve http/https with the web feature's WebServer (default true). */
  web?: boolean;
  /** Faults on the box's path to its CA (the lab's ConnectFaults), read by its ACME transport. */
  faults?: ConnectFaults;
  /** One TrustCache for several boxes, as a lab shares it (their transports then share a pool). */
  trust?: TrustCache;
  /**
   * Boot from this store's saved document instead of a first boot, the way
   * the host does after a restart (prepareBoot marks a request that was In
   * Progress as "Failed: interrupted by restart"). Name server and CA list
   * come from the document then.
   */
  rebootFrom?: MemoryStore;
}

export interface AcmeBox {
  box: Box;
  agent: AcmeAgent;
  store: MemoryStore;
  clock: Clock;
  web: WebServer | undefined;
  httpsPort: number;
  /** The serial (upper-case hex) and PEM chain the HTTPS port serves to a new connection. */
  served: () => Promise<{ serial: string; chainPem: string[] }>;
  stop(): Promise<void>;
}

/**
 * A booted test box (MemoryStore) with its WebServer on `address` (http-01
 * served from box.challenges by the web feature's app; hot swap on
 * web-certificate-changed) and an AcmeAgent attached, configured for `pebble`.
 */
export async function startAcmeBox(pebble: Pebble | undefined, o: AcmeBoxOptions): Promise<AcmeBox> {
  const clock = o.clock ?? new SystemClock();
  let box: Box;
  let store: MemoryStore;
  if (o.rebootFrom) {
    store = o.rebootFrom;
    const saved = await store.load();
    if (!saved) throw new Error('rebootFrom: the store holds no document');
    const doc = prepareBoot(saved, clock.now());
    await store.save(doc);
    box = createTestBox({
      doc,
      persistence: store,
      clock,
      logger: silentLogger,
      firmware: new FileFirmwareCatalog(),
      address: o.address,
      bootKind: 'cold',
    });
  } else {
    ({ box, store } = await makeTestBox({
      boxId: o.boxId ?? 1,
      address: o.address,
      cryptoMode: o.cryptoMode ?? 'secure-crypto',
      firmware: o.firmware,
      clock,
    }));
    const ns = o.nameServer === undefined ? pebble?.dnsServer : o.nameServer;
    if (ns) {
      box.addNameServer(ADMIN, ns);
      await box.writeMemory(ADMIN);
    }
    if (pebble && o.trustListenerCa !== false) {
      await box.addPublicCertificate(ADMIN, 'pebble-listener-ca', pebble.listenerCaPem);
      await box.addCaListEntry(ADMIN, 'pebble-listener-ca');
    }
  }
  const settings: AcmeAgentSettings = {
    ...FAST_ACME,
    ...(pebble ? { caRootUrls: () => [pebble.rootUrl] } : {}),
    ...(o.settings ?? {}),
  };
  const agent = new AcmeAgent({
    port: acmePortOf(box),
    clock,
    logger: silentLogger,
    settings,
    ...(o.faults ? { faults: o.faults } : {}),
    ...(o.trust ? { trust: o.trust } : {}),
  });
  box.attachAcme(agent);
  agent.resume();
  let web: WebServer | undefined;
  let httpsPort = o.httpsPort ?? 0;
  if (o.web !== false) {
    web = new WebServer({ box, address: o.address, httpsPort, httpPort: o.httpPort, logger: silentLogger });
    httpsPort = (await web.listen()).https;
  }
  return {
    box,
    agent,
    store,
    clock,
    web,
    httpsPort,
    served: () => servedCertificate(o.address, httpsPort),
    stop: async () => {
      agent.stop();
      await web?.close();
    },
  };
}

/** What a fresh TLS connection to address:port is served (no verification: the test checks it with openssl). */
export function servedCertificate(
  address: string,
  port: number,
): Promise<{ serial: string; chainPem: string[] }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: address, port, rejectUnauthorized: false, timeout: 5000 });
    s.once('error', reject);
    s.once('secureConnect', () => {
      const chainPem: string[] = [];
      let cur = s.getPeerCertificate(true);
      const seen = new Set<string>();
      while (cur && cur.raw && !seen.has(cur.fingerprint256)) {
        seen.add(cur.fingerprint256);
        chainPem.push(new X509Certificate(cur.raw).toString());
        cur = cur.issuerCertificate;
      }
      const serial = new X509Certificate(chainPem[0]!).serialNumber.toUpperCase();
      s.destroy();
      resolve({ serial, chainPem });
    });
  });
}

const execFileP = promisify(execFile);

/**
 * `openssl verify` of a served chain (leaf first) against `rootPem`, with
 * the name check for `domain` (-verify_ip or -verify_hostname). Resolves
 * with openssl's output ("...: OK"); rejects with it otherwise.
 */
export async function opensslVerify(chainPem: string[], rootPem: string, domain: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'gvos-verify-'));
  const f = (n: string) => join(dir, n);
  await writeFile(f('root.pem'), rootPem);
  await writeFile(f('untrusted.pem'), chainPem.slice(1).join(''));
  await writeFile(f('leaf.pem'), chainPem[0]!);
  const nameCheck = /^[0-9.]+$|:/.test(domain) ? ['-verify_ip', domain] : ['-verify_hostname', domain];
  const args = [
    'verify',
    '-CAfile',
    f('root.pem'),
    ...(chainPem.length > 1 ? ['-untrusted', f('untrusted.pem')] : []),
    ...nameCheck,
    f('leaf.pem'),
  ];
  try {
    const { stdout } = await execFileP('openssl', args);
    return stdout.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Resolve when `box` emits `event` (first payload), or reject after `timeoutMs`. */
export function nextEvent<K extends keyof import('../../src/device/events.js').DeviceEvents>(
  box: Box,
  event: K,
  timeoutMs = 30_000,
): Promise<import('../../src/device/events.js').DeviceEvents[K]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error(`no ${String(event)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = box.events.on(event, (p) => {
      clearTimeout(t);
      off();
      resolve(p);
    });
  });
}
