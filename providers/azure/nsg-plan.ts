/**
 * Pure planning for the shared network security group. A Standard load balancer admits nothing an NSG
 * does not allow, and with floating IP off the node sees its own address and the NodePort: so each
 * Service gets allow rules from its sources to the NodePorts (destination `*`: the NSG guards the
 * nodes, and NodePorts are the Service's own, so node churn never rewrites the NSG). The NSG is then the
 * only place source ranges are enforced. Rules are untagged children: the name carries the owner.
 */
import type { NetworkSecurityGroup, SecurityRule } from '@azure/arm-network';
import type { IpFamily, LoadBalancerRef } from '../../src/model/desired.ts';
import { QuotaExceededError } from '../../src/model/errors.ts';
import { parseIp } from '../../src/model/parse.ts';
import type { PlanStep } from '../../src/provider.ts';
import { securityRuleDescription, securityRuleServicePrefix } from './names.ts';
import type { AzureServiceOptions } from './options.ts';

export const NSG_RULE_LIMIT = 1000;
/** cloud-provider-azure allocates from 500 up; deny rules from the top down so they come after allows */
const FIRST_ALLOW = 500;
const LAST_PRIORITY = 4096;

export interface WantedRule {
  name: string;
  rule: SecurityRule;
  deny: boolean;
}

const familyOf = (cidr: string): IpFamily | undefined => parseIp(cidr.split('/')[0] ?? '')?.family;

/** Every NSG rule one Service needs, without priorities. */
export function serviceSecurityRules(cluster: string, ref: LoadBalancerRef, opts: AzureServiceOptions): WantedRule[] {
  const prefix = securityRuleServicePrefix(cluster, ref.uid);
  const description = securityRuleDescription(ref);
  const out: WantedRule[] = [];
  const base = (protocol: 'Tcp' | 'Udp', nodePort: number): SecurityRule => ({
    description,
    protocol,
    sourcePortRange: '*',
    destinationAddressPrefix: '*',
    destinationPortRange: String(nodePort),
    direction: 'Inbound',
    access: 'Allow',
  });
  const byFamily = new Map<IpFamily, string[]>();
  for (const cidr of opts.sourcePrefixes) {
    const f = familyOf(cidr);
    if (f) byFamily.set(f, [...(byFamily.get(f) ?? []), cidr]);
  }
  const everyone = byFamily.size === 0 && opts.serviceTags.length === 0;
  for (const r of opts.rules) {
    const head = `${prefix}${r.protocol.toUpperCase()}-${r.nodePort}`;
    for (const [family, cidrs] of [...byFamily.entries()].sort()) {
      const rule = base(r.protocol, r.nodePort);
      if (cidrs.length === 1) rule.sourceAddressPrefix = cidrs[0]!;
      else rule.sourceAddressPrefixes = [...cidrs].sort();
      out.push({ name: `${head}-${family === 'IPv6' ? 'v6' : 'v4'}`, rule, deny: false });
    }
    opts.serviceTags.forEach((tag, i) =>
      out.push({
        name: `${head}-t${i}`,
        rule: { ...base(r.protocol, r.nodePort), sourceAddressPrefix: tag },
        deny: false,
      }),
    );
    if (everyone)
      out.push({
        name: `${head}-any`,
        rule: { ...base(r.protocol, r.nodePort), sourceAddressPrefix: opts.internal ? 'VirtualNetwork' : 'Internet' },
        deny: false,
      });
    if (opts.denyAllExceptSourceRanges)
      out.push({
        name: `${head}-deny`,
        rule: { ...base(r.protocol, r.nodePort), sourceAddressPrefix: '*', access: 'Deny' },
        deny: true,
      });
  }
  return out;
}

