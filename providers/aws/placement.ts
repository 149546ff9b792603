/**
 * Which NLB a Service keeps, under which name, and which of its NLBs go. Pure.
 *
 * A Service's NLB is looked for under every name it may have: the one this process last synced, a fixed
 * `aws-load-balancer-name`, both replacement slots, and cloud-provider-aws's name (adoption). Some changes
 * (scheme, the Elastic IP or private address of a zone that stays) need a new NLB: it is built in the other
 * slot, create-before-delete, and the old one is retired once the new one serves. Every other NLB tagged
 * for this Service is retired too, which finishes a replacement interrupted halfway (after a restart too).
 */
import { InvalidSpecError, NotOwnedError } from '../../src/model/errors.ts';
import type { LoadBalancerRef } from '../../src/model/desired.ts';
import { AWS_ANNOTATION } from './annotations.ts';
import { legacyLoadBalancerName, loadBalancerName, slotOf } from './names.ts';
import type { Slot } from './names.ts';
import type { ObservedLoadBalancer, SubnetInfo } from './observed.ts';
import type { AwsOptions, Scheme } from './options.ts';
import { replacementReason } from './plan.ts';
import { ownership } from './tags.ts';

export interface PlacementInput {
  ref: LoadBalancerRef;
  opts: AwsOptions;
  loadBalancers: ObservedLoadBalancer[];
  /** the name this process last synced the Service's NLB under */
  knownName?: string;
  adopt: boolean;
}

export interface Placement {
  /** the NLB converged in place; undefined: one is created under `name` */
  current?: ObservedLoadBalancer;
  name: string;
  /** the slot the target group names hash (a target group serves one NLB) */
  slot: Slot;
  scheme: Scheme;
  /** NLBs deleted once the current one serves, with the target groups they use */
  retire: ObservedLoadBalancer[];
  warnings: string[];
}

/** Every name a Service's NLB may have, most likely first. */
export function candidateNames(ref: LoadBalancerRef, opts: AwsOptions, knownName: string | undefined, adopt: boolean) {
  return [
    ...new Set([
      ...(knownName ? [knownName] : []),
      ...(opts.name ? [opts.name] : []),
      loadBalancerName(ref, 0),
      loadBalancerName(ref, 1),
      ...(adopt ? [legacyLoadBalancerName(ref.uid)] : []),
    ]),
  ];
}

function byPreference(input: PlacementInput): ObservedLoadBalancer[] {
  const byName = new Map(input.loadBalancers.map((l) => [l.lb.LoadBalancerName ?? '', l]));
  return candidateNames(input.ref, input.opts, input.knownName, input.adopt)
    .map((n) => byName.get(n))
    .filter((l): l is ObservedLoadBalancer => l !== undefined);
}

/** Refuse an NLB that is neither ours nor adoptable (made for this Service by cloud-provider-aws). */
function refuseForeign(ref: LoadBalancerRef, found: ObservedLoadBalancer, adopt: boolean): void {
  const whose = ownership(ref, found.tags);
  if (whose === 'ours' || (whose === 'adoptable' && adopt)) return;
  if (whose === 'adoptable') {
    throw new NotOwnedError(
      `NLB ${found.lb.LoadBalancerName} was made for this Service by another controller and adoption is off (--aws-adopt)`,
    );
  }
  throw new NotOwnedError(
    `NLB ${found.lb.LoadBalancerName} belongs to ${whose === 'other-cluster' ? 'another cluster' : 'another Service'}; refusing to touch it`,
  );
}

/**
 * The scheme the NLB will have: the annotation's, else the existing NLB's (an existing NLB keeps its scheme
 * when the annotation is absent), else internet-facing. Subnets are discovered for it, before `place`.
 */
export function plannedScheme(input: PlacementInput): Scheme {
  const first = byPreference(input)[0];
  if (first) refuseForeign(input.ref, first, input.adopt);
  return input.opts.scheme ?? (first?.lb.Scheme as Scheme | undefined) ?? 'internet-facing';
}

export function place(input: PlacementInput, subnets: SubnetInfo[]): Placement {
  const { ref, opts } = input;
  const scheme = plannedScheme(input);
  const candidates = byPreference(input);
  const first = candidates[0];
  if (!first) return { name: opts.name ?? loadBalancerName(ref, 0), slot: 0, scheme, retire: [], warnings: [] };

  const derived = [loadBalancerName(ref, 0), loadBalancerName(ref, 1), legacyLoadBalancerName(ref.uid)];
  const firstName = first.lb.LoadBalancerName ?? '';
  let reason = replacementReason(first.lb, subnets, opts);
  if (!reason && opts.name !== undefined && firstName !== opts.name) reason = `its name changes to ${opts.name}`;
  else if (!reason && opts.name === undefined && !derived.includes(firstName))
    reason = `${AWS_ANNOTATION.name} was removed`;

  const warnings: string[] = [];
  let current: ObservedLoadBalancer | undefined = first;
  let slot = slotOf(ref, firstName);
  let name = firstName;
  if (reason && opts.name !== undefined && firstName === opts.name) {
    warnings.push(
      `the NLB needs replacing (${reason}) but ${AWS_ANNOTATION.name} fixes its name; remove it or delete and re-create the Service`,
    );
  } else if (reason) {
    slot = slot === 0 ? 1 : 0;
    name = opts.name ?? loadBalancerName(ref, slot);
    current = candidates.find((l) => l.lb.LoadBalancerName === name);
    if (current) {
      refuseForeign(ref, current, input.adopt);
      if (replacementReason(current.lb, subnets, opts)) {
        throw new InvalidSpecError(
          `both name slots of this Service hold an NLB that does not match (${reason}); delete and re-create the Service`,
        );
      }
    }
    warnings.push(`the NLB was replaced because ${reason}; its DNS name changed`);
  }
  // the replaced NLB, and any other NLB tagged for this Service (a replacement interrupted halfway); an
  // NLB under a name we may not touch, or cloud-provider-aws's while ours exists, is left alone
  const retire = candidates.filter(
    (l) => l !== current && ((reason && l === first) || ownership(ref, l.tags) === 'ours'),
  );
  return { ...(current ? { current } : {}), name, slot, scheme, retire, warnings };
}
