/**
 * A simulated GigaVUE-OS box: its identity, running config, certificate
 * store, ACME state and firmware, and every operation an operator can ask of
 * it. This is the one command layer: the CLI and the REST API call these
 * methods and nothing else, so both check roles and inputs the same way and
 * give the same DeviceError.
 *
 * The Box does no I/O of its own: persistence, ACME and SNMP are ports that
 * the host plugs in. Changes that persist at once (certificates, keys, CA
 * list, web mapping, ACME state) go through commit(), which writes a copy of
 * the document and only then makes it current, so a failed write changes
 * nothing.
 *
 * Concurrency: commits are serialised per box; operations may be called
 * concurrently from many sessions.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { TypedEmitter } from '../lib/emitter.js';
import { certificateFacts, parseChain, type CertificateFacts } from '../pki/certificate.js';
import { keyMatches, parsePrivateKey } from '../pki/keys.js';
import { ChallengeTokens } from './challenge-tokens.js';
import { DeviceError } from './errors.js';
import type { DeviceEvents } from './events.js';
import {
  ALGORITHMS_BY_MODE,
  defaultKeyAlgorithm,
  KEY_ALGORITHMS,
  type KeyAlgorithm,
} from './key-algorithms.js';
import {
  MAX_CERTIFICATES,
  MAX_DOMAIN_LIST,
  MAX_EXPIRING_SOON_DAYS,
  MAX_NAME_SERVERS,
  MAX_PEM_BYTES,
  MAX_RENEW_DAYS,
  MAX_SNMP_RATE_PER_SEC,
  MAX_SNMP_TARGETS,
  MAX_USERS,
  PORT_MAX,
  PORT_MIN,
} from './limits.js';
import { ACME_MIN_VERSION, compareVersions, type FirmwareCatalog, type FirmwareImage } from './firmware.js';
import {
  ACME_CERT_NAME,
  DEFAULT_CERT_NAME,
  SNMP_EVENTS,
  type AcmeAccountRecord,
  type AcmeIssued,
  type AcmeRequestStatus,
  type AcmeRequestType,
  type AcmeState,
  type BoxDocument,
  type CertificateRecord,
  type CryptoMode,
  type RunningConfig,
  type SnmpEventName,
  type SnmpTarget,
  type SnmpUser,
} from './model.js';
import { hashPassword, MAX_PASSWORD_LENGTH, UNKNOWN_USER_HASH, verifyPasswordAsync } from './passwords.js';
import type { AcmeController, BoxPersistence, SnmpController } from './ports.js';
import { requireRole, type Actor, type Role } from './roles.js';
import {
  clip,
  validateDomain,
  validateHostname,
  validateInt,
  validateName,
  validateNameServer,
} from './validate.js';

/** What a box is built from. */
export interface BoxOptions {
  doc: BoxDocument;
  persistence: BoxPersistence;
  clock: Clock;
  logger: Logger;
  firmware: FirmwareCatalog;
  /** The management IP the box's listeners bind. */
  address: string;
  /** cold = the process started, warm = `reload`. */
  bootKind: 'cold' | 'warm';
  clusterName?: string;
}

/** A certificate with its facts, for show output and the REST API. No key material. */
export interface CertificateView {
  name: string;
  origin: CertificateRecord['origin'];
  hasPrivateKey: boolean;
  inCaList: boolean;
  usedByWeb: boolean;
  facts: CertificateFacts;
}

/** Parameters of `crypto certificate acme issue`. */
export interface AcmeIssueParams {
  domain: string;
  directoryUrl: string;
  keyAlgorithm?: KeyAlgorithm;
  renewDays?: number;
}

export class Box {
  readonly events: TypedEmitter<DeviceEvents>;
  readonly challenges = new ChallengeTokens();
  readonly clock: Clock;
  readonly address: string;
  readonly bootedAtMs: number;
  readonly bootKind: 'cold' | 'warm';
  /** The crypto mode the box booted in (a `crypto mode` change waits for reload). */
  readonly activeCryptoMode: CryptoMode;
  readonly clusterName: string;

  private doc: BoxDocument;
  private running: RunningConfig;
  private readonly persistence: BoxPersistence;
  private readonly log: Logger;
  private readonly firmware: FirmwareCatalog;
  private commitQueue: Promise<unknown> = Promise.resolve();
  /** A change made current without a write (commit with `write: false`) waits for the next write. */
  private unsaved = false;
  private acme: AcmeController | undefined;
  private snmp: SnmpController | undefined;
  private acmeStarting = false;

  constructor(o: BoxOptions) {
    this.doc = structuredClone(o.doc);
    this.running = structuredClone(o.doc.config);
    this.persistence = o.persistence;
    this.clock = o.clock;
    this.log = o.logger;
    this.firmware = o.firmware;
    this.address = o.address;
    this.bootKind = o.bootKind;
    this.bootedAtMs = o.clock.now();
    this.activeCryptoMode = o.doc.config.cryptoMode;
    this.clusterName = o.clusterName ?? 'gvos-sim';
    this.events = new TypedEmitter<DeviceEvents>((err, event) =>
      this.log.error('event listener failed', {
        event,
        err: err instanceof Error ? err.message : String(err),
      }),
    );
  }

  // ---------------------------------------------------------------- wiring

  /** Plug in the ACME agent (host only). */
  attachAcme(controller: AcmeController | undefined): void {
    this.acme = controller;
  }

  /** Plug in the SNMP notifier (host only). */
  attachSnmp(controller: SnmpController | undefined): void {
    this.snmp = controller;
  }

  /** A deep copy of the persisted document (tests, reload). */
  snapshot(): BoxDocument {
    return structuredClone(this.doc);
  }