/** The fields we manage on a rule (priority aside: kept where a rule already has one). */
function managed(r: SecurityRule): unknown {
  return {
    description: r.description,
    protocol: r.protocol,
    src: r.sourceAddressPrefix,
    srcs: r.sourceAddressPrefixes?.length ? [...r.sourceAddressPrefixes].sort() : undefined,
    srcPort: r.sourcePortRange,
    dst: r.destinationAddressPrefix,
    dstPort: r.destinationPortRange,
    direction: r.direction,
    access: r.access,
  };
}
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * `nsg` with Service `uid`'s rules replaced by `wanted` (empty removes them). Existing rules keep their
 * priority; new ones take the lowest free priority from 500 (deny rules: the highest free), so Services
 * applied one after another in one coalesced PUT never collide. The 1,000-rule cap is checked here.
 */
export function withServiceRules(
  nsg: NetworkSecurityGroup,
  cluster: string,
  uid: string,
  wanted: WantedRule[],
): NetworkSecurityGroup {
  const prefix = securityRuleServicePrefix(cluster, uid);
  const current = nsg.securityRules ?? [];
  const mine = new Map(current.filter((r) => (r.name ?? '').startsWith(prefix)).map((r) => [r.name ?? '', r]));
  const others = current.filter((r) => !(r.name ?? '').startsWith(prefix));
  const used = new Set(others.filter((r) => r.direction !== 'Outbound').map((r) => r.priority));
  const kept: SecurityRule[] = [];
  const fresh: WantedRule[] = [];
  for (const w of wanted) {
    const existing = mine.get(w.name);
    if (existing && existing.priority !== undefined && !used.has(existing.priority)) {
      used.add(existing.priority);
      kept.push(
        same(managed(existing), managed(w.rule)) ? existing : { ...w.rule, name: w.name, priority: existing.priority },
      );
    } else fresh.push(w);
  }
  for (const w of fresh) {
    const priority = freePriority(used, w.deny);
    if (priority === undefined)
      throw new QuotaExceededError(
        `network security group ${nsg.name ?? ''} has no free rule priority left (100-4096)`,
      );
    used.add(priority);
    kept.push({ ...w.rule, name: w.name, priority });
  }
  const securityRules = [...others, ...kept];
  if (securityRules.length > NSG_RULE_LIMIT)
    throw new QuotaExceededError(
      `network security group ${nsg.name ?? ''} would have ${securityRules.length} rules; Azure allows ${NSG_RULE_LIMIT}`,
    );
  return { ...nsg, securityRules };
}

function freePriority(used: Set<number | undefined>, deny: boolean): number | undefined {
  if (deny) {
    for (let p = LAST_PRIORITY; p >= FIRST_ALLOW; p--) if (!used.has(p)) return p;
  } else {
    for (let p = FIRST_ALLOW; p <= LAST_PRIORITY; p++) if (!used.has(p)) return p;
  }
  return undefined;
}

/** Whether two NSG bodies differ in the rules we manage (priorities included). */
export function securityRulesDiffer(a: NetworkSecurityGroup | undefined, b: NetworkSecurityGroup | undefined): boolean {
  return diffSecurityRules(a, b).length > 0;
}

export function diffSecurityRules(
  before: NetworkSecurityGroup | undefined,
  after: NetworkSecurityGroup | undefined,
): PlanStep[] {
  const key = (r: SecurityRule) => JSON.stringify([managed(r), r.priority]);
  const b = new Map((before?.securityRules ?? []).map((r) => [r.name ?? '', r]));
  const a = new Map((after?.securityRules ?? []).map((r) => [r.name ?? '', r]));
  const steps: PlanStep[] = [];
  for (const [name, r] of a) {
    const old = b.get(name);
    const detail = `${r.access} ${r.sourceAddressPrefix ?? r.sourceAddressPrefixes?.join(',')} -> ${r.protocol}/${r.destinationPortRange} (priority ${r.priority})`;
    if (!old) steps.push({ action: 'create', resource: 'SecurityRule', name, detail });
    else if (key(old) !== key(r)) steps.push({ action: 'update', resource: 'SecurityRule', name, detail });
  }
  for (const name of b.keys()) if (!a.has(name)) steps.push({ action: 'delete', resource: 'SecurityRule', name });
  return steps;
}
