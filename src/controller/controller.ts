/**
 * The service controller: informers on Services, Nodes and Namespaces whose handlers only enqueue keys;
 * one work queue; N workers; a node sync that reuses the queue with a targets-only intent (so a key is
 * never worked on twice at once and node churn costs one updateTargets() per load balancer); a jittered
 * drift pass; leader election gating every write.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { LoadBalancerProvider } from '../provider.ts';
import type { ServiceObject } from '../model/objects.ts';
import { serviceKey } from '../model/keys.ts';
import { decide, type OwnershipConfig } from '../model/ownership.ts';
import { EventRecorder } from '../kube/events.ts';
import { withConnectionPool } from '../kube/client.ts';
import { ResilientInformer } from '../kube/informer.ts';
import { LeaderElector, type LeaseSettings } from '../kube/leader.ts';
import { ServiceWriter } from '../kube/service-writer.ts';
import { Metrics } from '../metrics.ts';
import { WorkQueue, runWorkers } from './queue.ts';
import { classify } from './errors.ts';
import {
  cleanupService,
  ensureService,
  recordedAllocations,
  reportFailure,
  reportNodesWithoutProviderID,
  type Applied,
  type SyncContext,
} from './service-sync.ts';
import { newestOf, relevantService } from './fingerprints.ts';
import { TargetSets } from './target-sets.ts';

/**
 * Why a key is queued. 'targets': only the node set changed (updateTargets). 'changed': the Service
 * changed; a full sync unless it now looks exactly as it did after our last successful sync (our own
 * writes come back as watch events, sometimes before the write's response). 'drift': the periodic drift
 * pass (a provider may give it a smaller API budget). 'force': ensure whatever it looks like (start,
 * retries, a provider asking).
 */
type Intent = 'targets' | 'changed' | 'drift' | 'force';

export interface ControllerOptions {
  kubeConfig: k8s.KubeConfig;
  clusterName: string;
  providers: LoadBalancerProvider[];
  defaultProvider?: string;
  classOnly: boolean;
  workers: number;
  resyncPeriodMs: number;
  /** coalesce bursts of node events */
  nodeSyncDelayMs?: number;
  leaderElection?: LeaseSettings;
  log: Logger;
  metrics?: Metrics;
  queueBaseDelayMs?: number;
  queueMaxDelayMs?: number;
  /** a load balancer still provisioning (ready: false) is synced again after this long (default 15 s) */
  provisioningRecheckMs?: number;
  /** called when this replica loses the lease (the CLI exits; tests observe) */
  onLostLeadership?: () => void;
}