  /** Wait until every queued commit has been written (shutdown). */
  async flush(): Promise<void> {
    await this.commitQueue.catch(() => undefined);
    // A change kept for the next write (see commit's `write: false`) is written now.
    if (this.unsaved) await this.commit(() => undefined).catch(() => undefined);
  }

  // ---------------------------------------------------------------- identity

  get boxId(): number {
    return this.doc.identity.boxId;
  }
  get identity(): BoxDocument['identity'] {
    return this.doc.identity;
  }
  get hostname(): string {
    return this.running.hostname;
  }
  /** The running configuration (read-only view). */
  get config(): Readonly<RunningConfig> {
    return this.running;
  }
  /** The saved configuration (what a reload comes back with). */
  get savedConfig(): Readonly<RunningConfig> {
    return this.doc.config;
  }
  /** True when the running config differs from the saved one. */
  get hasUnsavedChanges(): boolean {
    return JSON.stringify(this.running) !== JSON.stringify(this.doc.config);
  }
  get sshHostKey(): string {
    return this.doc.sshHostKey;
  }
  get snmpEngineBoots(): number {
    return this.doc.snmpEngine.boots;
  }

  /** The firmware image the box runs. */
  get image(): FirmwareImage {
    const img = this.firmware.get(this.doc.firmware.running);
    if (!img)
      throw new DeviceError('internal', `Firmware ${this.doc.firmware.running} is not in the catalog.`);
    return img;
  }

  uptimeMs(): number {
    return this.clock.now() - this.bootedAtMs;
  }

  // ---------------------------------------------------------------- persistence

  /**
   * Apply `mutate` to a copy of the document, write it, then make it current.
   * Serialised per box. On a write failure nothing changes and the caller
   * gets DeviceError('storage'), except with `keepInMemory`: then the change
   * is made current anyway (and reaches the disk with the next write that
   * succeeds). Only the end of an ACME request uses it: a request that has
   * ended must not stay "In Progress" in memory, or the box would refuse
   * every ACME operation until a restart even after its disk came back.
   *
   * With `write: false` the change is made current without a write, in the
   * same queue (so no concurrent commit can lose it), and reaches the disk
   * with the next write, or with flush() at shutdown. Only for what may be
   * lost in a crash at no cost but a repeat (the ACME account record).
   */
  private commit(
    mutate: (draft: BoxDocument) => void,
    o: { keepInMemory?: boolean; write?: boolean } = {},
  ): Promise<void> {
    const run = async () => {
      const draft = structuredClone(this.doc);
      mutate(draft);
      if (o.write === false) {
        this.doc = draft;
        this.unsaved = true;
        return;
      }
      try {
        await this.persistence.save(draft);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        this.log.error('state write failed', { reason });
        if (o.keepInMemory) this.doc = draft;
        throw new DeviceError(
          'storage',
          `Could not save the box state (${clip(reason, 120)}); nothing was changed. Check the data directory and retry.`,
        );
      }
      this.doc = draft;
      this.unsaved = false;
    };
    const p = this.commitQueue.then(run, run);
    this.commitQueue = p.catch(() => undefined);
    return p;
  }

  private audit(actor: Actor, action: string): void {
    this.events.emit('audit', { boxId: this.boxId, actor, action });
  }

  private configChanged(section: DeviceEvents['config-changed']['section']): void {
    this.events.emit('config-changed', { boxId: this.boxId, section });
  }

  // ---------------------------------------------------------------- system

  setHostname(actor: Actor, name: string): void {
    requireRole(actor, 'operator');
    this.running.hostname = validateHostname(name);
    this.audit(actor, `hostname ${name}`);
    this.configChanged('system');
  }

  addNameServer(actor: Actor, spec: string): void {
    requireRole(actor, 'operator');
    validateNameServer(spec);
    if (this.running.nameServers.includes(spec)) return;
    if (this.running.nameServers.length >= MAX_NAME_SERVERS) {
      throw new DeviceError(
        'bad-input',
        `At most ${MAX_NAME_SERVERS} name servers; remove one with "no ip name-server <ip>" first.`,
      );
    }
    this.running.nameServers.push(spec);
    this.audit(actor, `ip name-server ${spec}`);
    this.configChanged('system');
  }

  removeNameServer(actor: Actor, spec: string): void {
    requireRole(actor, 'operator');
    const i = this.running.nameServers.indexOf(spec);
    if (i < 0) throw new DeviceError('not-found', `Name server "${clip(spec)}" is not configured.`);
    this.running.nameServers.splice(i, 1);
    this.audit(actor, `no ip name-server ${spec}`);
    this.configChanged('system');
  }

  addDomainListEntry(actor: Actor, domain: string): void {
    requireRole(actor, 'operator');
    const d = validateDomain(domain);
    if (this.running.domainList.includes(d)) return;
    if (this.running.domainList.length >= MAX_DOMAIN_LIST) {
      throw new DeviceError('bad-input', `At most ${MAX_DOMAIN_LIST} domains in the domain list.`);
    }
    this.running.domainList.push(d);
    this.audit(actor, `ip domain-list ${d}`);
    this.configChanged('system');
  }

  removeDomainListEntry(actor: Actor, domain: string): void {
    requireRole(actor, 'operator');
    const i = this.running.domainList.indexOf(domain.toLowerCase());
    if (i < 0) throw new DeviceError('not-found', `Domain "${clip(domain)}" is not in the domain list.`);
    this.running.domainList.splice(i, 1);
    this.audit(actor, `no ip domain-list ${domain}`);
    this.configChanged('system');
  }

