/**
 * The provider contract: the one interface every load-balancer back end (aws, azure, local, fake)
 * implements. The controller calls it from its workers; all methods must be idempotent and honour the
 * AbortSignal (the controller aborts on shutdown and when it loses leadership).
 *
 * Semantics (see ARCHITECTURE.md, "The flow of one Service"):
 *  - allocate() (optional) reserves what must be recorded on the Service before anything is built
 *    (the local provider's IP addresses). It is pure bookkeeping, in memory; what it returns is written
 *    to the Service in the same metadata patch as the finalizer. It is called again on every sync and must
 *    return the same allocation for the same Service.
 *  - restore() (optional) is called once after the caches have fully synced and before the first
 *    allocate(), with what every existing Service has recorded, so a restart never reassigns an address.
 *  - ensure() creates or converges the load balancer and returns its status. With nothing changed it
 *    makes no mutating calls and reports changed=false.
 *  - updateTargets() is the cheap path for node churn: only the target set of lb changed.
 *  - delete() is always called on cleanup, even when nothing seems to exist: leftovers of a half-built
 *    load balancer are found by ownership tags. It also releases what allocate() reserved.
 *  - list() returns every load balancer this cluster owns (orphan collection, tests for leaks).
 */
import type { DesiredLoadBalancer, IngressPoint, IpMode, LoadBalancerRef } from './model/desired.ts';
import type { HealthCheckRules } from './model/health-check.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import type { InvolvedObject } from './kube/events.ts';
import type { Logger } from 'pino';

export type { DesiredLoadBalancer, IngressPoint, IpMode, LoadBalancerRef, PortStatus } from './model/desired.ts';
export type { HealthCheckRules, HealthCheckTiming } from './model/health-check.ts';
export {
  InvalidAnnotationError,
  InvalidSpecError,
  NotOwnedError,
  ProviderError,
  QuotaExceededError,
  RetryAfterError,
  isProviderError,
} from './model/errors.ts';

export interface LoadBalancerStatus {
  ingress: IngressPoint[];
  /** things the user should know (an NLB replaced, a rule not managed): each becomes a Warning Event */
  warnings?: string[];
  /** false while the load balancer is still provisioning; the condition then says why */
  ready: boolean;
  /** a stable human message for the Ready condition (no counts that flap) */
  message?: string;
  /** did this call change anything in the provider (drives Events: a no-op sync records none) */
  changed: boolean;
}

/** What allocate() reserved: written to the Service's annotations in the finalizer patch. */
export interface Allocation {
  /** annotation key -> value; a null value removes the annotation */
  annotations: Record<string, string | null>;
}

/** What a Service recorded about an earlier allocation, handed to restore() after a restart. */
export interface RecordedAllocation {
  ref: LoadBalancerRef;
  lb: DesiredLoadBalancer;
}

/** Facts about a provider the controller and the model need. */
export interface ProviderCapabilities {
  /** nodes are mapped to cloud instances through spec.providerID; nodes without one are not targets */
  mapsNodesByProviderID: boolean;
  /** the data plane sends traffic to NodePorts (false for announced data planes: L2, BGP, none) */
  needsNodePorts: boolean;
  /** ipMode written on ingress entries that carry an ip */
  ipMode: IpMode;
}

/** What the controller offers a provider that needs Kubernetes-side work of its own (pools, CRDs). */
export interface ProviderContext {
  /** the controller's own credentials, for providers with Kubernetes objects of their own (IPPools) */
  kubeConfig: KubeConfig;
  log: Logger;
  /** sync these Services again (e.g. an exhausted pool freed an address) */
  requeue(keys: readonly string[]): void;
  /** sync every Service this provider owns (e.g. the pool set changed) */
  requeueAll(): void;
  /** record an Event on a Service (`namespace/name`), deduplicated like the controller's own */
  event(key: string, type: 'Normal' | 'Warning', reason: string, message: string): void;
  /** record an Event on an object of the provider's own (an IPPool), deduplicated the same way */
  objectEvent(involved: InvolvedObject, type: 'Normal' | 'Warning', reason: string, message: string): void;
  signal: AbortSignal;
}

/**
 * One change a provider would make to converge a load balancer. Cloud providers work as observe -> plan
 * -> apply: one read of what exists, a pure list of these steps, one applier; `lb-provisioner plan`
 * prints the list without applying it.
 */
export interface PlanStep {
  action: 'create' | 'update' | 'delete';
  /** the kind of resource: 'LoadBalancer', 'TargetGroup', 'Listener', 'SecurityGroupRule', 'Address'... */
  resource: string;
  /** its name or id (what the user finds in the cloud console) */
  name: string;
  /** what changes, in words: "port 80 -> 8080", "register i-0abc" */
  detail?: string;
}

/** One target as the load balancer's health checks see it, for `lb-provisioner status`. */
export interface TargetHealth {
  /** the node (or instance id, address) */
  target: string;
  /** the Service port it serves, when health is per port */
  port?: number;
  state: 'healthy' | 'unhealthy' | 'unknown';
  /** the provider's reason, when not healthy */
  reason?: string;
}

export interface EnsureOptions {
  /** a resync of the periodic drift pass: a provider may draw on a smaller API budget for it */
  drift?: boolean;
}

export interface LoadBalancerProvider {
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  /** how the model reads health checks for this provider: timing defaults, accepted ranges, own annotations */
  readonly healthCheck: HealthCheckRules;
  /**
   * Whether this provider, as the default, takes a class-less Service (false leaves it to another
   * controller, e.g. aws-load-balancer-controller's `aws-load-balancer-type: external`). Default true.
   */
  takesClassless?(annotations: Readonly<Record<string, string>>): boolean;
  /** annotation keys allocate() may write; cleanup removes them with the finalizer */
  readonly allocationAnnotations?: readonly string[];
  /** called once this replica leads and caches have synced, before restore() */
  start?(ctx: ProviderContext): Promise<void>;
  restore?(recorded: RecordedAllocation[]): void;
  allocate?(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<Allocation>;
  ensure(lb: DesiredLoadBalancer, signal: AbortSignal, options?: EnsureOptions): Promise<LoadBalancerStatus>;
  updateTargets(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<void>;
  /** what ensure(lb) would change now, changing nothing (an empty list: nothing to do) */
  plan?(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<PlanStep[]>;
  /** what delete(ref) would remove now, changing nothing */
  planDelete?(ref: LoadBalancerRef, signal: AbortSignal): Promise<PlanStep[]>;
  delete(ref: LoadBalancerRef, signal: AbortSignal): Promise<void>;
  /** the health of each target now, read-only (optional: status shows n/a without it) */
  targetHealth?(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<TargetHealth[]>;
  list(signal: AbortSignal): Promise<LoadBalancerRef[]>;
  /** stop background work (health checkers, timers); optional */
  close?(): Promise<void>;
}
