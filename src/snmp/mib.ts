/**
 * What a box's SNMP agent answers (issue 12; real values: real-device.md
 * §1): one sorted list of object instances per model, shared by every box
 * of that model, each with a getter that reads the value from the box at
 * request time. Nothing is stored per box, so a change (hostname, contact,
 * a new certificate) shows in the next GET, and a thousand boxes cost one
 * list per model.
 *
 * No net-snmp here: values carry the SMI type as a name; agent.ts maps it.
 * Every value that is not the real box's is marked EMULATION below and in
 * the README's table and mibs/GIGAMON-GVOS-SIM-MIB.txt.
 */
import { loadavg } from 'node:os';
import type { AcmeIssued, AcmeRequestStatus, BoxIdentity, SnmpConfig } from '../device/model.js';
import type { SnmpAgentCounters } from '../device/ports.js';
import { memoryUsage, modelHardware } from '../device/hardware.js';
import { isoUtc, upTimeTicks } from './varbinds.js';
import { GIGAMON_OID, GVOS_SIM_OID } from './oids.js';

/** SMI base types the agent answers with. */
type SmiType = 'Integer' | 'OctetString' | 'OID' | 'Counter32' | 'Gauge32' | 'TimeTicks';

export interface SmiValue {
  type: SmiType;
  value: number | string | Buffer;
}

export function zeroAgentCounters(): SnmpAgentCounters {
  return {
    inPkts: 0,
    outPkts: 0,
    badVersions: 0,
    badCommunityNames: 0,
    asnParseErrs: 0,
    usmErrors: 0,
    tooBigs: 0,
    setsRefused: 0,
    silentDrops: 0,
  };
}

/** What the getters read: the box as the agent sees it (device/Box satisfies the first part). */
export interface AgentBoxView {
  readonly boxId: number;
  readonly identity: Readonly<BoxIdentity>;
  readonly hostname: string;
  readonly config: { readonly snmp: Readonly<SnmpConfig> };
  readonly image: { version: string; buildId: string; buildDate: string };
  uptimeMs(): number;
  acmeState(): { issued: AcmeIssued | null; lastRequest: AcmeRequestStatus | null };
}

/** What a getter is given: the box, its engine and its agent's counters. */
export interface MibContext {
  box: AgentBoxView;
  engineIdHex: string;
  engineBoots: number;
  engineTime: number;
  counters: SnmpAgentCounters;
  /** sysContact/sysLocation (the settings of `snmp-server contact/location`). */
  contact: string;
  location: string;
}

/** One object instance: its OID as numbers and as text, and how to read it (undefined = absent for this box). */
export interface MibEntry {
  oid: readonly number[];
  text: string;
  get(ctx: MibContext): SmiValue | undefined;
}

// ------------------------------------------------------------------ identity

/** sysObjectID per model (real-device.md §1). */
const SYS_OBJECT_IDS: Record<string, string> = {
  'GigaVUE-HC2': `${GIGAMON_OID}.3.6`,
  'GigaVUE-HC3': `${GIGAMON_OID}.3.15`,
  // EMULATION: the sysObjectIDs of the other models were not found; they stay under gigamonProducts (.3).
  'GigaVUE-HC1': `${GIGAMON_OID}.3.901`,
  'GigaVUE-TA25': `${GIGAMON_OID}.3.902`,
  'GigaVUE-TA200': `${GIGAMON_OID}.3.903`,
};
/** EMULATION: a model the table does not know. */
const UNKNOWN_MODEL_OID = `${GIGAMON_OID}.3.900`;

/**
 * The sysObjectID.0 of a box (also the enterprise of its SNMPv1 generic
 * traps): the topology's override when it has one, else its model's.
 */
export function sysObjectIdOf(identity: Pick<BoxIdentity, 'model' | 'sysObjectId'>): string {
  return identity.sysObjectId ?? SYS_OBJECT_IDS[identity.model] ?? UNKNOWN_MODEL_OID;
}

/** The model without "GigaVUE-" (HC2, TA25), as `show chassis` prints it. */
function hwType(model: string): string {
  return model.replace(/^GigaVUE-/i, '');
}

/**
 * sysDescr.0 in net-snmp's uname form, as the real HC2 answers:
 * `Linux <hostname> 2.6.34-GIGAMONsmp-gvhc2 GigaVUE-OS 5.16.00 #327068 2022-05-23 12:39:51 SMP ppc`.
 * The target hw and the architecture are `show version`'s (device/hardware.ts).
 * EMULATION: the kernel string of models other than HC2 follows the HC2's pattern.
 */
