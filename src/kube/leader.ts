/**
 * Leader election on a coordination.k8s.io Lease, with client-go's timing (15 s lease, 10 s renew
 * deadline, 2 s retry). Expiry is judged by the local time since this replica last saw the lease record
 * change, never by comparing the holder's renewTime with the local clock (clocks differ between nodes).
 * A leader that cannot renew within the deadline steps down at once.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiStatusCode, describeApiError } from './api-error.ts';

/** Where the Lease is and how it is timed. */
export interface LeaseSettings {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface LeaderElectionOptions extends LeaseSettings {
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

interface Observed {
  record: string;
  at: number;
}

export class LeaderElector {
  private readonly api: k8s.CoordinationV1Api;
  private readonly opts: LeaderElectionOptions;
  private observed: Observed | undefined;
  private leading = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(kc: k8s.KubeConfig, opts: LeaderElectionOptions) {
    this.api = kc.makeApiClient(k8s.CoordinationV1Api);
    this.opts = opts;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stop campaigning. With release, a leader gives the lease up so another replica takes over at once. */
  async stop(options: { release: boolean }): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const wasLeading = this.leading;
    this.leading = false;
    if (wasLeading && options.release) {
      try {
        const lease = await this.api.readNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace });
        if (lease.spec?.holderIdentity === this.opts.identity) {
          lease.spec.holderIdentity = undefined;
          lease.spec.leaseDurationSeconds = 1;
          lease.spec.renewTime = new k8s.V1MicroTime();
          await this.api.replaceNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace, body: lease });
        }
      } catch (err) {
        this.opts.log.warn({ err: describeApiError(err) }, 'could not release the leader lease');
      }
    }
    if (wasLeading) this.opts.onStoppedLeading();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => void this.tick(),
      this.opts.retryPeriodMs * (this.leading ? 1 : 1 + Math.random() * 0.2),
    );
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      this.opts.log.warn({ err: describeApiError(err) }, 'leader election attempt failed');
    }
    if (this.stopped) return;
    if (ok) {
      this.lastRenew = Date.now();
      if (!this.leading) {
        this.leading = true;
        this.opts.log.info({ identity: this.opts.identity }, 'became leader');
        this.opts.onStartedLeading();
      }
    } else if (this.leading && Date.now() - this.lastRenew >= this.opts.renewDeadlineMs) {
      this.leading = false;
      this.opts.log.error({ identity: this.opts.identity }, 'lost the leader lease: stopping all writes');
      this.opts.onStoppedLeading();
    }
    this.schedule();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { name, namespace, identity } = this.opts;
    const leaseSeconds = Math.ceil(this.opts.leaseDurationMs / 1000);
    const now = new k8s.V1MicroTime();
    let lease: k8s.V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (apiStatusCode(err) !== 404) throw err;
      await this.api.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: leaseSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify([
      spec.holderIdentity,
      spec.renewTime,
      spec.acquireTime,
      spec.leaseTransitions,
      spec.leaseDurationSeconds,
    ]);
    if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
    const holder = spec.holderIdentity;
    const heldByOther = Boolean(holder) && holder !== identity;
    const duration = (spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
    if (heldByOther && Date.now() < this.observed.at + duration) return false;
    const taking = holder !== identity;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: leaseSeconds,
      renewTime: now,
      acquireTime: taking ? now : spec.acquireTime,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (taking && holder ? 1 : 0),
    };
    try {
      const updated = await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      const u = updated.spec ?? {};
      this.observed = {
        record: JSON.stringify([
          u.holderIdentity,
          u.renewTime,
          u.acquireTime,
          u.leaseTransitions,
          u.leaseDurationSeconds,
        ]),
        at: Date.now(),
      };
      return true;
    } catch (err) {
      if (apiStatusCode(err) === 409) return false; // someone else wrote first
      throw err;
    }
  }
}
