/**
 * What `lb-provisioner status` and `plan` read from the AWS provider, against a real moto server: each
 * target's health per port (DescribeTargetHealth), and the plan of a load balancer before it exists,
 * once converged, and after a port changed, all without a mutating call.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MotoWorld } from '../../test/aws/moto-world.ts';

const signal = new AbortController().signal;
let w: MotoWorld;

beforeAll(async () => {
  w = await MotoWorld.start('health-it');
}, 120_000);

afterAll(async () => {
  await w?.stop();
});

describe('AWS provider, read-only views for the operator commands (moto)', () => {
  it('targetHealth: nothing before the NLB exists, then one entry per node and port', async () => {
    const lb = w.service('health', 80, 443);
    expect(await w.provider.targetHealth(lb, signal)).toEqual([]);
    await w.provider.ensure(lb, signal);
    w.calls.reset();
    const health = await w.provider.targetHealth(lb, signal);
    expect(w.calls.mutating()).toEqual([]);
    const instances = lb.targets.map((t) => t.providerID!.split('/').pop()!).sort();
    for (const port of [80, 443])
      expect(
        health
          .filter((h) => h.port === port)
          .map((h) => h.target)
          .sort(),
      ).toEqual(instances);
    for (const h of health) expect(['healthy', 'unhealthy', 'unknown']).toContain(h.state);
  }, 60_000);

  it('plan: create steps before, none when converged, the listener change after a port change; no writes', async () => {
    const lb = w.service('planned', 80);
    w.calls.reset();
    const before = await w.provider.plan(lb, signal);
    expect(before.filter((s) => s.action === 'create').map((s) => s.resource)).toEqual(
      expect.arrayContaining(['LoadBalancer', 'Listener']),
    );
    expect(w.calls.mutating()).toEqual([]);
    await w.converge(lb);
    w.calls.reset();
    expect(await w.provider.plan(lb, signal)).toEqual([]);
    lb.ports = [...lb.ports, { ...lb.ports[0]!, name: 'https', port: 443, nodePort: lb.ports[0]!.nodePort! + 1 }];
    const after = await w.provider.plan(lb, signal);
    expect(after.some((s) => s.action === 'create' && s.resource === 'Listener')).toBe(true);
    expect(w.calls.mutating()).toEqual([]);
  }, 60_000);
});
