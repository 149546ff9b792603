/**
 * Does a Service need work from us, and from which provider? Small pure predicates, each testable alone
 * (the upstream service controller's habit). See ARCHITECTURE.md "Ownership".
 */
import type { ServiceObject } from './objects.ts';
import { LOAD_BALANCER_CLASS_PREFIX, OUR_FINALIZER, PROVIDER_ANNOTATION, UPSTREAM_FINALIZER } from './names.ts';

export interface OwnershipConfig {
  /** names of the providers this process runs */
  providers: readonly string[];
  /** the provider that takes class-less Services, if any */
  defaultProvider?: string;
  /** take only Services that name one of our classes */
  classOnly: boolean;
  /** a provider may leave some class-less Services to another controller (by their annotations) */
  takesClassless?: (provider: string, annotations: Readonly<Record<string, string>>) => boolean;
  /**
   * Another service controller (a cloud controller manager holding its Lease) is taking class-less
   * Services right now: new class-less Services are left to it, so a Service never gets two load balancers
   * and nothing is adopted from a controller still managing it. Ones we already built stay ours.
   */
  classlessTakenBy?: string;
}

export function isLoadBalancer(svc: ServiceObject): boolean {
  return svc.spec?.type === 'LoadBalancer';
}

export function isBeingDeleted(svc: ServiceObject): boolean {
  return svc.metadata?.deletionTimestamp !== undefined && svc.metadata.deletionTimestamp !== null;
}

export function hasFinalizer(svc: ServiceObject, finalizer: string): boolean {
  return svc.metadata?.finalizers?.includes(finalizer) ?? false;
}

/** The provider named by the Service's class, when the class is one of ours and that provider runs here. */
export function providerOfClass(svc: ServiceObject, cfg: OwnershipConfig): string | undefined {
  const cls = svc.spec?.loadBalancerClass;
  if (!cls?.startsWith(LOAD_BALANCER_CLASS_PREFIX)) return undefined;
  const name = cls.slice(LOAD_BALANCER_CLASS_PREFIX.length);
  return cfg.providers.includes(name) ? name : undefined;
}

/**
 * The provider that built this Service's load balancer, as recorded with our finalizer; undefined when we
 * built nothing. The upstream finalizer alone, without our annotation, belongs to another controller.
 */
export function recordedProvider(svc: ServiceObject): string | undefined {
  const recorded = svc.metadata?.annotations?.[PROVIDER_ANNOTATION];
  if (!recorded) return undefined;
  return hasFinalizer(svc, OUR_FINALIZER) || hasFinalizer(svc, UPSTREAM_FINALIZER) ? recorded : undefined;
}

/** Another controller has claimed this class-less Service (it carries the upstream finalizer, not our record). */
export function ownedByAnotherController(svc: ServiceObject): boolean {
  return hasFinalizer(svc, UPSTREAM_FINALIZER) && recordedProvider(svc) === undefined;
}

/**
 * The provider that should have a load balancer for this Service now, or undefined when none of ours
 * should. A recorded provider wins for class-less Services, so changing --default-provider never moves an
 * existing load balancer.
 */
export function wantedProvider(svc: ServiceObject, cfg: OwnershipConfig): string | undefined {
  if (!isLoadBalancer(svc) || isBeingDeleted(svc)) return undefined;
  const cls = svc.spec?.loadBalancerClass;
  if (cls) return providerOfClass(svc, cfg);
  const recorded = recordedProvider(svc);
  // A record made for a class-less Service (the upstream finalizer) keeps its provider. One made under our
  // class (our finalizer only) means the class was removed since: the default provider's turn, the same
  // end whether or not a sync saw the ClusterIP step in between (the chaos soak found the difference).
  if (recorded && hasFinalizer(svc, UPSTREAM_FINALIZER)) return cfg.providers.includes(recorded) ? recorded : undefined;
  if (cfg.classOnly || !cfg.defaultProvider || cfg.classlessTakenBy || ownedByAnotherController(svc)) return undefined;
  if (cfg.takesClassless && !cfg.takesClassless(cfg.defaultProvider, svc.metadata?.annotations ?? {})) return undefined;
  return cfg.defaultProvider;
}

/** The finalizer we put on a Service we build for: upstream's on class-less ones, ours on classed ones. */
export function finalizerFor(svc: ServiceObject): string {
  return svc.spec?.loadBalancerClass ? OUR_FINALIZER : UPSTREAM_FINALIZER;
}

/** The finalizers of ours this Service carries (both, after a class change through a type change). */
export function ourFinalizers(svc: ServiceObject): string[] {
  if (recordedProvider(svc) === undefined) return hasFinalizer(svc, OUR_FINALIZER) ? [OUR_FINALIZER] : [];
  return [OUR_FINALIZER, UPSTREAM_FINALIZER].filter((f) => hasFinalizer(svc, f));
}

