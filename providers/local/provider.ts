/**
 * The local provider: addresses from IP pools (MetalLB-like), written on the Service, and a data plane seam
 * (none by default: the address is only allocated; the proxy data plane plugs in through LocalDataPlane).
 * All allocation decisions live in ./ipam (pure); this class adapts them to the provider contract: typed
 * errors, annotations, requeues when an address frees, and pool status throttled per pool.
 */
import type { DesiredLoadBalancer, LoadBalancerRef } from '../../src/model/desired.ts';
import { InvalidAnnotationError, InvalidSpecError, QuotaExceededError } from '../../src/provider.ts';
import type {
  Allocation,
  HealthCheckRules,
  IngressPoint,
  LoadBalancerProvider,
  LoadBalancerStatus,
  PortStatus,
  ProviderCapabilities,
  ProviderContext,
  ProviderError,
  RecordedAllocation,
} from '../../src/provider.ts';
import {
  ALLOCATED_FROM_POOL,
  ALLOCATED_IPS,
  SPEC_LOAD_BALANCER_IP,
  allocationRequest,
  recordedIPs,
} from './annotations.ts';
import { serviceKey, splitKey } from '../../src/model/keys.ts';
import type { LocalRequest } from './annotations.ts';
import { canonicalAddress } from './ipam/address.ts';
import { Allocator } from './ipam/allocator.ts';
import type { AllocatedAddress, PoolDefinition, PoolStats } from './ipam/definitions.ts';
import type { IpamError } from './ipam/errors.ts';
import { InvalidPoolError, invalidPoolAddress } from './pool.ts';

/**
 * What a data plane must offer the provider (the proxy data plane's ProxyDataplane fits it). Every call
 * names the Service by its `ns/name` key and gives the allocated addresses.
 */
export interface LocalDataPlane {
  /** after restore(), with every Service that holds addresses: rebuild from scratch, drop leftovers */
  start?(initial: { key: string; vips: string[]; lb: DesiredLoadBalancer }[]): Promise<void>;
  ensureService(
    key: string,
    vips: string[],
    lb: DesiredLoadBalancer,
  ): Promise<{ ports?: PortStatus[]; changed?: boolean; message?: string }>;
  updateTargets(key: string, lb: DesiredLoadBalancer): Promise<void>;
  removeService(key: string): Promise<void>;
  close?(): Promise<void>;
}

export interface LocalProviderOptions {
  clusterName: string;
  /** initial pool definitions (--pool flags); IPPools arrive later through setPools */
  pools: PoolDefinition[];
  /** absent: data plane "none" */
  dataPlane?: LocalDataPlane;
  /** for a data plane: { needsNodePorts: true, ipMode: 'Proxy' } */
  capabilities?: Partial<ProviderCapabilities>;
  healthCheck?: HealthCheckRules;
  /** pool status listeners hear about one pool at most this often (default 1000 ms) */
  poolStatusIntervalMs?: number;
}

/** One pool's status as the IPPool status subresource shows it; counts are decimal strings (IPv6 /64). */
export interface PoolStatus {
  name: string;
  size: string;
  used: string;
  free: string;
}

export interface RestoreReport {
  restored: number;
  /** Services whose recorded addresses clash with an earlier one; they get new addresses on their next sync */
  conflicts: IpamError[];
}

export class LocalProvider implements LoadBalancerProvider {
  readonly name = 'local';
  readonly capabilities: ProviderCapabilities;
  readonly healthCheck: HealthCheckRules;
  readonly allocationAnnotations = [ALLOCATED_IPS, ALLOCATED_FROM_POOL] as const;
  readonly #clusterName: string;
  readonly #ipam: Allocator;
  readonly #dataPlane: LocalDataPlane | undefined;
  #dataPlaneStarted: Promise<void> | undefined;
  /** the last ref and desired state seen per key: list() and the data plane's initial state */
  readonly #known = new Map<string, { ref: LoadBalancerRef; lb: DesiredLoadBalancer }>();
  /** the addresses reported by the last ensure per key, for `changed` */
  readonly #ensured = new Map<string, string>();
  readonly #retryListeners = new Set<(keys: string[]) => void>();
  readonly #statsListeners = new Set<(stats: PoolStatus[]) => void>();
  readonly #dirtyPools = new Set<string>();
  readonly #statusIntervalMs: number;
  #lastStatusFlush = Number.NEGATIVE_INFINITY;
  #statusTimer: NodeJS.Timeout | undefined;
  #context: ProviderContext | undefined;

  constructor(options: LocalProviderOptions) {
    this.#clusterName = options.clusterName;
    this.#dataPlane = options.dataPlane;
    this.capabilities = { mapsNodesByProviderID: false, needsNodePorts: false, ipMode: 'VIP', ...options.capabilities };
    this.healthCheck = options.healthCheck ?? {
      defaults: { intervalSeconds: 5, timeoutSeconds: 2, healthyThreshold: 2, unhealthyThreshold: 3 },
    };
    this.#statusIntervalMs = options.poolStatusIntervalMs ?? 1000;
    this.#ipam = new Allocator();
    this.setPools(options.pools);
  }

