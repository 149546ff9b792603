/**
 * Leader election on a coordination.k8s.io Lease, with client-go's timing (15 s lease, 10 s renew
 * deadline, 2 s retry). Expiry is judged by the local time since this replica last saw the lease record
 * change, never by comparing the holder's renewTime with the local clock (clocks differ between nodes).
 * A leader that cannot renew within the deadline steps down at once: every request of an attempt is
 * aborted at the deadline (client-go bounds its renew loop with a context of the renew deadline), and a
 * renew that answers after it counts as failed. Releasing the lease is a separate stop({ release }) step,
 * the last one of a clean shutdown.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiStatusCode, describeApiError } from './api-error.ts';
import { plainJson } from './plain-request.ts';

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

/** A coordination.k8s.io/v1 Lease as the apiserver writes it (its times are strings) */
export interface Lease {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** The path of a Lease, or of the Leases of a namespace */
export function leasePath(namespace: string, name?: string): string {
  const leases = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name === undefined ? leases : `${leases}/${encodeURIComponent(name)}`;
}

/** A MicroTime as the apiserver reads it: RFC 3339 with six fractional digits */
export function microTime(at = new Date()): string {
  return at.toISOString().replace(/Z$/, '000Z');
}

interface Observed {
  record: string;
  at: number;
}

export class LeaderElector {
  private readonly kc: KubeConfig;
  private readonly opts: LeaderElectionOptions;
  private observed: Observed | undefined;
  private leading = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(kc: KubeConfig, opts: LeaderElectionOptions) {
    this.kc = kc;
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
      // bounded like a renew: a shutdown never waits on an apiserver that stopped answering
      const signal = AbortSignal.timeout(this.opts.renewDeadlineMs);
      try {
        const path = leasePath(this.opts.namespace, this.opts.name);
        const lease = await plainJson<Lease>(this.kc, 'GET', path, { signal });
        if (lease.spec?.holderIdentity === this.opts.identity) {
          delete lease.spec.holderIdentity;
          lease.spec.leaseDurationSeconds = 1;
          lease.spec.renewTime = microTime();
          await plainJson<Lease>(this.kc, 'PUT', path, { body: lease, signal });
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
    // a leader must renew by lastRenew + renewDeadline; a candidate's attempt gets as long
    const deadline = (this.leading ? this.lastRenew : Date.now()) + this.opts.renewDeadlineMs;
    const signal = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew(signal);
      // an answer that came after the deadline is too late: another replica may already lead
      if (ok && this.leading && Date.now() > deadline) ok = false;
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
    } else if (this.leading && Date.now() >= deadline) {
      this.leading = false;
      this.opts.log.error({ identity: this.opts.identity }, 'lost the leader lease: stopping all writes');
      this.opts.onStoppedLeading();
    }
    this.schedule();
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const { name, namespace, identity } = this.opts;
    const leaseSeconds = Math.ceil(this.opts.leaseDurationMs / 1000);
    const now = microTime();
    const path = leasePath(namespace, name);
    let lease: Lease;
    try {
      lease = await plainJson<Lease>(this.kc, 'GET', path, { signal });
    } catch (err) {
      if (apiStatusCode(err) !== 404) throw err;
      const body: Lease = {
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: leaseSeconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 0,
        },
      };
      await plainJson<Lease>(this.kc, 'POST', leasePath(namespace), { body, signal });
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
      const updated = await plainJson<Lease>(this.kc, 'PUT', path, { body: lease, signal });
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
