/** Names the project writes on Kubernetes objects. One place, so a rename is one edit. */

export const GROUP = 'lbprovisioner.io';

/** The finalizer on class-less Services: we act as the cloud controller there, like upstream. */
export const UPSTREAM_FINALIZER = 'service.kubernetes.io/load-balancer-cleanup';
/**
 * The finalizer on Services with our class. An upstream service controller running beside us cleans up
 * any Service carrying the upstream finalizer when it is deleted, whatever its class, so ours differ.
 */
export const OUR_FINALIZER = `${GROUP}/load-balancer-cleanup`;

/** Which of our providers built the load balancer; written in the same patch as the finalizer. */
export const PROVIDER_ANNOTATION = `${GROUP}/provider`;

/** The Service condition we own. */
export const READY_CONDITION = `${GROUP}/LoadBalancerReady`;

export const LOAD_BALANCER_CLASS_PREFIX = `${GROUP}/`;

export function classOf(provider: string): string {
  return `${LOAD_BALANCER_CLASS_PREFIX}${provider}`;
}

/** Nodes carrying this label are never load-balancer targets (upstream semantics: any value). */
export const EXCLUDE_FROM_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';
/** The cluster autoscaler's taint on nodes it is about to delete. */
export const TO_BE_DELETED_TAINT = 'ToBeDeletedByClusterAutoscaler';

/** kube-proxy's health port: /healthz fails there on nodes being deleted or tainted for deletion. */
export const KUBE_PROXY_HEALTH_PORT = 10256;
