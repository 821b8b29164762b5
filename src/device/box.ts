/**
 * A simulated GigaVUE-OS box: its identity, running config, certificate
 * store, ACME state and firmware, and every operation an operator can ask of
 * it. This is the one command layer: the CLI and the REST API call these
 * methods and nothing else, so both check roles and inputs the same way and
 * give the same DeviceError.
 *
 * The Box is a facade over one BoxCore (box-core.ts: the shared state, the
 * copy-on-write commit and the one change helper) and the modules of each
 * concern: box-system, box-users, box-certificates, box-firmware, box-acme,
 * box-snmp. What only the ACME agent may do is not here: it is on the
 * AcmeAgentPort that Box.create() returns beside the box.
 *
 * The Box does no I/O of its own: persistence, ACME and SNMP are ports that
 * the host plugs in.
 */
import type { Clock } from '../lib/clock.js';
import type { TypedEmitter } from '../lib/emitter.js';
import { AcmeAgentPort } from './acme-agent-port.js';
import * as acme from './box-acme.js';
import * as certs from './box-certificates.js';
import * as configs from './box-config-files.js';
import { BoxCore, type BoxOptions } from './box-core.js';
import * as fw from './box-firmware.js';
import * as snmp from './box-snmp.js';
import * as system from './box-system.js';
import * as users from './box-users.js';
import type { ChallengeTokens } from './challenge-tokens.js';
import type { DeviceEvents } from './events.js';
import type { FirmwareImage } from './firmware.js';
import type { AcmeState, BoxDocument, CryptoMode, RunningConfig, SnmpTarget, SnmpUser } from './model.js';
import type { AcmeController, RevocationReason, SnmpController } from './ports.js';
import type { Actor, Role } from './roles.js';

export type { BoxOptions } from './box-core.js';
export type { CertificateView } from './box-certificates.js';

export class Box {
  readonly #core: BoxCore;

  /**
   * A box with no ACME agent port: for boxes whose ACME agent is a fake
   * (tests) or absent. The host builds boxes with Box.create().
   */
  constructor(o: BoxOptions) {
    this.#core = new BoxCore(o);
  }

