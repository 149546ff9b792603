/**
 * The controller's per-key memory, in one place: what we last applied for a Service (the node sync's
 * baseline and what a vanished Service is deleted from), why the key is queued, the newest object we
 * wrote or read (a lagging cache must not make us write twice, or act on what it no longer is), what a
 * provider was handed this term before anything was applied, what the last informer event looked like,
 * orphans waiting for the key's turn in the queue, and what we last told the user about a Service we leave
 * alone.
 */
import type { DesiredLoadBalancer, LoadBalancerRef } from '../model/desired.ts';
import type { ServiceObject } from '../model/objects.ts';
import { serviceKey } from '../model/keys.ts';
import { newestOf, relevantService } from './fingerprints.ts';

/**
 * Why a key is queued. 'targets': only the node set changed (updateTargets). 'changed': the Service
 * changed; a full sync unless it now looks exactly as it did after our last successful sync (our own
 * writes come back as watch events, sometimes before the write's response). 'drift': the periodic drift
 * pass (a provider may give it a smaller API budget). 'force': ensure whatever it looks like (start,
 * retries, rechecks, a provider asking).
 */
export type Intent = 'targets' | 'changed' | 'drift' | 'force';
const RANK: Record<Intent, number> = { targets: 0, changed: 1, drift: 2, force: 3 };

/** What we last applied for a Service. */
export interface Applied {
  provider: string;
  /** what the provider was given; a vanished Service is deleted from its ref */
  lb: DesiredLoadBalancer;
  /** fingerprint of the target set it was given */
  targets: string;
  /** the Service's relevant fields as they stood after our writes (fingerprints.ts) */
  service: string;
  /** false while the provider is still provisioning: the controller checks again later */
  ready: boolean;
  /** while not ready: when the recheck is due (epoch ms); a sync that ensures nothing keeps it armed */
  recheckAt?: number;
  /** nodes left out for lack of a providerID, as last reported */
  missing: string;
}

/**
 * What a provider was handed for a Service this term before anything was applied: addresses restored at
 * the start of the term, or an ensure that failed part-way (an allocation, a half-built cloud load
 * balancer). Applied supersedes it; a Service that turns out gone or not this provider's has it deleted,
 * so nothing a sync from a stale cache started is left behind.
 */
export interface Building {
  provider: string;
  ref: LoadBalancerRef;
}

/** A load balancer a provider holds whose Service is gone or not ours. */
export interface Orphan {
  provider: string;
  ref: LoadBalancerRef;
}

interface Entry {
  applied?: Applied;
  building?: Building;
  intent?: Intent;
  lastWritten?: ServiceObject;
  seen?: string;
  orphans?: Orphan[];
  leftAlone?: string;
}

export class ServiceBook {
  private readonly entries = new Map<string, Entry>();
  /** applied load balancers by provider, kept as entries change (a gauge read after every sync) */
  private readonly counts = new Map<string, number>();

  private count(provider: string, delta: number): void {
    this.counts.set(provider, (this.counts.get(provider) ?? 0) + delta);
  }

  private entry(key: string): Entry {
    let e = this.entries.get(key);
    if (!e) {
      e = {};
      this.entries.set(key, e);
    }
    return e;
  }

  private tidy(key: string): void {
    const e = this.entries.get(key);
    if (e && Object.values(e).every((v) => v === undefined)) this.entries.delete(key);
  }

  /** An informer event: true when it changed anything we act on (status-only changes and resyncs don't). */
  noteSeen(svc: ServiceObject): boolean {
    const key = serviceKey(svc);
    const e = this.entry(key);
    // the cache caught up with what we wrote
    if (e.lastWritten && newestOf(svc, e.lastWritten) === svc) e.lastWritten = undefined;
    const fp = relevantService(svc);
    const changed = e.seen !== fp;
    e.seen = fp;
    return changed;
  }

  noteDeleted(key: string): void {
    const e = this.entries.get(key);
    if (e) e.seen = undefined;
    this.tidy(key);
  }