  /** `crypto mode`: takes effect after reload (and write memory). */
  // EMULATION: `crypto mode` is a CLI command, effective after reload (the real box gets it from the manager).
  setCryptoMode(actor: Actor, mode: CryptoMode): void {
    requireRole(actor, 'admin');
    this.running.cryptoMode = mode;
    this.audit(actor, `crypto mode ${mode}`);
    this.configChanged('crypto');
  }

  /** `write memory`: the running config becomes the saved config. */
  async writeMemory(actor: Actor): Promise<void> {
    requireRole(actor, 'operator');
    const cfg = structuredClone(this.running);
    await this.commit((d) => {
      d.config = cfg;
    });
    this.audit(actor, 'write memory');
  }

  /** `reload`: the host restarts the box with its saved config; unsaved changes are lost. */
  requestReload(actor: Actor): void {
    requireRole(actor, 'operator');
    this.audit(actor, 'reload');
    this.events.emit('reload-requested', { boxId: this.boxId });
  }

  // ---------------------------------------------------------------- users

  /**
   * Check a login. Resolves the role, or null for an unknown user or a wrong
   * password. The hash runs off the main thread (libuv pool), so a burst of
   * logins does not stall the other boxes of the process.
   */
  async authenticate(user: string, password: string): Promise<Role | null> {
    const rec = own(this.running.users, user);
    // Hash anyway for unknown users so timing does not reveal which names exist.
    const hash = rec?.passwordHash ?? UNKNOWN_USER_HASH;
    const ok = password.length > 0 && (await verifyPasswordAsync(password, hash));
    return ok && rec && rec.passwordHash ? rec.role : null;
  }

  /**
   * A short fingerprint of `user`'s current password record, or undefined
   * when the user does not exist. It changes whenever the password is set,
   * so what was verified against the old one (a remembered login, a REST
   * token) can tell it is stale. Reveals nothing about the password.
   */
  credentialStamp(user: string): string | undefined {
    const rec = own(this.running.users, user);
    return rec?.passwordHash
      ? createHash('sha256').update(rec.passwordHash).digest('base64url').slice(0, 16)
      : undefined;
  }

  setUserPassword(actor: Actor, user: string, password: string): void {
    requireRole(actor, 'admin');
    validateName('user name', user);
    if (password.length === 0) throw new DeviceError('bad-input', 'Empty passwords are not allowed.');
    if (password.length > MAX_PASSWORD_LENGTH) {
      throw new DeviceError('bad-input', `Password too long: at most ${MAX_PASSWORD_LENGTH} characters.`);
    }
    const existing = own(this.running.users, user);
    if (!existing && Object.keys(this.running.users).length >= MAX_USERS) {
      throw new DeviceError('bad-input', `At most ${MAX_USERS} users.`);
    }
    // EMULATION: a new user is a monitor until given a capability (least privilege).
    this.running.users[user] = { role: existing?.role ?? 'monitor', passwordHash: hashPassword(password) };
    this.audit(actor, `username ${user} password ********`);
    this.configChanged('users');
  }

  setUserCapability(actor: Actor, user: string, role: Role): void {
    requireRole(actor, 'admin');
    const rec = own(this.running.users, user);
    if (!rec)
      throw new DeviceError(
        'not-found',
        `User "${clip(user)}" does not exist; set a password first with "username ${clip(user)} password <p>".`,
      );
    if (rec.role === 'admin' && role !== 'admin' && this.adminCount() === 1) {
      throw new DeviceError('in-use', 'Cannot demote the last admin user.');
    }
    rec.role = role;
    this.audit(actor, `username ${user} capability ${role}`);
    this.configChanged('users');
  }

  removeUser(actor: Actor, user: string): void {
    requireRole(actor, 'admin');
    const rec = own(this.running.users, user);
    if (!rec) throw new DeviceError('not-found', `User "${clip(user)}" does not exist.`);
    if (user === actor.user) throw new DeviceError('in-use', 'Cannot delete the user you are logged in as.');
    if (rec.role === 'admin' && this.adminCount() === 1)
      throw new DeviceError('in-use', 'Cannot delete the last admin user.');
    delete this.running.users[user];
    this.audit(actor, `no username ${user}`);
    this.configChanged('users');
  }

  /** User names and roles (no hashes). */
  users(): { name: string; role: Role }[] {
    return Object.entries(this.running.users).map(([name, r]) => ({ name, role: r.role }));
  }

  private adminCount(): number {
    return Object.values(this.running.users).filter((u) => u.role === 'admin').length;
  }

  // ---------------------------------------------------------------- certificates

  /** `crypto certificate name <name> public-cert pem "<PEM>"`. Persists at once. */
  async addPublicCertificate(actor: Actor, name: string, pem: string): Promise<void> {
    requireRole(actor, 'operator');
    this.checkUserCertName(name);
    checkPemSize(pem);
    if (own(this.doc.crypto.certificates, name)) {
      throw new DeviceError(
        'exists',
        `Certificate "${name}" already exists; remove it first with "no crypto certificate name ${name}".`,
      );
    }
    if (Object.keys(this.doc.crypto.certificates).length >= MAX_CERTIFICATES) {
      throw new DeviceError('bad-input', `At most ${MAX_CERTIFICATES} certificates.`);
    }
    let chain: X509Certificate[];
    try {
      chain = parseChain(pem);
    } catch (e) {
      throw new DeviceError('bad-input', `Invalid certificate PEM: ${(e as Error).message}.`);
    }
    const certPem = chain.map((c) => c.toString()).join('');
    await this.commit((d) => {
      d.crypto.certificates[name] = { name, certPem, origin: 'user', addedAtMs: this.clock.now() };
    });
    this.audit(actor, `crypto certificate name ${name} public-cert`);
  }

