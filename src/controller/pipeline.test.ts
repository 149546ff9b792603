/**
 * The sync pipeline against a stand-in apiserver that behaves like one a real cluster may run (here: one
 * with the LoadBalancerIPMode gate off, which the test control plane cannot be). Integration tests cover
 * the pipeline against the real apiserver.
 */
import { describe, expect, it } from '@jest/globals';
import { FakeProvider } from '../../providers/fake/provider.ts';
import { LocalProvider } from '../../providers/local/provider.ts';
import { aNode, aService } from '../../test/builders/service.ts';
import { silentLogger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import type { DesiredLoadBalancer } from '../model/desired.ts';
import type { ServiceObject } from '../model/objects.ts';
import type { MetadataChange, ServiceWrites, StatusChange } from '../kube/service-writer.ts';
import { refuseAsApiserver } from '../../test/builders/apiserver-rules.ts';
import { PROVIDER_ANNOTATION, UPSTREAM_FINALIZER } from '../model/names.ts';
import { ServiceBook } from './book.ts';
import { syncKey, type SyncDeps } from './pipeline.ts';
import { TargetSets } from './target-sets.ts';

/**
 * An apiserver store of one Service that, like Kubernetes <= 1.29, drops ingress[].ipMode on write; it
 * refuses writes as the apiserver does (a stale precondition, ingress on a Service of another type).
 */
class OldApiserver implements ServiceWrites {
  svc: ServiceObject;
  writes = { metadata: 0, status: 0 };
  private rv = 1;

  constructor(svc: ServiceObject) {
    this.svc = structuredClone(svc);
  }

  async patchMetadata(from: ServiceObject, change: MetadataChange): Promise<ServiceObject> {
    refuseAsApiserver(this.svc, from, change);
    this.writes.metadata++;
    const m = (this.svc.metadata ??= {});
    const remove = new Set(change.removeFinalizers ?? []);
    m.finalizers = [...(m.finalizers ?? []).filter((f) => !remove.has(f)), ...(change.addFinalizers ?? [])];
    for (const [k, v] of Object.entries(change.annotations ?? {})) {
      m.annotations ??= {};
      if (v === null) delete m.annotations[k];
      else m.annotations[k] = v;
    }
    return this.bump();
  }

  async patchStatus(from: ServiceObject, change: StatusChange): Promise<ServiceObject> {
    refuseAsApiserver(this.svc, from, change);
    this.writes.status++;
    const status = (this.svc.status ??= {});
    if (change.ingress !== undefined)
      status.loadBalancer = { ingress: (change.ingress ?? []).map(({ ipMode: _dropped, ...kept }) => kept) };
    if (change.condition) status.conditions = [change.condition];
    if (change.removeConditionType)
      status.conditions = (status.conditions ?? []).filter((c) => c.type !== change.removeConditionType);
    return this.bump();
  }

  /** Someone else's write (a user, another replica): a new resourceVersion. */
  edit(change: (svc: ServiceObject) => void): void {
    change(this.svc);
    this.bump();
  }

  private bump(): ServiceObject {
    this.svc.metadata!.resourceVersion = String(++this.rv);
    return structuredClone(this.svc);
  }
}

function depsFor(api: OldApiserver, provider: FakeProvider | LocalProvider): SyncDeps {
  const targets = new TargetSets(() => []);
  return {
    clusterName: 'unit',
    providers: new Map([[provider.name, provider]]),
    ownership: { providers: [provider.name], defaultProvider: provider.name, classOnly: false },
    book: new ServiceBook(),
    writer: api,
    metrics: new Metrics(),
    log: silentLogger(),
    service: () => structuredClone(api.svc),
    readLive: async () => structuredClone(api.svc),
    nodes: () => [],
    targets: (requireProviderID) => targets.for(requireProviderID),
    namespaceLabels: () => ({}),
    progress: () => () => {},
    apiserver: { dropsIpMode: false },
    provisioningRecheckMs: 15_000,
  };
}

describe('the sync pipeline', () => {
  it('on an apiserver that drops ipMode, a resync compares what the apiserver keeps and writes nothing', async () => {
    const api = new OldApiserver(aService('web').withPorts(80).withNodePorts().build());
    const d = depsFor(api, new FakeProvider());
    const signal = new AbortController().signal;

    const first = await syncKey(d, 'default/web', signal);
    expect(first.failure).toBeUndefined();
    expect(api.writes).toEqual({ metadata: 1, status: 1 });
    expect(api.svc.status?.loadBalancer?.ingress).toEqual([
      { ip: '198.51.100.2', ports: [{ port: 80, protocol: 'TCP' }] },
    ]);
    expect(d.apiserver.dropsIpMode).toBe(true);

    d.book.noteIntent('default/web', 'drift');
    const resync = await syncKey(d, 'default/web', signal);
    expect(resync.failure).toBeUndefined();
    expect(api.writes).toEqual({ metadata: 1, status: 1 });
    expect(resync.notices.map((n) => n.reason)).toEqual([]);
  });

  it('a node that joins while an ensure is in flight reaches the load balancer on the targets sync after it', async () => {
    const api = new OldApiserver(aService('web').withPorts(80).withNodePorts().build());
    const provider = new FakeProvider();
    const nodes = [aNode('n1', { ip: '10.0.0.1' })];
    const sets = new TargetSets(() => nodes);
    const d: SyncDeps = { ...depsFor(api, provider), nodes: () => nodes, targets: (p) => sets.for(p) };
    const ensure = provider.ensure.bind(provider);
    provider.ensure = async (lb: DesiredLoadBalancer, signal: AbortSignal) => {
      // the node arrives after the model was computed, before the provider answers (a slow cloud)
      const n2 = aNode('n2', { ip: '10.0.0.2' });
      nodes.push(n2);
      sets.noteNode(n2, false);
      return ensure(lb, signal);
    };
    const signal = new AbortController().signal;

    const first = await syncKey(d, 'default/web', signal);
    expect(first.failure).toBeUndefined();
    // a node sync during the call may not have seen the key: the result asks for the targets sync itself
    expect(first.next).toEqual({ kind: 'targets' });
    // the node sync saw the node event and queued a targets-only sync
    d.book.noteIntent('default/web', 'targets');
    expect((await syncKey(d, 'default/web', signal)).failure).toBeUndefined();
    expect([...provider.balancers.values()][0]?.targets).toEqual(['n1', 'n2']);
  });

  describe('a change made after the version a sync read (a cache behind a restarting watch)', () => {
    // a new leader whose Service watch is restarting (a 403 from a freshly restarted apiserver) still
    // caches a Service asking for an address of an autoAssign: false pool; the user has removed the request
    const reserved = '192.0.2.10';
    function arrange(): { api: OldApiserver; provider: LocalProvider; d: SyncDeps; cache: { svc: ServiceObject } } {
      const asked = aService('web').withPorts(80).withAnnotations({ 'lbprovisioner.io/ips': reserved }).build();
      const api = new OldApiserver(asked);
      const cache = { svc: structuredClone(api.svc) };
      api.edit((svc) => delete svc.metadata!.annotations!['lbprovisioner.io/ips']);
      const provider = new LocalProvider({
        clusterName: 'unit',
        pools: [
          { name: 'fixed', addresses: ['192.0.2.0/28'], autoAssign: false },
          { name: 'auto', addresses: ['198.51.100.0/28'] },
        ],
      });
      const d: SyncDeps = { ...depsFor(api, provider), service: () => structuredClone(cache.svc) };
      d.book.noteSeen(cache.svc);
      return { api, provider, d, cache };
    }
    const shown = (api: OldApiserver) => ({
      ingress: api.svc.status?.loadBalancer?.ingress?.map((i) => i.ip),
      allocated: api.svc.metadata?.annotations?.['lbprovisioner.io/allocated-ips'],
    });
    const used = (provider: LocalProvider) => provider.poolStats().map((p) => [p.name, p.used]);
    const signal = new AbortController().signal;

    it('nothing is written onto the newer version: the Conflict reads it afresh, and the retry serves it while the watch is still down', async () => {
      const { api, provider, d } = arrange();
      const first = await syncKey(d, 'default/web', signal);
      // a race, not the user's problem: retried shortly, no Warning
      expect(first.failure).toMatchObject({ reason: 'Conflict', userVisible: false });
      expect(first.next).toEqual({ kind: 'soon' });
      expect(api.writes).toEqual({ metadata: 0, status: 0 });
      expect(shown(api)).toEqual({ ingress: undefined, allocated: undefined });

      d.book.noteIntent('default/web', 'force'); // what the outcome of 'soon' queues
      expect((await syncKey(d, 'default/web', signal)).failure).toBeUndefined();

      expect(shown(api)).toEqual({ ingress: ['198.51.100.0'], allocated: '198.51.100.0' });
      expect(used(provider)).toEqual([
        ['auto', 1n],
        ['fixed', 0n],
      ]);
      expect(api.writes).toEqual({ metadata: 1, status: 1 });
    });

    it('a Service another replica cleaned up after it stopped being a LoadBalancer: nothing of ours is left on it, and its address is free', async () => {
      // we served it, then our Service watch went down; the user asked for another address (our cache saw
      // that) and then made it a ClusterIP Service, which the leader of the time cleaned up (we saw neither)
      const api = new OldApiserver(aService('web').withPorts(80).build());
      const provider = new LocalProvider({
        clusterName: 'unit',
        pools: [{ name: 'auto', addresses: ['198.51.100.0/28'] }],
      });
      const d = depsFor(api, provider);
      expect((await syncKey(d, 'default/web', signal)).failure).toBeUndefined();
      api.edit((svc) => (svc.metadata!.annotations!['lbprovisioner.io/ips'] = '198.51.100.5'));
      const cache = { svc: structuredClone(api.svc) };
      api.edit((svc) => {
        svc.spec!.type = 'ClusterIP';
        svc.metadata!.finalizers = [];
        svc.metadata!.annotations = { 'lbprovisioner.io/ips': '198.51.100.5' };
        svc.status = {};
      });
      // a new term of ours: nothing applied, the cache behind
      const next = { ...depsFor(api, provider), book: new ServiceBook(), service: () => structuredClone(cache.svc) };
      expect(cache.svc.metadata?.finalizers).toEqual([UPSTREAM_FINALIZER]);
      expect(cache.svc.metadata?.annotations?.[PROVIDER_ANNOTATION]).toBe('local');

      const first = await syncKey(next, 'default/web', signal);
      expect(first.failure).toMatchObject({ reason: 'Conflict', userVisible: false });
      next.book.noteIntent('default/web', 'force');
      const retry = await syncKey(next, 'default/web', signal);
      expect(retry.failure).toBeUndefined();
      expect(retry.operation).toBe('cleanup');

      expect(Object.keys(api.svc.metadata?.annotations ?? {})).toEqual(['lbprovisioner.io/ips']);
      expect(api.svc.metadata?.finalizers).toEqual([]);
      expect(provider.addressesOf({ namespace: 'default', name: 'web' })).toEqual([]);
      expect(used(provider)).toEqual([['auto', 0n]]);
    });
  });

  it('a spec change that lands between our read and our own write is ensured on the retry of the Conflict', async () => {
    const api = new OldApiserver(aService('web').withPorts(80).withNodePorts().build());
    const provider = new FakeProvider();
    const d = depsFor(api, provider);
    const stale = structuredClone(api.svc);
    let changed = false;
    const ensure = provider.ensure.bind(provider);
    provider.ensure = async (lb: DesiredLoadBalancer, signal: AbortSignal) => {
      if (!changed) {
        // the user edits the ports while we work from the cached copy (after our metadata write)
        changed = true;
        api.edit((svc) => (svc.spec!.ports = [{ name: 'tcp-81', port: 81, protocol: 'TCP', nodePort: 30081 }]));
      }
      return ensure(lb, signal);
    };
    const signal = new AbortController().signal;

    const first = await syncKey({ ...d, service: () => structuredClone(stale) }, 'default/web', signal);
    expect(first.failure).toMatchObject({ reason: 'Conflict', userVisible: false });
    expect(api.svc.status?.loadBalancer?.ingress).toBeUndefined();

    // the retry, from what the Conflict read (the cache still has the old ports)
    d.book.noteIntent('default/web', 'force');
    expect(
      (await syncKey({ ...d, service: () => structuredClone(stale) }, 'default/web', signal)).failure,
    ).toBeUndefined();
    expect([...provider.balancers.values()][0]?.lb.ports.map((p) => [p.port, p.nodePort])).toEqual([[81, 30081]]);
    expect(api.svc.status?.loadBalancer?.ingress?.map((i) => i.ip)).toEqual(['198.51.100.2']);
  });

  it('a sync that ensures nothing while a recheck is pending keeps the recheck armed for when it was due', async () => {
    const api = new OldApiserver(aService('slow').withPorts(80).withNodePorts().build());
    const provider = new FakeProvider({ provisioningEnsures: 1 });
    const d = depsFor(api, provider);
    const signal = new AbortController().signal;

    const first = await syncKey(d, 'default/slow', signal);
    expect(first.next).toEqual({ kind: 'recheck', delayMs: 15_000 });
    // our own writes come back as a watch event: the key syncs again (the queue dropped the pending recheck)
    d.book.noteIntent('default/slow', 'changed');
    const echo = await syncKey(d, 'default/slow', signal);
    expect(echo.operation).toBe('targets');
    expect(provider.callsOf('ensure')).toHaveLength(1);
    expect(echo.next.kind).toBe('recheck');
    const delay = (echo.next as { delayMs: number }).delayMs;
    expect(delay).toBeLessThanOrEqual(15_000);
    expect(delay).toBeGreaterThan(14_000);

    // the recheck, when it fires, forces an ensure; the cloud is done and nothing is armed any more
    d.book.noteIntent('default/slow', 'force');
    const done = await syncKey(d, 'default/slow', signal);
    expect(provider.callsOf('ensure')).toHaveLength(2);
    expect(done.next).toEqual({ kind: 'forget' });
    expect(d.book.applied('default/slow')?.recheckAt).toBeUndefined();
  });
});

describe('progress Events', () => {
  it('are started around the first build of a load balancer and ended when the call answers or fails', async () => {
    const api = new OldApiserver(aService('web').withPorts(80).withNodePorts().build());
    const provider = new FakeProvider();
    const log: string[] = [];
    const d: SyncDeps = {
      ...depsFor(api, provider),
      progress: (_svc, reason) => {
        log.push(`start ${reason} (ensures so far: ${provider.callsOf('ensure').length})`);
        return () => log.push(`done ${reason} (ensures so far: ${provider.callsOf('ensure').length})`);
      },
    };
    const signal = new AbortController().signal;
    provider.failNext('ensure', new Error('the cloud is down'));
    const failed = await syncKey(d, 'default/web', signal);
    expect(failed.failure).toBeDefined();
    const ok = await syncKey(d, 'default/web', signal);
    expect(ok.failure).toBeUndefined();
    expect(ok.notices.map((n) => n.reason)).toEqual(['EnsuredLoadBalancer']);
    // the first ensure failed after the finalizer was written: the retry still builds it for the first time
    expect(log).toEqual([
      'start EnsuringLoadBalancer (ensures so far: 0)',
      'done EnsuringLoadBalancer (ensures so far: 1)',
      'start EnsuringLoadBalancer (ensures so far: 1)',
      'done EnsuringLoadBalancer (ensures so far: 2)',
    ]);
    // once built, a resync is neither: nothing changed, no Event
    d.book.noteIntent('default/web', 'drift');
    const resync = await syncKey(d, 'default/web', signal);
    expect(resync.notices).toEqual([]);
    expect(log).toHaveLength(4);
  });
});
