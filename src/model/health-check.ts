/**
 * The health check a load balancer runs against each node. Defaults for every provider (see
 * ARCHITECTURE.md): Cluster -> HTTP /healthz on kube-proxy's 10256 (it also fails on nodes tainted for
 * deletion or being deleted), for every protocol, UDP included, since a TCP connect can't check a UDP
 * NodePort; Local -> HTTP /healthz on healthCheckNodePort, so only nodes with ready endpoints get traffic.
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
import { InvalidAnnotationError } from '../provider.ts';
import { intAnnotation } from './parse.ts';

/** Timing defaults differ per provider (a cloud's minimums, the local proxy's 2 s failover). */
export interface HealthCheckTiming {
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export function healthCheckFor(svc: ServiceObject, timing: HealthCheckTiming): HealthCheck {
  const a = svc.metadata?.annotations ?? {};
  const local = svc.spec?.externalTrafficPolicy === 'Local';
  const protocolRaw = a[HEALTH_CHECK_PROTOCOL];
  if (protocolRaw !== undefined && !['HTTP', 'HTTPS', 'TCP'].includes(protocolRaw.toUpperCase())) {
    throw new InvalidAnnotationError(
      HEALTH_CHECK_PROTOCOL,
      `${JSON.stringify(protocolRaw)} is not one of HTTP, HTTPS, TCP`,
    );
  }
  const portRaw = a[HEALTH_CHECK_PORT];
  let port: HealthCheck['port'];
  if (portRaw === undefined) {
    port = local && svc.spec?.healthCheckNodePort ? svc.spec.healthCheckNodePort : KUBE_PROXY_HEALTH_PORT;
  } else if (portRaw === 'traffic-port') {
    port = 'traffic-port';
  } else {
    port = intAnnotation(a, HEALTH_CHECK_PORT, 1, 65535) ?? KUBE_PROXY_HEALTH_PORT;
  }
  // checking the traffic port without an explicit protocol means a TCP connect, like cloud providers do
  const protocol = (protocolRaw?.toUpperCase() ??
    (port === 'traffic-port' ? 'TCP' : 'HTTP')) as HealthCheck['protocol'];
  const check: HealthCheck = {
    protocol,
    port,
    intervalSeconds: intAnnotation(a, HEALTH_CHECK_INTERVAL, 1, 300) ?? timing.intervalSeconds,
    timeoutSeconds: intAnnotation(a, HEALTH_CHECK_TIMEOUT, 1, 120) ?? timing.timeoutSeconds,
    healthyThreshold: intAnnotation(a, HEALTH_CHECK_HEALTHY_THRESHOLD, 1, 10) ?? timing.healthyThreshold,
    unhealthyThreshold: intAnnotation(a, HEALTH_CHECK_UNHEALTHY_THRESHOLD, 1, 10) ?? timing.unhealthyThreshold,
  };
  if (protocol !== 'TCP') check.path = a[HEALTH_CHECK_PATH] ?? '/healthz';
  return check;
}