  /** `crypto certificate name <name> private-key pem "<PEM>"`: the key must match the certificate. */
  async addPrivateKey(actor: Actor, name: string, pem: string): Promise<void> {
    requireRole(actor, 'operator');
    this.checkUserCertName(name);
    checkPemSize(pem);
    const rec = own(this.doc.crypto.certificates, name);
    if (!rec) {
      throw new DeviceError('not-found', `Certificate "${name}" not found; add its public-cert first.`);
    }
    if (rec.keyPem) {
      throw new DeviceError(
        'exists',
        `Certificate "${name}" already has a private key; remove the certificate and add both again.`,
      );
    }
    try {
      parsePrivateKey(pem);
    } catch (e) {
      throw new DeviceError('bad-input', `Invalid private key: ${(e as Error).message}.`);
    }
    const leaf = parseChain(rec.certPem)[0]!;
    if (!keyMatches(pem, leaf.publicKey)) {
      throw new DeviceError(
        'bad-input',
        `The private key does not match certificate "${name}"; nothing was changed.`,
      );
    }
    await this.commit((d) => {
      d.crypto.certificates[name]!.keyPem = pem.trim() + '\n';
    });
    this.audit(actor, `crypto certificate name ${name} private-key`);
  }

  /** `no crypto certificate name <name>`: refused while web or the CA list uses it. */
  async deleteCertificate(actor: Actor, name: string): Promise<void> {
    requireRole(actor, 'operator');
    if (name === DEFAULT_CERT_NAME)
      throw new DeviceError('in-use', 'The default certificate cannot be deleted.');
    if (name === ACME_CERT_NAME) {
      throw new DeviceError(
        'in-use',
        `Certificate "${name}" is managed by ACME; use "crypto certificate acme clear".`,
      );
    }
    if (!own(this.doc.crypto.certificates, name))
      throw new DeviceError('not-found', `Certificate "${clip(name)}" not found.`);
    if (this.doc.crypto.webCert === name) {
      throw new DeviceError(
        'in-use',
        `Certificate "${name}" is in use by web https; map another one first ("web https certificate default-cert").`,
      );
    }
    if (this.doc.crypto.caList.includes(name)) {
      throw new DeviceError(
        'in-use',
        `Certificate "${name}" is in the CA list; remove it first ("no crypto certificate ca-list default-ca-list name ${name}").`,
      );
    }
    await this.commit((d) => {
      delete d.crypto.certificates[name];
    });
    this.audit(actor, `no crypto certificate name ${name}`);
  }

  /** `crypto certificate ca-list default-ca-list name <name>`. */
  async addCaListEntry(actor: Actor, name: string): Promise<void> {
    requireRole(actor, 'operator');
    if (!own(this.doc.crypto.certificates, name)) {
      throw new DeviceError(
        'not-found',
        `Certificate "${clip(name)}" not found; add it with "crypto certificate name ${clip(name)} public-cert pem ..." first.`,
      );
    }
    if (this.doc.crypto.caList.includes(name)) return;
    await this.commit((d) => {
      d.crypto.caList.push(name);
    });
    this.audit(actor, `crypto certificate ca-list default-ca-list name ${name}`);
  }

  async removeCaListEntry(actor: Actor, name: string): Promise<void> {
    requireRole(actor, 'operator');
    if (!this.doc.crypto.caList.includes(name))
      throw new DeviceError('not-found', `Certificate "${clip(name)}" is not in the CA list.`);
    await this.commit((d) => {
      d.crypto.caList = d.crypto.caList.filter((n) => n !== name);
    });
    this.audit(actor, `no crypto certificate ca-list default-ca-list name ${name}`);
  }

  /**
   * `web https certificate name <name>` / `default-cert`. Refused while the
   * ACME certificate is on web (seed: no switching away from it).
   */
  async setWebCertificate(actor: Actor, name: string): Promise<void> {
    requireRole(actor, 'operator');
    if (this.doc.crypto.webCert === ACME_CERT_NAME) {
      throw new DeviceError(
        'in-use',
        'The web certificate is managed by ACME; clear it first with "crypto certificate acme clear".',
      );
    }
    if (name === ACME_CERT_NAME)
      throw new DeviceError('bad-input', 'The ACME certificate is mapped by the ACME client itself.');
    const rec = own(this.doc.crypto.certificates, name);
    if (!rec) throw new DeviceError('not-found', `Certificate "${clip(name)}" not found.`);
    if (!rec.keyPem) {
      throw new DeviceError(
        'precondition',
        `Certificate "${name}" has no private key; add it with "crypto certificate name ${name} private-key pem ...".`,
      );
    }
    if (this.doc.crypto.webCert === name) return;
    await this.commit((d) => {
      d.crypto.webCert = name;
    });
    this.audit(
      actor,
      `web https certificate ${name === DEFAULT_CERT_NAME ? 'default-cert' : 'name ' + name}`,
    );
    this.emitWebChange();
  }

  /** The certificate and key the HTTPS server must present. Secret: for the web feature only. */
  webCredentials(): { certName: string; certPem: string; keyPem: string } {
    const rec =
      own(this.doc.crypto.certificates, this.doc.crypto.webCert) ??
      own(this.doc.crypto.certificates, DEFAULT_CERT_NAME)!;
    return { certName: rec.name, certPem: rec.certPem, keyPem: rec.keyPem! };
  }

  /** The name of the certificate mapped to web. */
  get webCertificateName(): string {
    return this.doc.crypto.webCert;
  }

  /** Every certificate with its facts (no keys). */
  certificates(): CertificateView[] {
    return Object.values(this.doc.crypto.certificates)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((r) => this.view(r));
  }

