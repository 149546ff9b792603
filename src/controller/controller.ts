/**
 * The service controller's wiring: informers on Services, Nodes and Namespaces whose handlers only enqueue
 * keys; one work queue, N workers for Service syncs and M for targets-only syncs (queue.ts lanes), running
 * the one sync pipeline (pipeline.ts) whose results one place applies (outcome.ts); when node changes
 * reach the load balancers (node-changes.ts); timers for the drift pass and the orphan sweep; leadership
 * gating every write. Per-key state lives in the book (book.ts).
 */
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { LoadBalancerProvider, RecordedAllocation } from '../provider.ts';
import type { DesiredLoadBalancer } from '../model/desired.ts';
import type { ServiceObject } from '../model/objects.ts';
import { serviceKey, splitKey } from '../model/keys.ts';
import { decide, recordedProvider, type OwnershipConfig } from '../model/ownership.ts';
import { recordedLoadBalancer } from '../model/desired-load-balancer.ts';
import { describeApiError } from '../kube/api-error.ts';
import { EventRecorder } from '../kube/events.ts';
import { withConnectionPool } from '../kube/client.ts';
import { ResilientInformer } from '../kube/informer.ts';
import { LeaderElector, type LeaseSettings } from '../kube/leader.ts';
import { activeServiceController } from '../kube/peer-controllers.ts';
import { ServiceWriter } from '../kube/service-writer.ts';
import { trimManagedFields, trimNode, trimService } from '../kube/trim.ts';
import { Metrics } from '../metrics.ts';
import { ServiceBook, type Intent } from './book.ts';
import { findOrphans } from './orphans.ts';
import { Outcomes } from './outcome.ts';
import { modelFor, syncKey, type SyncDeps } from './pipeline.ts';
import { NodeChanges } from './node-changes.ts';
import { DEFAULT_NODE_SYNC_CONCURRENCY, WorkQueue, runWorkers } from './queue.ts';
import { TargetSets } from './target-sets.ts';

/**
 * Normal Events wait until no sync has begun for this long (or no longer than events.ts's HOLD_MAX_MS): in a
 * burst of creates the queue empties between arrivals, so "no Service waits" alone let them compete with
 * the Service writes; a quiet second is what marks the burst's end. Warnings never wait.
 */
const EVENTS_QUIET_MS = 1000;
/** How long a graceful stop waits for the Events its syncs recorded (an unreachable apiserver holds it no longer). */
const EVENTS_DRAIN_MS = 2000;

export interface ControllerOptions {
  kubeConfig: k8s.KubeConfig;
  clusterName: string;
  providers: LoadBalancerProvider[];
  defaultProvider?: string;
  classOnly: boolean;
  workers: number;
  /**
   * targets-only syncs after a node change run on workers of their own, this many at once (default 128):
   * they are I/O-bound provider calls paced by the provider's own rate limits, not by --workers
   */
  nodeSyncConcurrency?: number;
  resyncPeriodMs: number;
  /**
   * node changes (only those targets read) reach the load balancers at once when they come after a quiet
   * period; further changes within this window after a sync coalesce into one more sync at its end (default 100 ms)
   */
  nodeSyncDelayMs?: number;
  leaderElection?: LeaseSettings;
  log: Logger;
  metrics?: Metrics;
  queueBaseDelayMs?: number;
  queueMaxDelayMs?: number;
  /** a load balancer still provisioning (ready: false) is synced again after this long (default 15 s) */
  provisioningRecheckMs?: number;
  /** a graceful stop waits this long for syncs in flight before aborting them (default 20 s) */
  drainTimeoutMs?: number;
  /** called when this replica loses the lease (the CLI exits; tests observe) */
  onLostLeadership?: () => void;
}

