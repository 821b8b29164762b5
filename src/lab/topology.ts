/**
 * The lab's topology file: one declarative YAML file (the containerlab
 * lesson) that says what `gvos-sim lab up` builds: the lab and cluster
 * names, the boxes (a count or a list, a template, per-box overrides), the
 * CA, the trap receiver and what to do at start.
 *
 * Contract:
 * - parseTopology() returns a complete, defaulted Topology or throws one
 *   TopologyError that lists EVERY problem, each as
 *   `<file>:<line>: <field path>: <what is wrong>` (the line of the value, or
 *   of the key for an unknown field, or of the parent for a missing one).
 * - The fields it accepts are exactly TOPOLOGY_FIELDS, the field paths of
 *   the TypeBox schema in topology-schema.ts, from which the JSON Schema for
 *   editors (topology.schema.json) is generated.
 * - Pure apart from reading nothing: the caller passes the text.
 */
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { ACME_MIN_VERSION, compareVersions } from '../device/firmware.js';
import {
  ALGORITHMS_BY_MODE,
  CLI_ALGORITHM_WORDS,
  KEY_ALGORITHMS,
  type KeyAlgorithm,
} from '../device/key-algorithms.js';
import {
  BOX_ID_MAX,
  HOSTNAME_PATTERN as HOSTNAME,
  MAX_LAB_BOXES,
  PORT_MAX,
  SNMP_OID_PATTERN,
} from '../device/limits.js';
import { CRYPTO_MODES, type CryptoMode } from '../device/model.js';
import type { BoxPorts } from '../host/box-host.js';
import type { LabBoxSpec } from './cluster-runner.js';
import { fieldPaths } from './topology-schema.js';
import { TopologyError } from './topology-error.js';

/** Every field path the validator accepts (`[]` = any list item): those of the schema (topology-schema.ts). */
export const TOPOLOGY_FIELDS: readonly string[] = fieldPaths();

/** A box as the topology describes it (firmware filled in with the newest when not given). */
type TopologyBox = LabBoxSpec;

/** The CA the boxes get their certificates from. */
type TopologyCa =
  /** A Pebble (and pebble-challtestsrv as the boxes' name server) started by the lab. */
  | { type: 'pebble'; validityHours: number }
  /** An ACME server the lab does not run (e.g. step-ca): its directory URL and the root that signs its TLS and certificates. */
  | { type: 'external'; directoryUrl: string; rootFile: string };

/** Where the boxes send their SNMP notifications (v2c traps). */
type TopologyTrapReceiver =
  | { type: 'snmptrapd'; community: string }
  | { type: 'external'; host: string; port: number; community: string };

/** What `lab up` does once the boxes run. */
interface TopologyOnStart {
  issueCertificates: boolean;
  /** The certificate's domain: the box's name (<hostname>.<domain>) or its address. */
  domain: 'name' | 'ip';
  /** With domain name: order the box's address beside its name (boxes.list[] may say otherwise per box). */
  addressInCertificate: boolean;
  /** undefined = the box's default for its crypto mode. */
  keyAlgorithm: KeyAlgorithm | undefined;
  /** undefined = system computed (a third of the lifetime). */
  renewDays: number | undefined;
}

/** How boxes are addressed (see cluster-runner.ts). `auto` probes: own addresses when they bind, else port offsets. */
interface TopologyNetwork {
  mode: 'auto' | 'addresses' | 'ports';
  addressBase: string;
  addressOffset: number;
  sharedAddress: string;
  portBase: BoxPorts;
  /** Ports mode with an external CA: where the lab's http-01 router listens (the CA dials port 80). */
  challengePort: number;
}

