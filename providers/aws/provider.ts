/**
 * The AWS provider: one Network Load Balancer per Service, reconciled by diff. Reads first (batched),
 * then only the writes that differ, so a resync of an unchanged Service makes no mutating call.
 */
import type { Logger } from 'pino';
import { pino } from 'pino';
import { InvalidSpecError } from '../../src/provider.ts';
import type {
  DesiredLoadBalancer,
  LoadBalancerProvider,
  LoadBalancerRef,
  LoadBalancerStatus,
  ProviderCapabilities,
} from '../../src/provider.ts';
import type { HealthCheckRules } from '../../src/model/health-check.ts';
import { AwsApi, errorCode } from './aws-api.ts';
import type { LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import { deleteLoadBalancer, retireLoadBalancer, scanOwned } from './cleanup.ts';
import { AWS_ANNOTATION } from './annotations.ts';
import type { Ctx } from './context.ts';
import { ProviderCaches, TtlCache } from './context.ts';
import { nodeSecurityGroups, resolveSubnets } from './discovery.ts';
import { convergeListeners, deleteTargetGroup, readTargetGroupStates } from './listeners.ts';
import type { TargetGroupState } from './listeners.ts';
import {
  convergeLoadBalancer,
  convergeTags,
  createLoadBalancer,
  describeTags,
  findLoadBalancer,
  findLoadBalancerByArn,
  loadBalancerStatus,
  readOwnedLoadBalancer,
  wantedTags,
} from './load-balancer.ts';
import { legacyLoadBalancerName, loadBalancerName, slotOf } from './names.ts';
import { AWS_HEALTH_CHECK, awsOptions } from './options.ts';
import type { AwsProviderOptions } from './options.ts';

export type { AwsProviderOptions } from './options.ts';
import { healthPorts, planFrontendRules, planPorts, planTargets, replacementReason } from './plan.ts';
import { precheckQuotas } from './quotas.ts';
import {
  deleteSharedGroupsIfUnused,
  ensureBackendGroup,
  ensureFrontendGroup,
  ensureNodeRules,
} from './security-groups.ts';
import { ownership } from './tags.ts';
import { certificateDigest } from './certificates.ts';
import { syncTargets } from './targets.ts';

interface Owned {
  loadBalancers: string[];
  targetGroups: string[];
}

/** What the last ensure learned, so node churn needs no describe calls. */
interface KnownLoadBalancer {
  arn: string;
  name: string;
  targetGroups: TargetGroupState[];
}

export class AwsProvider implements LoadBalancerProvider {
  readonly name = 'aws';
  readonly capabilities: ProviderCapabilities = { mapsNodesByProviderID: true, needsNodePorts: true, ipMode: 'Proxy' };
  readonly healthCheck: HealthCheckRules = AWS_HEALTH_CHECK;
  readonly api: AwsApi;
  private readonly driftApi: AwsApi;
  private readonly options: AwsProviderOptions;
  private readonly log: Logger;
  private readonly caches = new ProviderCaches();
  private readonly known = new Map<string, KnownLoadBalancer>();
  /** Services ensured since start: for the others, delete() also scans tags for leftovers */
  private readonly seen = new Set<string>();
  /** target groups created for a Service and not (yet) attached to a listener */
  private readonly unattached = new Map<string, Set<string>>();
  /** Services being deleted right now */
  private readonly deleting = new Set<string>();
  /** Services whose NLB is being replaced (two may exist until the old one is gone) */
  private readonly retiring = new Set<string>();
  /** target groups of a delete in progress, so one interrupted after the NLB went is finished from memory */
  private readonly pendingDelete = new Map<string, Set<string>>();
  /** target groups by Service UID from the last tag scan (leftovers of interrupted deletes) */
  private readonly leftovers = new TtlCache<Map<string, Owned>>(30_000);

  constructor(options: AwsProviderOptions) {
    this.options = { adopt: true, quotaPrecheck: true, ...options };
    this.log = options.log ?? pino({ level: 'silent' });
    this.api = new AwsApi({
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.clients ? { clients: options.clients } : {}),
      ...(options.rates ? { rates: options.rates } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    });
    this.driftApi = this.api.withBudget(this.api.buckets.drift);
  }

  private ctx(signal: AbortSignal, drift = false): Ctx {
    return {
      api: drift ? this.driftApi : this.api,
      clusterName: this.options.clusterName,
      signal,
      log: this.log,
      changed: false,
      warnings: [],
      caches: this.caches,
      createdTargetGroups: [],
      drift,
    };
  }

  /** Where a Service's NLB may be, most likely first: what the last sync saw, then both slots, then adoption. */
  private names(ref: LoadBalancerRef, fixed?: string): string[] {
    const known = this.known.get(ref.uid)?.name;
    return [
      ...(known ? [known] : []),
      ...(fixed ? [fixed] : [loadBalancerName(ref, 0), loadBalancerName(ref, 1)]),
      ...(this.options.adopt ? [legacyLoadBalancerName(ref.uid)] : []),
    ];
  }

  /**
   * Class-less Services that ask for aws-load-balancer-controller (`external`, `nlb-ip`) are left to it;
   * with our class they are ours whatever the annotation says.
   */
  takesClassless(annotations: Readonly<Record<string, string>>): boolean {
    const type = annotations[AWS_ANNOTATION.type];
    return type !== 'external' && type !== 'nlb-ip';
  }

  /**
   * `options.drift` marks a resync of the periodic drift pass: its calls also draw on the small drift
   * budget, so repairs never crowd out real work (the controller passes it; other callers leave it out).
   */
  async ensure(
    lb: DesiredLoadBalancer,
    signal: AbortSignal,
    options: { drift?: boolean } = {},
  ): Promise<LoadBalancerStatus> {
    const ctx = this.ctx(signal, options.drift);
    this.seen.add(lb.ref.uid);
    try {
      return await this.converge(ctx, lb);
    } finally {
      // remember groups made before a failure could attach them: the next ensure or delete removes them
      const pending = this.unattached.get(lb.ref.uid) ?? new Set<string>();
      for (const arn of ctx.createdTargetGroups) pending.add(arn);
      if (pending.size > 0) this.unattached.set(lb.ref.uid, pending);
    }
  }

  private async converge(ctx: Ctx, lb: DesiredLoadBalancer): Promise<LoadBalancerStatus> {
    const ref = lb.ref;
    const opts = awsOptions(lb);
    if (lb.ports.length === 0) throw new InvalidSpecError('the Service has no ports');
    const targets = planTargets(lb, opts);

    let found = await findLoadBalancer(ctx, this.names(ref, opts.name));
    let state = found ? await readOwnedLoadBalancer(ctx, ref, this.options.adopt ?? true, found) : undefined;
    const scheme = opts.scheme ?? (found?.Scheme as 'internal' | 'internet-facing' | undefined) ?? 'internet-facing';
    const subnets = await resolveSubnets(ctx, opts.subnets, scheme);
    for (const [values, what] of [
      [opts.eipAllocations, 'Elastic IPs'],
      [opts.privateIPv4Addresses, 'private addresses'],
      [opts.ipv6Addresses, 'IPv6 addresses'],
    ] as const) {
      if (values.length > 0 && values.length !== subnets.length)
        throw new InvalidSpecError(`${values.length} ${what} for ${subnets.length} subnets; give one per subnet`);
    }

    // create-before-delete: the replacement is built in the other name slot, then the old NLB goes
    let slot = slotOf(ref, found?.LoadBalancerName);
    let retiring: LoadBalancer | undefined;
    let reason = found ? replacementReason(found, subnets, opts) : undefined;
    const derived = [loadBalancerName(ref, 0), loadBalancerName(ref, 1), legacyLoadBalancerName(ref.uid)];
    if (found && !reason && opts.name !== undefined && found.LoadBalancerName !== opts.name) {
      reason = `its name changes to ${opts.name}`;
    } else if (found && !reason && opts.name === undefined && !derived.includes(found.LoadBalancerName!)) {
      reason = `${AWS_ANNOTATION.name} was removed`;
    }
    if (found && reason) {
      if (opts.name !== undefined && found.LoadBalancerName === opts.name) {
        ctx.warnings.push(
          `the NLB needs replacing (${reason}) but ${AWS_ANNOTATION.name} fixes its name; remove it or delete and re-create the Service`,
        );
      } else {
        retiring = found;
        this.retiring.add(ref.uid);
        slot = slot === 0 ? 1 : 0;
        ctx.warnings.push(`the NLB was replaced because ${reason}; its DNS name changed`);
        found = await findLoadBalancer(ctx, [opts.name ?? loadBalancerName(ref, slot)]);
        state = found ? await readOwnedLoadBalancer(ctx, ref, this.options.adopt ?? true, found) : undefined;
        if (found && replacementReason(found, subnets, opts)) {
          throw new InvalidSpecError(
            `both name slots of this Service hold an NLB that does not match (${reason}); delete and re-create the Service`,
          );
        }
      }
    }
    if (found && !retiring && !opts.name && !this.known.has(ref.uid)) {
      // first sync since start: a replacement interrupted after the new NLB was made leaves the old one
      // in the other slot
      const other = await findLoadBalancer(ctx, [loadBalancerName(ref, slot === 0 ? 1 : 0)]);
      if (other && other.LoadBalancerArn !== found.LoadBalancerArn) {
        await readOwnedLoadBalancer(ctx, ref, this.options.adopt ?? true, other);
        retiring = other;
        this.retiring.add(ref.uid);
      }
    }
    const plans = planPorts(lb, opts, slot);
    let listenerState = state?.listeners ?? { listeners: [], targetGroups: [] };
    const tags = state?.tags ?? new Map<string, Record<string, string>>();
    const vpcId = found?.VpcId ?? subnets[0]!.vpcId;
    if (this.options.quotaPrecheck && (!found || plans.length > listenerState.listeners.length)) {
      const perZone = new Map([...targets.zones].map(([z, n]) => [z, n * plans.length]));
      await precheckQuotas(ctx, { creatingLoadBalancer: !found, listeners: plans.length, targetsPerZone: perZone });
    }

    const groups = opts.securityGroups
      ? [...opts.securityGroups]
      : [await ensureFrontendGroup(ctx, ref, vpcId, planFrontendRules(plans, opts), opts.additionalTags, !found)];
    if (opts.manageBackendSecurityGroupRules) {
      const backend = await ensureBackendGroup(ctx, vpcId);
      const nodeGroups = await nodeSecurityGroups(ctx, vpcId, this.options.nodeSecurityGroups);
      await ensureNodeRules(
        ctx,
        nodeGroups,
        backend,
        this.options.nodePortRange ?? { from: 30000, to: 32767 },
        healthPorts(plans),
      );
      groups.push(backend);
    }

    if (!found) {
      const created = await createLoadBalancer(
        ctx,
        ref,
        opts.name ?? loadBalancerName(ref, slot),
        scheme,
        subnets,
        groups,
        opts,
      );
      found = created.lb;
      listenerState = { listeners: [], targetGroups: [] };
      tags.set(found.LoadBalancerArn!, created.tags);
    }
    const lbArn = found.LoadBalancerArn!;
    await convergeLoadBalancer(ctx, found, tags.get(lbArn) ?? {}, subnets, groups, opts);
    const tgStates = await convergeListeners(
      ctx,
      ref,
      lbArn,
      vpcId,
      listenerState,
      tags,
      plans,
      opts,
      targets.instances,
    );
    const attached = new Set(tgStates.map((t) => t.arn));
    for (const arn of this.unattached.get(ref.uid) ?? []) if (!attached.has(arn)) await deleteTargetGroup(ctx, arn);
    this.unattached.delete(ref.uid);
    ctx.createdTargetGroups = [];

    await convergeTags(ctx, wantedTags(ref, lbArn, tgStates, opts, certificateDigest(plans)), tags);

    if (retiring) {
      await retireLoadBalancer(ctx, retiring);
      this.retiring.delete(ref.uid);
    }
    this.known.set(ref.uid, { arn: lbArn, name: found.LoadBalancerName!, targetGroups: tgStates });
    return loadBalancerStatus(ctx, found.State?.Code, found.DNSName, opts.eipAllocations);
  }

  async updateTargets(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<void> {
    const ctx = this.ctx(signal);
    const opts = awsOptions(lb);
    const { instances } = planTargets(lb, opts);
    let known = this.known.get(lb.ref.uid);
    if (!known) {
      const found = await findLoadBalancer(ctx, this.names(lb.ref, opts.name));
      if (!found) return; // nothing built yet: ensure() will register targets as it creates
      const targetGroups = await readTargetGroupStates(ctx, found.LoadBalancerArn!);
      known = { arn: found.LoadBalancerArn!, name: found.LoadBalancerName!, targetGroups };
      this.known.set(lb.ref.uid, known);
    }
    try {
      for (const tg of known.targetGroups) tg.registered = await syncTargets(ctx, tg.arn, tg.registered, instances);
    } catch (err) {
      // our picture is stale (a group replaced or deleted by hand): forget it; the next call reads afresh
      if (errorCode(err) === 'TargetGroupNotFound') this.known.delete(lb.ref.uid);
      throw err;
    }
  }

  async delete(ref: LoadBalancerRef, signal: AbortSignal): Promise<void> {
    const ctx = this.ctx(signal);
    this.deleting.add(ref.uid);
    try {
      await this.deleteOne(ctx, ref);
    } finally {
      this.deleting.delete(ref.uid);
    }
    // the cluster's shared backend group and node rule go with its last NLB; while this process knows
    // a live NLB, or another delete is running (the last one to finish checks), there is no need to ask
    if (this.known.size === 0 && this.deleting.size === 0) await deleteSharedGroupsIfUnused(ctx);
  }

  private async deleteOne(ctx: Ctx, ref: LoadBalancerRef): Promise<void> {
    // this process knows the NLB it last synced (no replacement in flight); otherwise a tag scan finds
    // every NLB and target group of the Service, in both name slots or under a fixed name
    const known = this.known.get(ref.uid);
    const trusted = this.seen.has(ref.uid) && !this.retiring.has(ref.uid);
    const nlbs: LoadBalancer[] = [];
    let scanned: Owned = { loadBalancers: [], targetGroups: [] };
    const knownNlb = trusted && known ? await findLoadBalancer(ctx, [known.name]) : undefined;
    if (knownNlb) nlbs.push(knownNlb);
    else {
      scanned = await this.scanFor(ctx, ref.uid);
      for (const arn of scanned.loadBalancers) {
        const nlb = await findLoadBalancerByArn(ctx, arn);
        if (nlb) nlbs.push(nlb);
      }
      if (nlbs.length === 0 && this.options.adopt) {
        // cloud-provider-aws's NLB for this Service, not adopted yet: ours to delete only if tagged for us
        const legacy = await findLoadBalancer(ctx, [legacyLoadBalancerName(ref.uid)]);
        const tags = legacy
          ? (await describeTags(ctx, [legacy.LoadBalancerArn!])).get(legacy.LoadBalancerArn!)
          : undefined;
        if (legacy && ownership(ref, tags ?? {}) === 'adoptable') nlbs.push(legacy);
      }
    }
    for (const extra of nlbs.slice(1)) await retireLoadBalancer(ctx, extra);
    const mine = nlbs[0];
    const pending = this.pendingDelete.get(ref.uid) ?? new Set<string>();
    for (const tg of this.known.get(ref.uid)?.targetGroups ?? []) pending.add(tg.arn);
    for (const arn of [...(this.unattached.get(ref.uid) ?? []), ...scanned.targetGroups]) pending.add(arn);
    this.pendingDelete.set(ref.uid, pending);
    await deleteLoadBalancer(
      ctx,
      ref,
      mine,
      async () => [...pending],
      (targetGroups) => {
        for (const arn of targetGroups) pending.add(arn);
      },
    );
    this.pendingDelete.delete(ref.uid);
    this.unattached.delete(ref.uid);
    this.seen.delete(ref.uid);
    this.known.delete(ref.uid);
    this.leftovers.get('scan')?.delete(ref.uid);
  }

  /** This Service's NLBs and target groups by tag, from a scan shared by deletes for a few seconds. */
  private async scanFor(ctx: Ctx, uid: string): Promise<Owned> {
    const byUid = this.leftovers.get('scan') ?? this.remember(await scanOwned(ctx));
    return byUid.get(uid) ?? { loadBalancers: [], targetGroups: [] };
  }

  private remember(scan: Awaited<ReturnType<typeof scanOwned>>): Map<string, Owned> {
    const byUid = new Map<string, Owned>();
    const entry = (uid: string): Owned => {
      let e = byUid.get(uid);
      if (!e) byUid.set(uid, (e = { loadBalancers: [], targetGroups: [] }));
      return e;
    };
    for (const lb of scan.loadBalancers) entry(lb.ref.uid).loadBalancers.push(lb.arn);
    for (const tg of scan.targetGroups) entry(tg.ref.uid).targetGroups.push(tg.arn);
    return this.leftovers.set('scan', byUid);
  }

  async list(signal: AbortSignal): Promise<LoadBalancerRef[]> {
    const ctx = this.ctx(signal);
    const scan = await scanOwned(ctx);
    this.remember(scan);
    const { loadBalancers, targetGroups, securityGroups } = scan;
    const refs = new Map<string, LoadBalancerRef>();
    for (const r of [...loadBalancers, ...targetGroups, ...securityGroups])
      if (!refs.has(r.ref.uid)) refs.set(r.ref.uid, r.ref);
    return [...refs.values()];
  }

  async close(): Promise<void> {
    this.api.destroy();
  }
}