/** Why a Service that looks like ours is left alone, said once to the user (log + Event). */
export interface LeftAlone {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type Decision =
  | { action: 'ignore'; why?: LeftAlone }
  | { action: 'ensure'; provider: string }
  /** clean up what `provider` built; if `then` is set, build with that provider on a later sync */
  | { action: 'cleanup'; provider: string; then?: string };

/** The whole decision for one Service. */
export function decide(svc: ServiceObject, cfg: OwnershipConfig): Decision {
  const recorded = recordedProvider(svc);
  const wanted = wantedProvider(svc, cfg);
  if (recorded !== undefined && recorded !== wanted) {
    if (!cfg.providers.includes(recorded)) return { action: 'ignore', why: providerNotRunning(svc, recorded) };
    return wanted ? { action: 'cleanup', provider: recorded, then: wanted } : { action: 'cleanup', provider: recorded };
  }
  if (wanted) return { action: 'ensure', provider: wanted };
  // our finalizer left without a record (an interrupted cleanup patch, or the record was removed)
  if (hasFinalizer(svc, OUR_FINALIZER) && recorded === undefined) {
    const byClass = providerOfClass(svc, cfg);
    if (byClass) return { action: 'cleanup', provider: byClass };
    return { action: 'ignore', why: recordRemoved(svc, cfg) };
  }
  return { action: 'ignore', ...leftToAnother(svc, cfg) };
}

/** Class-less LoadBalancer Services that our default provider would take but another controller holds. */
function leftToAnother(svc: ServiceObject, cfg: OwnershipConfig): { why?: LeftAlone } {
  if (!isLoadBalancer(svc) || isBeingDeleted(svc) || svc.spec?.loadBalancerClass) return {};
  if (cfg.classOnly || !cfg.defaultProvider) return {};
  const cls = `${LOAD_BALANCER_CLASS_PREFIX}${cfg.defaultProvider}`;
  if (ownedByAnotherController(svc)) {
    const by = finalizerManager(svc, UPSTREAM_FINALIZER);
    return {
      why: {
        type: 'Normal',
        reason: 'LeftToAnotherController',
        message: `another service controller${by ? ` (${by})` : ''} set ${UPSTREAM_FINALIZER} first, so it owns this load balancer; set spec.loadBalancerClass: ${cls} on a new Service to have it built here`,
      },
    };
  }
  if (cfg.classlessTakenBy) {
    return {
      why: {
        type: 'Normal',
        reason: 'LeftToAnotherController',
        message: `${cfg.classlessTakenBy} takes class-less Services in this cluster, so this one is left to it; set spec.loadBalancerClass: ${cls} to have it built here`,
      },
    };
  }
  return {};
}

function releaseHint(svc: ServiceObject, finalizer: string): string {
  const m = svc.metadata ?? {};
  const index = m.finalizers?.indexOf(finalizer) ?? -1;
  return `kubectl -n ${m.namespace ?? ''} patch service ${m.name ?? ''} --type=json -p '[{"op":"remove","path":"/metadata/finalizers/${index}"}]'`;
}

function providerNotRunning(svc: ServiceObject, recorded: string): LeftAlone {
  const finalizer = ourFinalizers(svc)[0] ?? UPSTREAM_FINALIZER;
  return {
    type: 'Warning',
    reason: 'ProviderNotRunning',
    message: `its load balancer was built by provider ${recorded}, which this controller does not run; run it again (--provider ${recorded}) so the load balancer is cleaned up, or, once you have deleted the load balancer yourself, release the finalizer ${finalizer}: ${releaseHint(svc, finalizer)}`,
  };
}

function recordRemoved(svc: ServiceObject, cfg: OwnershipConfig): LeftAlone {
  const name = svc.metadata?.name ?? '';
  const ns = svc.metadata?.namespace ?? '';
  return {
    type: 'Warning',
    reason: 'UnknownProvider',
    message: `it carries the finalizer ${OUR_FINALIZER} but the annotation ${PROVIDER_ANNOTATION} that names the provider was removed, so nothing can clean up its load balancer; restore it (kubectl -n ${ns} annotate service ${name} ${PROVIDER_ANNOTATION}=<${cfg.providers.join('|')}>), or, once you have deleted the load balancer yourself, release the finalizer: ${releaseHint(svc, OUR_FINALIZER)}`,
  };
}

/**
 * The field manager that added a finalizer, from managedFields (the apiserver records who set each list
 * item); undefined when unknown.
 */
export function finalizerManager(svc: ServiceObject, finalizer: string): string | undefined {
  const needle = `v:${JSON.stringify(finalizer)}`;
  for (const entry of svc.metadata?.managedFields ?? []) {
    const finalizers = (
      entry.fieldsV1 as { 'f:metadata'?: { 'f:finalizers'?: Record<string, unknown> } } | undefined
    )?.['f:metadata']?.['f:finalizers'];
    if (finalizers && needle in finalizers) return entry.manager;
  }
  return undefined;
}