  certificate(name: string): CertificateView {
    const rec = own(this.doc.crypto.certificates, name);
    if (!rec) throw new DeviceError('not-found', `Certificate "${clip(name)}" not found.`);
    return this.view(rec);
  }

  /** PEMs of the CA list (trust anchors for the ACME server's TLS and chain). */
  caListPems(): { name: string; pem: string }[] {
    return this.doc.crypto.caList
      .map((n) => own(this.doc.crypto.certificates, n))
      .filter((r): r is CertificateRecord => !!r)
      .map((r) => ({ name: r.name, pem: r.certPem }));
  }

  private view(r: CertificateRecord): CertificateView {
    return {
      name: r.name,
      origin: r.origin,
      hasPrivateKey: !!r.keyPem,
      inCaList: this.doc.crypto.caList.includes(r.name),
      usedByWeb: this.doc.crypto.webCert === r.name,
      facts: certificateFacts(r.certPem),
    };
  }

  private checkUserCertName(name: string): void {
    validateName('certificate name', name);
    if (name === DEFAULT_CERT_NAME || name === ACME_CERT_NAME) {
      throw new DeviceError('bad-input', `The name "${name}" is reserved; choose another.`);
    }
  }

  private emitWebChange(): void {
    const w = this.webCredentials();
    this.events.emit('web-certificate-changed', { boxId: this.boxId, ...w });
  }

  // ---------------------------------------------------------------- firmware

  /** Images known to the box: running, fetched, installed, next boot. */
  images(): {
    running: string;
    fetched: string[];
    installed: string | null;
    nextBoot: string | null;
    catalog: FirmwareImage[];
  } {
    return { ...structuredClone(this.doc.firmware), catalog: this.firmware.list() };
  }

  /** `image fetch <url-or-name>`: copy an image from firmware-sim/ to the box. */
  async imageFetch(actor: Actor, source: string): Promise<FirmwareImage> {
    requireRole(actor, 'admin');
    const img = this.firmware.resolve(source);
    if (!img) {
      const names = this.firmware
        .list()
        .map((i) => i.file)
        .join(', ');
      throw new DeviceError('not-found', `No firmware image "${clip(source)}"; available: ${names}.`);
    }
    if (!img.models.includes(this.identity.model)) {
      throw new DeviceError(
        'unsupported',
        `Image ${img.version} does not support model ${this.identity.model}.`,
      );
    }
    if (!this.doc.firmware.fetched.includes(img.version)) {
      await this.commit((d) => {
        d.firmware.fetched.push(img.version);
      });
    }
    this.audit(actor, `image fetch ${img.file}`);
    return img;
  }

  /** `image install <file>`: the image must have been fetched. */
  async imageInstall(actor: Actor, file: string): Promise<FirmwareImage> {
    requireRole(actor, 'admin');
    const img = this.firmware.resolve(file);
    if (!img || !this.doc.firmware.fetched.includes(img.version)) {
      throw new DeviceError(
        'not-found',
        `Image "${clip(file)}" has not been fetched; use "image fetch ${clip(file)}" first.`,
      );
    }
    await this.commit((d) => {
      d.firmware.installed = img.version;
    });
    this.audit(actor, `image install ${img.file}`);
    return img;
  }

  /** `image boot next`: boot the installed image on the next reload. */
  async imageBootNext(actor: Actor): Promise<FirmwareImage> {
    requireRole(actor, 'admin');
    const v = this.doc.firmware.installed;
    if (!v) throw new DeviceError('precondition', 'No image installed; use "image install <file>" first.');
    await this.commit((d) => {
      d.firmware.nextBoot = v;
    });
    this.audit(actor, 'image boot next');
    return this.firmware.get(v)!;
  }

  // ---------------------------------------------------------------- ACME (operator-facing)

  /**
   * The ACME status (a copy) for `show crypto acme client info` and the REST
   * API: the issued certificate and the last request. Account keys are not
   * part of it (see acmeAccount()).
   */
  acmeState(): Pick<AcmeState, 'issued' | 'lastRequest'> {
    return structuredClone({ issued: this.doc.acme.issued, lastRequest: this.doc.acme.lastRequest });
  }

  /** True while an issue, renew or revoke runs on this box. */
  get acmeBusy(): boolean {
    return this.doc.acme.lastRequest?.status === 'In Progress';
  }

  /** `crypto certificate acme issue ...` (admin). Resolves once the work has started. */
  async acmeIssue(actor: Actor, p: AcmeIssueParams): Promise<void> {
    requireRole(actor, 'admin');
    const domain = validateDomain(p.domain);
    const directoryUrl = validateDirectoryUrl(p.directoryUrl);
    const renewDays =
      p.renewDays === undefined ? null : validateInt('renew-days', p.renewDays, 1, MAX_RENEW_DAYS);
    const keyAlgorithm = p.keyAlgorithm ?? defaultKeyAlgorithm(this.activeCryptoMode);
    if (!KEY_ALGORITHMS.includes(keyAlgorithm))
      throw new DeviceError('bad-input', `Unknown key algorithm "${clip(keyAlgorithm)}".`);
    const allowed = ALGORITHMS_BY_MODE[this.activeCryptoMode];
    if (!allowed.includes(keyAlgorithm)) {
      throw new DeviceError(
        'bad-input',
        `Key algorithm ${keyAlgorithm} is not allowed in ${this.activeCryptoMode} mode; use ${allowed.join(' or ')}.`,
      );
    }
    const controller = this.acmePrerequisites();
    await controller.start({ type: 'Issue', domain, directoryUrl, keyAlgorithm, renewDays });
    this.audit(actor, `crypto certificate acme issue domain ${domain}`);
  }