function sysDescrFor(box: AgentBoxView): string {
  const img = box.image;
  const hw = modelHardware(box.identity.model);
  const kernel = `2.6.34-GIGAMONsmp-${hw.targetHw}`;
  return `Linux ${box.hostname} ${kernel} GigaVUE-OS ${img.version} ${img.buildId} ${img.buildDate} SMP ${hw.arch}`;
}

/** Right-padded with spaces to 24 characters, as the real gigamonSystem strings are. */
function pad24(s: string): string {
  return s.padEnd(24, ' ');
}

// ------------------------------------------------------------------ model facts

/** The traffic ports of a model: all `x` (10G) ports of slot 1. EMULATION: counts per model are ours. */
const PORT_COUNTS: Record<string, number> = {
  'GigaVUE-HC1': 8,
  'GigaVUE-HC2': 24,
  'GigaVUE-HC3': 32,
  'GigaVUE-TA25': 48,
  'GigaVUE-TA200': 32,
};
/** The model's memory in KB (device/hardware.ts: the figures `show version` prints). */
function memoryKb(model: string): { totalKb: number; usedKb: number; freeKb: number } {
  const m = memoryUsage(modelHardware(model));
  return { totalKb: m.totalMb * 1024, usedKb: m.usedMb * 1024, freeKb: m.freeMb * 1024 };
}

/**
 * ifIndex of port `port` of `slot` on box `box`: one octet each of box,
 * slot and type (high and low nibble), port, then 0 (the real walk's
 * 0x01120100 = box 1, slot 1, type x, port 1). EMULATION: the type code of
 * x is read off that one value (2); the split into nibbles is our reading.
 */
function ifIndexFor(box: number, slot: number, port: number): number {
  const TYPE_X = 2;
  return (
    (boxOctet(box) * 0x1000000 + (((slot & 0x0f) << 4) | TYPE_X) * 0x10000 + (port & 0xff) * 0x100) >>> 0
  );
}

/**
 * The box octet of ifIndex: ifIndex is an Integer32 (1..2^31-1), so the
 * octet must stay below 128. EMULATION: box-ids above 127 wrap into 1..127
 * (an ifIndex is unique within one agent, which is one box). 0 stays 0 (the
 * shared template of MibTree).
 */
function boxOctet(boxId: number): number {
  return boxId <= 0 ? 0 : ((boxId - 1) % 127) + 1;
}

// ------------------------------------------------------------------ the tree

const MIB2 = '1.3.6.1.2.1';
const SYSTEM = `${MIB2}.1`;
const IF_TABLE_ENTRY = `${MIB2}.2.2.1`;
const SNMP_GROUP = `${MIB2}.11`;
const HR = `${MIB2}.25`;
const IFX_ENTRY = `${MIB2}.31.1.1.1`;
const UCD = '1.3.6.1.4.1.2021';
const SNMP_ENGINE = '1.3.6.1.6.3.10.2.1';
const GIGAMON_SYSTEM = `${GIGAMON_OID}.2`;
/** gvosSimCertEntry: EMULATION, the simulator's certificate table (mibs/GIGAMON-GVOS-SIM-MIB.txt). */
const GVOS_SIM_CERT_ENTRY = `${GVOS_SIM_OID}.2.1.1`;

const int = (value: number): SmiValue => ({ type: 'Integer', value });
const str = (value: string): SmiValue => ({ type: 'OctetString', value });
const gauge = (value: number): SmiValue => ({
  type: 'Gauge32',
  value: Math.max(0, Math.min(4294967295, value)),
});
const counter = (value: number): SmiValue => ({ type: 'Counter32', value: value % 4294967296 });
const ticks = (ms: number): SmiValue => ({ type: 'TimeTicks', value: upTimeTicks(ms) });
const oid = (value: string): SmiValue => ({ type: 'OID', value });

/** Host load of the last minute, as a share of `cpus` (0..1). EMULATION: the simulator's host load. */
function hostLoadShare(cpus: number): number {
  return Math.min(1, loadavg()[0]! / cpus);
}

function certRow(ctx: MibContext): { issued: AcmeIssued | null; last: AcmeRequestStatus | null } | undefined {
  const s = ctx.box.acmeState();
  return s.issued || s.lastRequest ? { issued: s.issued, last: s.lastRequest } : undefined;
}

