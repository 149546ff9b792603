import { describe, it, expect } from '@jest/globals';
import { forwardingPlan, FAIL_MODE, PROXY_PROTOCOL } from './service-options.ts';
import { aLoadBalancer } from '../../../test/builders/proxied-load-balancer.ts';

const targets = ['node1', 'node2', 'node3'].map((name, i) => ({ name, addresses: [`10.0.0.${11 + i}`] }));
const healthyOnly =
  (...names: string[]) =>
  (): Set<string> =>
    new Set(names);

describe('forwarding plan', () => {
  it('forwards each port to the healthy targets only', () => {
    const plan = forwardingPlan(
      'default/web',
      ['10.1.0.10'],
      aLoadBalancer({ targets }),
      healthyOnly('node1', 'node3'),
    );
    expect(plan.service.ports[0]!.targets.map((t) => t.name)).toEqual(['node1', 'node3']);
    expect(plan.healthyTargets).toEqual(['node1', 'node3']);
    expect(plan.failOpen).toBe(false);
    expect(plan.ports).toEqual([{ port: 80, protocol: 'TCP' }]);
  });

  it('fails open by default when no target is healthy, closed when the annotation asks', () => {
    const open = forwardingPlan('default/web', ['10.1.0.10'], aLoadBalancer({ targets }), healthyOnly());
    expect(open.failOpen).toBe(true);
    expect(open.service.ports[0]!.targets).toHaveLength(3);
    const closed = forwardingPlan(
      'default/web',
      ['10.1.0.10'],
      aLoadBalancer({ targets, annotations: { [FAIL_MODE]: 'closed' } }),
      healthyOnly(),
    );
    expect(closed.service.ports[0]!.targets).toHaveLength(0);
    expect(closed.ports[0]!.error).toBe('NoHealthyTargets');
  });

  it('checks each TCP port on its own nodePort with traffic-port; UDP follows all TCP checks', () => {
    const lb = aLoadBalancer({
      targets,
      healthPort: 'traffic-port',
      ports: [
        { port: 80, nodePort: 30080 },
        { port: 443, nodePort: 30443 },
        { port: 53, nodePort: 30053, protocol: 'UDP' },
      ],
    });
    const health: Record<string, string[]> = { 'port:30080': ['node1', 'node2'], 'port:30443': ['node2', 'node3'] };
    const plan = forwardingPlan('default/web', ['10.1.0.10'], lb, (id) => new Set(health[id] ?? []));
    expect(plan.service.ports.map((p) => p.targets.map((t) => t.name))).toEqual([
      ['node1', 'node2'],
      ['node2', 'node3'],
      ['node2'],
    ]);
  });

  it('reports ports it cannot serve instead of failing the Service', () => {
    const lb = aLoadBalancer({ targets, ports: [{ port: 80 }, { port: 9, nodePort: 30009, protocol: 'SCTP' }] });
    const plan = forwardingPlan('default/web', ['10.1.0.10'], lb, healthyOnly('node1'));
    expect(plan.ports).toEqual([
      { port: 80, protocol: 'TCP', error: 'NodePortMissing' },
      { port: 9, protocol: 'SCTP', error: 'ProtocolNotSupported' },
    ]);
    expect(plan.service.ports).toEqual([]);
  });

  it('rejects a bad annotation with a message naming it', () => {
    const lb = aLoadBalancer({ targets, annotations: { [PROXY_PROTOCOL]: 'v1' } });
    expect(() => forwardingPlan('default/web', [], lb, healthyOnly())).toThrow(
      `annotation ${PROXY_PROTOCOL}: "v1" is not accepted; use one of v2, none`,
    );
    expect(
      forwardingPlan('default/web', [], aLoadBalancer({ annotations: { [PROXY_PROTOCOL]: 'v2' } }), healthyOnly())
        .service.proxyProtocol,
    ).toBe(true);
  });
});
