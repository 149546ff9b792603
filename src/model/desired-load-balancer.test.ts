import { describe, expect, it } from '@jest/globals';
import { aNode, aService } from '../../test/builders/service.ts';
import { desiredLoadBalancer, recordedLoadBalancer, type ModelOptions } from './desired-load-balancer.ts';
import { HEALTH_CHECK_INTERVAL, HEALTH_CHECK_PORT, LOAD_BALANCER_SOURCE_RANGES } from './annotations.ts';

const options: ModelOptions = {
  clusterName: 'c1',
  requireProviderID: false,
  needsNodePorts: true,
  healthCheck: { defaults: { intervalSeconds: 1, timeoutSeconds: 1, healthyThreshold: 2, unhealthyThreshold: 2 } },
};
const nodes = [aNode('n1', { ip: '10.0.0.1' }), aNode('n2', { ip: '10.0.0.2' })];

function errorOf(fn: () => unknown): { name: string; reason: string; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { name: string; reason: string; message: string };
  }
  throw new Error('expected an error');
}

describe('the desired load balancer of a Service', () => {
  it('maps every port to its nodePort on every eligible node, with HTTP /healthz on 10256 for Cluster', () => {
    const svc = aService('web').withPorts(80, [53, 'UDP']).withNodePorts().build();
    const lb = desiredLoadBalancer(svc, nodes, options);
    expect(lb.ref).toEqual({ clusterName: 'c1', namespace: 'default', name: 'web', uid: 'uid-default-web' });
    expect(lb.ports.map((p) => [p.port, p.protocol, typeof p.nodePort])).toEqual([
      [80, 'TCP', 'number'],
      [53, 'UDP', 'number'],
    ]);
    expect(lb.targets.map((t) => t.name)).toEqual(['n1', 'n2']);
    expect(lb.healthCheck).toMatchObject({ protocol: 'HTTP', port: 10256, path: '/healthz', intervalSeconds: 1 });
  });

  it('checks healthCheckNodePort for externalTrafficPolicy Local, for every protocol', () => {
    const svc = aService('dns').withPorts([53, 'UDP']).withNodePorts().local(32111).build();
    const lb = desiredLoadBalancer(svc, nodes, options);
    expect(lb.healthCheck).toMatchObject({ protocol: 'HTTP', port: 32111, path: '/healthz' });
    expect(lb.healthCheckNodePort).toBe(32111);
  });

  it('checks the traffic port with a TCP connect when the annotation asks, and reads timing annotations', () => {
    const svc = aService('web')
      .withPorts(80)
      .withNodePorts()
      .withAnnotations({ [HEALTH_CHECK_PORT]: 'traffic-port', [HEALTH_CHECK_INTERVAL]: '5' })
      .build();
    expect(desiredLoadBalancer(svc, nodes, options).healthCheck).toMatchObject({
      protocol: 'TCP',
      port: 'traffic-port',
      intervalSeconds: 5,
    });
  });

  it('refuses a malformed health-check annotation, naming it', () => {
    const svc = aService('web')
      .withPorts(80)
      .withNodePorts()
      .withAnnotations({ [HEALTH_CHECK_INTERVAL]: 'often' })
      .build();
    const err = errorOf(() => desiredLoadBalancer(svc, nodes, options));
    expect(err.reason).toBe('InvalidAnnotation');
    expect(err.message).toBe(
      `annotation ${HEALTH_CHECK_INTERVAL}: "often" is not accepted; use an integer from 1 to 300`,
    );
  });

  it('says InvalidSpec when a NodePort data plane meets a port without nodePort', () => {
    const svc = aService('web')
      .withPorts(80)
      .with((s) => (s.spec!.allocateLoadBalancerNodePorts = false))
      .build();
    const err = errorOf(() => desiredLoadBalancer(svc, nodes, options));
    expect(err.reason).toBe('InvalidSpec');
    expect(err.message).toMatch(/^spec.ports\[0\]: port 80\/TCP has no nodePort/);
    // an announced data plane does not need NodePorts
    expect(desiredLoadBalancer(svc, nodes, { ...options, needsNodePorts: false }).ports[0]).toEqual({
      name: 'tcp-80',
      protocol: 'TCP',
      port: 80,
    });
  });

  it('refuses ports the apiserver would refuse (unknown protocol, out of range, listed twice), naming spec.ports[i]', () => {
    // a Service that never passed the apiserver's validation (a stand-in store, a conversion bug) must not
    // reach a provider with protocol "tcp" or port 0
    const cases: [(s: ReturnType<ReturnType<typeof aService>['build']>) => void, string][] = [
      [(s) => (s.spec!.ports![1]!.protocol = 'tcp'), 'spec.ports[1].protocol: "tcp" is not one of TCP, UDP, SCTP'],
      [(s) => (s.spec!.ports![0]!.port = 0), 'spec.ports[0].port: 0 is not a port number (1-65535)'],
      [(s) => (s.spec!.ports![1]!.port = 65536), 'spec.ports[1].port: 65536 is not a port number (1-65535)'],
      [(s) => (s.spec!.ports![0]!.nodePort = 70000), 'spec.ports[0].nodePort: 70000 is not a port number (1-65535)'],
      [(s) => (s.spec!.ports![1]!.port = 80), 'spec.ports[1]: port 80/TCP is listed twice'],
      [(s) => (s.spec!.ports = []), 'spec.ports: the Service has no ports'],
    ];
    expect(cases.length).toBeGreaterThan(0);
    for (const [edit, message] of cases) {
      const svc = aService('web').withPorts(80, 443).withNodePorts().with(edit).build();
      const err = errorOf(() => desiredLoadBalancer(svc, nodes, options));
      expect({ reason: err.reason, message: err.message }).toEqual({ reason: 'InvalidSpec', message });
    }
    // the same port number with two protocols is fine
    const both = aService('dns').withPorts([53, 'UDP'], [53, 'TCP']).withNodePorts().build();
    expect(desiredLoadBalancer(both, nodes, options).ports).toHaveLength(2);
  });

  it('reads source ranges from the spec, else from the annotation, and names a bad one', () => {
    const fromSpec = aService('a')
      .withPorts(80)
      .withNodePorts()
      .with((s) => (s.spec!.loadBalancerSourceRanges = ['10.0.0.0/8']))
      .build();
    expect(desiredLoadBalancer(fromSpec, nodes, options).sourceRanges).toEqual(['10.0.0.0/8']);
    const fromAnnotation = aService('b')
      .withPorts(80)
      .withNodePorts()
      .withAnnotations({ [LOAD_BALANCER_SOURCE_RANGES]: '192.168.0.0/16, 2001:db8::/32' })
      .build();
    expect(desiredLoadBalancer(fromAnnotation, nodes, options).sourceRanges).toEqual([
      '192.168.0.0/16',
      '2001:db8::/32',
    ]);
    const bad = aService('c')
      .withPorts(80)
      .withNodePorts()
      .withAnnotations({ [LOAD_BALANCER_SOURCE_RANGES]: '10.0.0.300/8' })
      .build();
    expect(errorOf(() => desiredLoadBalancer(bad, nodes, options)).message).toBe(
      `annotation ${LOAD_BALANCER_SOURCE_RANGES}: "10.0.0.300/8" is not accepted; use CIDRs such as 203.0.113.0/24`,
    );
  });

  it('carries families, affinity, requested and current addresses', () => {
    const svc = aService('web')
      .withPorts(80)
      .withNodePorts()
      .dualStack()
      .with((s) => {
        s.spec!.sessionAffinity = 'ClientIP';
        s.spec!.loadBalancerIP = '192.0.2.10';
        s.status = { loadBalancer: { ingress: [{ ip: '192.0.2.10' }, { hostname: 'x.example' }] } };
      })
      .build();
    const lb = desiredLoadBalancer(svc, nodes, options);
    expect(lb.ipFamilies).toEqual(['IPv4', 'IPv6']);
    expect(lb.ipFamilyPolicy).toBe('RequireDualStack');
    expect(lb.sessionAffinity).toEqual({ type: 'ClientIP', timeoutSeconds: 10800 });
    expect(lb.requestedIPs).toEqual(['192.0.2.10']);
    expect(lb.currentIngressIPs).toEqual(['192.0.2.10']);
  });

  it('still reads what a Service recorded when its annotations have become invalid (restore after restart)', () => {
    const svc = aService('web')
      .withPorts(80)
      .withAnnotations({ [HEALTH_CHECK_INTERVAL]: 'often', 'lbprovisioner.io/allocated-ips': '192.0.2.10' })
      .with((s) => (s.status = { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } }))
      .build();
    expect(() => desiredLoadBalancer(svc, nodes, options)).toThrow();
    const recorded = recordedLoadBalancer(svc, 'c1', options.healthCheck.defaults);
    expect(recorded.ref.uid).toBe('uid-default-web');
    expect(recorded.annotations['lbprovisioner.io/allocated-ips']).toBe('192.0.2.10');
    expect(recorded.currentIngressIPs).toEqual(['192.0.2.10']);
  });
});
