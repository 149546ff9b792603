/**
 * The proxy data plane's own Service annotations, and the pure mapping of a DesiredLoadBalancer plus health
 * results to the ProxyService a back end forwards.
 */
import { annotationReader } from '../../../src/model/parse.ts';
import type { PortStatus } from '../../../src/provider.ts';
import type { AnnotationSpec } from '../../../src/model/annotation-spec.ts';
import type { DesiredLoadBalancer } from '../../../src/model/desired.ts';
import type { ProxyPort, ProxyService, ProxyTarget } from './types.ts';

export const PROXY_PROTOCOL = 'lbprovisioner.io/proxy-protocol';
export const FAIL_MODE = 'lbprovisioner.io/no-healthy-targets';

export const dataplaneAnnotations: AnnotationSpec[] = [
  {
    key: PROXY_PROTOCOL,
    provider: 'local',
    type: '"v2" or "none"',
    default: 'none',
    description:
      'Send a PROXY protocol v2 header to the node so the backend sees the client address (userspace proxy back end only).',
  },
  {
    key: FAIL_MODE,
    provider: 'local',
    type: '"open" or "closed"',
    default: 'open',
    defaultSource: 'cloud load balancers',
    description: 'With no healthy node: send traffic to every node (open) or refuse it (closed).',
  },
];

export interface ServiceOptions {
  proxyProtocol: boolean;
  failOpen: boolean;
}

export function serviceOptions(lb: DesiredLoadBalancer): ServiceOptions {
  const a = annotationReader(lb.annotations);
  const pp = a.oneOf(PROXY_PROTOCOL, ['v2', 'none'], { ignoreCase: true }) ?? 'none';
  const fm = a.oneOf(FAIL_MODE, ['open', 'closed'], { ignoreCase: true }) ?? 'open';
  return { proxyProtocol: pp === 'v2', failOpen: fm === 'open' };
}

/** Which health check decides a port's targets; undefined: every TCP port's check (UDP under traffic-port). */
export function checkIdForPort(lb: DesiredLoadBalancer, protocol: string, nodePort: number): string | undefined {
  if (lb.healthCheck.port !== 'traffic-port') return 'node';
  return protocol === 'TCP' ? `port:${nodePort}` : undefined;
}

export interface ForwardingPlan {
  service: ProxyService;
  ports: PortStatus[];
  /** targets healthy for every served port */
  healthyTargets: string[];
  /** some port has no healthy target and forwards to all of them anyway */
  failOpen: boolean;
}

/**
 * Decides the forwarding of one Service: per port, its healthy targets, or all of them when none is healthy
 * and the Service fails open. `healthy(checkId)` gives the healthy target names of one check.
 */
export function forwardingPlan(
  key: string,
  vips: string[],
  lb: DesiredLoadBalancer,
  healthy: (checkId: string) => Set<string>,
): ForwardingPlan {
  const opts = serviceOptions(lb);
  const ports: ProxyPort[] = [];
  const status: PortStatus[] = [];
  const tcpChecks = lb.ports.filter((p) => p.protocol === 'TCP' && p.nodePort).map((p) => `port:${p.nodePort}`);
  let failOpen = false;
  let healthyEverywhere: Set<string> | undefined;
  for (const p of lb.ports) {
    if (p.protocol === 'SCTP') {
      status.push({ port: p.port, protocol: p.protocol, error: 'ProtocolNotSupported' });
      continue;
    }
    if (p.nodePort === undefined) {
      status.push({ port: p.port, protocol: p.protocol, error: 'NodePortMissing' });
      continue;
    }
    const id = checkIdForPort(lb, p.protocol, p.nodePort);
    const ok = (t: ProxyTarget): boolean =>
      id !== undefined ? healthy(id).has(t.name) : tcpChecks.every((c) => healthy(c).has(t.name));
    const all: ProxyTarget[] = lb.targets.map((t) => ({ name: t.name, addresses: t.addresses }));
    let targets = all.filter(ok);
    const names = new Set(targets.map((t) => t.name));
    healthyEverywhere = new Set([...(healthyEverywhere ?? names)].filter((n) => names.has(n)));
    const st: PortStatus = { port: p.port, protocol: p.protocol };
    if (targets.length === 0 && all.length > 0) {
      if (opts.failOpen) {
        targets = all;
        failOpen = true;
      } else {
        st.error = 'NoHealthyTargets';
      }
    } else if (all.length === 0) {
      st.error = 'NoTargets';
    }
    status.push(st);
    ports.push({ protocol: p.protocol, port: p.port, nodePort: p.nodePort, targets });
  }
  return {
    service: {
      key,
      vips,
      ports,
      sourceRanges: lb.sourceRanges,
      affinity: { type: lb.sessionAffinity.type, timeoutSeconds: lb.sessionAffinity.timeoutSeconds },
      proxyProtocol: opts.proxyProtocol,
    },
    ports: status,
    healthyTargets: [...(healthyEverywhere ?? [])].sort(),
    failOpen,
  };
}