  /** A box and the one port its ACME agent acts through (host only: hand it to the agent, to nobody else). */
  static create(o: BoxOptions): { box: Box; acmePort: AcmeAgentPort } {
    const box = new Box(o);
    return { box, acmePort: new AcmeAgentPort(box, box.#core) };
  }

  // ---------------------------------------------------------------- wiring

  /** Plug in the ACME agent (host only). */
  attachAcme(controller: AcmeController | undefined): void {
    this.#core.acme = controller;
  }

  /** Plug in the SNMP notifier (host only). */
  attachSnmp(controller: SnmpController | undefined): void {
    this.#core.snmp = controller;
  }

  /** A deep copy of the persisted document (tests, reload). */
  snapshot(): BoxDocument {
    return structuredClone(this.#core.doc);
  }

  /** Wait until every queued commit has been written (shutdown). */
  flush(): Promise<void> {
    return this.#core.flush();
  }

  /**
   * Run `fn` (a series of operations on this box) with one state write at
   * its end instead of one per stored change; see BoxCore.batch for the
   * contract (a failed closing write leaves the changes current, unwritten).
   * Each operation inside still checks its actor's role.
   */
  batch<T>(fn: () => Promise<T>): Promise<T> {
    return this.#core.batch(fn);
  }

  // ---------------------------------------------------------------- identity

  get events(): TypedEmitter<DeviceEvents> {
    return this.#core.events;
  }
  get challenges(): ChallengeTokens {
    return this.#core.challenges;
  }
  get clock(): Clock {
    return this.#core.clock;
  }
  get address(): string {
    return this.#core.address;
  }
  get bootedAtMs(): number {
    return this.#core.bootedAtMs;
  }
  get bootKind(): 'cold' | 'warm' {
    return this.#core.bootKind;
  }
  /** The crypto mode the box booted in (a `crypto mode` change waits for reload). */
  get activeCryptoMode(): CryptoMode {
    return this.#core.activeCryptoMode;
  }
  get clusterName(): string {
    return this.#core.clusterName;
  }
  get boxId(): number {
    return this.#core.boxId;
  }
  get identity(): BoxDocument['identity'] {
    return this.#core.doc.identity;
  }
  get hostname(): string {
    return this.#core.running.hostname;
  }
  /** The running configuration (read-only view; replaced, never changed in place, by each setting). */
  get config(): Readonly<RunningConfig> {
    return this.#core.running;
  }
  /** The saved configuration (what a reload comes back with). */
  get savedConfig(): Readonly<RunningConfig> {
    return this.#core.doc.config;
  }
  /** True when the running config differs from the saved one. */
  get hasUnsavedChanges(): boolean {
    return JSON.stringify(this.#core.running) !== JSON.stringify(this.#core.doc.config);
  }
  get sshHostKey(): string {
    return this.#core.doc.sshHostKey;
  }
  get snmpEngineBoots(): number {
    return this.#core.doc.snmpEngine.boots;
  }
  /** The firmware image the box runs. */
  get image(): FirmwareImage {
    return fw.runningImage(this.#core);
  }
  uptimeMs(): number {
    return this.#core.clock.now() - this.#core.bootedAtMs;
  }

  // ---------------------------------------------------------------- system (box-system.ts)

  setHostname(actor: Actor, name: string): void {
    system.setHostname(this.#core, actor, name);
  }
  addNameServer(actor: Actor, spec: string): void {
    system.addNameServer(this.#core, actor, spec);
  }
  removeNameServer(actor: Actor, spec: string): void {
    system.removeNameServer(this.#core, actor, spec);
  }
  addDomainListEntry(actor: Actor, domain: string): void {
    system.addDomainListEntry(this.#core, actor, domain);
  }
  removeDomainListEntry(actor: Actor, domain: string): void {
    system.removeDomainListEntry(this.#core, actor, domain);
  }
  /** `crypto mode`: takes effect after reload (and write memory). */
  setCryptoMode(actor: Actor, mode: CryptoMode): void {
    system.setCryptoMode(this.#core, actor, mode);
  }
  /** `[no] cli default paging enable`: whether CLI sessions page unless they say otherwise. */
  setCliDefaultPaging(actor: Actor, on: boolean): void {
    system.setCliDefaultPaging(this.#core, actor, on);
  }
  /** `write memory`: the running config becomes the saved config. */
  async writeMemory(actor: Actor): Promise<void> {
    await system.writeMemory(this.#core, actor);
  }
  /** `reload`: the host restarts the box with its saved config; unsaved changes are lost. */
  requestReload(actor: Actor): void {
    system.requestReload(this.#core, actor);
  }

  // ---------------------------------------------------------------- configuration files (box-config-files.ts)

  /** `show configuration files`: the active file first, then the kept ones. */
  configFiles(): configs.ConfigFileInfo[] {
    return configs.configFiles(this.#core);
  }
  /** `configuration upload {active|<name>} <url>`; resolves to the path written. */
  uploadConfigFile(actor: Actor, which: string, url: string): Promise<string> {
    return configs.uploadConfigFile(this.#core, actor, which, url);
  }
  /** `configuration fetch <url> [<name>]`; resolves to the name the file is kept under. */
  fetchConfigFile(actor: Actor, url: string, name?: string): Promise<string> {
    return configs.fetchConfigFile(this.#core, actor, url, name);
  }
  /** `configuration switch-to <name>`: the file becomes the saved and the running configuration. */
  async switchToConfigFile(actor: Actor, name: string): Promise<void> {
    await configs.switchToConfigFile(this.#core, actor, name);
  }
  /** `configuration delete <name>`. */
  async deleteConfigFile(actor: Actor, name: string): Promise<void> {
    await configs.deleteConfigFile(this.#core, actor, name);
  }

  // ---------------------------------------------------------------- users (box-users.ts)

  /** Check a login: the role, or null for an unknown user or a wrong password. */
  authenticate(user: string, password: string): Promise<Role | null> {
    return users.authenticate(this.#core, user, password);
  }
  /** A fingerprint of the user's password record, changed by every password change (box-users.ts). */
  credentialStamp(user: string): string | undefined {
    return users.credentialStamp(this.#core, user);
  }
  setUserPassword(actor: Actor, user: string, password: string): void {
    users.setUserPassword(this.#core, actor, user, password);
  }
  setUserCapability(actor: Actor, user: string, role: Role): void {
    users.setUserCapability(this.#core, actor, user, role);
  }
  removeUser(actor: Actor, user: string): void {
    users.removeUser(this.#core, actor, user);
  }
  /** User names and roles (no hashes). */
  users(): { name: string; role: Role }[] {
    return users.users(this.#core);
  }

  // ---------------------------------------------------------------- certificates (box-certificates.ts)

  async addPublicCertificate(actor: Actor, name: string, pem: string): Promise<void> {
    await certs.addPublicCertificate(this.#core, actor, name, pem);
  }
  async addPrivateKey(actor: Actor, name: string, pem: string): Promise<void> {
    await certs.addPrivateKey(this.#core, actor, name, pem);
  }
  async deleteCertificate(actor: Actor, name: string): Promise<void> {
    await certs.deleteCertificate(this.#core, actor, name);
  }
  async addCaListEntry(actor: Actor, name: string): Promise<void> {
    await certs.addCaListEntry(this.#core, actor, name);
  }
  async removeCaListEntry(actor: Actor, name: string): Promise<void> {
    await certs.removeCaListEntry(this.#core, actor, name);
  }
  async setWebCertificate(actor: Actor, name: string): Promise<void> {
    await certs.setWebCertificate(this.#core, actor, name);
  }
  /** The certificate and key the HTTPS server must present. Secret: for the web feature only. */
  webCredentials(): { certName: string; certPem: string; keyPem: string } {
    return this.#core.webCredentials();
  }
  /** The name of the certificate mapped to web. */
  get webCertificateName(): string {
    return this.#core.doc.crypto.webCert;
  }
  certificates(): certs.CertificateView[] {
    return certs.certificates(this.#core);
  }
  /** The names of the certificates held (no parsing: cheaper than certificates() when only names matter). */
  certificateNames(): string[] {
    return Object.keys(this.#core.doc.crypto.certificates);
  }
  certificate(name: string): certs.CertificateView {
    return certs.certificate(this.#core, name);
  }
  caListPems(): { name: string; pem: string }[] {
    return certs.caListPems(this.#core);
  }

  // ---------------------------------------------------------------- firmware (box-firmware.ts)

  images(): ReturnType<typeof fw.images> {
    return fw.images(this.#core);
  }
  imageFetch(actor: Actor, source: string): Promise<FirmwareImage> {
    return fw.imageFetch(this.#core, actor, source);
  }
  async imageInstall(actor: Actor, file: string): Promise<FirmwareImage> {
    return (await fw.imageInstall(this.#core, actor, file))!;
  }
  async imageBootNext(actor: Actor): Promise<FirmwareImage> {
    return (await fw.imageBootNext(this.#core, actor))!;
  }

  // ---------------------------------------------------------------- ACME for operators (box-acme.ts)

  acmeState(): Pick<AcmeState, 'issued' | 'lastRequest'> {
    return acme.acmeState(this.#core);
  }
  /** acmeState() and the ACME certificate's PEM, read in place (box-acme.ts acmeView: read-only, keep nothing). */
  acmeView(): acme.AcmeView {
    return acme.acmeView(this.#core);
  }
  /** True while an issue, renew or revoke runs on this box. */
  get acmeBusy(): boolean {
    return acme.acmeBusy(this.#core);
  }
  acmeIssue(actor: Actor, p: acme.AcmeIssueParams): Promise<void> {
    return acme.acmeIssue(this.#core, actor, p);
  }
  acmeRenew(actor: Actor, domain: string): Promise<void> {
    return acme.acmeRenew(this.#core, actor, domain);
  }
  acmeRevoke(actor: Actor, domain: string, reason?: RevocationReason): Promise<void> {
    return acme.acmeRevoke(this.#core, actor, domain, reason);
  }
  acmeClear(actor: Actor): Promise<void> {
    return acme.acmeClear(this.#core, actor);
  }

  // ---------------------------------------------------------------- SNMP settings (box-snmp.ts)

  snmpEnable(actor: Actor, on: boolean): void {
    snmp.snmpEnable(this.#core, actor, on);
  }
  snmpNotifyEnable(actor: Actor, on: boolean): void {
    snmp.snmpNotifyEnable(this.#core, actor, on);
  }
  snmpSetTarget(actor: Actor, t: SnmpTarget): void {
    snmp.snmpSetTarget(this.#core, actor, t);
  }
  snmpRemoveTarget(actor: Actor, host: string, port?: number): void {
    snmp.snmpRemoveTarget(this.#core, actor, host, port);
  }
  snmpSetUser(actor: Actor, u: SnmpUser): void {
    snmp.snmpSetUser(this.#core, actor, u);
  }
  snmpRemoveUser(actor: Actor, name: string): void {
    snmp.snmpRemoveUser(this.#core, actor, name);
  }
  snmpSetEvent(actor: Actor, name: string, on: boolean): void {
    snmp.snmpSetEvent(this.#core, actor, name, on);
  }
  snmpSetExpiringSoonDays(actor: Actor, days: number): void {
    snmp.snmpSetExpiringSoonDays(this.#core, actor, days);
  }
  snmpAddCommunity(actor: Actor, community: string): void {
    snmp.snmpAddCommunity(this.#core, actor, community);
  }
  snmpRemoveCommunity(actor: Actor, community: string): void {
    snmp.snmpRemoveCommunity(this.#core, actor, community);
  }
  snmpCommunitiesEnable(actor: Actor, on: boolean): void {
    snmp.snmpCommunitiesEnable(this.#core, actor, on);
  }
  snmpSetContact(actor: Actor, text: string): void {
    snmp.snmpSetText(this.#core, actor, 'contact', text);
  }
  snmpSetLocation(actor: Actor, text: string): void {
    snmp.snmpSetText(this.#core, actor, 'location', text);
  }
  snmpSetAgentPort(actor: Actor, port: number | undefined): void {
    snmp.snmpSetAgentPort(this.#core, actor, port);
  }
  snmpSetCommunities(actor: Actor, communities: readonly string[]): void {
    snmp.snmpSetCommunities(this.#core, actor, communities);
  }
  snmpUpdate(actor: Actor, patch: snmp.SnmpSettingsPatch): void {
    snmp.snmpUpdate(this.#core, actor, patch);
  }
  snmpSendTest(actor: Actor): Promise<void> {
    return snmp.snmpSendTest(this.#core, actor);
  }
  /** The notifier's view (engine, counters), when SNMP is attached. */
  snmpStatus(): SnmpController | undefined {
    return this.#core.snmp;
  }
}
