/**
 * The Azure provider: Standard load balancers shared per cluster and kind (`<cluster>-lbp`,
 * `<cluster>-lbp-internal`), a frontend + one rule and one probe per port and family per Service, a
 * backend pool of node IPs, public IPs per Service, and allow rules in the nodes' NSG.
 *
 * Observe -> plan -> apply: ensure reads what exists once (both load balancers, the NSG, the Service's
 * public IP), plans with the pure functions of lb-plan.ts / nsg-plan.ts, and hands only the changes that
 * differ to the shared writers (coalescer.ts), which re-apply the same pure change on a fresh GET. An
 * unchanged Service makes no write. Order: public IP, NSG rules, load balancer (and the reverse on
 * delete), so whatever a crash leaves behind still names its Service for list().
 */
import type { LoadBalancer, NetworkSecurityGroup, PublicIPAddress } from '@azure/arm-network';
import type { TokenCredential } from '@azure/identity';
import { pino, type Logger } from 'pino';
import type { IngressPoint, LoadBalancerRef } from '../../src/model/desired.ts';
import { NotOwnedError } from '../../src/model/errors.ts';
import type {
  DesiredLoadBalancer,
  LoadBalancerProvider,
  LoadBalancerStatus,
  PlanStep,
  ProviderCapabilities,
} from '../../src/provider.ts';
import type { HealthCheckRules } from '../../src/model/health-check.ts';
import { AZURE_HEALTH_CHECK } from './annotations.ts';
import { ArmApi } from './arm.ts';
import { nameOfId, resourceId, sameId, type Scope } from './arm-ids.ts';
import { Frontends, type ResolvedFrontend } from './frontends.ts';
import { Coalescer, type ResourceIO } from './coalescer.ts';
import {
  checkLoadBalancer,
  diffLoadBalancer,
  hasForeignContent,
  isEmptyOfServices,
  loadBalancerDiffers,
  poolsToWrite,
  serviceSlice,
  withSlice,
  withTargets,
  type LbTarget,
} from './lb-plan.ts';
import { CREATED_BY, TAG, loadBalancerName, uidOfChild, uidOfSecurityRule } from './names.ts';
import { diffSecurityRules, securityRulesDiffer, serviceSecurityRules, withServiceRules } from './nsg-plan.ts';
import { azureOptions } from './options.ts';

export interface AzureProviderOptions {
  clusterName: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  /** the nodes' virtual network: a name in resourceGroup, or a full resource ID */
  vnet: string;
  /** default subnet (in vnet) of internal frontends */
  subnet: string;
  /** the NSG guarding the nodes (name in resourceGroup) */
  nsg: string;
  credential: TokenCredential;
  armEndpoint?: string;
  pollIntervalMs?: number;
  operationTimeoutMs?: number;
  requestTimeoutMs?: number;
  log?: Logger;
}

export class AzureProvider implements LoadBalancerProvider {
  readonly name = 'azure';
  readonly capabilities: ProviderCapabilities = { mapsNodesByProviderID: false, needsNodePorts: true, ipMode: 'VIP' };
  readonly healthCheck: HealthCheckRules = AZURE_HEALTH_CHECK;
  readonly api: ArmApi;
  private readonly o: AzureProviderOptions;
  private readonly log: Logger;
  private readonly scope: Scope;
  private readonly closing = new AbortController();
  readonly writers = new Map<string, Coalescer<LoadBalancer>>();
  readonly nsgWriter: Coalescer<NetworkSecurityGroup>;
  private readonly fronts: Frontends;

  constructor(options: AzureProviderOptions) {
    this.o = options;
    this.log = options.log ?? pino({ level: 'silent' });
    this.scope = { subscriptionId: options.subscriptionId, resourceGroup: options.resourceGroup };
    this.api = new ArmApi({
      subscriptionId: options.subscriptionId,
      credential: options.credential,
      ...(options.armEndpoint ? { endpoint: options.armEndpoint } : {}),
      ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
      ...(options.operationTimeoutMs !== undefined ? { operationTimeoutMs: options.operationTimeoutMs } : {}),
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    });
    this.nsgWriter = new Coalescer(this.nsgIO(), this.closing.signal);
    this.fronts = new Frontends({
      api: this.api,
      scope: this.scope,
      location: options.location,
      defaultSubnet: options.subnet,
      log: this.log,
    });
  }