/** A validated, defaulted topology. */
export interface Topology {
  /** The file it came from (for messages), or "<default>". */
  file: string;
  lab: string;
  cluster: string;
  seed: string;
  /** DNS suffix of the boxes' names: box 3 is <hostname>.<domain>. */
  domain: string;
  adminPassword: string | undefined;
  adminPasswordEnv: string;
  /** The boxes' name server ("ip" or "ip:port") with an external CA; the lab's challtestsrv with Pebble. */
  nameServer: string | undefined;
  network: TopologyNetwork;
  /** The box template (hostname pattern with {id}): boxes added later (`lab add`) are made from it. */
  template: { hostname: string; model: string; firmware: string; cryptoMode: CryptoMode };
  boxes: TopologyBox[];
  ca: TopologyCa;
  trapReceiver: TopologyTrapReceiver;
  onStart: TopologyOnStart;
}

/** What the validator checks names against (the firmware catalog); omitted = not checked. */
export interface TopologyContext {
  firmware?: { version: string; models: string[]; acme: boolean }[];
  /** Default firmware when the topology names none (the newest). */
  defaultFirmware?: string;
  /** `lab up --boxes N`: replaces the file's count (listed box-ids stay). */
  boxCount?: number;
}

const LAB_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const HOSTNAME_TEMPLATE = /^(?!-)[A-Za-z0-9{}-]{1,63}(?<!-)$/;
const DOMAIN =
  /^(?=.{1,200}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const PORT_KEYS = ['ssh', 'cli', 'https', 'http', 'snmp'] as const;

/** Defaults of a topology with nothing in it (also `lab up --boxes N` without a file). */
const TOPOLOGY_DEFAULTS = {
  lab: 'lab',
  domain: 'lab.test',
  hostname: 'gigavue-{id}',
  model: 'GigaVUE-HC2',
  cryptoMode: 'secure-crypto' as CryptoMode,
  boxCount: 3,
  adminPasswordEnv: 'GVOS_ADMIN_PASSWORD',
  // 90 days, like Let's Encrypt: "lab time advance 61d" shows a renewal; expiring-soon (7 days) stays quiet.
  caValidityHours: 2160,
  community: 'public',
};

/** The topology `lab up --boxes N` uses when no file is given. */
export function defaultTopology(boxes: number, ctx: TopologyContext = {}): Topology {
  return parseTopology(`boxes: ${boxes}\n`, '<default>', ctx);
}

/**
 * Parse and validate topology YAML. `file` names the source in messages and
 * anchors relative paths (ca.root). Throws TopologyError with every problem.
 */
export function parseTopology(text: string, file: string, ctx: TopologyContext = {}): Topology {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: string[] = [];
  const where = (node: YamlNode | null | undefined): string => {
    const offset = node?.range?.[0] ?? 0;
    return `${file}:${lineCounter.linePos(offset).line}`;
  };
  for (const e of doc.errors) {
    problems.push(`${file}:${lineCounter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
  }
  if (problems.length) throw new TopologyError(problems);
  const fail = (node: YamlNode | null | undefined, path: string, msg: string) =>
    problems.push(`${where(node)}: ${path}: ${msg}`);

  const root = doc.contents;
  if (root !== null && root !== undefined && !isMap(root)) {
    fail(root as YamlNode, '(top)', 'must be a mapping of fields (lab, boxes, ca, ...)');
    throw new TopologyError(problems);
  }

  /** A mapping's fields by key, after reporting keys that TOPOLOGY_FIELDS does not allow at `prefix`. */
  const fields = (
    node: YamlNode | null | undefined,
    path: string,
    pattern: string,
  ): Map<string, YamlNode | null> | undefined => {
    const out = new Map<string, YamlNode | null>();
    if (node === null || node === undefined) return out;
    if (!isMap(node)) {
      fail(node, path, 'must be a mapping');
      return undefined;
    }
    const allowed = TOPOLOGY_FIELDS.filter(
      (f) =>
        f.startsWith(pattern ? pattern + '.' : '') &&
        !f.slice(pattern ? pattern.length + 1 : 0).includes('.'),
    )
      .map((f) => f.slice(pattern ? pattern.length + 1 : 0))
      .filter((k) => !k.includes('['));
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const p = path ? `${path}.${key}` : key;
      if (!allowed.includes(key)) {
        fail(keyNode, p, `unknown field; allowed here: ${allowed.join(', ')}`);
        continue;
      }
      out.set(key, (pair.value as YamlNode | null) ?? null);
    }
    return out;
  };

  const scalar = (node: YamlNode | null | undefined): unknown =>
    node && isScalar(node) ? node.value : node === null ? null : node;

  const str = (
    m: Map<string, YamlNode | null> | undefined,
    key: string,
    path: string,
    check?: (v: string) => string | undefined,
  ): string | undefined => {
    if (!m?.has(key)) return undefined;
    const node = m.get(key);
    const v = scalar(node);
    if (typeof v !== 'string' && typeof v !== 'number') {
      fail(node, path, 'must be a text value');
      return undefined;
    }
    const s = String(v);
    const why = check?.(s);
    if (why) {
      fail(node, path, why);
      return undefined;
    }
    return s;
  };

  const int = (
    m: Map<string, YamlNode | null> | undefined,
    key: string,
    path: string,
    min: number,
    max: number,
  ): number | undefined => {
    if (!m?.has(key)) return undefined;
    const node = m.get(key);
    const v = scalar(node);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      fail(node, path, `must be a whole number from ${min} to ${max}`);
      return undefined;
    }
    return v;
  };

  const oneOf = <T extends string>(
    m: Map<string, YamlNode | null> | undefined,
    key: string,
    path: string,
    values: readonly T[],
  ): T | undefined =>
    str(m, key, path, (v) =>
      (values as readonly string[]).includes(v) ? undefined : `must be one of ${values.join(', ')}`,
    ) as T | undefined;

  const bool = (
    m: Map<string, YamlNode | null> | undefined,
    key: string,
    path: string,
  ): boolean | undefined => {
    if (!m?.has(key)) return undefined;
    const v = scalar(m.get(key));
    if (typeof v !== 'boolean') {
      fail(m.get(key), path, 'must be true or false');
      return undefined;
    }
    return v;
  };

  const top = fields(root as YamlNode | null | undefined, '', '')!;

  const lab =
    str(top, 'lab', 'lab', (v) =>
      LAB_NAME.test(v)
        ? undefined
        : 'must be 1-32 lower-case letters, digits or hyphens, starting with a letter or digit',
    ) ?? TOPOLOGY_DEFAULTS.lab;
  const cluster =
    str(top, 'cluster', 'cluster', (v) =>
      /^[A-Za-z0-9._-]{1,64}$/.test(v) ? undefined : 'must be 1-64 letters, digits, dot, dash or underscore',
    ) ?? lab;
  const seed =
    str(top, 'seed', 'seed', (v) =>
      v.length >= 1 && v.length <= 128 ? undefined : 'must be 1-128 characters',
    ) ?? lab;
  const domain =
    str(top, 'domain', 'domain', (v) =>
      DOMAIN.test(v) ? undefined : 'must be a DNS name in lower case, e.g. lab.test',
    ) ?? TOPOLOGY_DEFAULTS.domain;
  const adminPassword = str(top, 'admin-password', 'admin-password', (v) =>
    v.length >= 1 && v.length <= 128 ? undefined : 'must be 1-128 characters (never empty)',
  );
  const adminPasswordEnv =
    str(top, 'admin-password-env', 'admin-password-env', (v) =>
      /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(v) ? undefined : 'must be an environment variable name',
    ) ?? TOPOLOGY_DEFAULTS.adminPasswordEnv;

  const nameServer = str(top, 'name-server', 'name-server', (v) =>
    parseNameServerSpec(v)
      ? undefined
      : 'must be an IP address, optionally with a port (127.0.0.11, 10.0.0.2:53, [::1]:53)',
  );

  // --- network
  const net = fields(top.get('network'), 'network', 'network');
  const portBaseMap = fields(net?.get('port-base'), 'network.port-base', 'network.port-base');
  const portBase: BoxPorts = { ssh: 2200, cli: 2300, https: 4400, http: 8000, snmp: 16100 };
  for (const k of PORT_KEYS) {
    // Room for the highest box-id above the base.
    const v = int(portBaseMap, k, `network.port-base.${k}`, 1, PORT_MAX - MAX_LAB_BOXES);
    if (v !== undefined) portBase[k] = v;
  }
  const ipv4 = (v: string) => (isIP(v) === 4 ? undefined : 'must be an IPv4 address');
  const network: TopologyNetwork = {
    mode: oneOf(net, 'mode', 'network.mode', ['auto', 'addresses', 'ports'] as const) ?? 'auto',
    addressBase: str(net, 'address-base', 'network.address-base', ipv4) ?? '127.0.0.0',
    addressOffset: int(net, 'address-offset', 'network.address-offset', 0, 190) ?? 100,
    sharedAddress:
      str(net, 'shared-address', 'network.shared-address', (v) =>
        isIP(v) ? undefined : 'must be an IPv4 or IPv6 address',
      ) ?? '127.0.0.1',
    portBase,
    challengePort: int(net, 'challenge-port', 'network.challenge-port', 1, 65535) ?? 80,
  };

  // --- boxes
  const boxesNode = top.get('boxes');
  let count: number | undefined;
  let template: Map<string, YamlNode | null> | undefined;
  let listNode: YamlNode | null | undefined;
  if (boxesNode !== undefined && boxesNode !== null && isScalar(boxesNode)) {
    count = int(top, 'boxes', 'boxes', 1, MAX_LAB_BOXES);
  } else {
    const b = fields(boxesNode, 'boxes', 'boxes');
    count = int(b, 'count', 'boxes.count', 1, MAX_LAB_BOXES);
    template = fields(b?.get('template'), 'boxes.template', 'boxes.template');
    listNode = b?.get('list');
  }

  const firmwareNames = ctx.firmware?.map((f) => f.version);
  const checkFirmware = (v: string) =>
    firmwareNames && !firmwareNames.includes(v)
      ? `must be a firmware in firmware-sim/ (${firmwareNames.join(', ')})`
      : undefined;
  const tpl = {
    hostname:
      str(template, 'hostname', 'boxes.template.hostname', (v) =>
        HOSTNAME_TEMPLATE.test(v) && HOSTNAME.test(v.replaceAll('{id}', '1'))
          ? undefined
          : 'must be a hostname, "{id}" stands for the box-id (e.g. gigavue-{id})',
      ) ?? TOPOLOGY_DEFAULTS.hostname,
    model: str(template, 'model', 'boxes.template.model', checkModel(ctx)) ?? TOPOLOGY_DEFAULTS.model,
    firmware:
      str(template, 'firmware', 'boxes.template.firmware', checkFirmware) ?? ctx.defaultFirmware ?? '',
    cryptoMode:
      oneOf(template, 'crypto-mode', 'boxes.template.crypto-mode', CRYPTO_MODES) ??
      TOPOLOGY_DEFAULTS.cryptoMode,
  };

  const overrides = new Map<number, { spec: Partial<LabBoxSpec>; node: YamlNode; path: string }>();
  if (listNode !== undefined && listNode !== null) {
    if (!isSeq(listNode)) fail(listNode, 'boxes.list', 'must be a list of boxes (- box-id: 1 ...)');
    else {
      listNode.items.forEach((item, i) => {
        const path = `boxes.list[${i}]`;
        const m = fields(item as YamlNode, path, 'boxes.list[]');
        if (!m) return;
        const boxId = int(m, 'box-id', `${path}.box-id`, 1, BOX_ID_MAX);
        if (!m.has('box-id')) fail(item as YamlNode, `${path}.box-id`, `is required (1-${BOX_ID_MAX})`);
        const spec: Partial<LabBoxSpec> = {};
        const hostname = str(m, 'hostname', `${path}.hostname`, (v) =>
          HOSTNAME.test(v)
            ? undefined
            : 'must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen',
        );
        if (hostname) spec.hostname = hostname;
        const model = str(m, 'model', `${path}.model`, checkModel(ctx));
        if (model) spec.model = model;
        const firmware = str(m, 'firmware', `${path}.firmware`, checkFirmware);
        if (firmware) spec.firmware = firmware;
        const mode = oneOf(m, 'crypto-mode', `${path}.crypto-mode`, CRYPTO_MODES);
        if (mode) spec.cryptoMode = mode;
        const sysObjectId = str(m, 'sys-object-id', `${path}.sys-object-id`, (v) =>
          SNMP_OID_PATTERN.test(v) ? undefined : 'must be a numeric OID such as 1.3.6.1.4.1.26866.3.6',
        );
        if (sysObjectId) spec.sysObjectId = sysObjectId;
        const address = str(m, 'address', `${path}.address`, (v) =>
          isIP(v) ? undefined : 'must be an IPv4 or IPv6 address',
        );
        if (address) spec.address = address;
        const inCert = bool(m, 'address-in-certificate', `${path}.address-in-certificate`);
        if (inCert !== undefined) spec.addressInCertificate = inCert;
        const pm = fields(m.get('ports'), `${path}.ports`, 'boxes.list[].ports');
        if (m.has('ports') && pm) {
          const ports: Partial<BoxPorts> = {};
          for (const k of PORT_KEYS) {
            const v = int(pm, k, `${path}.ports.${k}`, 0, 65535);
            if (v !== undefined) ports[k] = v;
          }
          spec.ports = ports;
        }
        if (boxId !== undefined) {
          if (overrides.has(boxId))
            fail(m.get('box-id'), `${path}.box-id`, `box-id ${boxId} is listed twice`);
          else overrides.set(boxId, { spec, node: item as YamlNode, path });
        }
      });
    }
  }
  const ids = new Set<number>();
  const n = ctx.boxCount ?? count ?? (overrides.size ? 0 : TOPOLOGY_DEFAULTS.boxCount);
  for (let i = 1; i <= n; i++) ids.add(i);
  for (const id of overrides.keys()) ids.add(id);
  const boxes: TopologyBox[] = [...ids]
    .sort((a, b) => a - b)
    .map((boxId) => ({
      boxId,
      hostname: tpl.hostname.replaceAll('{id}', String(boxId)),
      model: tpl.model,
      firmware: tpl.firmware,
      cryptoMode: tpl.cryptoMode,
      ...(overrides.get(boxId)?.spec ?? {}),
    }));
  // Names must be unique: they become DNS names at the lab's name server.
  const byName = new Map<string, number>();
  for (const b of boxes) {
    const other = byName.get(b.hostname.toLowerCase());
    if (other !== undefined) {
      const o = overrides.get(b.boxId);
      fail(
        o?.node ?? boxesNode,
        o ? `${o.path}.hostname` : 'boxes.template.hostname',
        `hostname "${b.hostname}" is used by box ${other} too`,
      );
    } else byName.set(b.hostname.toLowerCase(), b.boxId);
  }

  // --- ca
  const caNode = top.get('ca');
  const ca = fields(caNode, 'ca', 'ca');
  const caType = oneOf(ca, 'type', 'ca.type', ['pebble', 'external'] as const) ?? 'pebble';
  let topologyCa: TopologyCa;
  if (caType === 'external') {
    const url = str(ca, 'directory-url', 'ca.directory-url', (v) =>
      /^https:\/\/[^\s]+$/.test(v) ? undefined : 'must be an https:// ACME directory URL (RFC 8555 §6.1)',
    );
    const root = str(ca, 'root', 'ca.root', (v) =>
      v.length > 0 ? undefined : 'must be the path of the CA root PEM file',
    );
    if (!ca?.has('directory-url')) fail(caNode, 'ca.directory-url', 'is required when ca.type is external');
    if (!ca?.has('root'))
      fail(caNode, 'ca.root', 'is required when ca.type is external (the PEM of the root that signs the CA)');
    if (ca?.has('validity-hours'))
      fail(
        ca.get('validity-hours'),
        'ca.validity-hours',
        "applies to the lab's Pebble only (ca.type: pebble)",
      );
    topologyCa = {
      type: 'external',
      directoryUrl: url ?? '',
      rootFile: root ? resolve(file === '<default>' ? '.' : dirname(file), root) : '',
    };
  } else {
    for (const k of ['directory-url', 'root'])
      if (ca?.has(k)) fail(ca.get(k), `ca.${k}`, 'applies to ca.type: external only');
    if (nameServer)
      fail(
        top.get('name-server'),
        'name-server',
        "is the lab's pebble-challtestsrv with ca.type pebble; give it with ca.type external only",
      );
    topologyCa = {
      type: 'pebble',
      validityHours:
        int(ca, 'validity-hours', 'ca.validity-hours', 1, 24 * 365 * 5) ?? TOPOLOGY_DEFAULTS.caValidityHours,
    };
  }

  // --- trap receiver
  const trNode = top.get('trap-receiver');
  const tr = fields(trNode, 'trap-receiver', 'trap-receiver');
  const trType = oneOf(tr, 'type', 'trap-receiver.type', ['snmptrapd', 'external'] as const) ?? 'snmptrapd';
  const community =
    str(tr, 'community', 'trap-receiver.community', (v) =>
      /^[\x21-\x7e]{1,32}$/.test(v) ? undefined : 'must be 1-32 printable characters',
    ) ?? TOPOLOGY_DEFAULTS.community;
  let trapReceiver: TopologyTrapReceiver;
  if (trType === 'external') {
    const addr = str(tr, 'address', 'trap-receiver.address', (v) =>
      parseHostPort(v) ? undefined : 'must be host:port, e.g. 127.0.0.1:162 or [::1]:162',
    );
    if (!tr?.has('address'))
      fail(trNode, 'trap-receiver.address', 'is required when trap-receiver.type is external');
    const hp = addr ? parseHostPort(addr)! : { host: '', port: 0 };
    trapReceiver = { type: 'external', host: hp.host, port: hp.port, community };
  } else {
    if (tr?.has('address'))
      fail(tr.get('address'), 'trap-receiver.address', 'applies to trap-receiver.type: external only');
    trapReceiver = { type: 'snmptrapd', community };
  }

  // --- on-start
  const os = fields(top.get('on-start'), 'on-start', 'on-start');
  const algNode = os?.get('key-algorithm');
  const algText = str(os, 'key-algorithm', 'on-start.key-algorithm', (v) =>
    Object.hasOwn(CLI_ALGORITHM_WORDS, v) ? undefined : `must be one of ${KEY_ALGORITHMS.join(', ')}`,
  );
  const keyAlgorithm = algText === undefined ? undefined : CLI_ALGORITHM_WORDS[algText];
  const onStart: TopologyOnStart = {
    issueCertificates: bool(os, 'issue-certificates', 'on-start.issue-certificates') ?? true,
    domain: oneOf(os, 'domain', 'on-start.domain', ['name', 'ip'] as const) ?? 'name',
    addressInCertificate: bool(os, 'address-in-certificate', 'on-start.address-in-certificate') ?? false,
    keyAlgorithm,
    renewDays: int(os, 'renew-days', 'on-start.renew-days', 1, 365),
  };
  if (onStart.issueCertificates) {
    if (caType === 'external' && !nameServer) {
      fail(
        caNode,
        'name-server',
        'is required with an external CA (DNS is an ACME prerequisite of the box; e.g. 127.0.0.11 in Docker)',
      );
    }
    if (keyAlgorithm) {
      for (const b of boxes) {
        if (!ALGORITHMS_BY_MODE[b.cryptoMode].includes(keyAlgorithm)) {
          fail(
            algNode,
            'on-start.key-algorithm',
            `${keyAlgorithm} is not allowed on box ${b.boxId} (${b.cryptoMode} mode allows ${ALGORITHMS_BY_MODE[b.cryptoMode].join(', ')})`,
          );
          break;
        }
      }
    }
    for (const b of boxes) {
      const fw = ctx.firmware?.find((f) => f.version === b.firmware);
      if (fw && (!fw.acme || compareVersions(fw.version, ACME_MIN_VERSION) < 0)) {
        const o = overrides.get(b.boxId);
        const path = o?.spec.firmware ? `${o.path}.firmware` : 'boxes.template.firmware';
        fail(
          o?.spec.firmware ? o.node : (template?.get('firmware') ?? boxesNode),
          path,
          `firmware ${b.firmware} of box ${b.boxId} has no ACME client (needs ${ACME_MIN_VERSION} or later) but on-start.issue-certificates is true`,
        );
        break;
      }
    }
    if (onStart.domain === 'ip' && network.mode === 'ports' && boxes.filter((b) => !b.address).length > 1) {
      fail(
        os?.get('domain'),
        'on-start.domain',
        'ip needs one address per box: network.mode ports puts every box on one address (use name, or mode addresses)',
      );
    }
  }

  checkAddressInCertificate(onStart, network, boxes, os, overrides, fail);

  if (problems.length) throw new TopologyError(problems);
  return {
    file,
    lab,
    cluster,
    seed,
    domain,
    adminPassword,
    adminPasswordEnv,
    nameServer,
    network,
    template: tpl,
    boxes,
    ca: topologyCa,
    trapReceiver,
    onStart,
  };
}

/**
 * `address-in-certificate` (lab-wide or per box) needs a certificate by
 * name (with domain ip the address already is the identifier) and an
 * address of the box's own: in ports mode boxes share one address, which the
 * CA cannot validate per box. Reports one problem per place it is set wrongly.
 */
function checkAddressInCertificate(
  onStart: TopologyOnStart,
  network: TopologyNetwork,
  boxes: readonly TopologyBox[],
  os: Map<string, YamlNode | null> | undefined,
  overrides: ReadonlyMap<number, { node: YamlNode; path: string }>,
  fail: (node: YamlNode | null | undefined, path: string, msg: string) => void,
): void {
  const lab = onStart.addressInCertificate;
  const wanted = boxes.filter((b) => b.addressInCertificate ?? lab);
  if (wanted.length === 0) return;
  const where = (b: TopologyBox) => {
    const o = overrides.get(b.boxId);
    return o && b.addressInCertificate !== undefined
      ? { node: o.node, path: `${o.path}.address-in-certificate` }
      : { node: os?.get('address-in-certificate'), path: 'on-start.address-in-certificate' };
  };
  if (onStart.domain === 'ip') {
    const w = where(wanted[0]!);
    fail(
      w.node,
      w.path,
      'on-start.domain ip already puts the address in the certificate; address-in-certificate adds it beside the name (domain: name)',
    );
    return;
  }
  if (network.mode !== 'ports') return;
  const shared = wanted.find((b) => !b.address);
  if (shared) {
    const w = where(shared);
    fail(
      w.node,
      w.path,
      `needs one address per box, but network.mode ports puts box ${shared.boxId} on the shared address (use mode addresses or auto, or give the box its own address)`,
    );
  }
}

/** "ip", "ipv4:port" or "[ipv6]:port". */
function parseNameServerSpec(v: string): boolean {
  if (isIP(v)) return true;
  const hp = parseHostPort(v);
  return !!hp && isIP(hp.host) !== 0;
}

function checkModel(ctx: TopologyContext): (v: string) => string | undefined {
  const models = ctx.firmware ? [...new Set(ctx.firmware.flatMap((f) => f.models))].sort() : undefined;
  return (v) =>
    models && !models.includes(v) ? `must be a model of firmware-sim/ (${models.join(', ')})` : undefined;
}

/** "host:port" or "[v6]:port" with a port 1-65535; undefined when malformed. Pure. */
function parseHostPort(v: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(v) ?? /^([^:[\]]+):(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port };
}
