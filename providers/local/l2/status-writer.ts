/**
 * Visible state, written off the failover path (a takeover never waits for the apiserver): one small
 * cluster-scoped L2Announcement per VIP (`kubectl get l2announcements`: the VIP, the node that announces it,
 * on which interfaces, for which Services, or why nobody does), and the Valid condition of each
 * L2Advertisement. Speakers never patch Services; the controller owns the Service condition.
 *
 * Exactly one speaker writes each object, chosen like an announcer: the VIP's holder writes its
 * L2Announcement; for a VIP nobody holds, and for an L2Advertisement, the first ready speaker in the hash
 * order of the object's name. A write happens only when the object differs from what it should say, so a
 * steady cluster writes nothing and a failover costs one write per VIP that moved.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeApiError } from '../../../src/kube/api-error.ts';
import { L2_GROUP, L2_VERSION, L2ADVERTISEMENT_PLURAL } from './advertisement.ts';
import { rankNodes, type VipDecision } from './election.ts';
import { L2ANNOUNCEMENT_PLURAL, type CustomObject } from './kube-inputs.ts';

export const FIELD_MANAGER = 'lb-provisioner-speaker';
export const NODE_LABEL = 'lbprovisioner.io/node';

export interface AnnouncementStatus {
  ip: string;
  /** the announcing node; empty when nobody announces */
  node: string;
  interfaces: string[];
  services: string[];
  message: string;
}

/** The object name for a VIP: `ipv4-192-0-2-10`, `ipv6-fd00--a` (names allow no dots or colons here). */
export function announcementName(ip: string): string {
  return `${ip.includes(':') ? 'ipv6' : 'ipv4'}-${ip.replace(/[.:]/g, '-')}`;
}

export function announcementStatus(decision: VipDecision, interfaces: readonly string[]): AnnouncementStatus {
  const node = decision.holder ?? '';
  const on = interfaces.length > 0 ? ` on ${interfaces.join(', ')}` : '';
  return {
    ip: decision.ip,
    node,
    interfaces: [...interfaces],
    services: decision.services,
    message: decision.holder ? `announced by ${node}${on}` : `not announced: ${decision.why ?? 'no eligible node'}`,
  };
}

interface Write {
  run(): Promise<void>;
  what: string;
}

export class StatusWriter {
  readonly #api: k8s.CustomObjectsApi;
  readonly #log: Logger;
  readonly #self: string;
  readonly #pending = new Map<string, Write>();
  /** what we last wrote, and the object's resourceVersion in the cache then: until the watch shows our
   * write, the cache is older than the object and must not trigger the same write again */
  readonly #written = new Map<string, { fingerprint: string; cachedVersion: string | undefined }>();
  #running = false;

  constructor(kc: k8s.KubeConfig, self: string, log: Logger) {
    this.#api = kc.makeApiClient(k8s.CustomObjectsApi);
    this.#self = self;
    this.#log = log;
  }