  /** `crypto certificate acme renew domain <d>` (admin). */
  async acmeRenew(actor: Actor, domain: string): Promise<void> {
    requireRole(actor, 'admin');
    const issued = this.acmeIssuedFor(domain, 'renew');
    const controller = this.acmePrerequisites();
    await controller.start({
      type: 'Renew',
      domain: issued.domain,
      directoryUrl: issued.directoryUrl,
      keyAlgorithm: issued.keyAlgorithm,
      renewDays: issued.renewDays,
    });
    this.audit(actor, `crypto certificate acme renew domain ${issued.domain}`);
  }

  /** `crypto certificate acme revoke domain <d>` (admin): re-issue, install, then revoke the old one. */
  async acmeRevoke(
    actor: Actor,
    domain: string,
    reason: 'superseded' | 'key-compromise' = 'superseded',
  ): Promise<void> {
    requireRole(actor, 'admin');
    const issued = this.acmeIssuedFor(domain, 'revoke');
    const controller = this.acmePrerequisites();
    await controller.start({
      type: 'Revoke',
      domain: issued.domain,
      directoryUrl: issued.directoryUrl,
      keyAlgorithm: issued.keyAlgorithm,
      renewDays: issued.renewDays,
      revocationReason: reason === 'key-compromise' ? 1 : 4,
    });
    this.audit(actor, `crypto certificate acme revoke domain ${issued.domain}`);
  }

  /** `crypto certificate acme clear` (admin): back to the default certificate, timers cancelled. */
  async acmeClear(actor: Actor): Promise<void> {
    requireRole(actor, 'admin');
    if (!this.doc.acme.issued) throw new DeviceError('precondition', 'No ACME issued certificate to clear.');
    if (this.acmeBusy) throw this.busyError();
    const controller = this.acmeController();
    await controller.clear();
    this.audit(actor, 'crypto certificate acme clear');
  }

  private acmeIssuedFor(domain: string, verb: string): AcmeIssued {
    const issued = this.doc.acme.issued;
    if (!issued)
      throw new DeviceError('precondition', `No ACME issued certificate to ${verb}; issue one first.`);
    const d = validateDomain(domain);
    if (d !== issued.domain) {
      throw new DeviceError(
        'bad-input',
        `Domain "${clip(domain)}" does not match the ACME certificate's domain "${issued.domain}".`,
      );
    }
    return issued;
  }

  private acmeController(): AcmeController {
    if (compareVersions(this.doc.firmware.running, ACME_MIN_VERSION) < 0 || !this.image.features.acme) {
      throw new DeviceError(
        'unsupported',
        `ACME needs firmware ${ACME_MIN_VERSION} or later; this box runs ${this.doc.firmware.running}. Upgrade with "image fetch/install" and reload.`,
      );
    }
    if (!this.acme) throw new DeviceError('unsupported', 'The ACME client is not available on this box.');
    return this.acme;
  }

  /** Checks every operation that talks to the CA shares (seed prerequisites), in a fixed order. */
  private acmePrerequisites(): AcmeController {
    const controller = this.acmeController();
    if (this.running.nameServers.length === 0) {
      throw new DeviceError(
        'precondition',
        'No name server configured; add one with "ip name-server <ip>" (DNS is an ACME prerequisite).',
      );
    }
    if (this.acmeBusy) throw this.busyError();
    return controller;
  }

  private busyError(): DeviceError {
    const what = this.acmeBusy ? `ACME ${this.doc.acme.lastRequest!.type.toLowerCase()}` : 'ACME operation';
    return new DeviceError(
      'busy',
      `An ${what} is already in progress on box ${this.boxId}; wait for it ("show crypto acme client info box-id ${this.boxId}").`,
    );
  }

  // ---------------------------------------------------------------- ACME (agent-facing)

  /** Record a new request as In Progress. Throws 'busy' if one runs (the agent's lock). */
  async acmeBegin(type: AcmeRequestType, domain: string, directoryUrl: string): Promise<void> {
    // The in-memory flag closes the window before the commit below lands (two callers at once).
    if (this.acmeBusy || this.acmeStarting) throw this.busyError();
    this.acmeStarting = true;
    const req: AcmeRequestStatus = {
      domain,
      directoryUrl,
      type,
      status: 'In Progress',
      reason: null,
      startedMs: this.clock.now(),
      finishedMs: null,
    };
    try {
      await this.commit((d) => {
        d.acme.lastRequest = req;
      });
    } finally {
      this.acmeStarting = false;
    }
  }

  /**
   * Mark the running request Success or Failed (with a one-line reason) and
   * emit acme-request-finished. If the state cannot be written, the status
   * still changes in memory (see commit()) and the storage error is thrown.
   */
  async acmeFinish(outcome: 'Success' | 'Failed', reason: string | null = null): Promise<void> {
    const cur = this.doc.acme.lastRequest;
    if (!cur) return;
    const done: AcmeRequestStatus = { ...cur, status: outcome, reason, finishedMs: this.clock.now() };
    try {
      await this.commit(
        (d) => {
          d.acme.lastRequest = done;
        },
        { keepInMemory: true },
      );
    } finally {
      this.events.emit('acme-request-finished', { boxId: this.boxId, request: done });
    }
  }