  // ---- the two load balancers and their writers ----

  private target(internal: boolean): LbTarget {
    const vnetId = this.o.vnet.startsWith('/') ? this.o.vnet : resourceId(this.scope, 'virtualNetworks', this.o.vnet);
    return {
      scope: this.scope,
      name: loadBalancerName(this.o.clusterName, internal),
      cluster: this.o.clusterName,
      location: this.o.location,
      vnetId,
    };
  }

  private writer(t: LbTarget): Coalescer<LoadBalancer> {
    let w = this.writers.get(t.name);
    if (!w) {
      w = new Coalescer(this.loadBalancerIO(t), this.closing.signal);
      this.writers.set(t.name, w);
    }
    return w;
  }

  private loadBalancerIO(t: LbTarget): ResourceIO<LoadBalancer> {
    const rg = this.scope.resourceGroup;
    return {
      what: `load balancer ${t.name}`,
      get: async (signal) => {
        const body = await this.api.getLoadBalancer(rg, t.name, signal, true);
        return body ? { body, etag: body.etag } : undefined;
      },
      put: async (body, before, signal) => {
        // node churn alone goes through the backend-pool child API: the load balancer is not rewritten
        if (before && !loadBalancerDiffers(withoutPools(before.body), withoutPools(body))) {
          const pools = poolsToWrite(t, before.body, targetsOf(body));
          for (const pool of pools) {
            const etag = before.body.backendAddressPools?.find((p) => p.name === pool.name)?.etag;
            await this.api.putBackendPool(rg, t.name, pool, etag, signal);
          }
          return body;
        }
        return this.api.putLoadBalancer(rg, t.name, body, before?.etag, signal);
      },
      delete: (before, signal) => this.api.deleteLoadBalancer(rg, t.name, before.etag, signal),
      differs: loadBalancerDiffers,
    };
  }

  private nsgIO(): ResourceIO<NetworkSecurityGroup> {
    const rg = this.scope.resourceGroup;
    return {
      what: `network security group ${this.o.nsg}`,
      get: async (signal) => {
        const body = await this.api.getSecurityGroup(rg, this.o.nsg, signal, true);
        return body ? { body, etag: body.etag } : undefined;
      },
      put: (body, before, signal) => this.api.putSecurityGroup(rg, this.o.nsg, body, before?.etag, signal),
      delete: () => Promise.reject(new Error('the network security group is never deleted')),
      differs: securityRulesDiffer,
    };
  }

  private async observeNsg(signal: AbortSignal): Promise<NetworkSecurityGroup> {
    const nsg = await this.api.getSecurityGroup(this.scope.resourceGroup, this.o.nsg, signal);
    if (!nsg)
      throw new Error(
        `network security group ${this.o.nsg} not found in resource group ${this.scope.resourceGroup} (--azure-nsg)`,
      );
    return nsg;
  }

  private checkOwned(lb: LoadBalancer | undefined, t: LbTarget): void {
    const owner = lb?.tags?.[TAG.ourCluster];
    if (lb && owner !== this.o.clusterName)
      throw new NotOwnedError(
        `load balancer ${t.name} exists but is not tagged ${TAG.ourCluster}=${this.o.clusterName}${owner ? ` (it says ${owner})` : ''}`,
      );
  }

  // ---- observe + plan for one Service ----

  private async observe(lb: DesiredLoadBalancer, signal: AbortSignal) {
    const opts = azureOptions(lb);
    const t = this.target(opts.internal);
    const other = this.target(!opts.internal);
    const rg = this.scope.resourceGroup;
    const [current, otherLb, nsg] = await Promise.all([
      this.api.getLoadBalancer(rg, t.name, signal),
      this.api.getLoadBalancer(rg, other.name, signal),
      this.observeNsg(signal),
    ]);
    this.checkOwned(current, t);
    return { opts, t, other, current, otherLb, nsg };
  }

