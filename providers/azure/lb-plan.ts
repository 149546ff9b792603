/**
 * Pure planning for the shared load balancers: a Service's slice (its frontends, one rule and one probe
 * per port and family) applied to a load balancer as ARM returned it, giving the body to PUT. The writer
 * (coalescer.ts) runs every waiting Service's change on one fresh GET, so these functions must be pure
 * and keep whatever they don't own (other Services' slices, outbound rules, fields ARM fills in).
 */
import type {
  BackendAddressPool,
  FrontendIPConfiguration,
  LoadBalancer,
  LoadBalancingRule,
  Probe,
} from '@azure/arm-network';
import type { IpFamily, TargetNode } from '../../src/model/desired.ts';
import { QuotaExceededError, InvalidSpecError } from '../../src/model/errors.ts';
import { parseIp } from '../../src/model/parse.ts';
import type { PlanStep } from '../../src/provider.ts';
import { childId, nameOfId, resourceId, sameId, type Scope } from './arm-ids.ts';
import { backendPoolName, CHILD_PREFIX, frontendName, loadBalancerTags, probeName, ruleName } from './names.ts';
import type { AzureServiceOptions } from './options.ts';

/** Azure's limits (Standard SKU), checked before a PUT so the user reads which one instead of an ARM error. */
export const LIMITS = { frontends: 600, rules: 1500, rulesPerNic: 300 } as const;

export interface LbTarget {
  scope: Scope;
  name: string;
  cluster: string;
  location: string;
  /** the virtual network of the nodes: IP-based backend addresses name it */
  vnetId: string;
}

/** Where a Service's frontend for one family comes from. */
export type FrontendSource =
  | { kind: 'public-ip'; publicIpId: string; name: string }
  | { kind: 'private'; subnetId: string; address?: string; name: string };

export interface ServiceSlice {
  uid: string;
  /** per family: the frontend the Service's rules use (its own, or one it shares) */
  frontends: { family: IpFamily; source: FrontendSource }[];
  rules: LoadBalancingRule[];
  probes: Probe[];
}

/** A Service's desired slice. Rules forward each port to its NodePort, floating IP off. */
export function serviceSlice(
  t: LbTarget,
  uid: string,
  opts: AzureServiceOptions,
  frontends: ServiceSlice['frontends'],
): ServiceSlice {
  const rules: LoadBalancingRule[] = [];
  const probes: Probe[] = [];
  const lbChild = (type: string, name: string) => ({ id: childId(t.scope, 'loadBalancers', t.name, type, name) });
  for (const { family, source } of frontends) {
    for (const r of opts.rules) {
      const name = ruleName(uid, r.protocol === 'Tcp' ? 'TCP' : 'UDP', r.port, family);
      const rule: LoadBalancingRule = {
        name,
        frontendIPConfiguration: lbChild('frontendIPConfigurations', source.name),
        backendAddressPool: lbChild('backendAddressPools', backendPoolName(t.cluster, family)),
        protocol: r.protocol,
        frontendPort: r.port,
        backendPort: r.nodePort,
        enableFloatingIP: false,
        loadDistribution: opts.loadDistribution,
        // our load balancers only forward inbound traffic; nodes keep whatever egress they have
        disableOutboundSnat: true,
      };
      if (r.protocol === 'Tcp') {
        rule.idleTimeoutInMinutes = opts.idleTimeoutMinutes;
        rule.enableTcpReset = opts.tcpReset;
      }
      if (r.probe) {
        const pname = probeName(uid, r.protocol === 'Tcp' ? 'TCP' : 'UDP', r.port, family);
        rule.probe = lbChild('probes', pname);
        const probe: Probe = {
          name: pname,
          protocol: r.probe.protocol,
          port: r.probe.port,
          intervalInSeconds: r.probe.intervalInSeconds,
          numberOfProbes: r.probe.numberOfProbes,
          probeThreshold: r.probe.numberOfProbes,
        };
        if (r.probe.requestPath !== undefined) probe.requestPath = r.probe.requestPath;
        probes.push(probe);
      }
      rules.push(rule);
    }
  }
  return { uid, frontends, rules, probes };
}