  /**
   * Store a new ACME certificate and key as acme-https.crt, map it to web and
   * update the issued record, in one write; then emit web-certificate-changed.
   *
   * With `succeed`, the same write also marks the running request Success
   * (one state write per certificate less than install + acmeFinish: each
   * write is a copy, a serialisation and an fsync), and after the web swap
   * `succeed` is called, then acme-request-finished is emitted, so that
   * listeners see the events in the order of the separate calls.
   */
  async installAcmeCertificate(
    certPem: string,
    keyPem: string,
    issued: AcmeIssued,
    succeed?: () => void,
  ): Promise<void> {
    const rec: CertificateRecord = {
      name: ACME_CERT_NAME,
      certPem,
      keyPem,
      origin: 'acme',
      addedAtMs: this.clock.now(),
    };
    let done: AcmeRequestStatus | undefined;
    await this.commit((d) => {
      d.crypto.certificates[ACME_CERT_NAME] = rec;
      d.crypto.webCert = ACME_CERT_NAME;
      d.acme.issued = issued;
      const cur = d.acme.lastRequest;
      if (succeed && cur) {
        done = { ...cur, status: 'Success', reason: null, finishedMs: this.clock.now() };
        d.acme.lastRequest = done;
      }
    });
    this.emitWebChange();
    if (succeed) {
      succeed();
      if (done) this.events.emit('acme-request-finished', { boxId: this.boxId, request: done });
    }
  }

  /** Update fields of the issued record (renewal schedule, failures). No-op without one. */
  async updateAcmeIssued(patch: Partial<AcmeIssued>): Promise<void> {
    if (!this.doc.acme.issued) return;
    await this.commit((d) => {
      if (d.acme.issued) Object.assign(d.acme.issued, patch);
    });
  }

  /**
   * Remove the ACME certificate and key, map web to the default certificate
   * (clear, or a failed re-issue during revoke), in one write.
   */
  async removeAcmeCertificate(): Promise<void> {
    const wasOnWeb = this.doc.crypto.webCert === ACME_CERT_NAME;
    await this.commit((d) => {
      delete d.crypto.certificates[ACME_CERT_NAME];
      if (d.crypto.webCert === ACME_CERT_NAME) d.crypto.webCert = DEFAULT_CERT_NAME;
      d.acme.issued = null;
    });
    if (wasOnWeb) this.emitWebChange();
  }

  /** Keep the web on the default certificate but leave the issued record (revoke fallback keeps status). */
  async mapWebToDefault(): Promise<void> {
    await this.commit((d) => {
      d.crypto.webCert = DEFAULT_CERT_NAME;
    });
    this.emitWebChange();
  }

  /** The stored ACME certificate PEM and key, if any (agent only; secret). */
  acmeCertificate(): { certPem: string; keyPem: string } | undefined {
    const r = own(this.doc.crypto.certificates, ACME_CERT_NAME);
    return r && r.keyPem ? { certPem: r.certPem, keyPem: r.keyPem } : undefined;
  }

  /** The account for a directory, if one was registered. */
  acmeAccount(directoryUrl: string): AcmeAccountRecord | undefined {
    return this.doc.acme.accounts.find((a) => a.directoryUrl === directoryUrl);
  }

  /**
   * Create or replace the account record of a directory. It is current at
   * once and reaches the disk with the box's next state write: the end of the
   * running operation writes one, success or failure (one fsync per first
   * certificate less). A crash before that loses only the record: the next
   * operation registers a new account with the CA, as after a factory reset.
   */
  async saveAcmeAccount(rec: AcmeAccountRecord): Promise<void> {
    await this.commit(
      (d) => {
        d.acme.accounts = [...d.acme.accounts.filter((a) => a.directoryUrl !== rec.directoryUrl), rec];
      },
      { write: false },
    );
  }

  // ---------------------------------------------------------------- SNMP config

  snmpEnable(actor: Actor, on: boolean): void {
    requireRole(actor, 'operator');
    this.running.snmp.enabled = on;
    this.audit(actor, `${on ? '' : 'no '}snmp-server enable`);
    this.configChanged('snmp');
  }

  snmpNotifyEnable(actor: Actor, on: boolean): void {
    requireRole(actor, 'operator');
    this.running.snmp.notifyEnabled = on;
    this.audit(actor, `${on ? '' : 'no '}snmp-server enable notify`);
    this.configChanged('snmp');
  }

  /** Add or replace the target with the same host, port and kind. */
  snmpSetTarget(actor: Actor, t: SnmpTarget): void {
    requireRole(actor, 'operator');
    if (!isIP(t.host))
      throw new DeviceError(
        'bad-input',
        `Invalid SNMP host "${clip(t.host)}": give an IPv4 or IPv6 address.`,
      );
    if (t.version === '3' && !t.user)
      throw new DeviceError('bad-input', 'An SNMPv3 target needs a user ("... version 3 user <name>").');
    if (t.version !== '3' && !t.community)
      throw new DeviceError('bad-input', 'An SNMPv1/v2c target needs a community.');
    if (t.community !== undefined && !/^[\x20-\x7e]{1,64}$/.test(t.community)) {
      throw new DeviceError('bad-input', 'Invalid community: use 1-64 printable characters.');
    }
    if (t.kind === 'informs' && t.version === '1')
      throw new DeviceError('bad-input', 'SNMPv1 has no informs; use version 2c or 3.');
    validateInt('port', t.port, PORT_MIN, PORT_MAX);
    validateInt('rate', t.ratePerSec, 1, MAX_SNMP_RATE_PER_SEC);
    if (t.version === '3' && !this.running.snmp.users.some((u) => u.name === t.user)) {
      throw new DeviceError(
        'not-found',
        `SNMPv3 user "${clip(t.user ?? '')}" does not exist; create it with "snmp-server user ${clip(t.user ?? '')} v3 ..." first.`,
      );
    }
    const others = this.running.snmp.targets.filter(
      (x) => !(x.host === t.host && x.port === t.port && x.kind === t.kind),
    );
    if (others.length >= MAX_SNMP_TARGETS)
      throw new DeviceError('bad-input', `At most ${MAX_SNMP_TARGETS} SNMP hosts.`);
    this.running.snmp.targets = [...others, t];
    this.audit(actor, `snmp-server host ${t.host} port ${t.port} ${t.kind} version ${t.version}`);
    this.configChanged('snmp');
  }

