/**
 * The proxy data plane the local provider drives: VIPs on our interface, health checks per Service and
 * node, and a back end (nftables or userspace) that forwards VIP:port to the healthy nodes' NodePorts.
 * Every change re-applies the full desired state, serialized and coalesced, so bursts cost one apply.
 */
import type { PortStatus } from '../../../src/provider.ts';
import type { DesiredLoadBalancer } from '../../../src/model/desired.ts';
import { selectBackend } from './backend-select.ts';
import type { BackendChoice } from './backend-select.ts';
import { HealthChecker } from './health-checker.ts';
import type { HealthTransition, Prober } from './health-checker.ts';
import { HostLock } from './host-lock.ts';
import { otherInstance, takeOverTable } from './leftovers.ts';
import { FAIL_MODE, PROXY_PROTOCOL, forwardingPlan, serviceOptions } from './service-options.ts';
import type { ForwardingPlan } from './service-options.ts';
import { silentLogger } from './types.ts';
import type { DataplaneLogger, ProxyBackend } from './types.ts';
import { VipInterface } from './vip-interface.ts';

export interface ProxyDataplaneOptions {
  /** a choice, or a ready back end (tests, or an embedder with its own) */
  backend?: BackendChoice | ProxyBackend;
  /** default lbp0; 'lo' for the userspace back end in dev; 'none' when addresses are managed elsewhere */
  vipInterface?: string;
  /** marks our nftables table and VIP interface; another tag's are never touched */
  ownerTag?: string;
  nftTable?: string;
  lockName?: string;
  /** userspace worker threads (default: one per core) */
  workers?: number;
  /** interfaces clients arrive on, for route_localnet when targets are in 127/8 */
  localnetInterfaces?: string[];
  /** how long ensureService waits for the first health results before forwarding */
  firstProbeWaitMs?: number;
  logger?: DataplaneLogger;
  prober?: Prober;
}

export interface DesiredProxyService {
  key: string;
  vips: string[];
  lb: DesiredLoadBalancer;
}

export interface TargetHealthEvent extends HealthTransition {
  kind: 'TargetHealth';
}

export interface FailOpenEvent {
  kind: 'FailOpen';
  service: string;
  /** true: no target is healthy and traffic goes to all of them; false: back to healthy targets */
  active: boolean;
}

export type DataplaneEvent = TargetHealthEvent | FailOpenEvent;

export interface ProxyServiceStatus {
  backend: 'nftables' | 'userspace';
  vips: string[];
  healthyTargets: string[];
  ports: PortStatus[];
  failOpen: boolean;
}

export class ProxyDataplane {
  readonly #opts: ProxyDataplaneOptions;
  readonly #log: DataplaneLogger;
  readonly #lock: HostLock;
  readonly #vip: VipInterface;
  readonly #health: HealthChecker;
  readonly #services = new Map<string, DesiredProxyService>();
  readonly #plans = new Map<string, ForwardingPlan>();
  readonly #listeners = new Set<(e: DataplaneEvent) => void>();
  readonly #ownerTag: string;
  #backend: ProxyBackend | undefined;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #appliedVips = new Set<string>();