function frontendOf(t: LbTarget, family: IpFamily, source: FrontendSource): FrontendIPConfiguration {
  if (source.kind === 'public-ip') return { name: source.name, publicIPAddress: { id: source.publicIpId } };
  const fe: FrontendIPConfiguration = {
    name: source.name,
    subnet: { id: source.subnetId },
    privateIPAddressVersion: family,
    privateIPAllocationMethod: source.address ? 'Static' : 'Dynamic',
  };
  if (source.address) fe.privateIPAddress = source.address;
  return fe;
}

/** The fields we manage on each child, to compare what ARM returns with what we want. */
function managedFrontend(f: FrontendIPConfiguration): unknown {
  const method = f.privateIPAllocationMethod;
  return {
    pip: f.publicIPAddress?.id?.toLowerCase(),
    subnet: f.subnet?.id?.toLowerCase(),
    method,
    // a Dynamic address is ARM's choice: not ours to compare
    address: method === 'Static' ? f.privateIPAddress : undefined,
  };
}
function managedRule(r: LoadBalancingRule): unknown {
  return {
    fe: r.frontendIPConfiguration?.id?.toLowerCase(),
    pool: r.backendAddressPool?.id?.toLowerCase(),
    probe: r.probe?.id?.toLowerCase(),
    protocol: r.protocol,
    frontendPort: r.frontendPort,
    backendPort: r.backendPort,
    floating: r.enableFloatingIP ?? false,
    idle: r.idleTimeoutInMinutes,
    reset: r.enableTcpReset,
    dist: r.loadDistribution ?? 'Default',
    snat: r.disableOutboundSnat ?? false,
  };
}
function managedProbe(p: Probe): unknown {
  return {
    protocol: p.protocol,
    port: p.port,
    path: p.requestPath,
    interval: p.intervalInSeconds,
    count: p.numberOfProbes,
    threshold: p.probeThreshold,
  };
}
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Replace the children of `owned` in `list` with `wanted`, keeping an existing child that already matches. */
function replaceChildren<T extends { name?: string }>(
  list: T[] | undefined,
  owned: (name: string) => boolean,
  wanted: T[],
  managed: (x: T) => unknown,
): T[] {
  const current = list ?? [];
  const byName = new Map(current.map((c) => [c.name ?? '', c]));
  const kept = current.filter((c) => !owned(c.name ?? ''));
  for (const w of wanted) {
    const existing = byName.get(w.name ?? '');
    kept.push(existing && same(managed(existing), managed(w)) ? existing : w);
  }
  return kept;
}

const ownsUid = (uid: string) => (name: string) => name.startsWith(`${CHILD_PREFIX}${uid}`);

/**
 * `lb` with the slice of Service `uid` replaced by `slice` (undefined removes it). Frontends of ours that
 * no rule references any more go, except those the slice itself asks for; a shared frontend stays while
 * another Service's rule uses it.
 */
export function withSlice(
  t: LbTarget,
  lb: LoadBalancer | undefined,
  uid: string,
  slice: ServiceSlice | undefined,
): LoadBalancer {
  const base: LoadBalancer = lb ? structuredClone(lb) : emptyLoadBalancer(t);
  const owned = ownsUid(uid);
  const rules = replaceChildren(base.loadBalancingRules, owned, slice?.rules ?? [], managedRule);
  const probes = replaceChildren(base.probes, owned, slice?.probes ?? [], managedProbe);
  const wantedFrontends = (slice?.frontends ?? []).map(({ family, source }) => frontendOf(t, family, source));
  const existingFe = new Map((base.frontendIPConfigurations ?? []).map((f) => [f.name ?? '', f]));
  // a shared frontend that already exists is referenced, never rewritten by a Service that merely uses it
  const toWrite = wantedFrontends.filter((f) => !existingFe.has(f.name ?? '') || owned(f.name ?? ''));
  const referenced = new Set(rules.map((r) => nameOfId(r.frontendIPConfiguration?.id)?.toLowerCase()));
  const wantedNames = new Set(wantedFrontends.map((f) => f.name?.toLowerCase()));
  // a frontend of this Service that another Service's rules still use (a shared address) stays
  const stillUsed = (name: string) =>
    owned(name) && referenced.has(name.toLowerCase()) && !wantedNames.has(name.toLowerCase());
  let frontends = replaceChildren(
    base.frontendIPConfigurations,
    (n) => owned(n) && !stillUsed(n),
    toWrite,
    managedFrontend,
  );
  // On removal, any frontend of ours left without rules goes too: another Service's frontend that only
  // this one still used (its owner was deleted while sharing). A live owner's own rules would hold it.
  const removable = (name: string) =>
    slice === undefined
      ? name.startsWith(CHILD_PREFIX)
      : owned(name) || name.toLowerCase().startsWith(`${CHILD_PREFIX}pip-`);
  frontends = frontends.filter((f) => {
    const n = (f.name ?? '').toLowerCase();
    return !removable(f.name ?? '') || referenced.has(n) || wantedNames.has(n);
  });
  base.frontendIPConfigurations = frontends;
  base.loadBalancingRules = rules;
  base.probes = probes;
  const families = new Set((slice?.frontends ?? []).map((f) => f.family));
  base.backendAddressPools = base.backendAddressPools ?? [];
  for (const family of families) {
    const pool = backendPoolName(t.cluster, family);
    if (!base.backendAddressPools.some((p) => p.name === pool)) base.backendAddressPools.push({ name: pool });
  }
  return base;
}

