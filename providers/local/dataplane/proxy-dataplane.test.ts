import { describe, it, expect, afterEach } from '@jest/globals';
import { ProxyDataplane } from './proxy-dataplane.ts';
import type { DataplaneEvent } from './proxy-dataplane.ts';
import type { ProbeSpec } from './health-checker.ts';
import { FAIL_MODE } from './service-options.ts';
import { aLoadBalancer } from '../../../test/builders/proxied-load-balancer.ts';
import type { ProxyService } from './types.ts';
import { RecordingBackend } from '../../../test/builders/recording-backend.ts';

const targets = ['node1', 'node2', 'node3'].map((name, i) => ({ name, addresses: [`10.0.0.${11 + i}`] }));
const down = new Set<string>();
const prober = (p: ProbeSpec): Promise<{ ok: boolean; reason: string }> =>
  Promise.resolve(down.has(p.address) ? { ok: false, reason: 'HTTP 503' } : { ok: true, reason: 'HTTP 200' });

let dp: ProxyDataplane | undefined;
afterEach(async () => {
  down.clear();
  await dp?.close();
  dp = undefined;
});

async function started(): Promise<{ dp: ProxyDataplane; backend: RecordingBackend; events: DataplaneEvent[] }> {
  const backend = new RecordingBackend();
  dp = new ProxyDataplane({
    backend,
    vipInterface: 'none',
    prober,
    lockName: `lbp-test-${process.pid}-${Math.random()}`,
  });
  const events: DataplaneEvent[] = [];
  dp.onTransition((e) => events.push(e));
  await dp.start();
  return { dp, backend, events };
}

const targetNames = (svc: ProxyService | undefined): string[] => svc?.ports[0]?.targets.map((t) => t.name) ?? [];

describe('ProxyDataplane', () => {
  it('teardown runs every step and releases the host lock even when one fails, throwing the first failure', async () => {
    const lockName = `lbp-test-${process.pid}-${Math.random()}`;
    const backend = new RecordingBackend();
    const broken = Object.assign(backend, { destroy: () => Promise.reject(new Error('nft: table busy')) });
    const first = new ProxyDataplane({ backend: broken, vipInterface: 'none', prober, lockName });
    await first.start();
    await expect(first.teardown()).rejects.toThrow('nft: table busy');
    // the lock was released: a successor starts
    dp = new ProxyDataplane({ backend: new RecordingBackend(), vipInterface: 'none', prober, lockName });
    await dp.start();
  });

  it('forwards to the targets that pass their first check, and reports it in status', async () => {
    down.add('10.0.0.12');
    const { dp, backend } = await started();
    const st = await dp.ensureService('default/web', ['10.1.0.10'], aLoadBalancer({ targets }));
    expect(st).toMatchObject({
      backend: 'userspace',
      healthyTargets: ['node1', 'node3'],
      failOpen: false,
      changed: true,
    });
    expect(targetNames(backend.last[0])).toEqual(['node1', 'node3']);
  });

  it('reports changed only when what was asked for changed', async () => {
    const { dp } = await started();
    const lb = aLoadBalancer({ targets });
    expect((await dp.ensureService('default/web', ['10.1.0.10'], lb)).changed).toBe(true);
    expect((await dp.ensureService('default/web', ['10.1.0.10'], lb)).changed).toBe(false);
    expect((await dp.ensureService('default/web', ['10.1.0.11'], lb)).changed).toBe(true);
  });

  it('fails open with an event when every target is down, and closed when annotated', async () => {
    for (const t of targets) down.add(t.addresses[0]!);
    const { dp, backend, events } = await started();
    const open = await dp.ensureService('default/web', ['10.1.0.10'], aLoadBalancer({ targets }));
    expect(open.failOpen).toBe(true);
    expect(targetNames(backend.last[0])).toEqual(['node1', 'node2', 'node3']);
    expect(events).toContainEqual({ kind: 'FailOpen', service: 'default/web', active: true });
    const closed = await dp.ensureService(
      'default/web',
      ['10.1.0.10'],
      aLoadBalancer({ targets, annotations: { [FAIL_MODE]: 'closed' } }),
    );
    expect(closed.ports).toEqual([{ port: 80, protocol: 'TCP', error: 'NoHealthyTargets' }]);
    expect(targetNames(backend.last[0])).toEqual([]);
  });

  it('updates targets on node churn and forgets a removed Service', async () => {
    const { dp, backend } = await started();
    await dp.ensureService('default/web', ['10.1.0.10'], aLoadBalancer({ targets }));
    await dp.updateTargets('default/web', aLoadBalancer({ targets: targets.slice(0, 1) }));
    expect(targetNames(backend.last[0])).toEqual(['node1']);
    await dp.removeService('default/web');
    expect(backend.last).toEqual([]);
    expect(dp.status('default/web')).toBeUndefined();
  });

  it('rejects a bad annotation before changing anything', async () => {
    const { dp, backend } = await started();
    const applies = backend.applies.length;
    await expect(
      dp.ensureService('default/web', [], aLoadBalancer({ targets, annotations: { [FAIL_MODE]: 'maybe' } })),
    ).rejects.toMatchObject({ name: 'InvalidAnnotationError', reason: 'InvalidAnnotation' });
    expect(backend.applies.length).toBe(applies);
  });

  it('coalesces a burst of changes into few applies', async () => {
    const { dp, backend } = await started();
    const before = backend.applies.length;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        dp.ensureService(`default/s${i}`, [`10.1.0.${i}`], aLoadBalancer({ targets })),
      ),
    );
    expect(backend.last).toHaveLength(20);
    expect(backend.applies.length - before).toBeLessThanOrEqual(3);
  });
});