  constructor(options: ProxyDataplaneOptions = {}) {
    this.#opts = options;
    this.#log = options.logger ?? silentLogger;
    this.#lock = new HostLock(options.lockName);
    this.#ownerTag = options.ownerTag ?? 'lb-provisioner';
    this.#vip = new VipInterface({ name: options.vipInterface, ownerTag: options.ownerTag, logger: this.#log });
    this.#health = new HealthChecker({
      prober: options.prober,
      onTransition: (t) => this.#emit({ kind: 'TargetHealth', ...t }),
      onChange: () =>
        void this.#sync().catch((err: unknown) => this.#log.error({ err: String(err) }, 'proxy apply failed')),
    });
  }

  get backendName(): 'nftables' | 'userspace' | undefined {
    return this.#backend?.name;
  }

  /**
   * Takes the host lock, picks the back end, and rebuilds our table and VIPs from `initial` (every Service
   * we own, known after a restart): what a crashed instance left that is not desired any more goes. When
   * no other lb-provisioner holds a lock here, a table or VIP interface another one left (killed, or run
   * with another cluster name) is taken over too: its owner is provably gone.
   */
  async start(initial: DesiredProxyService[] = []): Promise<void> {
    await this.#lock.acquire();
    try {
      const orphaned = (await otherInstance(this.#lock.name)) === undefined;
      const choice = this.#opts.backend ?? 'auto';
      // only a back end that may use nftables takes a table over (a test's own back end never does)
      if (orphaned && (choice === 'auto' || choice === 'nftables'))
        await takeOverTable(this.#opts.nftTable ?? 'lbprovisioner', this.#ownerTag, this.#log);
      this.#backend =
        typeof choice === 'object'
          ? choice
          : await selectBackend({
              choice,
              logger: this.#log,
              nftables: {
                nft: {
                  ...(this.#opts.nftTable ? { table: this.#opts.nftTable } : {}),
                  ...(this.#opts.ownerTag ? { ownerTag: this.#opts.ownerTag } : {}),
                },
                localnetInterfaces: this.#opts.localnetInterfaces,
              },
              userspace: { workers: this.#opts.workers },
            });
      await this.#vip.ensure({ takeOver: orphaned });
      for (const s of initial) {
        // a Service with a bad annotation is skipped by the apply (and logged), not fatal to the others
        this.#services.set(s.key, s);
        this.#health.setService(s.key, s.lb);
      }
      await Promise.all(initial.map((s) => this.#health.firstRound(s.key, this.#firstWait(s.lb))));
      await this.#sync();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  #firstWait(lb: DesiredLoadBalancer): number {
    return this.#opts.firstProbeWaitMs ?? lb.healthCheck.timeoutSeconds * 1000 + 200;
  }

  /** Creates or updates one Service's forwarding; resolves once it is applied. Bad annotations throw. */
  async ensureService(
    key: string,
    vips: string[],
    lb: DesiredLoadBalancer,
  ): Promise<ProxyServiceStatus & { changed: boolean }> {
    serviceOptions(lb); // a bad annotation fails here, before anything changes
    const before = this.#services.get(key);
    // "changed" is about what was asked for, not about health results that moved since the last call
    const changed =
      before === undefined || forwardingSignature(before.vips, before.lb) !== forwardingSignature(vips, lb);
    this.#services.set(key, { key, vips, lb });
    this.#health.setService(key, lb);
    await this.#health.firstRound(key, this.#firstWait(lb));
    // applied even when unchanged: a table or VIP removed by hand is repaired by the drift pass
    await this.#sync();
    const status = this.status(key);
    if (status === undefined) throw new Error(`proxy data plane: ${key} was removed while it was being ensured`);
    return { ...status, changed };
  }

  /** The cheap path for node churn: same ports and VIPs, new target set. */
  async updateTargets(key: string, lb: DesiredLoadBalancer): Promise<void> {
    const cur = this.#services.get(key);
    if (cur === undefined) return;
    await this.ensureService(key, cur.vips, lb);
  }

  async removeService(key: string): Promise<void> {
    if (!this.#services.delete(key)) return;
    this.#health.removeService(key);
    this.#plans.delete(key);
    await this.#sync();
  }

  status(key: string): ProxyServiceStatus | undefined {
    const plan = this.#plans.get(key);
    const svc = this.#services.get(key);
    if (plan === undefined || svc === undefined || this.#backend === undefined) return undefined;
    return {
      backend: this.#backend.name,
      vips: svc.vips,
      healthyTargets: plan.healthyTargets,
      ports: plan.ports,
      failOpen: plan.failOpen,
    };
  }

  keys(): string[] {
    return [...this.#services.keys()];
  }

  onTransition(listener: (e: DataplaneEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops health checks and the proxy; nftables rules and VIPs stay so traffic flows across a restart. */
  async close(): Promise<void> {
    this.#health.close();
    await this.#running?.catch(() => {});
    await this.#backend?.close();
    await this.#lock.release();
  }

  /**
   * Uninstall: forwarding, our nftables table and the VIP interface all go, then close(). Every step runs
   * even when one fails (the lock is always released); the first failure is thrown.
   */
  async teardown(): Promise<void> {
    const failures: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>): Promise<void> => {
      try {
        await step();
      } catch (err) {
        failures.push(err);
      }
    };
    for (const key of [...this.#services.keys()]) await attempt(() => this.removeService(key));
    await attempt(async () => this.#backend?.destroy?.());
    await attempt(() => this.#vip.destroy());
    await attempt(() => this.close());
    if (failures.length > 0) throw failures[0];
  }

  #emit(e: DataplaneEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.#log.warn({ err: String(err) }, 'data plane event listener threw');
      }
    }
  }

  /** Queues one full apply after the running one; concurrent callers share it. */
  #sync(): Promise<void> {
    if (this.#queued !== undefined) return this.#queued;
    const next = (this.#running ?? Promise.resolve())
      .catch(() => {})
      .then(() => {
        this.#queued = undefined;
        return this.#applyNow();
      });
    this.#queued = next;
    this.#running = next;
    return next;
  }

  async #applyNow(): Promise<void> {
    const backend = this.#backend;
    if (backend === undefined) return;
    const plans: ForwardingPlan[] = [];
    for (const s of this.#services.values()) {
      try {
        plans.push(forwardingPlan(s.key, s.vips, s.lb, (id) => this.#health.healthy(s.key, id)));
      } catch (err) {
        this.#log.warn({ service: s.key, err: String(err) }, 'skipping Service with invalid options');
      }
    }
    const vips = new Set(plans.flatMap((p) => p.service.vips));
    // new VIPs first (a listener needs its address), old ones after the forwarding stopped using them
    await this.#vip.sync([...new Set([...vips, ...this.#appliedVips])]);
    await backend.apply(plans.map((p) => p.service));
    await this.#vip.sync([...vips]);
    this.#appliedVips = vips;
    // status reports what the back end forwards now, so it is committed only after the apply
    for (const plan of plans) {
      const key = plan.service.key;
      const before = this.#plans.get(key);
      if (!this.#services.has(key)) continue;
      if ((before?.failOpen ?? false) !== plan.failOpen)
        this.#emit({ kind: 'FailOpen', service: key, active: plan.failOpen });
      this.#plans.set(key, plan);
    }
  }
}

/**
 * What a Service's forwarding depends on: not its status, labels or unrelated annotations, so an ensure
 * after our own status write reports no change.
 */
function forwardingSignature(vips: string[], lb: DesiredLoadBalancer): string {
  return JSON.stringify([
    vips,
    lb.ports,
    lb.targets.map((t) => [t.name, t.addresses]),
    lb.healthCheck,
    lb.healthCheckNodePort ?? null,
    lb.externalTrafficPolicy,
    lb.sourceRanges,
    lb.sessionAffinity,
    lb.annotations[PROXY_PROTOCOL] ?? null,
    lb.annotations[FAIL_MODE] ?? null,
  ]);
}