function buildEntries(model: string): MibEntry[] {
  const list: [string, MibEntry['get']][] = [];
  const add = (o: string, get: MibEntry['get']) => list.push([o, get]);

  // SNMPv2-MIB system group (RFC 3418).
  add(`${SYSTEM}.1.0`, (c) => str(sysDescrFor(c.box)));
  add(`${SYSTEM}.2.0`, (c) => oid(sysObjectIdOf(c.box.identity)));
  add(`${SYSTEM}.3.0`, (c) => ticks(c.box.uptimeMs()));
  add(`${SYSTEM}.4.0`, (c) => str(c.contact));
  add(`${SYSTEM}.5.0`, (c) => str(c.box.hostname));
  add(`${SYSTEM}.6.0`, (c) => str(c.location));
  // sysServices: applications (7) + end-to-end (4) = 72, net-snmp's default.
  add(`${SYSTEM}.7.0`, () => int(72));

  // IF-MIB: ifNumber and ifTable, the traffic ports only (as the real walk).
  const ports = PORT_COUNTS[model] ?? 8;
  add(`${MIB2}.2.1.0`, () => int(ports));
  const ifCols: [number, (port: number, c: MibContext) => SmiValue][] = [
    [1, (p, c) => int(ifIndexFor(c.box.boxId, 1, p))],
    // The real ifDescr ends in a comma: `1/1/x1,`.
    [2, (p, c) => str(`${c.box.boxId}/1/x${p},`)],
    [3, () => int(6)], // ethernetCsmacd
    [4, () => int(9600)], // EMULATION: jumbo MTU
    [5, () => gauge(4294967295)], // 10 Gb/s is above Gauge32: the maximum (RFC 2863)
    // EMULATION: ports are admin down (as GigaVUE ports start) and oper down (no link in a simulator).
    [7, () => int(2)],
    [8, () => int(2)],
    [9, () => ({ type: 'TimeTicks', value: 0 })],
    [10, () => counter(0)],
    [11, () => counter(0)],
    [13, () => counter(0)],
    [14, () => counter(0)],
    [16, () => counter(0)],
    [17, () => counter(0)],
    [19, () => counter(0)],
    [20, () => counter(0)],
  ];
  // Rows keyed by the ifIndex of box-id 0; MibTree shifts them to each box's own (see there).
  for (const [col, get] of ifCols) {
    for (let p = 1; p <= ports; p++) add(`${IF_TABLE_ENTRY}.${col}.${ifIndexFor(0, 1, p)}`, (c) => get(p, c));
  }

  // IF-MIB ifXTable: ifName `1/1/x1`, ifHighSpeed 10000 (Mb/s), ifAlias empty.
  const ifxCols: [number, (port: number, c: MibContext) => SmiValue][] = [
    [1, (p, c) => str(`${c.box.boxId}/1/x${p}`)],
    [15, () => gauge(10000)],
    [18, () => str('')],
  ];
  for (const [col, get] of ifxCols) {
    for (let p = 1; p <= ports; p++) add(`${IFX_ENTRY}.${col}.${ifIndexFor(0, 1, p)}`, (c) => get(p, c));
  }

  // SNMPv2-MIB snmp group: the agent's own counters.
  add(`${SNMP_GROUP}.1.0`, (c) => counter(c.counters.inPkts));
  add(`${SNMP_GROUP}.2.0`, (c) => counter(c.counters.outPkts));
  add(`${SNMP_GROUP}.3.0`, (c) => counter(c.counters.badVersions));
  add(`${SNMP_GROUP}.4.0`, (c) => counter(c.counters.badCommunityNames));
  add(`${SNMP_GROUP}.6.0`, (c) => counter(c.counters.asnParseErrs));
  add(`${SNMP_GROUP}.20.0`, (c) => counter(c.counters.tooBigs));
  add(`${SNMP_GROUP}.30.0`, () => int(2)); // snmpEnableAuthenTraps: disabled
  add(`${SNMP_GROUP}.31.0`, (c) => counter(c.counters.silentDrops));

  // HOST-RESOURCES-MIB: uptime, memory, storage, processor load.
  const mem = memoryKb(model);
  const cpus = modelHardware(model).cpus;
  add(`${HR}.1.1.0`, (c) => ticks(c.box.uptimeMs()));
  add(`${HR}.2.2.0`, () => int(mem.totalKb));
  // EMULATION: storage sizes (4 KiB units): RAM, then /, /config, /var.
  const storage: [number, string, string, number, number][] = [
    [1, `${HR}.2.1.2`, 'Physical memory', mem.totalKb / 4, Math.round(mem.usedKb / 4)],
    [31, `${HR}.2.1.4`, '/', 262144, 131072],
    [32, `${HR}.2.1.4`, '/config', 65536, 4096],
    [33, `${HR}.2.1.4`, '/var', 524288, 98304],
  ];
  const stCols: [number, (row: (typeof storage)[number]) => SmiValue][] = [
    [1, (r) => int(r[0])],
    [2, (r) => oid(r[1])],
    [3, (r) => str(r[2])],
    [4, () => int(4096)],
    [5, (r) => int(r[3])],
    [6, (r) => int(r[4])],
  ];
  for (const [col, get] of stCols) for (const r of storage) add(`${HR}.2.3.1.${col}.${r[0]}`, () => get(r));
  // hrProcessorLoad per CPU of the model (show version's "Number of CPUs"), indexed as net-snmp does (hrDeviceIndex 196608 + n).
  for (let n = 0; n < cpus; n++)
    add(`${HR}.3.3.1.2.${196608 + n}`, () => int(Math.round(hostLoadShare(cpus) * 100)));

  // UCD-SNMP-MIB: memory and load averages (the real walk has laLoad).
  add(`${UCD}.4.5.0`, () => int(mem.totalKb));
  add(`${UCD}.4.6.0`, () => int(mem.freeKb));
  const la: [number, string, number][] = [
    [1, 'Load-1', 0],
    [2, 'Load-5', 1],
    [3, 'Load-15', 2],
  ];
  for (const [i] of la) add(`${UCD}.10.1.1.${i}`, () => int(i));
  for (const [i, name] of la) add(`${UCD}.10.1.2.${i}`, () => str(name));
  for (const [i, , k] of la) add(`${UCD}.10.1.3.${i}`, () => str(loadavg()[k]!.toFixed(2)));
  for (const [i, , k] of la) add(`${UCD}.10.1.5.${i}`, () => int(Math.round(loadavg()[k]! * 100)));

  // GIGAMON-SNMP-MIB gigamonSystem, as the real HC2 answers (real-device.md §1).
  add(`${GIGAMON_SYSTEM}.1.0`, () => str('Gigamon, LLC'));
  add(`${GIGAMON_SYSTEM}.2.0`, (c) => str(pad24(`CHS-${hwType(c.box.identity.model)}`)));
  add(`${GIGAMON_SYSTEM}.4.0`, (c) => str(pad24(c.box.identity.serial)));
  add(`${GIGAMON_SYSTEM}.6.0`, (c) => str(c.box.image.version.replace(/^v/i, '')));
  // EMULATION: the chassis serial number is the box's serial (a simulated box has one serial).
  add(`${GIGAMON_SYSTEM}.8.0`, (c) => str(pad24(c.box.identity.serial)));
  // gigamonCpuUtilization: a string starting with the digits of a percentage. EMULATION: "<n>%" from the host's load.
  add(`${GIGAMON_SYSTEM}.18.4.0`, () => str(`${Math.round(hostLoadShare(cpus) * 100)}%`));
  add(`${GIGAMON_SYSTEM}.19.1.0`, () => int(mem.totalKb));
  add(`${GIGAMON_SYSTEM}.19.2.0`, () => int(mem.freeKb));

  // EMULATION: gvosSimCertTable, one row (index 1, the box's ACME certificate for https) while the box
  // has an ACME certificate or a last ACME request; values are read at request time.
  const certCols: [number, (r: NonNullable<ReturnType<typeof certRow>>) => string][] = [
    [2, (r) => r.issued?.domain ?? r.last?.domain ?? ''],
    [3, (r) => r.issued?.serial ?? ''],
    [4, (r) => (r.issued ? isoUtc(r.issued.expiresMs) : '')],
    [5, (r) => (r.issued?.nextRenewalMs ? isoUtc(r.issued.nextRenewalMs) : '')],
    [6, (r) => r.last?.type ?? ''],
    [7, (r) => r.last?.status ?? ''],
    [8, (r) => r.last?.reason ?? ''],
  ];
  for (const [col, get] of certCols) {
    add(`${GVOS_SIM_CERT_ENTRY}.${col}.1`, (c) => {
      const r = certRow(c);
      return r ? str(get(r)) : undefined;
    });
  }

  // SNMP-FRAMEWORK-MIB snmpEngine group (RFC 3411).
  add(`${SNMP_ENGINE}.1.0`, (c) => ({ type: 'OctetString', value: Buffer.from(c.engineIdHex, 'hex') }));
  add(`${SNMP_ENGINE}.2.0`, (c) => int(c.engineBoots));
  add(`${SNMP_ENGINE}.3.0`, (c) => int(c.engineTime));
  add(`${SNMP_ENGINE}.4.0`, () => int(MAX_MESSAGE_OCTETS));

  return list.map(([text, get]) => ({ oid: text.split('.').map(Number), text, get }));
}