export function emptyLoadBalancer(t: LbTarget): LoadBalancer {
  return {
    location: t.location,
    sku: { name: 'Standard', tier: 'Regional' },
    tags: loadBalancerTags(t.cluster),
    frontendIPConfigurations: [],
    backendAddressPools: [],
    loadBalancingRules: [],
    probes: [],
  };
}

/** The backend addresses of one family: every target node's first address of that family. */
export function poolAddresses(
  t: LbTarget,
  targets: readonly TargetNode[],
  family: IpFamily,
): BackendAddressPool['loadBalancerBackendAddresses'] {
  const out: NonNullable<BackendAddressPool['loadBalancerBackendAddresses']> = [];
  for (const node of [...targets].sort((a, b) => a.name.localeCompare(b.name))) {
    const ip = node.addresses.map((a) => parseIp(a)).find((p) => p?.family === family);
    if (ip) out.push({ name: node.name, ipAddress: ip.text, virtualNetwork: { id: t.vnetId } });
  }
  return out;
}

const poolKey = (p: BackendAddressPool | undefined) =>
  JSON.stringify((p?.loadBalancerBackendAddresses ?? []).map((a) => `${a.name}=${a.ipAddress}`).sort());

/** `lb` with every pool of ours holding exactly these targets; undefined when nothing changes. */
export function withTargets(t: LbTarget, lb: LoadBalancer, targets: readonly TargetNode[]): LoadBalancer | undefined {
  let changed = false;
  const pools = (lb.backendAddressPools ?? []).map((p) => {
    const family: IpFamily | undefined =
      p.name === backendPoolName(t.cluster, 'IPv4')
        ? 'IPv4'
        : p.name === backendPoolName(t.cluster, 'IPv6')
          ? 'IPv6'
          : undefined;
    if (!family) return p;
    const wanted = { ...p, loadBalancerBackendAddresses: poolAddresses(t, targets, family) };
    if (poolKey(p) === poolKey(wanted)) return p;
    changed = true;
    return wanted;
  });
  return changed ? { ...lb, backendAddressPools: pools } : undefined;
}

/** Pools of ours whose members differ from the targets (for a child PUT each). */
export function poolsToWrite(t: LbTarget, lb: LoadBalancer, targets: readonly TargetNode[]): BackendAddressPool[] {
  const after = withTargets(t, lb, targets);
  if (!after) return [];
  const before = new Map((lb.backendAddressPools ?? []).map((p) => [p.name, poolKey(p)]));
  return (after.backendAddressPools ?? []).filter((p) => before.get(p.name) !== poolKey(p));
}

/** Whether two bodies differ in anything we manage. */
export function loadBalancerDiffers(a: LoadBalancer | undefined, b: LoadBalancer | undefined): boolean {
  return diffLoadBalancer(a, b, '').length > 0;
}

