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
import type { IpFamily, IngressPoint, LoadBalancerRef } from '../../src/model/desired.ts';
import { InvalidSpecError, NotOwnedError } from '../../src/model/errors.ts';
import type {
  DesiredLoadBalancer,
  LoadBalancerProvider,
  LoadBalancerStatus,
  PlanStep,
  ProviderCapabilities,
} from '../../src/provider.ts';
import type { HealthCheckRules } from '../../src/model/health-check.ts';
import { AZURE_ANNOTATION, AZURE_HEALTH_CHECK } from './annotations.ts';
import { ArmApi } from './arm.ts';
import { describeArmError } from './arm-errors.ts';
import { resourceId, sameId, type Scope } from './arm-ids.ts';
import { Coalescer, type ResourceIO } from './coalescer.ts';
import {
  checkLoadBalancer,
  diffLoadBalancer,
  frontendOfPrivateIp,
  frontendOfPublicIp,
  hasForeignContent,
  isEmptyOfServices,
  loadBalancerDiffers,
  poolsToWrite,
  serviceSlice,
  withSlice,
  withTargets,
  type FrontendSource,
  type LbTarget,
} from './lb-plan.ts';
import {
  CREATED_BY,
  TAG,
  frontendName,
  loadBalancerName,
  publicIpName,
  publicIpTags,
  sharedFrontendName,
  uidOfChild,
  uidOfSecurityRule,
} from './names.ts';
import { diffSecurityRules, securityRulesDiffer, serviceSecurityRules, withServiceRules } from './nsg-plan.ts';
import { azureOptions, type AzureServiceOptions } from './options.ts';

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
  log?: Logger;
}