/**
 * The largest message the agent sends or accepts, in octets.
 * EMULATION: 1472 (an Ethernet MTU less the IP and UDP headers), so no
 * response is ever fragmented; larger responses become tooBig (GETBULK
 * returns fewer repetitions instead).
 */
export const MAX_MESSAGE_OCTETS = 1472;

/** Compare two OIDs as sequences of sub-identifiers. */
export function compareOids(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The tables indexed by ifIndex (ifEntry, ifXEntry): their entry OID; the index follows the column. */
const IF_INDEXED = [IF_TABLE_ENTRY, IFX_ENTRY].map((e) => e.split('.').map(Number));

/** Where ifIndex sits in `oid` when it is an instance of an ifIndex-indexed table, else -1. */
function ifIndexPos(oid: readonly number[]): number {
  for (const entry of IF_INDEXED) {
    if (oid.length > entry.length + 1 && startsWith(oid, entry)) return entry.length + 1;
  }
  return -1;
}

/** The box-id part of a box's ifIndex values (its first octet). */
function ifBase(boxId: number): number {
  return boxOctet(boxId) * 0x1000000;
}

/**
 * The object instances of one model, sorted, shared by every box of that
 * model: the entries hold getters only. The ifTable rows are stored with
 * the ifIndex of box-id 0; a box's rows differ only by its box-id in the
 * first octet of ifIndex, a shift that keeps their order, so a request OID
 * is shifted down on the way in and the answer's OID up on the way out.
 */
export class MibTree {
  private readonly entries: MibEntry[];

  constructor(model: string) {
    this.entries = buildEntries(model).sort((a, b) => compareOids(a.oid, b.oid));
  }

  /** Number of instances. */
  get size(): number {
    return this.entries.length;
  }

  /** The value at exactly `oid` for this box, or 'noSuchObject' / 'noSuchInstance'. */
  get(oid: readonly number[], ctx: MibContext): SmiValue | 'noSuchObject' | 'noSuchInstance' {
    const key = this.toShared(oid, ctx.box.boxId);
    const i = this.lowerBound(key);
    const e = this.entries[i];
    if (e && compareOids(e.oid, key) === 0) return e.get(ctx) ?? 'noSuchInstance';
    // An OID under an object we have (a wrong index, a table column) is noSuchInstance (RFC 3416 §4.2.1).
    const objectPrefix = key.slice(0, Math.max(0, key.length - 1));
    return e && startsWith(e.oid, objectPrefix) && objectPrefix.length >= 8
      ? 'noSuchInstance'
      : 'noSuchObject';
  }

  /** The first instance after `oid` that this box has, with its OID (text) and value; undefined = end of the MIB view. */
  next(oid: readonly number[], ctx: MibContext): { oid: string; value: SmiValue } | undefined {
    const boxId = ctx.box.boxId;
    const key = this.toShared(oid, boxId);
    let i = this.lowerBound(key);
    if (this.entries[i] && compareOids(this.entries[i]!.oid, key) === 0) i++;
    for (; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      const value = entry.get(ctx);
      if (value === undefined) continue;
      const pos = ifIndexPos(entry.oid);
      if (pos < 0) return { oid: entry.text, value };
      const out = [...entry.oid];
      out[pos] = out[pos]! + ifBase(boxId);
      return { oid: out.join('.'), value };
    }
    return undefined;
  }

  /** A request OID in the shared numbering (ifIndex of box 0). */
  private toShared(oid: readonly number[], boxId: number): readonly number[] {
    const pos = ifIndexPos(oid);
    if (pos < 0) return oid;
    const idx = oid[pos]! - ifBase(boxId);
    // Below this box's first row: the column itself, which sorts before every row.
    if (idx < 0) return oid.slice(0, pos);
    const out = [...oid];
    out[pos] = idx;
    return out;
  }

  /** Index of the first entry >= oid. */
  private lowerBound(oid: readonly number[]): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareOids(this.entries[mid]!.oid, oid) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function startsWith(oid: readonly number[], prefix: readonly number[]): boolean {
  if (oid.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (oid[i] !== prefix[i]) return false;
  return true;
}

const trees = new Map<string, MibTree>();
/** The tree of a model, built on first use and shared by every box of that model. */
export function mibTreeFor(model: string): MibTree {
  let t = trees.get(model);
  if (!t) trees.set(model, (t = new MibTree(model)));
  return t;
}
