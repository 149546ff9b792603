/**
 * A fake cloud: records every call, keeps load balancers in memory, assigns addresses, and injects
 * errors. Tests read like the story they check (upstream's fake cloud is the model).
 */
import type {
  DesiredLoadBalancer,
  HealthCheckRules,
  LoadBalancerProvider,
  LoadBalancerRef,
  LoadBalancerStatus,
  ProviderCapabilities,
} from '../../src/provider.ts';
import { InvalidSpecError } from '../../src/provider.ts';

export type FakeOperation = 'ensure' | 'updateTargets' | 'delete' | 'list';

export interface FakeCall {
  op: FakeOperation;
  key: string;
  targets?: string[];
  /** when the call was made (epoch ms) */
  at: number;
}

export interface FakeLoadBalancer {
  ref: LoadBalancerRef;
  ip: string;
  spec: string;
  targets: string[];
  lb: DesiredLoadBalancer;
}

export interface FakeProviderOptions {
  name?: string;
  capabilities?: Partial<ProviderCapabilities>;
  /** first address handed out: 198.51.100.<n> (TEST-NET-2) */
  firstHost?: number;
  /** a new load balancer reports ready: false for its first N ensures (a cloud still provisioning) */
  provisioningEnsures?: number;
  /**
   * every ensure, updateTargets and delete takes this long, like a cloud API (aborted with the signal;
   * benchmarks give both sides the same)
   */
  latencyMs?: number;
  /**
   * called once an ensure, updateTargets or delete has been answered and its change made (not for a call
   * that failed): benchmarks time calls as they complete, as the upstream anchor's fake cloud prints them
   */
  onAnswered?: (call: FakeCall) => void;
}

/**
 * One stdout line per answered call, as the upstream anchor's fake cloud prints its calls:
 * `ensure <namespace>/<name> <number of targets>`, `updateTargets <namespace>/<name> <number of targets>`,
 * `delete <namespace>/<name>`.
 */
export function callLine(call: FakeCall): string {
  return call.targets ? `${call.op} ${call.key} ${call.targets.length}` : `${call.op} ${call.key}`;
}