/** The steps between two bodies, child by child (what `plan` prints). */
export function diffLoadBalancer(
  before: LoadBalancer | undefined,
  after: LoadBalancer | undefined,
  lbName: string,
): PlanStep[] {
  const steps: PlanStep[] = [];
  if (!before && after) steps.push({ action: 'create', resource: 'LoadBalancer', name: lbName });
  if (before && !after) {
    steps.push({ action: 'delete', resource: 'LoadBalancer', name: lbName });
    return steps;
  }
  const kinds: [string, (lb: LoadBalancer | undefined) => { name?: string }[], (x: never) => unknown][] = [
    ['FrontendIPConfiguration', (lb) => lb?.frontendIPConfigurations ?? [], managedFrontend as (x: never) => unknown],
    ['LoadBalancingRule', (lb) => lb?.loadBalancingRules ?? [], managedRule as (x: never) => unknown],
    ['Probe', (lb) => lb?.probes ?? [], managedProbe as (x: never) => unknown],
    [
      'BackendAddressPool',
      (lb) => lb?.backendAddressPools ?? [],
      ((p: BackendAddressPool) => poolKey(p)) as (x: never) => unknown,
    ],
  ];
  for (const [resource, pick, managed] of kinds) {
    const b = new Map(pick(before).map((x) => [x.name ?? '', x]));
    const a = new Map(pick(after).map((x) => [x.name ?? '', x]));
    for (const [name, x] of a) {
      const old = b.get(name);
      if (!old) steps.push({ action: 'create', resource, name });
      else if (!same(managed(old as never), managed(x as never))) steps.push({ action: 'update', resource, name });
    }
    for (const name of b.keys()) if (!a.has(name)) steps.push({ action: 'delete', resource, name });
  }
  return steps;
}

/** Azure's limits on the result, and port clashes on shared frontends: a clear error instead of ARM's. */
export function checkLoadBalancer(lb: LoadBalancer, lbName: string): void {
  const frontends = lb.frontendIPConfigurations?.length ?? 0;
  const rules = (lb.loadBalancingRules?.length ?? 0) + (lb.inboundNatRules?.length ?? 0);
  if (frontends > LIMITS.frontends)
    throw new QuotaExceededError(
      `load balancer ${lbName} would have ${frontends} frontends; Azure allows ${LIMITS.frontends}`,
    );
  if (rules > LIMITS.rules)
    throw new QuotaExceededError(`load balancer ${lbName} would have ${rules} rules; Azure allows ${LIMITS.rules}`);
  const lbRules = lb.loadBalancingRules?.length ?? 0;
  if (lbRules > LIMITS.rulesPerNic)
    throw new QuotaExceededError(
      `load balancer ${lbName} would have ${lbRules} rules, and every rule reaches every node: Azure allows ${LIMITS.rulesPerNic} rules per node NIC`,
    );
  const seen = new Map<string, string>();
  for (const r of lb.loadBalancingRules ?? []) {
    const key = `${r.frontendIPConfiguration?.id?.toLowerCase()}|${r.protocol}|${r.frontendPort}`;
    const other = seen.get(key);
    if (other !== undefined)
      throw new InvalidSpecError(
        `port ${r.frontendPort}/${r.protocol?.toUpperCase()} on frontend ${nameOfId(r.frontendIPConfiguration?.id)} is already used by rule ${other} (Services sharing an address need disjoint ports)`,
      );
    seen.set(key, r.name ?? '');
  }
}

/** Whether the load balancer carries anything that is not ours (then it is never deleted). */
export function hasForeignContent(lb: LoadBalancer): boolean {
  const foreign = (xs: { name?: string }[] | undefined) =>
    (xs ?? []).some((x) => !(x.name ?? '').startsWith(CHILD_PREFIX));
  return (
    (lb.outboundRules?.length ?? 0) > 0 ||
    (lb.inboundNatRules?.length ?? 0) > 0 ||
    foreign(lb.frontendIPConfigurations) ||
    foreign(lb.loadBalancingRules)
  );
}

/** Whether nothing of ours is left but the pools: the load balancer can go. */
export function isEmptyOfServices(lb: LoadBalancer): boolean {
  return (
    (lb.frontendIPConfigurations?.length ?? 0) === 0 &&
    (lb.loadBalancingRules?.length ?? 0) === 0 &&
    (lb.probes?.length ?? 0) === 0
  );
}

/** The frontend that holds this public IP, if any. */
export function frontendOfPublicIp(
  lb: LoadBalancer | undefined,
  publicIpId: string,
): FrontendIPConfiguration | undefined {
  return lb?.frontendIPConfigurations?.find((f) => sameId(f.publicIPAddress?.id, publicIpId));
}

/** The frontend that holds this private address, if any. */
export function frontendOfPrivateIp(
  lb: LoadBalancer | undefined,
  address: string,
): FrontendIPConfiguration | undefined {
  return lb?.frontendIPConfigurations?.find((f) => f.privateIPAddress === address);
}

export const loadBalancerId = (t: LbTarget): string => resourceId(t.scope, 'loadBalancers', t.name);
export { frontendName };