  /**
   * The whole plan for one Service on what was observed. With apply, the public IP is created on the way,
   * and the NSG rules are written beside it: both before the load balancer, so whatever a crash leaves
   * in it has a public IP or an NSG rule that names the Service.
   */
  private async planService(lb: DesiredLoadBalancer, apply: boolean, signal: AbortSignal) {
    const key = `${lb.ref.namespace}/${lb.ref.name}`;
    const obs = await this.observe(lb, signal);
    const wantedRules = serviceSecurityRules(this.o.clusterName, lb.ref, obs.opts);
    const applyNsg = (nsg: NetworkSecurityGroup | undefined): NetworkSecurityGroup | undefined =>
      nsg && withServiceRules(nsg, this.o.clusterName, lb.ref.uid, wantedRules);
    const nsgSteps = diffSecurityRules(obs.nsg, applyNsg(obs.nsg));
    const nsgWrite = apply && nsgSteps.length > 0 ? this.nsgWriter.submit({ key, apply: applyNsg }) : undefined;
    // awaited by ensure; this only keeps a failure that arrives while the public IP is made from going unhandled
    nsgWrite?.catch(() => undefined);
    const steps: PlanStep[] = [];
    let fronts: ResolvedFrontend[];
    try {
      fronts = await this.fronts.resolve(lb.ref, obs.opts, obs.t, obs.current, apply, signal, steps);
    } catch (err) {
      await nsgWrite?.catch(() => undefined);
      throw err;
    }
    steps.push(...nsgSteps);
    const slice = serviceSlice(
      obs.t,
      lb.ref.uid,
      obs.opts,
      fronts.map(({ family, source }) => ({ family, source })),
    );
    const applyLb = (cur: LoadBalancer | undefined): LoadBalancer => {
      this.checkOwned(cur, obs.t);
      const withService = withSlice(obs.t, cur, lb.ref.uid, slice);
      const next = withTargets(obs.t, withService, lb.targets) ?? withService;
      checkLoadBalancer(next, obs.t.name);
      return next;
    };
    const removeFromOther = (cur: LoadBalancer | undefined) => this.withoutService(obs.other, cur, lb.ref.uid);
    const lbAfter = applyLb(obs.current);
    steps.push(...diffLoadBalancer(obs.current, lbAfter, obs.t.name));
    const otherAfter = removeFromOther(obs.otherLb);
    steps.push(...diffLoadBalancer(obs.otherLb, otherAfter, obs.other.name));
    return { obs, fronts, steps, nsgWrite, applyLb, removeFromOther, lbAfter, otherAfter };
  }

  /** `cur` without Service uid's slice; undefined (delete) when nothing but our empty pools remains. */
  private withoutService(t: LbTarget, cur: LoadBalancer | undefined, uid: string): LoadBalancer | undefined {
    if (!cur) return undefined;
    const hasSlice = [
      ...(cur.frontendIPConfigurations ?? []),
      ...(cur.loadBalancingRules ?? []),
      ...(cur.probes ?? []),
    ].some((c) => uidOfChild(c.name ?? '') === uid);
    const next = hasSlice ? withSlice(t, cur, uid, undefined) : cur;
    const ours = cur.tags?.[TAG.ourCluster] === this.o.clusterName && cur.tags?.[TAG.createdBy] === CREATED_BY;
    // the last frontend gone: the load balancer goes too, unless it carries what we did not make
    if (ours && isEmptyOfServices(next) && !hasForeignContent(next)) return undefined;
    return next;
  }

  // ---- the contract ----