  /** Remember why a key is queued; the strongest reason wins until a worker takes it. Returns that reason. */
  noteIntent(key: string, intent: Intent): Intent {
    const e = this.entry(key);
    if (!e.intent || RANK[intent] > RANK[e.intent]) e.intent = intent;
    return e.intent;
  }

  takeIntent(key: string): Intent {
    const e = this.entries.get(key);
    const intent = e?.intent ?? 'force';
    if (e) e.intent = undefined;
    return intent;
  }

  /** Remember the newest object we wrote. */
  wrote(svc: ServiceObject): void {
    this.entry(serviceKey(svc)).lastWritten = svc;
  }

  /** Remember a version read from the apiserver itself (after a conflict): newer than the cache. */
  read(svc: ServiceObject): void {
    const e = this.entry(serviceKey(svc));
    e.lastWritten = newestOf(svc, e.lastWritten);
  }

  /** A provider is handed something for this Service (unless what is applied already covers it). */
  noteBuilding(key: string, building: Building): void {
    const e = this.entry(key);
    if (e.applied?.provider === building.provider && e.applied.lb.ref.uid === building.ref.uid) return;
    e.building = building;
  }

  building(key: string): Building | undefined {
    return this.entries.get(key)?.building;
  }

  /** What was handed over is deleted, or now applied. */
  forgetBuilding(key: string): void {
    const e = this.entries.get(key);
    if (e) e.building = undefined;
    this.tidy(key);
  }

  /** The newest version of a Service: the cache's, or what we wrote if the cache lags behind. */
  current(key: string, cached: ServiceObject | undefined): ServiceObject | undefined {
    const e = this.entries.get(key);
    if (!cached) {
      // gone: what we wrote earlier must not bring it back
      if (e) e.lastWritten = undefined;
      return undefined;
    }
    const newest = newestOf(cached, e?.lastWritten);
    if (e && newest === cached) e.lastWritten = undefined;
    return newest;
  }

  applied(key: string): Applied | undefined {
    return this.entries.get(key)?.applied;
  }

  setApplied(key: string, applied: Applied): void {
    const e = this.entry(key);
    if (e.applied) this.count(e.applied.provider, -1);
    this.count(applied.provider, 1);
    e.applied = applied;
    e.building = undefined;
  }

  forgetApplied(key: string): void {
    const e = this.entries.get(key);
    if (e?.applied) {
      this.count(e.applied.provider, -1);
      e.applied = undefined;
    }
    this.tidy(key);
  }

  *appliedEntries(): IterableIterator<[string, Applied]> {
    for (const [key, e] of this.entries) if (e.applied) yield [key, e.applied];
  }

  appliedCount(provider: string): number {
    return this.counts.get(provider) ?? 0;
  }

  get appliedTotal(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /** A load balancer a provider holds whose Service is gone or not ours: deleted on the key's turn. */
  addOrphan(key: string, orphan: Orphan): void {
    const e = this.entry(key);
    const list = (e.orphans ??= []);
    if (!list.some((o) => o.provider === orphan.provider && o.ref.uid === orphan.ref.uid)) list.push(orphan);
  }

  takeOrphans(key: string): Orphan[] {
    const e = this.entries.get(key);
    const list = e?.orphans ?? [];
    if (e) e.orphans = undefined;
    return list;
  }

  /** Returns true when `why` differs from what we last said about leaving this Service alone. */
  noteLeftAlone(key: string, why: string | undefined): boolean {
    const e = this.entry(key);
    const changed = e.leftAlone !== why;
    e.leftAlone = why;
    this.tidy(key);
    return changed && why !== undefined;
  }

  /** Forget everything learnt while leading (a new term starts from the caches). */
  clearLeadership(): void {
    this.counts.clear();
    for (const [key, e] of this.entries) {
      e.applied = undefined;
      e.building = undefined;
      e.intent = undefined;
      e.orphans = undefined;
      e.leftAlone = undefined;
      this.tidy(key);
    }
  }
}
