/** Builders for tests of the proxy data plane (unit and e2e). */
import type { DesiredLoadBalancer, PortSpec, TargetNode } from '../../src/model/desired.ts';
import { desiredLoadBalancerFor } from './load-balancer.ts';

export interface LbBuilderInput {
  name?: string;
  ports?: Array<Partial<PortSpec> & { port: number; nodePort?: number }>;
  targets?: Array<{ name: string; addresses: string[] }>;
  policy?: 'Cluster' | 'Local';
  healthCheckNodePort?: number;
  sourceRanges?: string[];
  affinity?: boolean;
  annotations?: Record<string, string>;
  healthPort?: number | 'traffic-port';
  healthProtocol?: 'HTTP' | 'TCP';
}

export function aLoadBalancer(input: LbBuilderInput = {}): DesiredLoadBalancer {
  const name = input.name ?? 'web';
  const ports: PortSpec[] = (input.ports ?? [{ port: 80, nodePort: 30080 }]).map((p) => ({
    name: p.name ?? `p${p.port}`,
    protocol: p.protocol ?? 'TCP',
    port: p.port,
    ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
  }));
  const targets: TargetNode[] = (input.targets ?? []).map((t) => ({ ...t, labels: {} }));
  const local = input.policy === 'Local';
  const port = input.healthPort ?? (local ? (input.healthCheckNodePort ?? 32000) : 10256);
  const protocol = input.healthProtocol ?? (port === 'traffic-port' ? 'TCP' : 'HTTP');
  return desiredLoadBalancerFor(name, {
    ports,
    targets,
    healthCheck: {
      protocol,
      port,
      ...(protocol === 'TCP' ? {} : { path: '/healthz' }),
      intervalSeconds: 1,
      timeoutSeconds: 1,
      healthyThreshold: 2,
      unhealthyThreshold: 2,
    },
    externalTrafficPolicy: local ? 'Local' : 'Cluster',
    ...(local ? { healthCheckNodePort: input.healthCheckNodePort ?? 32000 } : {}),
    sourceRanges: input.sourceRanges ?? [],
    sessionAffinity: { type: input.affinity ? 'ClientIP' : 'None', timeoutSeconds: 10800 },
    annotations: input.annotations ?? {},
  });
}
