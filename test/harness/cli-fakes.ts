/**
 * Test doubles for the CLI's unit tests (src/cli/*.test.ts) only: an ACME
 * controller and an SNMP notifier that record what the device asks of them,
 * plus a helper that completes an issuance the way the real agent would (a
 * real self-signed certificate, installed through the Box's agent-facing
 * API). A unit test checks the command layer against the device's ports, so
 * it may stand in for the agent; the end-to-end tests (test/e2e/) run the
 * real AcmeAgent against Pebble and the real SnmpNotifier against snmptrapd
 * and must not import this file. It lives under test/ so that no double
 * ships with the sources.
 */
import type { Box } from '../../src/device/box.js';
import { acmePortOf } from './boxes.js';
import type { AcmeIssued } from '../../src/device/model.js';
import type {
  AcmeController,
  AcmeRequest,
  SnmpController,
  SnmpTargetCounters,
} from '../../src/device/ports.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { certificateFacts } from '../../src/pki/certificate.js';
import { createSelfSigned } from '../../src/pki/self-signed.js';

/** An AcmeController that marks the request In Progress (like the agent) and records it. */
export class FakeAcme implements AcmeController {
  readonly requests: AcmeRequest[] = [];
  cleared = 0;
  /** start() waits this long before it resolves (a slow CA, a client leaving mid-command). */
  startDelayMs = 0;

  constructor(private readonly box: () => Box) {}

  async start(request: AcmeRequest): Promise<void> {
    if (this.startDelayMs > 0) await new Promise((r) => setTimeout(r, this.startDelayMs));
    this.requests.push(request);
    await acmePortOf(this.box()).acmeBegin(request.type, request.domain, request.directoryUrl);
  }

  async clear(): Promise<void> {
    this.cleared++;
    await acmePortOf(this.box()).removeAcmeCertificate();
  }

  stop(): void {}
}

/** An SnmpController with fixed engine data and counters derived from the configured targets. */
export class FakeSnmp implements SnmpController {
  tests = 0;

  constructor(private readonly box: () => Box) {}

  engineId(): string {
    return '80006f8804676f732d73696d2d31';
  }
  engineBoots(): number {
    return 3;
  }
  engineTime(): number {
    return 42;
  }
  counters(): SnmpTargetCounters[] {
    return this.box().config.snmp.targets.map((target, i) => ({
      target,
      sent: 10 + i,
      acknowledged: target.kind === 'informs' ? 9 : 0,
      retried: 2,
      timedOut: 1,
      dropped: 0,
    }));
  }
  agentStatus(): undefined {
    return undefined;
  }
  sourceAddress(): string | undefined {
    return this.box().address;
  }
  async sendTest(): Promise<void> {
    this.tests++;
  }
}

/**
 * Finish an issuance as the agent does: a certificate for `domain` (self-signed
 * here), installed and mapped to web, then the request marked Success.
 */
export async function completeIssue(
  box: Box,
  domain: string,
  directoryUrl: string,
  nowMs: number,
): Promise<void> {
  const key = await generateKeyPair('prime256v1');
  const certPem = await createSelfSigned({
    privateKeyPem: key.privateKeyPem,
    keyAlgorithm: 'prime256v1',
    commonName: domain,
    altNames: [domain],
    notBeforeMs: nowMs,
    validDays: 90,
  });
  const f = certificateFacts(certPem);
  const issued: AcmeIssued = {
    domain,
    directoryUrl,
    keyAlgorithm: 'prime256v1',
    certName: 'acme-https.crt',
    firstIssuedMs: nowMs,
    notBeforeMs: f.notBefore,
    expiresMs: f.notAfter,
    serial: f.serial,
    renewDays: null,
    nextRenewalMs: f.notAfter - 30 * 86_400_000,
    lastSuccessfulRenewalMs: null,
    lastFailedRenewalMs: null,
    lastFailureReason: null,
    failedAttempts: 0,
  };
  await acmePortOf(box).installAcmeCertificate(certPem, key.privateKeyPem, issued);
  await acmePortOf(box).acmeFinish('Success');
}