interface ResolvedFrontend {
  family: IpFamily;
  source: FrontendSource;
  /** the public address, when known before the load balancer is written */
  address?: string;
  /** our own public IP of this Service and family (deleted when unused) */
  ownPip: boolean;
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
    });
    this.nsgWriter = new Coalescer(this.nsgIO(), this.closing.signal);
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

  /** Where each family's frontend comes from; creates the Service's own public IP when `apply`. */
  private async frontends(
    ref: LoadBalancerRef,
    opts: AzureServiceOptions,
    t: LbTarget,
    current: LoadBalancer | undefined,
    apply: boolean,
    signal: AbortSignal,
    steps: PlanStep[],
  ): Promise<ResolvedFrontend[]> {
    const out: ResolvedFrontend[] = [];
    const pipRg = opts.pipResourceGroup ?? this.scope.resourceGroup;
    const pipScope = { ...this.scope, resourceGroup: pipRg };
    for (const [i, family] of opts.families.entries()) {
      const requested = opts.requestedIp[family];
      if (opts.internal) {
        const shared = requested ? frontendOfPrivateIp(current, requested) : undefined;
        const name = shared?.name && uidOfChild(shared.name) !== ref.uid ? shared.name : frontendName(ref.uid, family);
        const subnetId = shared?.subnet?.id ?? `${t.vnetId}/subnets/${opts.subnet ?? this.o.subnet}`;
        const source: FrontendSource = {
          kind: 'private',
          subnetId,
          name,
          ...(requested ? { address: requested } : {}),
        };
        out.push({ family, source, ownPip: false });
        continue;
      }
      let pip: PublicIPAddress | undefined;
      let own = false;
      if (opts.pipName && i === 0) {
        pip = await this.api.getPublicIp(pipRg, opts.pipName, signal);
        if (!pip)
          throw new InvalidSpecError(
            `annotation ${AZURE_ANNOTATION.pipName}: public IP ${opts.pipName} not found in resource group ${pipRg}`,
          );
      } else if (requested) {
        pip = (await this.api.listPublicIpsIn(pipRg, signal)).find((p) => p.ipAddress === requested);
        if (!pip)
          throw new InvalidSpecError(
            `${family === 'IPv6' ? AZURE_ANNOTATION.ipv6 : `annotation ${AZURE_ANNOTATION.ipv4} / spec.loadBalancerIP`}: no public IP with address ${requested} in resource group ${pipRg}`,
          );
      } else {
        own = true;
        pip = await this.ownPublicIp(ref, opts, family, pipRg, apply, signal, steps);
      }
      if (pip?.tags?.[TAG.serviceUid] === ref.uid) own = true;
      const pipId = pip?.id ?? resourceId(pipScope, 'publicIPAddresses', publicIpName(ref.uid, family));
      const holder = frontendOfPublicIp(current, pipId);
      const name = own ? frontendName(ref.uid, family) : (holder?.name ?? sharedFrontendName(pip?.name ?? ''));
      out.push({
        family,
        source: { kind: 'public-ip', publicIpId: pipId, name },
        ...(pip?.ipAddress ? { address: pip.ipAddress } : {}),
        ownPip: own,
      });
    }
    return out;
  }

  /** The Service's own public IP: created (or its tags and DNS label converged) when `apply`. */
  private async ownPublicIp(
    ref: LoadBalancerRef,
    opts: AzureServiceOptions,
    family: IpFamily,
    rg: string,
    apply: boolean,
    signal: AbortSignal,
    steps: PlanStep[],
  ): Promise<PublicIPAddress | undefined> {
    const name = publicIpName(ref.uid, family);
    const existing = await this.api.getPublicIp(rg, name, signal);
    if (existing && existing.tags?.[TAG.ourCluster] !== ref.clusterName)
      throw new NotOwnedError(`public IP ${name} in ${rg} exists but is not tagged for cluster ${ref.clusterName}`);
    const tags = { ...opts.pipTags, ...publicIpTags(ref) };
    const body: PublicIPAddress = {
      location: this.o.location,
      sku: { name: 'Standard', tier: 'Regional' },
      publicIPAllocationMethod: 'Static',
      publicIPAddressVersion: family,
      tags,
    };
    if (opts.dnsLabel && family === opts.families[0]) body.dnsSettings = { domainNameLabel: opts.dnsLabel };
    if (opts.pipPrefixId) body.publicIPPrefix = { id: opts.pipPrefixId };
    if (existing) {
      const sameTags = JSON.stringify(sorted(existing.tags ?? {})) === JSON.stringify(sorted(tags));
      const sameDns = (existing.dnsSettings?.domainNameLabel ?? '') === (body.dnsSettings?.domainNameLabel ?? '');
      if (sameTags && sameDns) return existing;
      steps.push({ action: 'update', resource: 'PublicIPAddress', name, detail: sameDns ? 'tags' : 'DNS label' });
      if (!apply) return existing;
      const update: PublicIPAddress = { ...existing, tags };
      if (body.dnsSettings) update.dnsSettings = body.dnsSettings;
      else delete update.dnsSettings;
      return this.api.putPublicIp(rg, name, update, existing.etag, signal);
    }
    steps.push({ action: 'create', resource: 'PublicIPAddress', name });
    if (!apply) return undefined;
    return this.api.putPublicIp(rg, name, body, undefined, signal);
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
      fronts = await this.frontends(lb.ref, obs.opts, obs.t, obs.current, apply, signal, steps);
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
    if (dropped.length) changed = (await this.retirePublicIps(lb.ref, dropped, signal)) || changed;
    const ingress: IngressPoint[] = [];
    for (const f of p.fronts) {
      let ip = f.address;
      if (f.source.kind === 'private')
        ip = body?.frontendIPConfigurations?.find((x) => x.name === f.source.name)?.privateIPAddress;
      else if (!ip)
        ip = (await this.api.getPublicIp(this.scope.resourceGroup, nameOf(f.source.publicIpId), signal))?.ipAddress;
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
    await this.retirePublicIps(ref, [...own, ...released], signal);
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

  /**
   * Delete these public IPs where they are ours to delete: created by us for this cluster (tags; a BYO
   * public IP never is), and referenced by no frontend (another Service may share one: kept until it lets
   * go). Returns whether anything was deleted.
   */
  private async retirePublicIps(ref: LoadBalancerRef, ids: readonly string[], signal: AbortSignal): Promise<boolean> {
    const mine: PublicIPAddress[] = [];
    for (const id of new Set(ids.map((i) => i.toLowerCase()))) {
      const rg = resourceGroupOf(id) ?? this.scope.resourceGroup;
      const pip = await this.api.getPublicIp(rg, nameOf(id), signal);
      if (pip?.tags?.[TAG.ourCluster] === ref.clusterName && pip.tags[TAG.createdBy] === CREATED_BY) mine.push(pip);
    }
    let deleted = false;
    for (const pip of mine) {
      if (pip.ipConfiguration) {
        this.log.info(
          { service: `${ref.namespace}/${ref.name}`, publicIp: pip.name },
          'public IP still referenced by a frontend: kept',
        );
        continue;
      }
      const rg = resourceGroupOf(pip.id) ?? this.scope.resourceGroup;
      try {
        await this.api.deletePublicIp(rg, pip.name ?? '', signal);
        deleted = true;
      } catch (err) {
        throw new Error(`deleting public IP ${pip.name}: ${describeArmError(err)}`, { cause: err });
      }
    }
    return deleted;
  }
}

function sorted(tags: Record<string, string>): [string, string][] {
  return Object.entries(tags).sort(([a], [b]) => a.localeCompare(b));
}

function nameOf(id: string): string {
  return id.split('/').pop() ?? '';
}

function resourceGroupOf(id: string | undefined): string | undefined {
  return /\/resourceGroups\/([^/]+)\//i.exec(id ?? '')?.[1];
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
