/**
 * The health check a load balancer runs against each node, parsed once for every provider. Defaults (see
 * ARCHITECTURE.md): Cluster -> HTTP /healthz on kube-proxy's 10256 (it also fails on nodes tainted for
 * deletion or being deleted), for every protocol, UDP included, since a TCP connect can't check a UDP
 * NodePort; Local -> HTTP /healthz on healthCheckNodePort, so only nodes with ready endpoints get traffic.
 *
 * A provider gives its timing defaults, the ranges its cloud accepts, and the annotations of its own that
 * mean the same fields (AWS's aws-load-balancer-healthcheck-*): those win over ours, and a value out of
 * range names the annotation it came from.
 */
import type { HealthCheck } from './desired.ts';
import type { ServiceObject } from './objects.ts';
import {
  HEALTH_CHECK_HEALTHY_THRESHOLD,
  HEALTH_CHECK_INTERVAL,
  HEALTH_CHECK_PATH,
  HEALTH_CHECK_PORT,
  HEALTH_CHECK_PROTOCOL,
  HEALTH_CHECK_TIMEOUT,
  HEALTH_CHECK_UNHEALTHY_THRESHOLD,
} from './annotations.ts';
import { KUBE_PROXY_HEALTH_PORT } from './names.ts';
import { annotationReader } from './parse.ts';

/** Timing defaults differ per provider (a cloud's minimums, the local proxy's 2 s failover). */
export interface HealthCheckTiming {
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export type HealthCheckField = 'protocol' | 'port' | 'path' | keyof HealthCheckTiming;

/** How one provider reads health checks. */
export interface HealthCheckRules {
  defaults: HealthCheckTiming;
  /** inclusive ranges this provider's load balancer accepts (GENERIC_BOUNDS when absent) */
  bounds?: Partial<Record<keyof HealthCheckTiming, readonly [number, number]>>;
  /** the provider's own annotation for a field; when set it wins over ours */
  aliases?: Partial<Record<HealthCheckField, string>>;
}

export const GENERIC_BOUNDS: Record<keyof HealthCheckTiming, readonly [number, number]> = {
  intervalSeconds: [1, 300],
  timeoutSeconds: [1, 120],
  healthyThreshold: [1, 10],
  unhealthyThreshold: [1, 10],
};

const OURS: Record<HealthCheckField, string> = {
  protocol: HEALTH_CHECK_PROTOCOL,
  port: HEALTH_CHECK_PORT,
  path: HEALTH_CHECK_PATH,
  intervalSeconds: HEALTH_CHECK_INTERVAL,
  timeoutSeconds: HEALTH_CHECK_TIMEOUT,
  healthyThreshold: HEALTH_CHECK_HEALTHY_THRESHOLD,
  unhealthyThreshold: HEALTH_CHECK_UNHEALTHY_THRESHOLD,
};

const TIMING_FIELDS = ['intervalSeconds', 'timeoutSeconds', 'healthyThreshold', 'unhealthyThreshold'] as const;

export function healthCheckFor(svc: ServiceObject, rules: HealthCheckRules): HealthCheck {
  const a = annotationReader(svc.metadata?.annotations);
  /** the annotation a field is read from: the provider's own when set, else ours */
  const source = (field: HealthCheckField): string => {
    const alias = rules.aliases?.[field];
    return alias !== undefined && a.has(alias) ? alias : OURS[field];
  };
  const local = svc.spec?.externalTrafficPolicy === 'Local';
  const protocolRaw = a.oneOf(source('protocol'), ['HTTP', 'HTTPS', 'TCP'] as const, { ignoreCase: true });
  const portKey = source('port');
  let port: HealthCheck['port'];
  if (!a.has(portKey)) {
    port = local && svc.spec?.healthCheckNodePort ? svc.spec.healthCheckNodePort : KUBE_PROXY_HEALTH_PORT;
  } else if (a.string(portKey) === 'traffic-port') {
    port = 'traffic-port';
  } else {
    port = a.int(portKey, { min: 1, max: 65535, also: 'traffic-port' }) ?? KUBE_PROXY_HEALTH_PORT;
  }
  // checking the traffic port without an explicit protocol means a TCP connect, like cloud providers do
  const protocol = protocolRaw ?? (port === 'traffic-port' ? 'TCP' : 'HTTP');
  const timing = {} as HealthCheckTiming;
  for (const field of TIMING_FIELDS) {
    const [min, max] = rules.bounds?.[field] ?? GENERIC_BOUNDS[field];
    timing[field] = a.int(source(field), { min, max }) ?? rules.defaults[field];
  }
  if (timing.timeoutSeconds > timing.intervalSeconds) {
    const key = a.has(source('timeoutSeconds')) ? source('timeoutSeconds') : source('intervalSeconds');
    a.reject(
      key,
      a.string(key) ?? '',
      `a timeout (${timing.timeoutSeconds} s) no longer than the interval (${timing.intervalSeconds} s)`,
    );
  }
  const check: HealthCheck = { protocol, port, ...timing };
  if (protocol !== 'TCP') {
    const pathKey = source('path');
    const path = a.string(pathKey) ?? '/healthz';
    if (!path.startsWith('/')) a.reject(pathKey, path, 'a path that starts with /');
    check.path = path;
  }
  return check;
}
