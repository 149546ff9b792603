/**
 * The AWS provider: one Network Load Balancer per Service, as observe -> plan -> apply. `ensure` reads what
 * exists once (observe.ts), builds one pure plan from it and the desired state (plan-ensure.ts), and runs
 * the plan (apply.ts); `plan` stops before running it. A resync of an unchanged Service plans nothing, so
 * it makes no mutating call. Deletes, node churn and the cluster's shared groups go the same way.
 */
import type { Logger } from 'pino';
import { pino } from 'pino';
import type {
  DesiredLoadBalancer,
  LoadBalancerProvider,
  LoadBalancerRef,
  LoadBalancerStatus,
  PlanStep,
  ProviderCapabilities,
  TargetHealth,
} from '../../src/provider.ts';
import type { HealthCheckRules } from '../../src/model/health-check.ts';
import { AWS_ANNOTATION } from './annotations.ts';
import { apply, isStaleObservation, newProgress, resolve } from './apply.ts';
import type { Progress } from './apply.ts';
import { AwsApi } from './aws-api.ts';
import type { Ctx } from './context.ts';
import { ProviderCaches, TtlCache } from './context.ts';
import { errorCode } from './error-codes.ts';
import { observe } from './observe.ts';
import { observeDelete, observeShared, observeTargets, scanOwned } from './observe-delete.ts';
import type { Scan } from './observe-delete.ts';
import { AWS_HEALTH_CHECK, awsOptions } from './options.ts';
import type { AwsOptions } from './options.ts';
import { candidateNames } from './placement.ts';
import { planDelete, planSharedCleanup } from './plan-delete.ts';
import type { ObservedDelete } from './plan-delete.ts';
import { planEnsure } from './plan-ensure.ts';
import { ProvisioningPoll } from './provisioning-poll.ts';
import { fingerprint } from '../../src/model/stable-json.ts';
import type { EnsurePlan, PlanSettings } from './plan-ensure.ts';
import { targetSteps } from './plan-listeners.ts';
import { opensToEveryone, planTargets } from './plan.ts';
import type { AwsProviderOptions } from './provider-options.ts';
import { loadBalancerStatus } from './status.ts';
import { targetHealthOf } from './target-health.ts';
import { describeStep, existing } from './steps.ts';
import type { Step } from './steps.ts';

export type { AwsProviderOptions } from './provider-options.ts';

/** What the last ensure learned, so node churn needs no describe calls. */
interface KnownLoadBalancer {
  arn: string;
  name: string;
  targetGroups: { port: number; arn: string; registered: Set<string> }[];
}

interface Owned {
  loadBalancers: string[];
  targetGroups: string[];
}

/** What a Service asks of its NLB, whatever the key order or the order its nodes were listed in. */
const specOf = (lb: DesiredLoadBalancer): string =>
  fingerprint({ ...lb, targets: [...lb.targets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) });

