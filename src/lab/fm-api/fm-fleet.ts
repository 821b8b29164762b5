/**
 * What the GigaVUE-FM-shaped API keeps and does for one lab: the global
 * template, the per-device view (`certificateInfo`), and fleet operations as
 * tasks. An operation resolves its `acmeCertificate` entries to box-ids and
 * each box's manager fields, answers at once with a task, and runs through
 * Lab.fleet, the very method `lab acme issue|renew|revoke|clear` uses.
 *
 * Contract:
 * - nodes() lists every box in box-id order; node(clusterId) one box, by
 *   hostname (any case), lab name or address (when one box has it).
 * - start() refuses (WebError, nothing started) a selector naming no box or
 *   a box the lab does not have, a box in two entries, and a `domain` given
 *   for several boxes; otherwise the task exists before start() returns.
 * - A task reports each box when it finishes; it is COMPLETED when every box
 *   has a result. At most MAX_TASKS are kept: the oldest completed go first.
 */
import { randomUUID } from 'node:crypto';
import { MANAGER_ALGORITHMS } from '../../device/key-algorithms.js';
import { clip } from '../../device/validate.js';
import { acmeJson } from '../../web/api/views.js';
import { WebError } from '../../web/api/problem.js';
import { parseBoxList } from '../lab-args.js';
import type { FleetIssueSettings, FleetOp, FleetResult, Lab } from '../lab.js';
import type { FmAcmeCertificate, FmAcmeNode, FmTask, GlobalTemplate } from './models.js';
import type { Static } from '@sinclair/typebox';

/** Tasks kept for GET; beyond it the oldest completed are forgotten. */
// EMULATION: how many tasks FM keeps is not public; the lab keeps the last 64.
const MAX_TASKS = 64;

type Entry = Static<typeof FmAcmeCertificate>;
type Node = Static<typeof FmAcmeNode>;
type Task = Static<typeof FmTask>;

/** The FM-shaped view and operations of one lab (see the file comment). */
export class FmFleet {
  private template: GlobalTemplate = {
    acmeServerUrl: null,
    operationType: 'issue',
    algorithm: null,
    renewDays: null,
  };
  private readonly tasks = new Map<string, Task>();

  constructor(private readonly lab: Lab) {}

  /** The global template (a copy). */
  globalTemplate(): GlobalTemplate {
    return { ...this.template };
  }

  /** Store the given fields of the template; the others stay. */
  setGlobalTemplate(t: Partial<GlobalTemplate>): GlobalTemplate {
    for (const [k, v] of Object.entries(t)) if (v !== undefined) Object.assign(this.template, { [k]: v });
    return this.globalTemplate();
  }

  /** Every box as the manager lists it. */
  nodes(): Node[] {
    return this.lab.runner.ids().map((id) => this.nodeOf(id));
  }

  /** One box by clusterId; 404 naming the clusterIds when there is none. */
  node(clusterId: string): Node {
    return this.nodeOf(this.boxOf(clusterId));
  }

  /** A task by id; 404 when unknown (or forgotten). */
  task(taskId: string): Task {
    const t = this.tasks.get(taskId);
    if (!t) throw new WebError('not-found', `No task ${clip(taskId, 40)} (at most ${MAX_TASKS} are kept).`);
    return structuredClone(t);
  }

  /** Resolve the entries, create the task and start it (see the contract); returns the task id. */
  start(op: FleetOp, entries: readonly Entry[]): string {
    const settings = this.resolve(entries);
    const ids = [...settings.keys()].sort((a, b) => a - b);
    const task: Task = {
      taskId: randomUUID(),
      operationType: op,
      status: 'IN_PROGRESS',
      total: ids.length,
      completed: 0,
      succeeded: 0,
      failed: 0,
      createdAt: new Date().toISOString(),
      finishedAt: null,
      devices: [],
    };
    this.remember(task);
    const onResult = (r: FleetResult) => {
      task.completed++;
      if (r.ok) task.succeeded++;
      else task.failed++;
      task.devices.push({
        boxId: r.boxId,
        clusterId: r.hostname,
        status: r.ok ? 'SUCCESS' : 'FAILED',
        result: r.result,
        serialNumber: r.serial,
        expiry: r.expires,
      });
    };
    const finish = () => {
      task.devices.sort((a, b) => a.boxId - b.boxId);
      task.status = 'COMPLETED';
      task.finishedAt = new Date().toISOString();
    };
    // Lab.fleet turns every box's failure into its row; a rejection would be a bug: record it on the boxes left.
    this.lab
      .fleet(op, ids, onResult, { settings: (id) => settings.get(id)! })
      .then(finish, (err: unknown) => {
        const done = new Set(task.devices.map((d) => d.boxId));
        for (const id of ids.filter((i) => !done.has(i)))
          onResult({
            boxId: id,
            hostname: this.hostnameOf(id),
            op,
            result: `Failed: ${(err as Error).message?.split('\n')[0] ?? String(err)}`,
            ok: false,
            serial: null,
            expires: null,
            durationMs: 0,
          });
        finish();
      });
    return task.taskId;
  }