export class ServiceController {
  readonly metrics: Metrics;
  readonly writer: ServiceWriter;
  readonly events: EventRecorder;
  private readonly opts: ControllerOptions;
  private readonly log: Logger;
  private readonly kc: k8s.KubeConfig;
  private readonly providers: Map<string, LoadBalancerProvider>;
  private readonly ownership: OwnershipConfig;
  private readonly services: ResilientInformer<k8s.V1Service>;
  private readonly nodes: ResilientInformer<k8s.V1Node>;
  private readonly namespaces: ResilientInformer<k8s.V1Namespace>;
  private readonly book = new ServiceBook();
  private readonly targetSets: TargetSets;
  private readonly outcomes: Outcomes;
  private readonly deps: SyncDeps;
  private queue: WorkQueue | undefined;
  /** when the last sync began (performance.now()): Normal Events wait for a quiet spell (EVENTS_QUIET_MS) */
  private lastSyncStarted = -Infinity;
  private readonly nodeChanges: NodeChanges;
  private driftTimer: NodeJS.Timeout | undefined;
  private elector: LeaderElector | undefined;
  private abort = new AbortController();
  private workersDone: Promise<void> | undefined;
  private leading = false;
  private stopping = false;

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
    this.kc = withConnectionPool(opts.kubeConfig);
    this.writer = new ServiceWriter(this.kc);
    this.events = new EventRecorder(this.kc, {
      component: 'lb-provisioner',
      instance: opts.leaderElection?.identity ?? 'lb-provisioner',
      log: this.log,
      // Normal Events wait while syncs come one after another: in a burst they follow the addresses
      busy: () => (this.queue?.length ?? 0) > 0 || performance.now() - this.lastSyncStarted < EVENTS_QUIET_MS,
    });
    this.events.disable();
    this.services = new ResilientInformer<k8s.V1Service>(
      this.kc,
      '/api/v1/services',
      {
        onAdd: (s) => this.onService(s),
        onUpdate: (s) => this.onService(s),
        onDelete: (s) => this.onServiceDeleted(s),
      },
      { name: 'services', log: this.log, transform: (s) => trimService(s as ServiceObject) as k8s.V1Service },
    );
    this.nodes = new ResilientInformer<k8s.V1Node>(
      this.kc,
      '/api/v1/nodes',
      { onAdd: (n) => this.onNode(n), onUpdate: (n) => this.onNode(n), onDelete: (n) => this.onNode(n, true) },
      { name: 'nodes', log: this.log, transform: trimNode },
    );
    this.namespaces = new ResilientInformer<k8s.V1Namespace>(
      this.kc,
      '/api/v1/namespaces',
      {},
      { name: 'namespaces', log: this.log, transform: trimManagedFields },
    );
    this.targetSets = new TargetSets(() => this.nodes.list());
    this.nodeChanges = new NodeChanges({ windowMs: opts.nodeSyncDelayMs ?? 100, sync: () => this.nodeSync() });
    this.outcomes = new Outcomes({
      book: this.book,
      events: this.events,
      writer: this.writer,
      metrics: this.metrics,
      log: this.log,
    });
    this.deps = {
      clusterName: opts.clusterName,
      providers: this.providers,
      ownership: this.ownership,
      book: this.book,
      writer: this.writer,
      metrics: this.metrics,
      log: this.log,
      service: (key) => this.cached(key),
      nodes: () => this.nodes.list(),
      targets: (requireProviderID) => this.targetSets.for(requireProviderID),
      namespaceLabels: (ns) => this.namespaces.get(ns)?.metadata?.labels ?? {},
      progress: (svc, reason, message) => this.outcomes.progress(svc, reason, message),
      readLive: (key) => this.readLive(key),
      apiserver: { dropsIpMode: false },
      provisioningRecheckMs: opts.provisioningRecheckMs ?? 15_000,
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
          this.log.error({ err: describeApiError(err) }, 'could not start leading: giving up the lease');
          void this.stopLeading('lost').then(() => this.elector?.stop({ release: true }));
          this.opts.onLostLeadership?.();
        }),
      onStoppedLeading: () => {
        void this.stopLeading('lost');
        if (!this.stopping) this.opts.onLostLeadership?.();
      },
    });
    this.elector.start();
  }

  /**
   * Stop. Gracefully (client-go's order): stop taking work, let syncs in flight finish (bounded), close the
   * providers, and only then release the lease, so a standby never takes over while we are mid-call.
   * `crash: true` stops at once and leaves the lease held, as a killed process would.
   */
  async stop(options: { crash?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (options.crash) {
      await this.elector?.stop({ release: false });
      await this.stopLeading('lost');
    } else {
      await this.stopLeading('graceful');
    }
    await Promise.all([...this.providers.values()].map((p) => p.close?.()));
    if (!options.crash) await this.elector?.stop({ release: true });
    await Promise.all([this.services.stop(), this.nodes.stop(), this.namespaces.stop()]);
  }

  /** Keys that will sync again on their own (a backoff, a recheck); a terminal failure is never among them. */
  scheduled(): string[] {
    return this.queue?.scheduled() ?? [];
  }

  /**
   * Whether this controller's cache holds a Service or Node (`namespace/name`, or a Node's name) at
   * `resourceVersion` or a later one, so its handlers have run for that event: a barrier for tests and
   * tools ("the controller has seen my change"); after it, idle() covers the work it queued.
   */
  hasObserved(kind: 'Service' | 'Node', key: string, resourceVersion: string): boolean {
    const { namespace, name } = kind === 'Service' ? splitKey(key) : { namespace: undefined, name: key };
    const cached = kind === 'Service' ? this.services.get(name, namespace) : this.nodes.get(name);
    const seen = cached?.metadata?.resourceVersion;
    if (seen === undefined) return false;
    // resourceVersions are opaque; the apiserver's are etcd revisions, comparable as integers
    return /^\d+$/.test(seen) && /^\d+$/.test(resourceVersion)
      ? BigInt(seen) >= BigInt(resourceVersion)
      : seen === resourceVersion;
  }

  /**
   * Resolves once every node change seen has been synced, and nothing is queued or in flight, the Events
   * those syncs recorded included: they are written apart from the sync (events.ts), and a reader after
   * this barrier must find them.
   */
  async idle(): Promise<void> {
    do {
      await this.nodeChanges.synced();
      await this.queue?.idle();
      await this.events.idle();
    } while (this.nodeChanges.pending);
  }

  private async startLeading(): Promise<void> {
    if (this.leading) return;
    this.leading = true;
    this.metrics.isLeader.set(1);
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.events.enable();
    const queue = new WorkQueue({
      ...(this.opts.queueBaseDelayMs ? { baseDelayMs: this.opts.queueBaseDelayMs } : {}),
      ...(this.opts.queueMaxDelayMs ? { maxDelayMs: this.opts.queueMaxDelayMs } : {}),
      onDepth: (d) => this.metrics.queueDepth.set(d),
      onLatency: (ms) => this.metrics.queueLatency.observe(ms / 1000),
    });
    this.queue = queue;
    await this.notePeerController();
    for (const p of this.providers.values()) {
      await p.start?.({
        kubeConfig: this.opts.kubeConfig,
        log: this.log.child({ provider: p.name }),
        signal,
        requeue: (keys) => keys.forEach((k) => this.enqueue(k, 'force')),
        requeueAll: () => this.requeueOwnedBy(p.name),
        event: (key, type, reason, message) => {
          const svc = this.cached(key);
          if (svc) this.events.record(svc, type, reason, message);
        },
        objectEvent: (involved, type, reason, message) => this.events.recordOn(involved, type, reason, message),
      });
    }
    this.restoreAllocations();
    for (const svc of this.services.list()) this.enqueue(serviceKey(svc), 'force');
    const work = (key: string) => this.work(queue, key);
    this.workersDone = Promise.all([
      runWorkers(queue, this.opts.workers, work, 'full'),
      runWorkers(queue, this.opts.nodeSyncConcurrency ?? DEFAULT_NODE_SYNC_CONCURRENCY, work, 'targets'),
    ]).then(() => undefined);
    this.scheduleDrift();
    void this.sweepOrphans(signal);
  }

  /**
   * 'lost': stop writing at once (abort calls in flight). 'graceful': stop taking work and give calls in
   * flight up to drainTimeoutMs before aborting them.
   */
  private async stopLeading(how: 'lost' | 'graceful'): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    this.metrics.isLeader.set(0);
    this.nodeChanges.cancel();
    if (this.driftTimer) clearTimeout(this.driftTimer);
    this.driftTimer = undefined;
    this.queue?.shutDown();
    if (how === 'lost') {
      this.events.disable();
      this.abort.abort();
      await this.workersDone;
    } else {
      const drained = await Promise.race([
        this.workersDone?.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), this.opts.drainTimeoutMs ?? 20_000).unref()),
      ]);
      if (!drained) this.log.warn('syncs still in flight after the drain timeout: aborting them');
      this.abort.abort();
      await this.workersDone;
      // the syncs' last Events (Normal ones are held for a quiet second) go out before the lease does, briefly
      await Promise.race([this.events.idle(), new Promise((resolve) => setTimeout(resolve, EVENTS_DRAIN_MS).unref())]);
      this.events.disable();
    }
    this.queue = undefined;
    this.book.clearLeadership();
    this.updateManagedGauge();
  }

  private async work(queue: WorkQueue, key: string): Promise<void> {
    const signal = this.abort.signal;
    const started = performance.now();
    this.lastSyncStarted = started;
    const result = await syncKey(this.deps, key, signal);
    await this.outcomes.settle(queue, key, result, performance.now() - started, signal.aborted);
    this.updateManagedGauge();
  }

  /** As the default provider, leave class-less Services alone while a cloud controller manager takes them. */
  private async notePeerController(): Promise<void> {
    if (this.opts.classOnly || !this.opts.defaultProvider) return;
    const peer = await activeServiceController(this.kc, this.log);
    if (peer) {
      this.ownership.classlessTakenBy = peer;
      this.log.warn(
        { peer },
        `${peer} takes class-less LoadBalancer Services: new ones are left to it (the ones we built stay ours). Run with --class-only and give Services spec.loadBalancerClass lbprovisioner.io/<provider> to use both`,
      );
    } else {
      delete this.ownership.classlessTakenBy;
    }
  }

  /**
   * Hand every provider, before anything new is allocated, the addresses of every LoadBalancer Service it
   * would own, oldest first (if two claim the same address, the older keeps it): what they recorded, or what
   * their status shows (a Service moving from MetalLB), so a restart or an adoption never moves an address.
   */
  private restoreAllocations(): void {
    const ageOf = (svc: ServiceObject) =>
      svc.metadata?.creationTimestamp ? new Date(svc.metadata.creationTimestamp).getTime() : 0;
    const services = [...this.services.list()].sort((a, b) => ageOf(a) - ageOf(b));
    for (const p of this.providers.values()) {
      if (!p.restore) continue;
      const recorded: RecordedAllocation[] = [];
      for (const svc of services) {
        const d = decide(svc, this.ownership);
        const ours = d.action !== 'ignore' ? d.provider : recordedProvider(svc);
        if (ours !== p.name) continue;
        let lb: DesiredLoadBalancer;
        try {
          lb = modelFor(this.deps, p, svc);
        } catch {
          // a Service whose spec or annotations are now invalid still holds its addresses
          lb = recordedLoadBalancer(svc, this.opts.clusterName, p.healthCheck.defaults);
        }
        recorded.push({ ref: lb.ref, lb });
        // handed over: if the Service turns out not this provider's (a stale cache), its sync releases it
        this.book.noteBuilding(serviceKey(svc), { provider: p.name, ref: lb.ref });
      }
      p.restore(recorded);
    }
  }

  /**
   * Load balancers a provider holds with no Service that owns them (the Service was deleted while we were
   * down, a finalizer removed by hand): each is deleted on its key's turn in the queue, after a live read
   * confirms the Service is really gone or not ours (the cache may lag behind a create).
   */
  private async sweepOrphans(signal: AbortSignal): Promise<void> {
    for (const p of this.providers.values()) {
      try {
        const listed = await p.list(signal);
        const candidates = findOrphans(
          p.name,
          this.opts.clusterName,
          listed,
          (k) => this.cached(k),
          (svc) => this.ownerOf(svc),
        );
        for (const c of candidates) {
          const live = await this.readLive(c.key);
          const same = live !== undefined && (c.ref.uid === '' || live.metadata?.uid === c.ref.uid);
          if (same && this.ownerOf(live) === p.name) continue;
          if (signal.aborted || !this.queue) return;
          this.book.addOrphan(c.key, { provider: c.provider, ref: c.ref });
          this.enqueue(c.key, 'force');
        }
      } catch (err) {
        if (signal.aborted) return;
        this.log.warn(
          { provider: p.name, err: describeApiError(err) },
          'orphan sweep failed; the next drift pass tries again',
        );
      }
    }
  }

  /** The provider that owns a Service's load balancer now: by decision, or what this term applied. */
  private ownerOf(svc: ServiceObject): string | undefined {
    const d = decide(svc, this.ownership);
    if (d.action !== 'ignore') return d.provider;
    const applied = this.book.applied(serviceKey(svc));
    return applied && applied.lb.ref.uid === svc.metadata?.uid ? applied.provider : undefined;
  }

  private async readLive(key: string): Promise<ServiceObject | undefined> {
    const { namespace, name } = splitKey(key);
    return this.writer.read(namespace, name);
  }

  private cached(key: string): ServiceObject | undefined {
    const { namespace, name } = splitKey(key);
    return this.services.get(name, namespace) as ServiceObject | undefined;
  }

  private enqueue(key: string, intent: Intent): void {
    if (this.queue) this.outcomes.enqueue(this.queue, key, intent);
  }

  private requeueOwnedBy(provider: string): void {
    for (const svc of this.services.list()) {
      const d = decide(svc, this.ownership);
      if (d.action !== 'ignore' && d.provider === provider) this.enqueue(serviceKey(svc), 'force');
    }
  }

  private onService(svc: k8s.V1Service): void {
    if (this.book.noteSeen(svc)) this.enqueue(serviceKey(svc), 'changed');
  }

  private onServiceDeleted(svc: k8s.V1Service): void {
    const key = serviceKey(svc);
    this.book.noteDeleted(key);
    this.enqueue(key, 'changed');
  }

  private onNode(node: k8s.V1Node, deleted = false): void {
    // not leading: nothing to sync; a new term syncs every Service anyway
    if (this.targetSets.noteNode(node, deleted) && this.queue) this.nodeChanges.note();
  }

  /** Node set changed: every load balancer whose targets differ gets a targets-only sync. */
  private nodeSync(): void {
    for (const [key, applied] of this.book.appliedEntries()) {
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
      this.log.info({ services: this.book.appliedTotal }, 'drift pass: re-ensuring every owned Service');
      for (const [key] of this.book.appliedEntries()) this.enqueue(key, 'drift');
      void this.sweepOrphans(this.abort.signal);
      this.scheduleDrift();
    }, jittered);
    this.driftTimer.unref();
  }

  private updateManagedGauge(): void {
    for (const name of this.providers.keys())
      this.metrics.managedLoadBalancers.set({ provider: name }, this.book.appliedCount(name));
  }
}