  /**
   * Queues what this speaker must write given the current decisions. `members`: the ready speakers, this one
   * included; `interfacesOf(ip)` the interfaces this node answers a VIP on.
   */
  sync(input: {
    decisions: ReadonlyMap<string, VipDecision>;
    members: readonly string[];
    interfacesOf: (ip: string) => readonly string[];
    announcements: readonly CustomObject[];
    advertisements: readonly CustomObject[];
    invalidAdvertisements: ReadonlyMap<string, string>;
  }): void {
    const mine = (name: string) => rankNodes(name, input.members)[0] === this.#self;
    const existing = new Map(input.announcements.map((o) => [o.metadata?.name ?? '', o]));
    for (const decision of input.decisions.values()) {
      const name = announcementName(decision.ip);
      const writer = decision.holder ?? (mine(name) ? this.#self : null);
      if (writer !== this.#self) continue;
      const want = announcementStatus(decision, decision.holder ? input.interfacesOf(decision.ip) : []);
      const cached = existing.get(name);
      const written = this.#written.get(name);
      const inFlight =
        written?.fingerprint === JSON.stringify(want) && written.cachedVersion === cached?.metadata?.resourceVersion;
      if (sameAnnouncement(cached, want) || inFlight) this.#pending.delete(name);
      else
        this.#queue(name, `L2Announcement ${name}`, async () => {
          await this.#apply(name, want);
          this.#written.set(name, {
            fingerprint: JSON.stringify(want),
            cachedVersion: cached?.metadata?.resourceVersion,
          });
        });
    }
    const wanted = new Set([...input.decisions.keys()].map(announcementName));
    for (const name of existing.keys()) {
      if (wanted.has(name) || !mine(name)) continue;
      this.#queue(name, `L2Announcement ${name} (its VIP is gone)`, async () => {
        await this.#delete(name);
        this.#written.delete(name);
      });
    }
    for (const object of input.advertisements) {
      const name = object.metadata?.name ?? '';
      if (!mine(`advertisement/${name}`)) continue;
      const problem = input.invalidAdvertisements.get(name);
      const condition = {
        type: 'Valid',
        status: problem ? 'False' : 'True',
        reason: problem ? 'InvalidSpec' : 'Valid',
        message: problem ?? 'the speakers announce what it selects',
      };
      const current = (object.status?.['conditions'] as k8s.V1Condition[] | undefined)?.find((c) => c.type === 'Valid');
      const generation = object.metadata?.generation ?? 0;
      if (
        current?.status === condition.status &&
        current.reason === condition.reason &&
        current.message === condition.message &&
        current.observedGeneration === generation
      )
        continue;
      const lastTransitionTime =
        current?.status === condition.status ? current.lastTransitionTime : new Date().toISOString();
      const body = { status: { conditions: [{ ...condition, lastTransitionTime, observedGeneration: generation }] } };
      this.#queue(`advertisement/${name}`, `L2Advertisement ${name} status`, () =>
        this.#api
          .patchClusterCustomObjectStatus(
            { group: L2_GROUP, version: L2_VERSION, plural: L2ADVERTISEMENT_PLURAL, name, body },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
          )
          .then(() => undefined),
      );
    }
    void this.#drain();
  }

  /** Writes still to do (failed ones stay until the next sync retries them). */
  get pending(): number {
    return this.#pending.size;
  }

  #queue(key: string, what: string, run: () => Promise<void>): void {
    this.#pending.set(key, { what, run });
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const failed = new Map<string, Write>();
      for (;;) {
        const next = [...this.#pending.entries()].find(([key]) => !failed.has(key));
        if (!next) break;
        const [key, write] = next;
        this.#pending.delete(key);
        try {
          await write.run();
        } catch (err) {
          if (!this.#pending.has(key)) this.#pending.set(key, write);
          failed.set(key, write);
          this.#log.warn({ err: describeApiError(err) }, `could not write ${write.what}; retrying on the next sync`);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  async #apply(name: string, status: AnnouncementStatus): Promise<void> {
    const body = {
      apiVersion: `${L2_GROUP}/${L2_VERSION}`,
      kind: 'L2Announcement',
      metadata: { name, labels: { [NODE_LABEL]: status.node } },
      status,
    };
    await this.#api.patchClusterCustomObject(
      {
        group: L2_GROUP,
        version: L2_VERSION,
        plural: L2ANNOUNCEMENT_PLURAL,
        name,
        body,
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
    );
  }

  async #delete(name: string): Promise<void> {
    try {
      await this.#api.deleteClusterCustomObject({
        group: L2_GROUP,
        version: L2_VERSION,
        plural: L2ANNOUNCEMENT_PLURAL,
        name,
      });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }
}

function sameAnnouncement(object: CustomObject | undefined, want: AnnouncementStatus): boolean {
  const have = object?.status as Partial<AnnouncementStatus> | undefined;
  return (
    have !== undefined &&
    have.ip === want.ip &&
    have.node === want.node &&
    have.message === want.message &&
    (have.interfaces ?? []).join(',') === want.interfaces.join(',') &&
    (have.services ?? []).join(',') === want.services.join(',') &&
    object?.metadata?.labels?.[NODE_LABEL] === want.node
  );
}
