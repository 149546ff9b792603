/**
 * The controller's sync pipeline in memory, for properties that run hundreds of Services: an apiserver
 * store that keeps what is written (and counts writes), the real ServiceBook, syncKey and Outcomes, a queue
 * that records what it was asked to do, and two providers: the fake cloud and the local provider with its
 * proxy data plane on a recording back end (no host changes). Integration tests run the same story against
 * the real apiserver.
 */
import type * as k8s from '@kubernetes/client-node';
import { FakeProvider } from '../../providers/fake/provider.ts';
import { LocalProvider } from '../../providers/local/provider.ts';
import { poolsFromFlags } from '../../providers/local/pool.ts';
import { ProxyDataplane } from '../../providers/local/dataplane/proxy-dataplane.ts';
import { ProxyDataPlaneAdapter } from '../../providers/local/proxy-adapter.ts';
import { ServiceBook } from '../../src/controller/book.ts';
import { Outcomes } from '../../src/controller/outcome.ts';
import { syncKey, type SyncDeps } from '../../src/controller/pipeline.ts';
import type { WorkQueue } from '../../src/controller/queue.ts';
import { TargetSets } from '../../src/controller/target-sets.ts';
import type { EventSink, EventType } from '../../src/kube/events.ts';
import type { MetadataChange, ServiceWrites, StatusChange } from '../../src/kube/service-writer.ts';
import { silentLogger } from '../../src/log.ts';
import { Metrics } from '../../src/metrics.ts';
import type { NodeObject, ServiceObject } from '../../src/model/objects.ts';
import { aNode } from '../builders/service.ts';
import { refuseAsApiserver } from '../builders/apiserver-rules.ts';
import { RecordingBackend } from '../builders/recording-backend.ts';
import { PROPERTY_POOLS } from './bad-input.ts';

/** A store of Services that applies our patches as the apiserver would (the parts we write), counting them. */
export class ServiceStore implements ServiceWrites {
  readonly services = new Map<string, ServiceObject>();
  writes = 0;
  private rv = 1;

  put(svc: ServiceObject): void {
    const m = svc.metadata!;
    const key = `${m.namespace}/${m.name}`;
    const old = this.services.get(key);
    const next = structuredClone(svc);
    next.metadata!.resourceVersion = String(++this.rv);
    // the apiserver keeps what only the controller writes (finalizers, status) across a user's edit
    if (old) {
      next.metadata!.finalizers = old.metadata?.finalizers ?? [];
      next.metadata!.generation = (old.metadata?.generation ?? 1) + 1;
      next.status = old.status ?? {};
      for (const [k, v] of Object.entries(old.metadata?.annotations ?? {}))
        if (k.startsWith('lbprovisioner.io/') && (k.endsWith('provider') || k.includes('allocated')))
          next.metadata!.annotations = { ...next.metadata!.annotations, [k]: v };
    }
    this.services.set(key, next);
  }

  /** A user's delete: with finalizers the object stays, marked, until the last one is removed. */
  delete(key: string): void {
    const stored = this.services.get(key);
    if (!stored) return;
    if ((stored.metadata?.finalizers ?? []).length === 0) this.services.delete(key);
    else {
      stored.metadata!.deletionTimestamp = new Date().toISOString();
      this.bump(stored);
    }
  }

  get(key: string): ServiceObject | undefined {
    const s = this.services.get(key);
    return s && structuredClone(s);
  }

  async patchMetadata(svc: ServiceObject, change: MetadataChange): Promise<ServiceObject> {
    const stored = this.stored(svc);
    refuseAsApiserver(stored, svc, change);
    this.writes++;
    const m = stored.metadata!;
    const remove = new Set(change.removeFinalizers ?? []);
    m.finalizers = [...(m.finalizers ?? []).filter((f) => !remove.has(f)), ...(change.addFinalizers ?? [])];
    for (const [k, v] of Object.entries(change.annotations ?? {})) {
      m.annotations ??= {};
      if (v === null) delete m.annotations[k];
      else m.annotations[k] = v;
    }
    if (m.deletionTimestamp && m.finalizers.length === 0) this.services.delete(`${m.namespace}/${m.name}`);
    return this.bump(stored);
  }

  async patchStatus(svc: ServiceObject, change: StatusChange): Promise<ServiceObject> {
    const stored = this.stored(svc);
    refuseAsApiserver(stored, svc, change);
    this.writes++;
    const status = (stored.status ??= {});
    if (change.ingress !== undefined) status.loadBalancer = { ingress: change.ingress ?? [] };
    if (change.removeConditionType)
      status.conditions = (status.conditions ?? []).filter((c) => c.type !== change.removeConditionType);
    if (change.condition) {
      const kept = (status.conditions ?? []).filter((c) => c.type !== change.condition!.type);
      status.conditions = [...kept, change.condition];
    }
    return this.bump(stored);
  }

  private stored(svc: ServiceObject): ServiceObject {
    const key = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
    const stored = this.services.get(key);
    if (!stored) throw new Error(`no Service ${key}`);
    return stored;
  }

