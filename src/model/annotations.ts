/**
 * The provider-neutral annotations: one table, read through `annotationValue`, and rendered into the
 * README by `npm run docs:readme`. Providers keep their own tables (providers/<name>/annotations.ts).
 */
import type { AnnotationSpec } from './annotation-spec.ts';
import { GROUP } from './names.ts';

export const HEALTH_CHECK_PROTOCOL = `${GROUP}/health-check-protocol`;
export const HEALTH_CHECK_PORT = `${GROUP}/health-check-port`;
export const HEALTH_CHECK_PATH = `${GROUP}/health-check-path`;
export const HEALTH_CHECK_INTERVAL = `${GROUP}/health-check-interval`;
export const HEALTH_CHECK_TIMEOUT = `${GROUP}/health-check-timeout`;
export const HEALTH_CHECK_HEALTHY_THRESHOLD = `${GROUP}/health-check-healthy-threshold`;
export const HEALTH_CHECK_UNHEALTHY_THRESHOLD = `${GROUP}/health-check-unhealthy-threshold`;
export const LOAD_BALANCER_SOURCE_RANGES = 'service.beta.kubernetes.io/load-balancer-source-ranges';

export const controllerAnnotations: AnnotationSpec[] = [
  {
    key: `${GROUP}/provider`,
    provider: 'all',
    type: 'string (written by the controller)',
    default: '',
    description:
      'The provider that built the load balancer, recorded with the finalizer so cleanup finds it after the class is wiped. Do not edit.',
  },
  {
    key: HEALTH_CHECK_PROTOCOL,
    provider: 'all',
    type: 'HTTP | HTTPS | TCP',
    default: 'HTTP',
    defaultSource: 'kube-proxy /healthz (KEP-3458)',
    description: 'Protocol of the health check the load balancer runs against each node.',
  },
  {
    key: HEALTH_CHECK_PORT,
    provider: 'all',
    type: 'int | traffic-port',
    default: '10256 (Cluster) / healthCheckNodePort (Local)',
    defaultSource: 'upstream service controller',
    description:
      'Node port the health check targets. `traffic-port` checks each Service port on its own nodePort (TCP connect unless the protocol says HTTP).',
  },
  {
    key: HEALTH_CHECK_PATH,
    provider: 'all',
    type: 'string',
    default: '/healthz',
    description: 'HTTP path of the health check (HTTP and HTTPS only).',
  },
  {
    key: HEALTH_CHECK_INTERVAL,
    provider: 'all',
    type: 'int (seconds, 1-300)',
    default: '(provider default)',
    description: 'Seconds between health checks of one node.',
  },
  {
    key: HEALTH_CHECK_TIMEOUT,
    provider: 'all',
    type: 'int (seconds, 1-120)',
    default: '(provider default)',
    description: 'Seconds before one health check counts as failed.',
  },
  {
    key: HEALTH_CHECK_HEALTHY_THRESHOLD,
    provider: 'all',
    type: 'int (1-10)',
    default: '(provider default)',
    description: 'Consecutive successes before a node gets traffic again.',
  },
  {
    key: HEALTH_CHECK_UNHEALTHY_THRESHOLD,
    provider: 'all',
    type: 'int (1-10)',
    default: '(provider default)',
    description: 'Consecutive failures before a node is taken out of rotation.',
  },
  {
    key: LOAD_BALANCER_SOURCE_RANGES,
    provider: 'all',
    type: 'comma list of CIDRs',
    default: '(everyone)',
    defaultSource: 'Kubernetes core',
    description: 'Alternative to spec.loadBalancerSourceRanges (which wins when both are set).',
  },
];