  // ------------------------------------------------------------------ internals

  private remember(task: Task): void {
    this.tasks.set(task.taskId, task);
    if (this.tasks.size <= MAX_TASKS) return;
    for (const [id, t] of this.tasks) {
      if (t.status === 'COMPLETED') {
        this.tasks.delete(id);
        return;
      }
    }
  }

  /** Each selected box and its manager fields: the entry's, else the template's. */
  private resolve(entries: readonly Entry[]): Map<number, FleetIssueSettings> {
    const out = new Map<number, FleetIssueSettings>();
    const list = entries.length ? entries : [{}];
    for (const e of list) {
      const ids = this.selected(e);
      if (e.domain !== undefined && ids.length > 1)
        throw new WebError(
          'bad-input',
          `An entry with a domain names one box; this one names ${ids.length} (boxIds ${clip(e.boxIds ?? 'all', 40)}).`,
        );
      const s = this.settingsOf(e);
      for (const id of ids) {
        if (out.has(id)) throw new WebError('bad-input', `Box ${id} is in two acmeCertificate entries.`);
        out.set(id, s);
      }
    }
    return out;
  }

  private selected(e: Entry): number[] {
    if (e.clusterId !== undefined) return [this.boxOf(e.clusterId)];
    if (e.boxIds !== undefined) {
      let ids: number[] | undefined;
      try {
        ids = parseBoxList(e.boxIds);
      } catch {
        throw new WebError(
          'bad-input',
          `boxIds takes box-ids like "1,3,5", "2-4" or "all", got "${clip(e.boxIds, 40)}".`,
        );
      }
      if (!ids) return this.lab.runner.ids();
      const missing = ids.filter((id) => !this.lab.runner.has(id));
      if (missing.length)
        throw new WebError(
          'not-found',
          `No box with box-id ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (and ${missing.length - 5} more)` : ''} (box-ids: ${this.idsText()}).`,
        );
      return ids;
    }
    if (e.domain !== undefined) {
      const d = e.domain.toLowerCase();
      const id = this.lab.runner
        .ids()
        .find((i) => this.lab.domainFor(i) === d || this.hostnameOf(i).toLowerCase() === d);
      if (id === undefined)
        throw new WebError(
          'not-found',
          `No box has the domain ${clip(e.domain, 80)}; give clusterId or boxIds to issue for another name.`,
        );
      return [id];
    }
    return this.lab.runner.ids();
  }

  private settingsOf(e: Entry): FleetIssueSettings {
    const t = this.template;
    const url = e.acmeServerUrl ?? t.acmeServerUrl;
    const alg = e.algorithm ?? t.algorithm;
    const days = e.renewDays === undefined ? t.renewDays : e.renewDays;
    return {
      ...(url ? { directoryUrl: url } : {}),
      ...(alg ? { keyAlgorithm: MANAGER_ALGORITHMS[alg] } : {}),
      ...(days ? { renewDays: days } : {}),
      ...(e.domain !== undefined ? { domain: e.domain } : {}),
    };
  }

  /** The box-id of a clusterId (see node()). */
  private boxOf(clusterId: string): number {
    const c = clusterId.toLowerCase();
    const ids = this.lab.runner.ids();
    const byName = ids.find((i) => this.hostnameOf(i).toLowerCase() === c || this.lab.domainFor(i) === c);
    if (byName !== undefined) return byName;
    const byAddress = ids.filter((i) => this.lab.runner.info(i).address === clusterId);
    if (byAddress.length === 1) return byAddress[0]!;
    throw new WebError(
      'not-found',
      `No box with clusterId ${clip(clusterId, 80)}; clusterIds are the boxes' hostnames (GET .../acme/certificate/nodes lists them).`,
    );
  }

  private idsText(): string {
    const ids = this.lab.runner.ids();
    return ids.length > 20 ? `${ids.slice(0, 20).join(', ')}, ...` : ids.join(', ') || 'none';
  }

  private hostnameOf(id: number): string {
    return this.lab.runner.box(id)?.hostname ?? this.lab.runner.info(id).spec.hostname;
  }

  private nodeOf(id: number): Node {
    const box = this.lab.runner.box(id);
    const st = this.lab.boxStatus(id);
    const view = box
      ? acmeJson(box)
      : { boxId: id, clusterName: this.lab.topology.cluster, issuedCert: null, lastAcmeRequest: null };
    return {
      ...view,
      clusterId: st.hostname,
      deviceAddress: st.address,
      serialNumber: st.certificate.serial,
    };
  }
}