  private bump(svc: ServiceObject): ServiceObject {
    svc.metadata!.resourceVersion = String(++this.rv);
    return structuredClone(svc);
  }
}

export interface RecordedEvent {
  key: string;
  type: EventType;
  reason: string;
  message: string;
}

/** What the queue was asked to do with a key after a sync. */
export type QueueMove = 'add' | 'addAfter' | 'addRateLimited' | 'forget';

class RecordingQueue {
  readonly moves: { key: string; move: QueueMove }[] = [];
  add(key: string): void {
    this.moves.push({ key, move: 'add' });
  }
  addAfter(key: string, _delayMs: number): void {
    this.moves.push({ key, move: 'addAfter' });
  }
  addRateLimited(key: string): number {
    this.moves.push({ key, move: 'addRateLimited' });
    return 0;
  }
  forget(key: string): void {
    this.moves.push({ key, move: 'forget' });
  }
}

export interface PipelineWorld {
  store: ServiceStore;
  events: RecordedEvent[];
  fake: FakeProvider;
  local: LocalProvider;
  backend: RecordingBackend;
  queue: RecordingQueue;
  /** one worker turn for a key: syncKey, then the outcome applied (Events, condition, queue) */
  sync(key: string): Promise<void>;
  /** a user's create or edit, as the informer would report it */
  apply(svc: ServiceObject): Promise<void>;
  close(): Promise<void>;
}

export const NODES: NodeObject[] = [aNode('node-a', { ip: '10.0.0.11' }), aNode('node-b', { ip: '10.0.0.12' })];

/**
 * The local provider with its proxy data plane on a recording back end (no host changes, every node
 * healthy), allocating from PROPERTY_POOLS.
 */
export function recordingLocalProvider(): { local: LocalProvider; backend: RecordingBackend } {
  const backend = new RecordingBackend();
  const dataplane = new ProxyDataplane({
    backend,
    vipInterface: 'none',
    prober: () => Promise.resolve({ ok: true, reason: 'HTTP 200' }),
    firstProbeWaitMs: 0,
    lockName: `lbp-props-${process.pid}-${Math.random()}`,
  });
  const local = new LocalProvider({
    clusterName: 'props',
    pools: poolsFromFlags([`${PROPERTY_POOLS.v4},${PROPERTY_POOLS.v6}`]).pools,
    dataPlane: new ProxyDataPlaneAdapter(dataplane),
    capabilities: { needsNodePorts: true, ipMode: 'Proxy' },
  });
  return { local, backend };
}

export async function pipelineWorld(): Promise<PipelineWorld> {
  const store = new ServiceStore();
  const events: RecordedEvent[] = [];
  const fake = new FakeProvider();
  const { local, backend } = recordingLocalProvider();
  const book = new ServiceBook();
  const metrics = new Metrics();
  const targets = new TargetSets(() => NODES);
  const deps: SyncDeps = {
    clusterName: 'props',
    providers: new Map<string, FakeProvider | LocalProvider>([
      [fake.name, fake],
      [local.name, local],
    ]),
    ownership: { providers: [fake.name, local.name], defaultProvider: local.name, classOnly: false },
    book,
    writer: store,
    metrics,
    log: silentLogger(),
    service: (key) => store.get(key),
    readLive: async (key) => store.get(key),
    nodes: () => NODES,
    targets: (requireProviderID) => targets.for(requireProviderID),
    namespaceLabels: () => ({}),
    progress: () => () => {},
    apiserver: { dropsIpMode: false },
    provisioningRecheckMs: 15_000,
  };
  const sink: EventSink = {
    record(svc, type, reason, message) {
      events.push({ key: `${svc.metadata?.namespace}/${svc.metadata?.name}`, type, reason, message });
    },
  };
  const outcomes = new Outcomes({ book, events: sink, writer: store, metrics, log: silentLogger() });
  const queue = new RecordingQueue();
  const signal = new AbortController().signal;
  return {
    store,
    events,
    fake,
    local,
    backend,
    queue,
    async sync(key) {
      const r = await syncKey(deps, key, signal);
      await outcomes.settle(queue as unknown as WorkQueue, key, r, 0, false);
    },
    async apply(svc) {
      store.put(svc);
      const key = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
      book.noteIntent(key, 'changed');
    },
    async close() {
      await local.close?.();
    },
  };
}

/** A LoadBalancer Service for the world's providers, as the apiserver would hold it (nodePorts set). */
export function serviceFor(
  name: string,
  namespace: string,
  provider: 'local' | 'fake',
  ports: { port: number; protocol: 'TCP' | 'UDP' }[],
): k8s.V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, uid: `uid-${namespace}-${name}`, generation: 1, annotations: {}, labels: {} },
    spec: {
      type: 'LoadBalancer',
      loadBalancerClass: `lbprovisioner.io/${provider}`,
      selector: { app: 'x' },
      ports: ports.map((p, i) => ({ name: `p${i}`, port: p.port, protocol: p.protocol, nodePort: 30_000 + i })),
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
    },
  };
}
