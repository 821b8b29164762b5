/**
 * The dashboard's view of a box: one flat row with everything the fleet
 * table shows (box-id, hostname, address, model, crypto mode, firmware,
 * state, certificate status, serial, expiry, next renewal, last request and
 * its result, clock offset, active faults, the box GUI's URL). Read live
 * from the lab on each call: the row is a snapshot, the event stream says
 * when to take a new one.
 */
import type { Lab } from '../lab.js';

/** One row of GET /v1/dashboard/boxes. Times are ISO 8601 (the box's clock), or null. */
export interface DashboardRow {
  boxId: number;
  hostname: string;
  address: string;
  model: string;
  cryptoMode: string;
  firmware: string;
  /** The runner's state: starting, running, stopped, killed, failed. */
  state: string;
  /** none | in-progress | valid | expired | failed | unknown (box not running). */
  certificate: string;
  serial: string | null;
  expires: string | null;
  nextRenewal: string | null;
  /** "Issue Success", "Auto-Renew Failed: <reason>"... as `show crypto acme client info` words it. */
  lastRequest: string | null;
  lastRequestAt: string | null;
  /** How far the box clock runs ahead of the lab's, ms. */
  clockOffsetMs: number;
  /** The faults turned on for this box. */
  faults: string[];
  /** The box's own web GUI. */
  guiUrl: string;
}

const iso = (ms: number | null | undefined): string | null =>
  ms == null ? null : new Date(ms).toISOString();

/** The row of box `boxId` (which must be in the lab). */
export function dashboardRow(lab: Lab, boxId: number): DashboardRow {
  const status = lab.boxStatus(boxId);
  const info = lab.runner.info(boxId);
  const box = lab.runner.box(boxId);
  const acme = box?.acmeState();
  const req = acme?.lastRequest ?? null;
  const https = status.ports.https;
  const host = status.address.includes(':') ? `[${status.address}]` : status.address;
  return {
    boxId,
    hostname: status.hostname,
    address: status.address,
    model: box?.identity.model ?? info.spec.model,
    cryptoMode: box?.activeCryptoMode ?? info.spec.cryptoMode,
    firmware: box?.image.version ?? info.spec.firmware,
    state: status.state,
    certificate: status.certificate.status,
    serial: status.certificate.serial,
    expires: status.certificate.expires,
    nextRenewal: iso(acme?.issued?.nextRenewalMs),
    lastRequest: req ? `${req.type} ${req.status}${req.reason ? `: ${req.reason}` : ''}` : null,
    lastRequestAt: req ? iso(req.finishedMs ?? req.startedMs) : null,
    clockOffsetMs: lab.runner.clock(boxId).offset,
    faults: lab.faults
      .list([boxId])
      .filter((f) => f.on)
      .map((f) => f.fault),
    guiUrl: `https://${host}${https === 443 ? '' : ':' + https}/`,
  };
}

/** Every box's row, by box-id. */
export function dashboardRows(lab: Lab): DashboardRow[] {
  return lab.runner.ids().map((id) => dashboardRow(lab, id));
}