export class ServiceController {
  readonly metrics: Metrics;
  readonly writer: ServiceWriter;
  readonly events: EventRecorder;
  private readonly opts: ControllerOptions;
  private readonly log: Logger;
  private readonly providers: Map<string, LoadBalancerProvider>;
  private readonly ownership: OwnershipConfig;
  private readonly services: ResilientInformer<k8s.V1Service>;
  private readonly nodes: ResilientInformer<k8s.V1Node>;
  private readonly namespaces: ResilientInformer<k8s.V1Namespace>;
  private queue: WorkQueue | undefined;
  private readonly applied = new Map<string, Applied>();
  private readonly intent = new Map<string, Intent>();
  private readonly lastWritten = new Map<string, ServiceObject>();
  private readonly seenService = new Map<string, string>();
  private readonly targetSets: TargetSets;
  private readonly rechecks = new Map<string, NodeJS.Timeout>();
  private nodeTimer: NodeJS.Timeout | undefined;
  private driftTimer: NodeJS.Timeout | undefined;
  private elector: LeaderElector | undefined;
  private abort = new AbortController();
  private workersDone: Promise<void> | undefined;
  private leading = false;
  private stopping = false;
  private readonly ctx: SyncContext;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.log = opts.log;
    this.metrics = opts.metrics ?? new Metrics();
    this.providers = new Map(opts.providers.map((p) => [p.name, p]));
    this.ownership = {
      takesClassless: (name, annotations) => this.providers.get(name)?.takesClassless?.(annotations) ?? true,
      providers: [...this.providers.keys()],
      classOnly: opts.classOnly,
      ...(opts.defaultProvider ? { defaultProvider: opts.defaultProvider } : {}),
    };
    const kc = withConnectionPool(opts.kubeConfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    this.writer = new ServiceWriter(kc);
    this.events = new EventRecorder(kc, {
      component: 'lb-provisioner',
      instance: opts.leaderElection?.identity ?? 'lb-provisioner',
      log: this.log,
    });
    this.events.disable();
    this.services = new ResilientInformer<k8s.V1Service>(
      kc,
      '/api/v1/services',
      () => core.listServiceForAllNamespaces(),
      {
        onAdd: (s) => this.onService(s),
        onUpdate: (s) => this.onService(s),
        onDelete: (s) => this.onServiceDeleted(s),
      },
      { name: 'services', log: this.log },
    );
    this.targetSets = new TargetSets(() => this.nodes.list());
    this.nodes = new ResilientInformer<k8s.V1Node>(
      kc,
      '/api/v1/nodes',
      () => core.listNode(),
      { onAdd: (n) => this.onNode(n), onUpdate: (n) => this.onNode(n), onDelete: (n) => this.onNode(n, true) },
      { name: 'nodes', log: this.log },
    );
    this.namespaces = new ResilientInformer<k8s.V1Namespace>(
      kc,
      '/api/v1/namespaces',
      () => core.listNamespace(),
      {},
      { name: 'namespaces', log: this.log },
    );
    this.ctx = {
      clusterName: opts.clusterName,
      providers: this.providers,
      writer: this.writer,
      events: this.events,
      metrics: this.metrics,
      log: this.log,
      nodes: () => this.nodes.list(),
      targets: (requireProviderID) => this.targetSets.for(requireProviderID),
      namespaceLabels: (ns) => this.namespaces.get(ns)?.metadata?.labels ?? {},
      wrote: (svc) => this.lastWritten.set(serviceKey(svc), svc),
    };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Start informers, then campaign (or lead at once without leader election). */
  async start(): Promise<void> {
    await Promise.all([this.services.start(), this.nodes.start(), this.namespaces.start()]);
    this.log.info({ services: this.services.list().length, nodes: this.nodes.list().length }, 'caches synced');
    const le = this.opts.leaderElection;
    if (!le) {
      await this.startLeading();
      return;
    }
    this.elector = new LeaderElector(this.opts.kubeConfig, {
      ...le,
      log: this.log,
      onStartedLeading: () =>
        void this.startLeading().catch((err: unknown) => {
          // e.g. a provider could not start (another instance holds the data plane's host lock)
          this.log.error({ err: String(err) }, 'could not start leading: giving up the lease');
          void this.elector?.stop({ release: true });
          this.opts.onLostLeadership?.();
        }),
      onStoppedLeading: () => {
        void this.stopLeading();
        if (!this.stopping) this.opts.onLostLeadership?.();
      },
    });
    this.elector.start();
  }

  /** Stop. `crash: true` leaves the lease held, as a killed process would. */
  async stop(options: { crash?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (this.elector) await this.elector.stop({ release: !options.crash });
    await this.stopLeading();
    await Promise.all([this.services.stop(), this.nodes.stop(), this.namespaces.stop()]);
    await Promise.all([...this.providers.values()].map((p) => p.close?.()));
  }

  /** Resolves once nothing is queued or in flight. */
  async idle(): Promise<void> {
    await this.queue?.idle();
  }

  private async startLeading(): Promise<void> {
    if (this.leading) return;
    this.leading = true;
    this.metrics.isLeader.set(1);
    this.abort = new AbortController();
    this.events.enable();
    const queue = new WorkQueue({
      ...(this.opts.queueBaseDelayMs ? { baseDelayMs: this.opts.queueBaseDelayMs } : {}),
      ...(this.opts.queueMaxDelayMs ? { maxDelayMs: this.opts.queueMaxDelayMs } : {}),
      onDepth: (d) => this.metrics.queueDepth.set(d),
      onLatency: (ms) => this.metrics.queueLatency.observe(ms / 1000),
    });
    this.queue = queue;
    for (const p of this.providers.values()) {
      await p.start?.({
        kubeConfig: this.opts.kubeConfig,
        log: this.log.child({ provider: p.name }),
        signal: this.abort.signal,
        requeue: (keys) => keys.forEach((k) => this.enqueue(k, 'force')),
        requeueAll: () => this.requeueOwnedBy(p.name),
        event: (key, type, reason, message) => {
          const [namespace = '', name = ''] = key.split('/');
          const svc = this.services.get(name, namespace);
          if (svc) this.events.record(svc, type, reason, message);
        },
      });
    }
    this.restoreAllocations();
    for (const svc of this.services.list()) this.enqueue(serviceKey(svc), 'force');
    this.workersDone = runWorkers(queue, this.opts.workers, (key) => this.sync(key));
    this.scheduleDrift();
  }

  private async stopLeading(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    this.metrics.isLeader.set(0);
    this.events.disable();
    this.abort.abort();
    if (this.nodeTimer) clearTimeout(this.nodeTimer);
    if (this.driftTimer) clearTimeout(this.driftTimer);
    for (const timer of this.rechecks.values()) clearTimeout(timer);
    this.rechecks.clear();
    this.queue?.shutDown();
    await this.workersDone;
    this.queue = undefined;
    this.applied.clear();
  }

  /** Hand every provider what existing Services recorded, before anything new is allocated. */
  private restoreAllocations(): void {
    for (const p of this.providers.values()) p.restore?.(recordedAllocations(this.ctx, p, this.services.list()));
  }

  private enqueue(key: string, intent: Intent): void {
    if (!this.queue) return;
    const rank = { targets: 0, changed: 1, drift: 2, force: 3 };
    const current = this.intent.get(key);
    if (!current || rank[intent] > rank[current]) this.intent.set(key, intent);
    this.queue.add(key);
  }

  /**
   * A load balancer still provisioning (ready: false) gets one more full sync later: nothing else would
   * bring its condition to True once the cloud finishes. A ready result or a cleanup cancels it.
   */
  private recheckWhileProvisioning(key: string, ready: boolean): void {
    const pending = this.rechecks.get(key);
    if (ready || pending) {
      if (ready && pending) {
        clearTimeout(pending);
        this.rechecks.delete(key);
      }
      return;
    }
    const timer = setTimeout(() => {
      this.rechecks.delete(key);
      this.enqueue(key, 'force');
    }, this.opts.provisioningRecheckMs ?? 15_000);
    timer.unref();
    this.rechecks.set(key, timer);
  }

  private requeueOwnedBy(provider: string): void {
    for (const svc of this.services.list()) {
      const d = decide(svc, this.ownership);
      if (d.action !== 'ignore' && d.provider === provider) this.enqueue(serviceKey(svc), 'force');
    }
  }

  private onService(svc: k8s.V1Service): void {
    const key = serviceKey(svc);
    const fp = relevantService(svc);
    const written = this.lastWritten.get(key);
    if (written && newestOf(svc, written) === svc) this.lastWritten.delete(key); // the cache caught up
    const unchanged = this.seenService.get(key) === fp;
    this.seenService.set(key, fp);
    // status-only changes and resyncs change nothing we act on
    if (unchanged) return;
    this.enqueue(key, 'changed');
  }

  private onServiceDeleted(svc: k8s.V1Service): void {
    const key = serviceKey(svc);
    this.seenService.delete(key);
    this.enqueue(key, 'changed');
  }

  private onNode(node: k8s.V1Node, deleted = false): void {
    if (this.targetSets.noteNode(node, deleted)) this.scheduleNodeSync();
  }

  private scheduleNodeSync(): void {
    if (!this.queue || this.nodeTimer) return;
    this.nodeTimer = setTimeout(() => {
      this.nodeTimer = undefined;
      this.nodeSync();
    }, this.opts.nodeSyncDelayMs ?? 1000);
    this.nodeTimer.unref();
  }

  /** Node set changed: every load balancer whose targets differ gets a targets-only sync. */
  private nodeSync(): void {
    for (const [key, applied] of this.applied) {
      const p = this.providers.get(applied.provider);
      if (!p) continue;
      const set = this.targetSets.for(p.capabilities.mapsNodesByProviderID);
      if (
        set.fingerprint !== applied.targets ||
        (p.capabilities.mapsNodesByProviderID && set.missing !== applied.missing)
      )
        this.enqueue(key, 'targets');
    }
  }

  private scheduleDrift(): void {
    const period = this.opts.resyncPeriodMs;
    if (period <= 0) return;
    const jittered = period * (0.9 + Math.random() * 0.2);
    this.driftTimer = setTimeout(() => {
      this.log.info({ services: this.applied.size }, 'drift pass: re-ensuring every owned Service');
      for (const key of this.applied.keys()) this.enqueue(key, 'drift');
      this.scheduleDrift();
    }, jittered);
    this.driftTimer.unref();
  }

  private current(key: string): ServiceObject | undefined {
    const [namespace, name] = key.split('/') as [string, string];
    const cached = this.services.get(name, namespace);
    if (!cached) return undefined; // gone: what we wrote earlier must not bring it back
    const written = this.lastWritten.get(key);
    const newest = newestOf(cached, written);
    if (newest === cached) this.lastWritten.delete(key);
    return newest;
  }

  private async sync(key: string): Promise<void> {
    const queue = this.queue;
    if (!queue) return;
    const signal = this.abort.signal;
    const svc = this.current(key);
    const intent = this.intent.get(key) ?? 'force';
    this.intent.delete(key);
    if (!svc) {
      this.applied.delete(key);
      this.lastWritten.delete(key);
      this.updateManagedGauge();
      return;
    }
    const decision = decide(svc, this.ownership);
    if (decision.action === 'ignore') {
      this.applied.delete(key);
      this.updateManagedGauge();
      return;
    }
    const log = this.log.child({ service: key, provider: decision.provider });
    log.debug({ intent, action: decision.action }, 'sync');
    const started = performance.now();
    let outcome = 'success';
    try {
      if (decision.action === 'cleanup') {
        await cleanupService(this.ctx, svc, decision.provider, signal);
        this.applied.delete(key);
        this.recheckWhileProvisioning(key, true);
        if (decision.then) this.enqueue(key, 'force');
      } else if (!this.needsEnsure(key, intent, svc, decision.provider)) {
        await this.updateTargets(key, svc, decision.provider, signal);
      } else {
        const applied = await ensureService(this.ctx, svc, decision.provider, signal, { drift: intent === 'drift' });
        this.applied.set(key, applied);
        this.recheckWhileProvisioning(key, applied.ready);
      }
      queue.forget(key);
    } catch (err) {
      const failure = classify(err);
      outcome = failure.reason;
      if (signal.aborted) return;
      log.warn({ reason: failure.reason, err: failure.message }, 'sync failed');
      this.intent.set(key, 'force');
      await reportFailure(this.ctx, this.current(key) ?? svc, failure);
      if (failure.retry.kind === 'after') queue.addAfter(key, failure.retry.delayMs);
      else if (failure.retry.kind === 'backoff') queue.addRateLimited(key);
      else if (failure.retry.kind === 'soon') queue.addAfter(key, 200);
      else queue.forget(key);
    } finally {
      this.metrics.reconcileDuration.observe(
        { provider: decision.provider, outcome },
        (performance.now() - started) / 1000,
      );
      this.updateManagedGauge();
    }
  }

  /** A full ensure, or is the node set the only thing that may have moved? */
  private needsEnsure(key: string, intent: Intent, svc: ServiceObject, provider: string): boolean {
    const applied = this.applied.get(key);
    if (intent === 'force' || intent === 'drift' || !applied || applied.provider !== provider) return true;
    return intent === 'changed' && applied.service !== relevantService(svc);
  }

  private async updateTargets(
    key: string,
    svc: ServiceObject,
    providerName: string,
    signal: AbortSignal,
  ): Promise<void> {
    const applied = this.applied.get(key);
    const p = this.providers.get(providerName);
    if (!applied || !p) return;
    const { targets, fingerprint } = this.targetSets.for(p.capabilities.mapsNodesByProviderID);
    const missing = reportNodesWithoutProviderID(this.ctx, p, svc);
    if (fingerprint === applied.targets) {
      this.applied.set(key, { ...applied, missing });
      return;
    }
    const lb = { ...applied.lb, targets };
    await p.updateTargets(lb, signal);
    this.metrics.providerCalls.inc({ provider: providerName, operation: 'updateTargets', result: 'success' });
    this.applied.set(key, { ...applied, lb, targets: fingerprint, missing });
    this.events.record(svc, 'Normal', 'UpdatedLoadBalancer', `Updated load balancer targets: ${targets.length} nodes`);
  }

  private updateManagedGauge(): void {
    const counts = new Map<string, number>();
    for (const a of this.applied.values()) counts.set(a.provider, (counts.get(a.provider) ?? 0) + 1);
    for (const name of this.providers.keys())
      this.metrics.managedLoadBalancers.set({ provider: name }, counts.get(name) ?? 0);
  }
}