  snmpRemoveTarget(actor: Actor, host: string, port?: number): void {
    requireRole(actor, 'operator');
    const keep = this.running.snmp.targets.filter(
      (x) => !(x.host === host && (port === undefined || x.port === port)),
    );
    if (keep.length === this.running.snmp.targets.length)
      throw new DeviceError('not-found', `SNMP host "${clip(host)}" is not configured.`);
    this.running.snmp.targets = keep;
    this.audit(actor, `no snmp-server host ${host}`);
    this.configChanged('snmp');
  }

  /** Add or replace an SNMPv3 user. MD5 and DES are refused in FIPS mode. */
  snmpSetUser(actor: Actor, u: SnmpUser): void {
    requireRole(actor, 'operator');
    validateName('SNMP user', u.name);
    if (this.activeCryptoMode === 'fips' && (u.auth?.protocol === 'md5' || u.priv?.protocol === 'des')) {
      throw new DeviceError(
        'unsupported',
        'MD5 and DES are not allowed in FIPS mode; use sha/sha256/sha512 and aes-128/aes-256.',
      );
    }
    if (u.priv && !u.auth)
      throw new DeviceError('bad-input', 'Privacy needs authentication: give "auth ... priv ...".');
    for (const s of [u.auth?.password, u.priv?.password]) {
      if (s !== undefined && (s.length < 8 || s.length > 64)) {
        throw new DeviceError('bad-input', 'SNMPv3 passphrases must have 8 to 64 characters.');
      }
    }
    this.running.snmp.users = [...this.running.snmp.users.filter((x) => x.name !== u.name), u];
    this.audit(actor, `snmp-server user ${u.name} v3`);
    this.configChanged('snmp');
  }

  snmpRemoveUser(actor: Actor, name: string): void {
    requireRole(actor, 'operator');
    if (this.running.snmp.targets.some((t) => t.user === name)) {
      throw new DeviceError('in-use', `SNMP user "${clip(name)}" is used by a host; remove the host first.`);
    }
    const keep = this.running.snmp.users.filter((x) => x.name !== name);
    if (keep.length === this.running.snmp.users.length)
      throw new DeviceError('not-found', `SNMP user "${clip(name)}" does not exist.`);
    this.running.snmp.users = keep;
    this.audit(actor, `no snmp-server user ${name}`);
    this.configChanged('snmp');
  }

  /** `snmp-server notify event <name>` / `no ...`. */
  snmpSetEvent(actor: Actor, name: string, on: boolean): void {
    requireRole(actor, 'operator');
    if (!(SNMP_EVENTS as readonly string[]).includes(name)) {
      throw new DeviceError(
        'bad-input',
        `Unknown event "${clip(name)}"; use one of ${SNMP_EVENTS.join(', ')}.`,
      );
    }
    const ev = name as SnmpEventName;
    const set = new Set(this.running.snmp.events);
    if (on) set.add(ev);
    else set.delete(ev);
    this.running.snmp.events = SNMP_EVENTS.filter((e) => set.has(e));
    this.audit(actor, `${on ? '' : 'no '}snmp-server notify event ${name}`);
    this.configChanged('snmp');
  }

  /** `snmp-server notify expiring-soon-days <n>`. */
  snmpSetExpiringSoonDays(actor: Actor, days: number): void {
    requireRole(actor, 'operator');
    this.running.snmp.expiringSoonDays = validateInt('days', days, 1, MAX_EXPIRING_SOON_DAYS);
    this.configChanged('snmp');
  }

  /** `snmp-server notify send-test`. */
  async snmpSendTest(actor: Actor): Promise<void> {
    requireRole(actor, 'operator');
    if (!this.snmp) throw new DeviceError('unsupported', 'SNMP is not available on this box.');
    if (!this.running.snmp.enabled || !this.running.snmp.notifyEnabled) {
      throw new DeviceError(
        'precondition',
        'SNMP notifications are off; use "snmp-server enable" and "snmp-server enable notify".',
      );
    }
    if (this.running.snmp.targets.length === 0)
      throw new DeviceError('precondition', 'No SNMP host configured; add one with "snmp-server host ...".');
    await this.snmp.sendTest();
  }

  /** The notifier's view (engine, counters), when SNMP is attached. */
  snmpStatus(): SnmpController | undefined {
    return this.snmp;
  }
}

/** An own property of a by-name record: names such as "__proto__" or "toString" never reach Object.prototype. */
function own<T>(rec: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

function checkPemSize(pem: string): void {
  if (Buffer.byteLength(pem) > MAX_PEM_BYTES) {
    throw new DeviceError('bad-input', `PEM value too long: at most ${MAX_PEM_BYTES / 1024} KiB.`);
  }
}

/** An ACME directory URL: https only (RFC 8555 §6.1), bounded. */
export function validateDirectoryUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DeviceError(
      'bad-input',
      `Invalid acme-server "${clip(url)}": give the directory URL, e.g. https://ca.lab.test:14000/dir.`,
    );
  }
  if (u.protocol !== 'https:' || url.length > 512) {
    throw new DeviceError(
      'bad-input',
      `Invalid acme-server "${clip(url)}": the ACME directory must be an https:// URL (RFC 8555 §6.1).`,
    );
  }
  return url;
}
