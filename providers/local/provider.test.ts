import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { silentLogger } from '../../src/log.ts';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import type { PortStatus, ProviderContext } from '../../src/provider.ts';
import type { PoolDefinition } from './ipam/definitions.ts';
import { LocalProvider } from './provider.ts';
import type { LocalDataPlane, PoolStatus } from './provider.ts';
import { desiredLoadBalancerFor } from '../../test/builders/load-balancer.ts';

const signal = new AbortController().signal;

/** A single-stack IPv4 Service default/<name> with port TCP/80; override what the story needs. */
function lbFor(name: string, overrides: Partial<DesiredLoadBalancer> = {}): DesiredLoadBalancer {
  return desiredLoadBalancerFor(name, {
    targets: [{ name: 'node-1', addresses: ['172.18.0.2'], labels: {} }],
    ...overrides,
  });
}

const withAnnotations = (name: string, annotations: Record<string, string>, extra: Partial<DesiredLoadBalancer> = {}) =>
  lbFor(name, { annotations, ...extra });

function aProvider(pools: PoolDefinition[] = [{ name: 'default', addresses: ['10.0.0.0/30'] }], extra = {}) {
  return new LocalProvider({ clusterName: 'test', pools, ...extra });
}

/** What the provider threw: its name, reason and message, as the controller turns it into an Event. */
async function rejection(promise: Promise<unknown>): Promise<{ name: string; reason: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const { name, reason, message } = error as { name: string; reason: string; message: string };
    return { name, reason, message };
  }
  throw new Error('expected a rejection');
}

function recordingContext(): ProviderContext & { requeued: string[][] } {
  const requeued: string[][] = [];
  return {
    requeued,
    kubeConfig: new KubeConfig(),
    log: silentLogger(),
    requeue: (keys) => requeued.push([...keys]),
    requeueAll: () => undefined,
    event: () => undefined,
    objectEvent: () => undefined,
    signal,
  };
}