  async start(context: ProviderContext): Promise<void> {
    this.#context = context;
  }

  /** Replaces the pool set (IPPools changed). Returns the definitions rejected; the others are in use. */
  setPools(definitions: PoolDefinition[]): InvalidPoolError[] {
    const { errors, retry } = this.#ipam.setPools(definitions);
    this.#markDirty(this.#ipam.stats().map((s) => s.name));
    this.#requeue(retry);
    return errors.map((error) =>
      error.kind === 'InvalidPoolAddress'
        ? invalidPoolAddress(error.pool, 'spec.addresses', error.value)
        : error.kind === 'PoolOverlap'
          ? new InvalidPoolError(
              error.pool,
              'spec.addresses',
              `"${error.value}" overlaps "${error.otherValue}" of pool "${error.other}"`,
            )
          : new InvalidPoolError('', 'spec', error.message),
    );
  }

  /** Takes back what every Service recorded, before anything new is allocated (see the contract). */
  restore(recorded: RecordedAllocation[]): RestoreReport {
    const report: RestoreReport = { restored: 0, conflicts: [] };
    for (const { ref, lb } of recorded) {
      const held = recordedIPs(lb);
      // an address only shown in status is ours to keep only where it lies in one of our pools
      const ips = held.fromStatus ? held.ips.filter((ip) => this.#ipam.poolOf(ip) !== null) : held.ips;
      if (ips.length === 0) continue;
      const key = serviceKey(ref);
      const conflict = this.#ipam.restore(key, ips, restoreRequest(lb).request);
      if (conflict) {
        report.conflicts.push(conflict);
        continue;
      }
      this.#known.set(key, { ref, lb });
      report.restored++;
    }
    this.#markDirty(this.#ipam.stats().map((s) => s.name));
    return report;
  }

  async allocate(lb: DesiredLoadBalancer, signal?: AbortSignal): Promise<Allocation> {
    signal?.throwIfAborted();
    const addresses = this.#allocate(lb);
    const pools = [...new Set(addresses.map((a) => a.pool).filter((p): p is string => p !== null))];
    return {
      annotations: {
        [ALLOCATED_IPS]: addresses.map((a) => a.ip).join(','),
        [ALLOCATED_FROM_POOL]: pools.length > 0 ? pools.join(',') : null,
      },
    };
  }

  async ensure(lb: DesiredLoadBalancer, signal?: AbortSignal): Promise<LoadBalancerStatus> {
    signal?.throwIfAborted();
    const key = serviceKey(lb.ref);
    // allocate again: cheap, idempotent, and ensure stays correct if a caller skipped allocate()
    const vips = this.#allocate(lb).map((a) => a.ip);
    const signature = [...vips].sort().join(',');
    // first ensure in this process: compare with the status the Service already shows (restart, adoption)
    const previous = this.#ensured.get(key) ?? canonicalList(lb.currentIngressIPs);
    let changed = previous !== signature;
    let ports: PortStatus[] | undefined;
    let message: string | undefined;
    if (this.#dataPlane) {
      await this.#startDataPlane();
      const applied = await this.#dataPlane.ensureService(key, vips, lb);
      ports = applied.ports;
      changed ||= applied.changed === true;
      message = applied.message;
    }
    this.#ensured.set(key, signature);
    const ingress = vips.map((ip): IngressPoint => {
      const point: IngressPoint = { ip, ipMode: this.capabilities.ipMode };
      if (ports) point.ports = ports;
      return point;
    });
    return { ingress, ready: true, changed, ...(message ? { message } : {}) };
  }

  async updateTargets(lb: DesiredLoadBalancer, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const key = serviceKey(lb.ref);
    if (!this.#dataPlane || !this.#ipam.allocationOf(key)) return;
    this.#known.set(key, { ref: lb.ref, lb });
    await this.#startDataPlane();
    await this.#dataPlane.updateTargets(key, lb);
  }

  /** Frees the Service's addresses, only after the data plane let go of them. Idempotent. */
  async delete(ref: LoadBalancerRef, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const key = serviceKey(ref);
    if (this.#dataPlane) {
      await this.#startDataPlane();
      await this.#dataPlane.removeService(key);
    }
    const { poolsWithRoom, retry } = this.#ipam.release(key);
    this.#known.delete(key);
    this.#ensured.delete(key);
    this.#markDirty(poolsWithRoom);
    this.#requeue(retry);
  }

  async list(signal?: AbortSignal): Promise<LoadBalancerRef[]> {
    signal?.throwIfAborted();
    return this.#ipam.keys().map((key) => this.#known.get(key)?.ref ?? refFromKey(this.#clusterName, key));
  }

  async close(): Promise<void> {
    clearTimeout(this.#statusTimer);
    this.#statusTimer = undefined;
    await this.#dataPlane?.close?.();
  }

  /** The addresses a Service holds, in the order of its ipFamilies. */
  addressesOf(ref: { namespace: string; name: string }): AllocatedAddress[] {
    return this.#ipam.allocationOf(serviceKey(ref)) ?? [];
  }

  poolStats(): PoolStats[] {
    return this.#ipam.stats();
  }

  /** Services waiting for an address (exhausted pool, requested address held by another). */
  waiting(): string[] {
    return this.#ipam.waiting();
  }

  /** Called with Service keys to sync again because an address they wait for may be free. */
  onRetry(listener: (keys: string[]) => void): () => void {
    this.#retryListeners.add(listener);
    return () => this.#retryListeners.delete(listener);
  }

  /** Called with the status of pools whose counts changed, at most once per interval for any pool. */
  onPoolStatus(listener: (stats: PoolStatus[]) => void): () => void {
    this.#statsListeners.add(listener);
    return () => this.#statsListeners.delete(listener);
  }

  #allocate(lb: DesiredLoadBalancer): AllocatedAddress[] {
    const local = allocationRequest(lb);
    const key = local.request.key;
    const result = this.#ipam.allocate(local.request);
    if (!result.ok) throw toProviderError(result.error, local);
    this.#known.set(key, { ref: lb.ref, lb });
    const outcome = result.value;
    if (outcome.changed) {
      const pools = outcome.addresses.map((a) => a.pool).filter((p): p is string => p !== null);
      this.#markDirty([...pools, ...outcome.poolsWithRoom]);
    }
    this.#requeue(outcome.retry);
    return outcome.addresses;
  }

  #startDataPlane(): Promise<void> {
    this.#dataPlaneStarted ??= (async () => {
      const initial = this.#ipam.keys().flatMap((key) => {
        const known = this.#known.get(key);
        const vips = this.#ipam.allocationOf(key)?.map((a) => a.ip) ?? [];
        return known ? [{ key, vips, lb: known.lb }] : [];
      });
      await this.#dataPlane?.start?.(initial);
    })().catch((error: unknown) => {
      this.#dataPlaneStarted = undefined; // try again on the next call
      throw error;
    });
    return this.#dataPlaneStarted;
  }

  #requeue(keys: string[]): void {
    if (keys.length === 0) return;
    this.#context?.requeue(keys);
    for (const listener of this.#retryListeners) listener(keys);
  }

  /** Coalesces pool status: one report per interval, so a burst of allocations is one status write. */
  #markDirty(pools: string[]): void {
    for (const pool of pools) this.#dirtyPools.add(pool);
    if (this.#dirtyPools.size === 0 || this.#statusTimer) return;
    const wait = Math.max(0, this.#lastStatusFlush + this.#statusIntervalMs - Date.now());
    this.#statusTimer = setTimeout(() => this.#flushStatus(), wait);
    this.#statusTimer.unref();
  }

  #flushStatus(): void {
    this.#statusTimer = undefined;
    this.#lastStatusFlush = Date.now();
    const dirty = new Set(this.#dirtyPools);
    this.#dirtyPools.clear();
    const stats = this.#ipam
      .stats()
      .filter((s) => dirty.has(s.name))
      .map((s) => ({ name: s.name, size: String(s.size), used: String(s.used), free: String(s.free) }));
    if (stats.length === 0) return;
    for (const listener of this.#statsListeners) listener(stats);
  }
}

/** Restoring must not fail on an annotation edited since: fall back to what needs no annotation. */
function restoreRequest(lb: DesiredLoadBalancer): LocalRequest {
  try {
    return allocationRequest(lb);
  } catch {
    return allocationRequest({ ...lb, annotations: {}, requestedIPs: [] });
  }
}

/** Each allocator failure mapped once to the typed error the controller turns into an Event and condition. */
export function toProviderError(error: IpamError, local: Pick<LocalRequest, 'ipsFrom' | 'poolFrom'>): ProviderError {
  const blame = (source: string | undefined): ProviderError => {
    if (source === undefined) return new InvalidSpecError(error.message);
    if (source === SPEC_LOAD_BALANCER_IP) return new InvalidSpecError(`${SPEC_LOAD_BALANCER_IP}: ${error.message}`);
    return new InvalidAnnotationError(source, error.message);
  };
  switch (error.kind) {
    case 'PoolExhausted':
      return new QuotaExceededError(error.message, 'PoolExhausted');
    case 'NoPoolAvailable':
      return new QuotaExceededError(error.message, 'NoPoolAvailable');
    case 'NotAnIP':
    case 'TooManyForFamily':
    case 'WrongFamily':
    case 'OutsideAllPools':
    case 'AddressTaken':
      return blame(local.ipsFrom);
    case 'NotInPool':
      return blame(local.poolFrom ?? local.ipsFrom);
    case 'UnknownPool':
    case 'PoolHasNoFamily':
      return blame(local.poolFrom);
    case 'PoolNotServing':
      return blame(local.poolFrom ?? local.ipsFrom);
    case 'InvalidPoolAddress':
    case 'PoolOverlap':
    case 'RestoreConflict':
      return new InvalidSpecError(error.message);
  }
}

function canonicalList(ips: readonly string[]): string {
  return ips
    .map((ip) => canonicalAddress(ip) ?? ip)
    .sort()
    .join(',');
}

function refFromKey(clusterName: string, key: string): LoadBalancerRef {
  return { clusterName, ...splitKey(key), uid: '' };
}
