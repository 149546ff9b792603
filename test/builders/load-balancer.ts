/** Builders for DesiredLoadBalancer values: `aLoadBalancer('web').withPorts(80, 443).withTargets('n1')`. */
import { randomUUID } from 'node:crypto';
import type { DesiredLoadBalancer, PortSpec, Protocol, TargetNode } from '../../src/model/desired.ts';

/**
 * The one baseline DesiredLoadBalancer for tests: Service default/<name> (uid `uid-<name>`), TCP 80 on
 * nodePort 30080, no targets, HTTP /healthz on 10256, single-stack IPv4. Override what the story needs.
 */
export function desiredLoadBalancerFor(
  name: string,
  overrides: Partial<DesiredLoadBalancer> = {},
): DesiredLoadBalancer {
  return {
    ref: { clusterName: 'test', namespace: 'default', name, uid: `uid-${name}` },
    ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }],
    targets: [],
    healthCheck: {
      protocol: 'HTTP',
      port: 10256,
      path: '/healthz',
      intervalSeconds: 10,
      timeoutSeconds: 5,
      healthyThreshold: 2,
      unhealthyThreshold: 2,
    },
    externalTrafficPolicy: 'Cluster',
    sourceRanges: [],
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    sessionAffinity: { type: 'None', timeoutSeconds: 10800 },
    requestedIPs: [],
    currentIngressIPs: [],
    labels: {},
    annotations: {},
    namespaceLabels: {},
    selector: { app: name },
    ...overrides,
  };
}

export class LoadBalancerBuilder {
  private readonly lb: DesiredLoadBalancer;
  private nextNodePort = 30080;

  constructor(name: string, clusterName = 'conformance') {
    this.lb = desiredLoadBalancerFor(name, {
      ref: { clusterName, namespace: 'default', name, uid: randomUUID() },
      ports: [],
    });
  }

  withPorts(...ports: (number | [number, Protocol])[]): this {
    this.lb.ports = ports.map((p): PortSpec => {
      const [port, protocol] = typeof p === 'number' ? [p, 'TCP' as Protocol] : p;
      return { name: `p${port}-${protocol.toLowerCase()}`, protocol, port, nodePort: this.nextNodePort++ };
    });
    return this;
  }

  withTargets(...names: string[]): this {
    this.lb.targets = names.map((name, i): TargetNode => ({
      name,
      addresses: [`10.0.0.${i + 10}`],
      providerID: `fake:///zone-a/${name}`,
      labels: {},
      zone: 'zone-a',
    }));
    return this;
  }

  withAnnotations(annotations: Record<string, string>): this {
    this.lb.annotations = { ...this.lb.annotations, ...annotations };
    return this;
  }

  with(patch: Partial<DesiredLoadBalancer>): this {
    Object.assign(this.lb, patch);
    return this;
  }

  build(): DesiredLoadBalancer {
    return structuredClone(this.lb);
  }
}

export function aLoadBalancer(name: string, clusterName?: string): LoadBalancerBuilder {
  return new LoadBalancerBuilder(name, clusterName);
}