  async ensure(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<LoadBalancerStatus> {
    const key = `${lb.ref.namespace}/${lb.ref.name}`;
    const p = await this.planService(lb, true, signal);
    let changed = p.steps.some((s) => s.resource === 'PublicIPAddress');
    if (p.nsgWrite) changed = (await p.nsgWrite).changed || changed;
    let body: LoadBalancer | undefined = p.obs.current;
    if (loadBalancerDiffers(p.obs.current, p.lbAfter)) {
      const r = await this.writer(p.obs.t).submit({ key, apply: p.applyLb });
      changed = r.changed || changed;
      body = r.body ?? (await this.api.getLoadBalancer(this.scope.resourceGroup, p.obs.t.name, signal, true));
    }
    if (loadBalancerDiffers(p.obs.otherLb, p.otherAfter)) {
      changed = (await this.writer(p.obs.other).submit({ key, apply: p.removeFromOther })).changed || changed;
    }
    // public IPs of ours its frontends held before and hold no more (switched to internal, BYO, single-stack)
    const held = [p.obs.current, p.obs.otherLb].flatMap((x) =>
      (x?.frontendIPConfigurations ?? [])
        .filter((f) => uidOfChild(f.name ?? '') === lb.ref.uid && f.publicIPAddress?.id)
        .map((f) => f.publicIPAddress!.id!),
    );
    const dropped = held.filter(
      (id) => !p.fronts.some((u) => u.source.kind === 'public-ip' && sameId(u.source.publicIpId, id)),
    );
    if (dropped.length) changed = (await this.fronts.retire(lb.ref, dropped, signal)) || changed;
    const ingress: IngressPoint[] = [];
    for (const f of p.fronts) {
      let ip = f.address;
      if (f.source.kind === 'private')
        ip = body?.frontendIPConfigurations?.find((x) => x.name === f.source.name)?.privateIPAddress;
      else if (!ip)
        ip = (await this.api.getPublicIp(this.scope.resourceGroup, nameOfId(f.source.publicIpId) ?? '', signal))
          ?.ipAddress;
      if (ip) ingress.push({ ip, ipMode: 'VIP' });
    }
    if (changed) this.log.info({ service: key, steps: p.steps.length }, 'azure load balancer converged');
    return {
      ingress,
      ready: ingress.length > 0,
      changed,
      ...(ingress.length ? {} : { message: 'waiting for Azure to assign an address' }),
    };
  }

  async updateTargets(lb: DesiredLoadBalancer, _signal: AbortSignal): Promise<void> {
    const opts = azureOptions(lb);
    const t = this.target(opts.internal);
    await this.writer(t).submit({
      key: `${lb.ref.namespace}/${lb.ref.name}`,
      apply: (cur) => (cur ? (withTargets(t, cur, lb.targets) ?? cur) : cur),
    });
  }

  async plan(lb: DesiredLoadBalancer, signal: AbortSignal): Promise<PlanStep[]> {
    return (await this.planService(lb, false, signal)).steps;
  }

  async planDelete(ref: LoadBalancerRef, signal: AbortSignal): Promise<PlanStep[]> {
    const { lbs, nsg, pips } = await this.observeAll(signal);
    const steps: PlanStep[] = [];
    for (const [t, cur] of lbs) steps.push(...diffLoadBalancer(cur, this.withoutService(t, cur, ref.uid), t.name));
    if (nsg) steps.push(...diffSecurityRules(nsg, withServiceRules(nsg, this.o.clusterName, ref.uid, [])));
    for (const pip of pips.filter((p) => p.tags?.[TAG.serviceUid] === ref.uid && !p.ipConfiguration))
      steps.push({ action: 'delete', resource: 'PublicIPAddress', name: pip.name ?? '' });
    return steps;
  }

  async delete(ref: LoadBalancerRef, signal: AbortSignal): Promise<void> {
    const key = `${ref.namespace}/${ref.name}`;
    const { lbs, nsg } = await this.observeAll(signal, false);
    // the reverse of creation: load balancer, NSG rules, then public IPs no frontend references any more
    const released: string[] = [];
    for (const [t, cur] of lbs) {
      if (!loadBalancerDiffers(cur, this.withoutService(t, cur, ref.uid))) continue;
      const before = new Set((cur?.frontendIPConfigurations ?? []).map((f) => f.publicIPAddress?.id?.toLowerCase()));
      const r = await this.writer(t).submit({ key, apply: (c) => this.withoutService(t, c, ref.uid) });
      const after = new Set((r.body?.frontendIPConfigurations ?? []).map((f) => f.publicIPAddress?.id?.toLowerCase()));
      for (const id of before) if (id && !after.has(id)) released.push(id);
    }
    const noRules = (n: NetworkSecurityGroup | undefined) => n && withServiceRules(n, this.o.clusterName, ref.uid, []);
    if (nsg && securityRulesDiffer(nsg, noRules(nsg))) await this.nsgWriter.submit({ key, apply: noRules });
    const own = (await this.api.listPublicIps(signal))
      .filter((p) => p.tags?.[TAG.serviceUid] === ref.uid)
      .map((p) => p.id ?? '');
    await this.fronts.retire(ref, [...own, ...released], signal);
  }

  async list(signal: AbortSignal): Promise<LoadBalancerRef[]> {
    const { lbs, nsg, pips } = await this.observeAll(signal);
    const refs = new Map<string, LoadBalancerRef>();
    const add = (uid: string | undefined, key?: string) => {
      if (!uid) return;
      const known = refs.get(uid);
      const slash = key?.indexOf('/') ?? -1;
      if (known && known.name !== '') return;
      refs.set(uid, {
        clusterName: this.o.clusterName,
        namespace: key && slash > 0 ? key.slice(0, slash) : '',
        name: key && slash > 0 ? key.slice(slash + 1) : '',
        uid,
      });
    };
    for (const pip of pips)
      if (pip.tags?.[TAG.ourCluster] === this.o.clusterName) add(pip.tags[TAG.serviceUid], pip.tags[TAG.serviceName]);
    for (const r of nsg?.securityRules ?? []) add(uidOfSecurityRule(this.o.clusterName, r.name ?? ''), r.description);
    // load-balancer children carry only the UID; the NSG rules written before them carry the name
    for (const [, lb] of lbs)
      for (const c of [
        ...(lb?.frontendIPConfigurations ?? []),
        ...(lb?.loadBalancingRules ?? []),
        ...(lb?.probes ?? []),
      ])
        add(uidOfChild(c.name ?? ''));
    return [...refs.values()];
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  // ---- shared reads and public IP cleanup ----

  private async observeAll(signal: AbortSignal, withPips = true) {
    const rg = this.scope.resourceGroup;
    const targets = [this.target(false), this.target(true)];
    const [pub, int, nsg, pips] = await Promise.all([
      this.api.getLoadBalancer(rg, targets[0]!.name, signal),
      this.api.getLoadBalancer(rg, targets[1]!.name, signal),
      this.api.getSecurityGroup(rg, this.o.nsg, signal),
      withPips ? this.api.listPublicIps(signal) : Promise.resolve([] as PublicIPAddress[]),
    ]);
    const lbs: [LbTarget, LoadBalancer | undefined][] = [
      [targets[0]!, pub?.tags?.[TAG.ourCluster] === this.o.clusterName ? pub : undefined],
      [targets[1]!, int?.tags?.[TAG.ourCluster] === this.o.clusterName ? int : undefined],
    ];
    return { lbs, nsg, pips };
  }
}

function withoutPools(lb: LoadBalancer): LoadBalancer {
  return { ...lb, backendAddressPools: (lb.backendAddressPools ?? []).map((p) => ({ name: p.name })) };
}

/** The targets a body's pools hold, as TargetNodes (for poolsToWrite). */
function targetsOf(lb: LoadBalancer) {
  const byName = new Map<string, string[]>();
  for (const p of lb.backendAddressPools ?? [])
    for (const a of p.loadBalancerBackendAddresses ?? [])
      if (a.name && a.ipAddress) byName.set(a.name, [...(byName.get(a.name) ?? []), a.ipAddress]);
  return [...byName.entries()].map(([name, addresses]) => ({ name, addresses, labels: {} }));
}