describe('LocalProvider with data plane none', () => {
  it('announces what the controller needs to know about it', () => {
    const provider = aProvider();
    expect(provider.name).toBe('local');
    expect(provider.capabilities).toEqual({ mapsNodesByProviderID: false, needsNodePorts: false, ipMode: 'VIP' });
    expect(provider.allocationAnnotations).toEqual([
      'lbprovisioner.io/allocated-ips',
      'lbprovisioner.io/ip-allocated-from-pool',
    ]);
  });

  it('allocates an address, records it on the Service, and reports it as a VIP', async () => {
    const provider = aProvider();
    const allocation = await provider.allocate(lbFor('web'), signal);
    expect(allocation.annotations).toEqual({
      'lbprovisioner.io/allocated-ips': '10.0.0.0',
      'lbprovisioner.io/ip-allocated-from-pool': 'default',
    });
    expect(await provider.ensure(lbFor('web'), signal)).toEqual({
      ingress: [{ ip: '10.0.0.0', ipMode: 'VIP' }],
      ready: true,
      changed: true,
    });
    expect((await provider.ensure(lbFor('web'), signal)).changed).toBe(false);
    expect(await provider.list(signal)).toEqual([lbFor('web').ref]);
  });

  it('gives a dual-stack Service one address per family, naming both pools', async () => {
    const provider = aProvider([
      { name: 'v4', addresses: ['10.0.0.0/24'] },
      { name: 'v6', addresses: ['fd00::/64'] },
    ]);
    const lb = lbFor('web', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' });
    expect((await provider.allocate(lb, signal)).annotations).toEqual({
      'lbprovisioner.io/allocated-ips': '10.0.0.0,fd00::',
      'lbprovisioner.io/ip-allocated-from-pool': 'v4,v6',
    });
    expect((await provider.ensure(lb, signal)).ingress.map((i) => i.ip)).toEqual(['10.0.0.0', 'fd00::']);
  });

  it('keeps the address a Service already shows in its status, without reporting a change', async () => {
    const provider = aProvider();
    const movedFromMetalLB = lbFor('web', { currentIngressIPs: ['10.0.0.2'] });
    expect(await provider.ensure(movedFromMetalLB, signal)).toMatchObject({
      ingress: [{ ip: '10.0.0.2' }],
      changed: false,
    });
  });

  describe('bad input becomes a typed error naming the problem', () => {
    it('an address held by another Service, named in an annotation', async () => {
      const provider = aProvider();
      await provider.allocate(withAnnotations('first', { 'lbprovisioner.io/ips': '10.0.0.1' }), signal);
      expect(
        await rejection(
          provider.allocate(withAnnotations('second', { 'metallb.io/loadBalancerIPs': '10.0.0.1' }), signal),
        ),
      ).toEqual({
        name: 'InvalidAnnotationError',
        reason: 'InvalidAnnotation',
        message:
          'annotation metallb.io/loadBalancerIPs: 10.0.0.1 is already used by default/first (default/first has no sharing key)',
      });
    });

    it('spec.loadBalancerIP outside every pool', async () => {
      expect(await rejection(aProvider().allocate(lbFor('web', { requestedIPs: ['192.168.9.9'] }), signal))).toEqual({
        name: 'InvalidSpecError',
        reason: 'InvalidSpec',
        message: 'spec.loadBalancerIP: 192.168.9.9 is not in any IP pool',
      });
    });

    it('an unknown pool', async () => {
      const error = await rejection(
        aProvider().ensure(withAnnotations('web', { 'metallb.io/address-pool': 'gold' }), signal),
      );
      expect(error.message).toBe('annotation metallb.io/address-pool: pool "gold" does not exist');
    });

    it('an IPv6 address for an IPv4-only Service', async () => {
      const error = await rejection(
        aProvider().allocate(withAnnotations('web', { 'lbprovisioner.io/ips': 'fd00::1' }), signal),
      );
      expect(error.message).toBe(
        "annotation lbprovisioner.io/ips: fd00::1 is an IPv6 address but the Service's ipFamilies are IPv4",
      );
    });

    it('an exhausted pool, retried (not terminal)', async () => {
      const provider = aProvider([{ name: 'one', addresses: ['10.0.0.1/32'] }]);
      await provider.allocate(lbFor('a'), signal);
      const error = await rejection(provider.allocate(lbFor('b'), signal));
      expect(error).toEqual({
        name: 'QuotaExceededError',
        reason: 'PoolExhausted',
        message: 'no free IPv4 address in pool "one"',
      });
    });
  });

  it('requeues a Service waiting on an exhausted pool as soon as an address is freed', async () => {
    const provider = aProvider([{ name: 'one', addresses: ['10.0.0.1/32'] }]);
    const context = recordingContext();
    await provider.start(context);
    const heard: string[][] = [];
    provider.onRetry((keys) => heard.push(keys));
    await provider.allocate(lbFor('a'), signal);
    await rejection(provider.allocate(lbFor('b'), signal));
    expect(provider.waiting()).toEqual(['default/b']);

    await provider.delete(lbFor('a').ref, signal);
    expect(context.requeued).toEqual([['default/b']]);
    expect(heard).toEqual([['default/b']]);
    expect((await provider.ensure(lbFor('b'), signal)).ingress).toEqual([{ ip: '10.0.0.1', ipMode: 'VIP' }]);
  });

  it('delete is idempotent and list forgets the Service', async () => {
    const provider = aProvider();
    await provider.allocate(lbFor('web'), signal);
    await provider.delete(lbFor('web').ref, signal);
    await provider.delete(lbFor('web').ref, signal);
    expect(await provider.list(signal)).toEqual([]);
  });

  it('after a restart, gives every Service its recorded address back and reports no change', async () => {
    const before = aProvider();
    const recorded = [];
    for (const name of ['a', 'b', 'c']) {
      const { annotations } = await before.allocate(lbFor(name), signal);
      const ip = annotations['lbprovisioner.io/allocated-ips'] ?? '';
      recorded.push(lbFor(name, { annotations: { 'lbprovisioner.io/allocated-ips': ip }, currentIngressIPs: [ip] }));
    }
    await before.delete(lbFor('a').ref, signal);
    recorded.shift();

    const after = aProvider();
    expect(after.restore(recorded.map((lb) => ({ ref: lb.ref, lb })))).toEqual({ restored: 2, conflicts: [] });
    // a new Service takes the hole, never an address recorded by another
    expect((await after.allocate(lbFor('new'), signal)).annotations['lbprovisioner.io/allocated-ips']).toBe('10.0.0.0');
    for (const lb of recorded) {
      const status = await after.ensure(lb, signal);
      expect(status.changed).toBe(false);
      expect(status.ingress.map((i) => i.ip)).toEqual(lb.currentIngressIPs);
    }
  });

  it('reports two Services recorded with the same address, and gives the second a new one', async () => {
    const provider = aProvider();
    const recorded = ['a', 'b'].map((name) =>
      lbFor(name, { annotations: { 'lbprovisioner.io/allocated-ips': '10.0.0.2' }, currentIngressIPs: ['10.0.0.2'] }),
    );
    const report = provider.restore(recorded.map((lb) => ({ ref: lb.ref, lb })));
    expect(report.conflicts.map((c) => c.message)).toEqual([
      'default/b and default/a both recorded 10.0.0.2, which they may not share (default/a has no sharing key); default/b keeps no address until it is synced again',
    ]);
    const [, second] = recorded;
    if (!second) throw new Error('unreachable');
    expect(await provider.ensure(second, signal)).toMatchObject({ ingress: [{ ip: '10.0.0.0' }], changed: true });
  });

  it('keeps serving allocations from a removed pool, and reports invalid pools', async () => {
    const provider = aProvider([{ name: 'old', addresses: ['10.0.0.0/30'] }]);
    await provider.allocate(lbFor('web'), signal);
    const errors = provider.setPools([{ name: 'new', addresses: ['10.9.0.0/24', '10.9.0.0/40'] }]);
    expect(errors.map((e) => [e.name, e.message])).toEqual([
      [
        'InvalidPoolError',
        'pool "new": spec.addresses: "10.9.0.0/40" is not a CIDR (10.0.0.0/24), a range (10.0.0.10-10.0.0.20) or an IP address',
      ],
    ]);
    expect((await provider.ensure(lbFor('web'), signal)).ingress.map((i) => i.ip)).toEqual(['10.0.0.0']);
  });

  it('reports pool status at most once per interval, with counts as strings', async () => {
    const provider = aProvider([{ name: 'v6', addresses: ['fd00::/64'] }], { poolStatusIntervalMs: 30 });
    const reports: PoolStatus[][] = [];
    provider.onPoolStatus((stats) => reports.push(stats));
    const v6 = { ipFamilies: ['IPv6' as const] };
    const at: number[] = [];
    provider.onPoolStatus(() => at.push(performance.now()));
    for (const name of ['a', 'b', 'c']) await provider.allocate(lbFor(name, v6), signal);
    // a barrier, not a window: wait for the report of all three (on a loaded machine the allocations may
    // straddle an interval, so one to three reports are all right)
    await waitUntil(() => reports.at(-1)?.[0]?.used === '3');
    expect(reports.at(-1)).toEqual([
      { name: 'v6', size: '18446744073709551616', used: '3', free: '18446744073709551613' },
    ]);
    expect(reports.length).toBeLessThanOrEqual(3);
    // at most once per interval (timers never fire early; 1 ms for clock rounding)
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(29);
    expect(provider.poolStats()[0]?.used).toBe(3n);
    await provider.close();
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('LocalProvider with a data plane', () => {
  function recordingDataPlane(failRemove = false) {
    const calls: string[] = [];
    const plane: LocalDataPlane = {
      async start(initial) {
        calls.push(`start ${initial.map((s) => `${s.key}=${s.vips.join(',')}`).join(' ')}`);
      },
      async ensureService(key, vips): Promise<{ ports?: PortStatus[] }> {
        calls.push(`ensure ${key} ${vips.join(',')}`);
        return { ports: [{ port: 80, protocol: 'TCP' }] };
      },
      async updateTargets(key, lb) {
        calls.push(`targets ${key} ${lb.targets.map((t) => t.name).join(',')}`);
      },
      async removeService(key) {
        if (failRemove) throw new Error('nft: permission denied');
        calls.push(`remove ${key}`);
      },
    };
    return { plane, calls };
  }

  it('hands it the allocated VIPs, starting it once with every Service holding one', async () => {
    const { plane, calls } = recordingDataPlane();
    const provider = aProvider(undefined, {
      dataPlane: plane,
      capabilities: { needsNodePorts: true, ipMode: 'Proxy' },
    });
    const old = lbFor('old', { annotations: { 'lbprovisioner.io/allocated-ips': '10.0.0.3' } });
    provider.restore([{ ref: old.ref, lb: old }]);
    const status = await provider.ensure(lbFor('web'), signal);
    await provider.updateTargets(lbFor('web'), signal);
    await provider.delete(lbFor('web').ref, signal);
    expect(status.ingress).toEqual([{ ip: '10.0.0.0', ipMode: 'Proxy', ports: [{ port: 80, protocol: 'TCP' }] }]);
    expect(calls).toEqual([
      'start default/old=10.0.0.3 default/web=10.0.0.0',
      'ensure default/web 10.0.0.0',
      'targets default/web node-1',
      'remove default/web',
    ]);
  });

  it('frees an address only after the data plane let go of it', async () => {
    const { plane } = recordingDataPlane(true);
    const provider = aProvider(undefined, { dataPlane: plane });
    await provider.ensure(lbFor('web'), signal);
    expect((await rejection(provider.delete(lbFor('web').ref, signal))).message).toBe('nft: permission denied');
    expect(provider.addressesOf(lbFor('web').ref).map((a) => a.ip)).toEqual(['10.0.0.0']);
  });
});