function keyOf(ref: LoadBalancerRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/** What a load balancer's configuration means, without its targets. */
function specOf(lb: DesiredLoadBalancer): string {
  return JSON.stringify([
    lb.ports,
    lb.healthCheck,
    lb.sourceRanges,
    lb.sessionAffinity,
    lb.externalTrafficPolicy,
    lb.healthCheckNodePort ?? null,
  ]);
}

export class FakeProvider implements LoadBalancerProvider {
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  readonly healthCheck: HealthCheckRules = {
    defaults: { intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 2 },
  };
  readonly calls: FakeCall[] = [];
  /** load balancers by Service UID */
  readonly balancers = new Map<string, FakeLoadBalancer>();
  private nextHost: number;
  private readonly provisioningEnsures: number;
  private readonly ensuresOf = new Map<string, number>();
  private readonly faults: { op: FakeOperation; error: Error; times: number }[] = [];
  /** calls that have started and not finished (tests watch a call in flight) */
  inFlight = 0;
  /** calls that started while another call for the same Service was in flight (a controller must make none) */
  overlapping = 0;
  private readonly busy = new Map<string, number>();
  private readonly holds = new Map<FakeOperation, { keys: string[]; released: Promise<void> }>();
  latencyMs: number;
  private readonly onAnswered: ((call: FakeCall) => void) | undefined;

  constructor(options: FakeProviderOptions = {}) {
    this.name = options.name ?? 'fake';
    this.capabilities = { mapsNodesByProviderID: false, needsNodePorts: true, ipMode: 'VIP', ...options.capabilities };
    this.nextHost = options.firstHost ?? 1;
    this.provisioningEnsures = options.provisioningEnsures ?? 0;
    this.latencyMs = options.latencyMs ?? 0;
    this.onAnswered = options.onAnswered;
  }

  /** The next `times` calls of `op` fail with `error`. */
  failNext(op: FakeOperation, error: Error, times = 1): void {
    this.faults.push({ op, error, times });
  }

  /**
   * Calls of `op` wait, recorded, until release() (tests watch calls pile up in flight): `held()` lists the
   * Services whose calls are waiting.
   */
  hold(op: FakeOperation): { held: () => readonly string[]; release: () => void } {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const h = { keys: [] as string[], released };
    this.holds.set(op, h);
    return {
      held: () => h.keys,
      release: () => {
        this.holds.delete(op);
        release();
      },
    };
  }

  /** Someone deleted the load balancer by hand (the drift pass must repair it). */
  deleteBehindOurBack(uid: string): void {
    this.balancers.delete(uid);
  }

  callsOf(op: FakeOperation, key?: string): FakeCall[] {
    return this.calls.filter((c) => c.op === op && (key === undefined || c.key === key));
  }

  async ensure(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<LoadBalancerStatus> {
    const call = this.record('ensure', keyOf(lb.ref), lb, signal);
    await this.answer('ensure', keyOf(lb.ref), signal);
    const sctp = lb.ports.find((p) => p.protocol === 'SCTP');
    if (sctp)
      throw new InvalidSpecError(
        `port ${sctp.port}/SCTP: the fake cloud supports TCP and UDP only`,
        'UnsupportedProtocol',
      );
    const existing = this.balancers.get(lb.ref.uid);
    const spec = specOf(lb);
    const targets = lb.targets.map((t) => t.name);
    const changed = !existing || existing.spec !== spec || existing.targets.join() !== targets.join();
    const ip = existing?.ip ?? this.allocateIP();
    this.balancers.set(lb.ref.uid, { ref: lb.ref, ip, spec, targets, lb });
    this.onAnswered?.(call);
    return {
      ingress: [{ ip, ports: lb.ports.map((p) => ({ port: p.port, protocol: p.protocol })) }],
      ready: this.countEnsure(lb.ref.uid) > this.provisioningEnsures,
      changed,
    };
  }

  async updateTargets(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<void> {
    const call = this.record('updateTargets', keyOf(lb.ref), lb, signal);
    await this.answer('updateTargets', keyOf(lb.ref), signal);
    const existing = this.balancers.get(lb.ref.uid);
    if (!existing) throw new Error(`load balancer of ${keyOf(lb.ref)} does not exist`);
    existing.targets = lb.targets.map((t) => t.name);
    existing.lb = lb;
    this.onAnswered?.(call);
  }

  async delete(ref: LoadBalancerRef, signal: AbortSignal): Promise<void> {
    const call = this.record('delete', keyOf(ref), undefined, signal);
    await this.answer('delete', keyOf(ref), signal);
    this.balancers.delete(ref.uid);
    this.onAnswered?.(call);
  }

  async list(signal: AbortSignal): Promise<LoadBalancerRef[]> {
    this.record('list', '', undefined, signal);
    return [...this.balancers.values()].map((b) => b.ref);
  }

  private record(op: FakeOperation, key: string, lb: DesiredLoadBalancer | undefined, signal: AbortSignal): FakeCall {
    signal.throwIfAborted();
    const call: FakeCall = { op, key, at: Date.now() };
    if (lb) call.targets = lb.targets.map((t) => t.name);
    this.calls.push(call);
    const fault = this.faults.find((f) => f.op === op && f.times > 0);
    if (fault) {
      fault.times--;
      throw fault.error;
    }
    return call;
  }

  /** A call answers after a hold (if any) and the latency; the state changes only after, as in a real API. */
  private async answer(op: FakeOperation, key: string, signal: AbortSignal): Promise<void> {
    const n = (this.busy.get(key) ?? 0) + 1;
    if (n > 1) this.overlapping++;
    this.busy.set(key, n);
    try {
      const h = this.holds.get(op);
      if (h) {
        h.keys.push(key);
        await h.released;
        h.keys.splice(h.keys.indexOf(key), 1);
      }
      await this.latency(signal);
    } finally {
      const left = (this.busy.get(key) ?? 1) - 1;
      if (left > 0) this.busy.set(key, left);
      else this.busy.delete(key);
    }
  }

  /** The provider-side wait of a cloud call; the state changes only after it, as in a real API. */
  private async latency(signal: AbortSignal): Promise<void> {
    if (this.latencyMs <= 0) return;
    this.inFlight++;
    try {
      // the signal lives as long as the leader's term: a listener left on it for every call piled up
      // (memory, and a duplicate check over all of them in each addEventListener)
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(signal.reason as Error);
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, this.latencyMs);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    } finally {
      this.inFlight--;
    }
  }

  private countEnsure(uid: string): number {
    const n = (this.ensuresOf.get(uid) ?? 0) + 1;
    this.ensuresOf.set(uid, n);
    return n;
  }

  private allocateIP(): string {
    const n = this.nextHost++;
    return `198.51.${100 + Math.floor(n / 254)}.${(n % 254) + 1}`;
  }
}
