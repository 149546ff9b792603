import { describe, expect, it } from '@jest/globals';
import { aService } from '../../test/builders/service.ts';
import type { DesiredLoadBalancer } from '../provider.ts';
import type { ServiceObject } from '../model/objects.ts';
import { diffRecorded } from './plan.ts';

const lbWith = (...ports: [number, 'TCP' | 'UDP'][]): DesiredLoadBalancer =>
  ({
    ports: ports.map(([port, protocol]) => ({ name: '', port, protocol, nodePort: 30000 + port })),
  }) as DesiredLoadBalancer;

/** A Service as the controller left it: status ports and a Ready condition. */
function synced(
  ports: [number, string][],
  ready: { status: 'True' | 'False'; reason?: string; message?: string } = { status: 'True' },
): ServiceObject {
  const svc = aService('web').withPorts(80).build() as ServiceObject;
  svc.status = {
    loadBalancer: { ingress: [{ ip: '192.0.2.1', ports: ports.map(([port, protocol]) => ({ port, protocol })) }] },
    conditions: [
      {
        type: 'lbprovisioner.io/LoadBalancerReady',
        status: ready.status,
        reason: ready.reason ?? 'Provisioned',
        message: ready.message ?? 'the load balancer is ready',
        lastTransitionTime: '2026-01-01T00:00:00Z',
        observedGeneration: 1,
      },
    ],
  };
  return svc;
}

describe('plan for a provider without a plan of its own: desired against what the Service records', () => {
  it('nothing when the recorded ports are the desired ones', () => {
    expect(diffRecorded('default/web', synced([[80, 'TCP']]), lbWith([80, 'TCP']))).toEqual([]);
  });

  it('a port added and a port removed are steps with the diff', () => {
    expect(
      diffRecorded(
        'default/web',
        synced([
          [80, 'TCP'],
          [53, 'UDP'],
        ]),
        lbWith([80, 'TCP'], [443, 'TCP']),
      ),
    ).toEqual([
      { action: 'create', resource: 'Port', name: '443/TCP', detail: '+ 443/TCP -> nodePort 30443' },
      { action: 'delete', resource: 'Port', name: '53/UDP', detail: '- 53/UDP' },
    ]);
  });

  it('a protocol change is a port removed and one added', () => {
    const steps = diffRecorded('default/web', synced([[53, 'TCP']]), lbWith([53, 'UDP']));
    expect(steps.map((s) => `${s.action} ${s.name}`)).toEqual(['create 53/UDP', 'delete 53/TCP']);
  });

  it('a failed last sync is an update: the controller retries it', () => {
    const svc = synced([[80, 'TCP']], { status: 'False', reason: 'QuotaExceeded', message: 'no address left' });
    expect(diffRecorded('default/web', svc, lbWith([80, 'TCP']))).toEqual([
      {
        action: 'update',
        resource: 'LoadBalancer',
        name: 'default/web',
        detail: 'retry: QuotaExceeded: no address left',
      },
    ]);
  });

  it('a spec newer than the condition is an update, where the apiserver keeps generations', () => {
    const svc = synced([]);
    svc.metadata = { ...svc.metadata, generation: 3 };
    expect(diffRecorded('default/web', svc, lbWith([80, 'TCP']))[0]?.detail).toBe(
      'the spec changed since the last sync (generation 1 -> 3)',
    );
  });
});