/** A re-plan after a create met a resource observe had not seen; more would mean something else is racing us */
const MAX_REPLANS = 2;

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
  /** Services whose last ensure finished: this process's picture of them is whole (else delete scans tags) */
  private readonly settled = new Set<string>();
  /**
   * target groups a failed ensure was deleting: most are found again by name, these also when named
   * otherwise (an adopted NLB's), so a failure after the listener moved off them loses none
   */
  private readonly leftovers = new Map<string, Set<string>>();
  /** target groups of a delete in progress, so one interrupted after the NLB went is finished from memory */
  private readonly pendingDelete = new Map<string, Set<string>>();
  /**
   * NLBs our last ensure left provisioning, with the spec it built: the controller syncs such a Service again
   * until AWS says active, and if nothing changed meanwhile one DescribeLoadBalancers tells (a full observe
   * was 7 reads per 2-port Service, and they came out of the same bucket as other Services' creates).
   */
  private readonly provisioning = new Map<
    string,
    { spec: string; arn: string; eipAddresses: string[]; warnings: string[] }
  >();
  /** rechecks of those NLBs, batched */
  private readonly poll = new ProvisioningPoll();
  /** ensures and deletes running now: the shared groups are checked only when none is */
  private busy = 0;
  /**
   * Until one ensure has gone through, what every Service shares (the VPC, its subnets, the account's limits,
   * the backend security group and the node rules) is known to no worker: eight workers starting at once
   * would each read it all and each create the backend group (seven answered "duplicate", re-planned and
   * read again). So the first ensures take turns until one succeeds; after that they run side by side.
   * The same holds for the shared open frontend group: Services open to everyone take turns until one
   * of them has made (or found) it.
   */
  private warm = false;
  /** an ensure has made or found the cluster's shared open group (cleared when the shared groups go) */
  private openShared = false;
  private coldTurn: Promise<void> = Promise.resolve();
  /** the last tag scan by Service UID (list(), or a delete this process cannot vouch for), for a few seconds */
  private readonly scans = new TtlCache<Map<string, Owned>>(30_000);

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
    const { clusterName } = this.options;
    return { api: drift ? this.driftApi : this.api, clusterName, signal, log: this.log, caches: this.caches, drift };
  }

  private settings(ref: LoadBalancerRef): PlanSettings {
    const knownName = this.known.get(ref.uid)?.name;
    return {
      clusterName: this.options.clusterName,
      adopt: this.options.adopt ?? true,
      quotaPrecheck: this.options.quotaPrecheck ?? true,
      nodePortRange: this.options.nodePortRange ?? { from: 30000, to: 32767 },
      ...(knownName ? { knownName } : {}),
    };
  }

  /**
   * Class-less Services that ask for aws-load-balancer-controller (`external`, `nlb-ip`) are left to it;
   * with our class they are ours whatever the annotation says.
   */
  takesClassless(annotations: Readonly<Record<string, string>>): boolean {
    const type = annotations[AWS_ANNOTATION.type];
    return type !== 'external' && type !== 'nlb-ip';
  }

  /** observe, then plan: what `ensure` would run, and what it needs to report afterwards */
  private async observeAndPlan(ctx: Ctx, lb: DesiredLoadBalancer, opts: AwsOptions, thorough: boolean) {
    const settings = this.settings(lb.ref);
    const observed = await observe(ctx, {
      lb,
      opts,
      settings,
      thorough,
      leftoverTargetGroups: [...(this.leftovers.get(lb.ref.uid) ?? [])],
      ...(this.options.vpcId ? { vpcId: this.options.vpcId } : {}),
      ...(this.options.nodeSecurityGroups ? { nodeSecurityGroups: this.options.nodeSecurityGroups } : {}),
    });
    return { observed, plan: planEnsure(lb, opts, observed, settings) };
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
    const opts = awsOptions(lb);
    const setUp = () => this.warm && (this.openShared || !opensToEveryone(opts));
    if (setUp()) return this.ensureNow(lb, opts, signal, options);
    const turn = this.coldTurn;
    let done!: () => void;
    this.coldTurn = new Promise<void>((resolve) => (done = resolve));
    try {
      await turn;
      if (setUp()) done(); // the one before us set up what we need: no need to wait for us
      const status = await this.ensureNow(lb, opts, signal, options);
      this.warm = true;
      return status;
    } finally {
      done();
    }
  }

  private async ensureNow(
    lb: DesiredLoadBalancer,
    opts: AwsOptions,
    signal: AbortSignal,
    options: { drift?: boolean },
  ): Promise<LoadBalancerStatus> {
    const ctx = this.ctx(signal, options.drift);
    const polled = options.drift ? undefined : await this.pollProvisioning(ctx, lb);
    if (polled) return polled;
    const progress = newProgress();
    this.settled.delete(lb.ref.uid);
    this.provisioning.delete(lb.ref.uid);
    this.busy++;
    try {
      for (let replans = 0; ; replans++) {
        const { observed, plan } = await this.observeAndPlan(ctx, lb, opts, replans > 0);
        const leftovers = this.leftovers.get(lb.ref.uid) ?? new Set<string>();
        for (const s of plan.steps) if (s.op === 'DeleteTargetGroup' && s.tg.id) leftovers.add(s.tg.id);
        if (leftovers.size > 0) this.leftovers.set(lb.ref.uid, leftovers);
        try {
          await apply(ctx, plan.steps, progress);
        } catch (err) {
          if (isStaleObservation(err) && replans < MAX_REPLANS) {
            this.log.debug(
              { service: `${lb.ref.namespace}/${lb.ref.name}`, why: (err as Error).message },
              'aws: re-planning',
            );
            continue;
          }
          throw err;
        }
        this.leftovers.delete(lb.ref.uid);
        this.rememberSync(lb, plan, progress);
        const nlb = progress.created ?? plan.current;
        // only a first build: a pass that replaced or adopted an NLB may leave the next one work to do
        const firstBuild = progress.created !== undefined && observed.loadBalancers.length === 0;
        if (firstBuild && nlb?.State?.Code !== 'active' && nlb?.LoadBalancerArn)
          this.provisioning.set(lb.ref.uid, {
            spec: specOf(lb),
            arn: nlb.LoadBalancerArn,
            eipAddresses: observed.eipAddresses,
            warnings: plan.warnings,
          });
        return loadBalancerStatus(
          nlb?.State?.Code,
          nlb?.DNSName,
          observed.eipAddresses,
          plan.warnings,
          progress.changed,
        );
      }
    } finally {
      this.busy--;
    }
  }

  /** The status of an NLB still provisioning whose Service asks for what our last ensure built; else undefined. */
  private async pollProvisioning(ctx: Ctx, lb: DesiredLoadBalancer): Promise<LoadBalancerStatus | undefined> {
    const pending = this.provisioning.get(lb.ref.uid);
    if (!pending || !this.settled.has(lb.ref.uid) || pending.spec !== specOf(lb)) return undefined;
    const others = [...this.provisioning.values()].map((p) => p.arn);
    const nlb = await this.poll.state(ctx, pending.arn, others);
    if (!nlb) return undefined; // gone meanwhile: the full ensure builds it again
    if (nlb.State?.Code === 'active') this.provisioning.delete(lb.ref.uid);
    return loadBalancerStatus(nlb.State?.Code, nlb.DNSName, pending.eipAddresses, pending.warnings, false);
  }

  /** After a plan ran: the NLB and its target sets (node churn needs no describe), and the cluster checks done. */
  private rememberSync(lb: DesiredLoadBalancer, plan: EnsurePlan, progress: Progress): void {
    this.known.set(lb.ref.uid, {
      arn: resolve(progress, plan.lb),
      name: plan.lb.name,
      targetGroups: plan.targetGroups.map(({ port, tg }) => ({
        port,
        arn: resolve(progress, tg),
        registered: new Set(plan.instances),
      })),
    });
    this.settled.add(lb.ref.uid);
    const { vpcId, backend, nodeRulesKey, open } = plan.cluster ?? {};
    if (vpcId && backend) {
      const id = resolve(progress, backend);
      this.caches.backendGroup.set(vpcId, id);
      if (nodeRulesKey) this.caches.nodeRules.set(`${vpcId}|${nodeRulesKey}`, id);
    }
    if (vpcId && open) {
      this.caches.openGroup.set(vpcId, resolve(progress, open));
      this.openShared = true;
    }
  }

  /** What ensure(lb) would change now, changing nothing. */
  async plan(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<PlanStep[]> {
    const { plan } = await this.observeAndPlan(this.ctx(signal), lb, awsOptions(lb), false);
    return plan.steps.map(describeStep);
  }

  async updateTargets(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<void> {
    const ctx = this.ctx(signal);
    const opts = awsOptions(lb);
    const { instances } = planTargets(lb, opts);
    let known = this.known.get(lb.ref.uid);
    if (!known) {
      known = await observeTargets(ctx, candidateNames(lb.ref, opts, undefined, this.options.adopt ?? true));
      if (!known) return; // nothing built yet: ensure() will register targets as it creates
      this.known.set(lb.ref.uid, known);
    }
    const steps: Step[] = known.targetGroups.flatMap((tg) =>
      targetSteps(existing(`tg:${tg.arn}`, tg.arn, tg.arn), tg.registered, instances),
    );
    try {
      await apply(ctx, steps, newProgress());
    } catch (err) {
      // our picture is stale (a group replaced or deleted by hand): forget it; the next call reads afresh
      if (errorCode(err) === 'TargetGroupNotFound') this.known.delete(lb.ref.uid);
      throw err;
    }
    for (const tg of known.targetGroups) tg.registered = new Set(instances);
    const pending = this.provisioning.get(lb.ref.uid);
    if (pending) pending.spec = specOf(lb);
  }

  /** Each target's health in its target group (DescribeTargetHealth), for `lb-provisioner status`. */
  async targetHealth(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<TargetHealth[]> {
    return targetHealthOf(
      this.ctx(signal),
      candidateNames(lb.ref, awsOptions(lb), undefined, this.options.adopt ?? true),
    );
  }

  /** What delete(ref) would remove now, changing nothing. */
  async planDelete(ref: LoadBalancerRef, signal: AbortSignal): Promise<PlanStep[]> {
    const ctx = this.ctx(signal);
    const observed = await this.observeDeletion(ctx, ref);
    const steps = planDelete(observed);
    if (this.sharedCheckDue(ref.uid)) {
      const except = {
        loadBalancers: observed.loadBalancers.map((l) => l.arn),
        ...(observed.frontendGroup ? { frontendGroup: observed.frontendGroup.id } : {}),
      };
      steps.push(...planSharedCleanup(await observeShared(ctx, except)));
    }
    return steps.map(describeStep);
  }

  async delete(ref: LoadBalancerRef, signal: AbortSignal): Promise<void> {
    const ctx = this.ctx(signal);
    this.busy++;
    try {
      const observed = await this.observeDeletion(ctx, ref);
      // remembered before the NLB goes: an interruption after it finishes from memory
      this.pendingDelete.set(ref.uid, new Set(observed.targetGroups.map((t) => t.arn)));
      await apply(ctx, planDelete(observed), newProgress());
      for (const l of observed.loadBalancers) this.poll.forget(l.arn);
      this.pendingDelete.delete(ref.uid);
      this.leftovers.delete(ref.uid);
      this.known.delete(ref.uid);
      this.settled.delete(ref.uid);
      this.provisioning.delete(ref.uid);
      this.scans.get('all')?.delete(ref.uid);
    } finally {
      this.busy--;
    }
    // the cluster's shared backend group and node rules go with the last NLB that uses them; while this
    // process knows a live NLB, or another ensure or delete runs (the last one to finish checks), no need
    if (this.sharedCheckDue()) {
      const progress = await apply(ctx, planSharedCleanup(await observeShared(ctx)), newProgress());
      if (progress.changed) {
        this.caches.backendGroup.clear();
        this.caches.nodeRules.clear();
        this.caches.openGroup.clear();
        this.openShared = false;
      }
    }
  }

  private sharedCheckDue(deleting?: string): boolean {
    return [...this.known.keys()].every((uid) => uid === deleting) && this.busy === 0;
  }

  private async observeDeletion(ctx: Ctx, ref: LoadBalancerRef): Promise<ObservedDelete> {
    const known = this.known.get(ref.uid);
    let scanned: Owned | undefined;
    if (!this.settled.has(ref.uid)) {
      // this process cannot vouch for its picture (a restart, a failed ensure, a fixed name it never saw)
      const byUid = this.scans.get('all') ?? this.rememberScan(await scanOwned(ctx));
      scanned = byUid.get(ref.uid) ?? { loadBalancers: [], targetGroups: [] };
    }
    return observeDelete(ctx, ref, {
      ...(known ? { knownName: known.name } : {}),
      ...(scanned ? { scanned } : {}),
      pending: new Set([...(this.leftovers.get(ref.uid) ?? []), ...(this.pendingDelete.get(ref.uid) ?? [])]),
      adopt: this.options.adopt ?? true,
    });
  }

  /** A tag scan by Service UID, kept for the deletes that follow it (the orphan sweep). */
  private rememberScan(scan: Scan): Map<string, Owned> {
    const byUid = new Map<string, Owned>();
    const entry = (uid: string): Owned => {
      let e = byUid.get(uid);
      if (!e) byUid.set(uid, (e = { loadBalancers: [], targetGroups: [] }));
      return e;
    };
    for (const r of scan.loadBalancers) entry(r.ref.uid).loadBalancers.push(r.arn);
    for (const r of scan.targetGroups) entry(r.ref.uid).targetGroups.push(r.arn);
    return this.scans.set('all', byUid);
  }

  async list(signal: AbortSignal): Promise<LoadBalancerRef[]> {
    const scan = await scanOwned(this.ctx(signal));
    this.rememberScan(scan);
    const refs = new Map<string, LoadBalancerRef>();
    for (const r of [...scan.loadBalancers, ...scan.targetGroups, ...scan.securityGroups])
      if (!refs.has(r.ref.uid)) refs.set(r.ref.uid, r.ref);
    return [...refs.values()];
  }

  async close(): Promise<void> {
    this.api.destroy();
  }
}
