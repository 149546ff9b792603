/**
 * What ARM checks beyond the schema, written from Azure's documented behaviour (Standard SKU): references
 * resolve, names are unique, ports and probe settings are within range, limits hold. Each failure is the
 * 400 ARM would answer, with an error code of ARM's kind. Bodies are wire JSON.
 */
import { isIP } from 'node:net';

export interface ArmRejection {
  code: string;
  message: string;
}

type Json = Record<string, unknown>;
const props = (x: unknown): Json => ((x as Json | undefined)?.['properties'] as Json | undefined) ?? {};
const list = (x: unknown): Json[] => (Array.isArray(x) ? (x as Json[]) : []);
const idOf = (x: unknown): string | undefined => ((x as Json | undefined)?.['id'] as string | undefined)?.toLowerCase();
const nameOf = (x: Json): string => String(x['name'] ?? '');

export const ARM_LIMITS = { frontends: 600, rules: 1500, rulesPerNic: 300, nsgRules: 1000 } as const;

/** Load balancer checks. `lbId` is the resource's own ID; `publicIpExists` resolves public IP references. */
export function checkLoadBalancer(
  lbId: string,
  body: Json,
  publicIpExists: (id: string) => boolean,
  subnetExists: (id: string) => boolean,
): ArmRejection | undefined {
  const p = props(body);
  const sku = (body['sku'] as Json | undefined)?.['name'];
  if (sku !== undefined && sku !== 'Standard' && sku !== 'Basic' && sku !== 'Gateway')
    return { code: 'InvalidRequestFormat', message: `unknown sku ${String(sku)}` };
  const collections = [
    'frontendIPConfigurations',
    'backendAddressPools',
    'loadBalancingRules',
    'probes',
    'inboundNatRules',
    'outboundRules',
  ];
  const ids = new Map<string, Set<string>>();
  for (const c of collections) {
    const names = new Set<string>();
    for (const child of list(p[c])) {
      const n = nameOf(child);
      if (!n) return { code: 'InvalidRequestFormat', message: `${c}: every child needs a name` };
      if (!/^[a-zA-Z0-9]([\w.-]{0,78}[\w])?$/.test(n))
        return { code: 'InvalidResourceName', message: `${c}/${n}: not a valid name (1-80 characters)` };
      if (names.has(n.toLowerCase())) return { code: 'DuplicateResourceName', message: `${c}: ${n} appears twice` };
      names.add(n.toLowerCase());
    }
    ids.set(c, new Set([...names].map((n) => `${lbId.toLowerCase()}/${c.toLowerCase()}/${n}`)));
  }
  const resolves = (c: string, ref: unknown) => {
    const id = idOf(ref);
    return id !== undefined && ids.get(c)!.has(id);
  };
  const frontends = list(p['frontendIPConfigurations']);
  if (frontends.length > ARM_LIMITS.frontends)
    return {
      code: 'LoadBalancerFrontendIPConfigurationsLimitReached',
      message: `${frontends.length} frontends; the limit is ${ARM_LIMITS.frontends}`,
    };
  const seenPips = new Set<string>();
  for (const fe of frontends) {
    const fp = props(fe);
    const kinds = ['publicIPAddress', 'subnet', 'publicIPPrefix'].filter((k) => fp[k] !== undefined);
    if (kinds.length !== 1)
      return {
        code: 'InvalidFrontendIPConfiguration',
        message: `frontend ${nameOf(fe)} needs exactly one of publicIPAddress, publicIPPrefix, subnet`,
      };
    const pip = idOf(fp['publicIPAddress']);
    if (pip !== undefined) {
      if (!publicIpExists(pip))
        return { code: 'InvalidResourceReference', message: `frontend ${nameOf(fe)}: public IP ${pip} not found` };
      if (seenPips.has(pip))
        return {
          code: 'PublicIPReferencedByMultipleIPConfigs',
          message: `public IP ${pip} is referenced by two frontends`,
        };
      seenPips.add(pip);
    }
    const subnet = idOf(fp['subnet']);
    if (subnet !== undefined) {
      if (!subnetExists(subnet))
        return { code: 'InvalidResourceReference', message: `frontend ${nameOf(fe)}: subnet ${subnet} not found` };
      const method = String(fp['privateIPAllocationMethod'] ?? 'Dynamic');
      const addr = fp['privateIPAddress'];
      if (method === 'Static' && (typeof addr !== 'string' || isIP(addr) === 0))
        return {
          code: 'InvalidRequestFormat',
          message: `frontend ${nameOf(fe)}: a Static allocation needs a privateIPAddress`,
        };
    }
  }
  for (const pool of list(p['backendAddressPools'])) {
    for (const a of list(props(pool)['loadBalancerBackendAddresses'])) {
      const ap = props(a);
      const ip = ap['ipAddress'];
      if (ip !== undefined && (typeof ip !== 'string' || isIP(ip) === 0))
        return { code: 'InvalidIPAddress', message: `pool ${nameOf(pool)}: ${String(ip)} is not an IP address` };
      if (ip !== undefined && ap['virtualNetwork'] === undefined && ap['subnet'] === undefined)
        return {
          code: 'InvalidRequestFormat',
          message: `pool ${nameOf(pool)}: an IP-based backend address needs a virtualNetwork`,
        };
    }
  }
  const probes = list(p['probes']);
  for (const pr of probes) {
    const pp = props(pr);
    const protocol = String(pp['protocol'] ?? '').toLowerCase();
    const port = Number(pp['port']);
    if (!(port >= 1 && port <= 65535))
      return { code: 'InvalidProbePort', message: `probe ${nameOf(pr)}: port ${String(pp['port'])} is not 1-65535` };
    const interval = pp['intervalInSeconds'] as number | undefined;
    if (interval !== undefined && interval < 5)
      return { code: 'InvalidProbeInterval', message: `probe ${nameOf(pr)}: intervalInSeconds must be at least 5` };
    const count = pp['numberOfProbes'] as number | undefined;
    if (count !== undefined && count < 1)
      return { code: 'InvalidProbeCount', message: `probe ${nameOf(pr)}: numberOfProbes must be at least 1` };
    const path = pp['requestPath'];
    if ((protocol === 'http' || protocol === 'https') && typeof path !== 'string')
      return {
        code: 'ProbeRequestPathRequired',
        message: `probe ${nameOf(pr)}: ${protocol} probes need a requestPath`,
      };
    if (protocol === 'tcp' && path !== undefined)
      return { code: 'ProbeRequestPathNotAllowed', message: `probe ${nameOf(pr)}: Tcp probes take no requestPath` };
  }
  const rules = list(p['loadBalancingRules']);
  const nat = list(p['inboundNatRules']);
  if (rules.length + nat.length > ARM_LIMITS.rules)
    return {
      code: 'LoadBalancerRulesLimitReached',
      message: `${rules.length + nat.length} rules; the limit is ${ARM_LIMITS.rules}`,
    };
  const frontendPorts = new Set<string>();
  const rulesPerPool = new Map<string, number>();
  for (const r of rules) {
    const rp = props(r);
    const n = nameOf(r);
    if (!resolves('frontendIPConfigurations', rp['frontendIPConfiguration']))
      return {
        code: 'InvalidResourceReference',
        message: `rule ${n}: frontendIPConfiguration ${idOf(rp['frontendIPConfiguration'])} not found in this load balancer`,
      };
    if (rp['backendAddressPool'] !== undefined && !resolves('backendAddressPools', rp['backendAddressPool']))
      return {
        code: 'InvalidResourceReference',
        message: `rule ${n}: backendAddressPool ${idOf(rp['backendAddressPool'])} not found in this load balancer`,
      };
    if (rp['probe'] !== undefined && !resolves('probes', rp['probe']))
      return {
        code: 'InvalidResourceReference',
        message: `rule ${n}: probe ${idOf(rp['probe'])} not found in this load balancer`,
      };
    const fport = Number(rp['frontendPort']);
    const bport = Number(rp['backendPort'] ?? rp['frontendPort']);
    if (!(fport >= 0 && fport <= 65534))
      return { code: 'InvalidLoadBalancerRulePort', message: `rule ${n}: frontendPort ${fport} is not 0-65534` };
    if (!(bport >= 0 && bport <= 65535))
      return { code: 'InvalidLoadBalancerRulePort', message: `rule ${n}: backendPort ${bport} is not 0-65535` };
    const idle = rp['idleTimeoutInMinutes'] as number | undefined;
    if (idle !== undefined && (idle < 4 || idle > 100))
      return { code: 'InvalidIdleTimeout', message: `rule ${n}: idleTimeoutInMinutes must be 4-100` };
    const key = `${idOf(rp['frontendIPConfiguration'])}|${String(rp['protocol']).toLowerCase()}|${fport}`;
    if (frontendPorts.has(key))
      return {
        code: 'LoadBalancingRuleFrontendPortConflict',
        message: `rule ${n}: frontend port ${fport}/${String(rp['protocol'])} is already used on this frontend`,
      };
    frontendPorts.add(key);
    const pool = idOf(rp['backendAddressPool']);
    if (pool) rulesPerPool.set(pool, (rulesPerPool.get(pool) ?? 0) + 1);
  }
  for (const [pool, n] of rulesPerPool)
    if (n > ARM_LIMITS.rulesPerNic)
      return {
        code: 'RulesPerNicLimitReached',
        message: `${n} rules reach the members of ${pool}; a NIC takes at most ${ARM_LIMITS.rulesPerNic}`,
      };
  return undefined;
}

export function checkPublicIp(body: Json): ArmRejection | undefined {
  const p = props(body);
  const sku = (body['sku'] as Json | undefined)?.['name'];
  if (sku === 'Standard' && p['publicIPAllocationMethod'] !== undefined && p['publicIPAllocationMethod'] !== 'Static')
    return { code: 'StandardSkuPublicIPAddressesMustBeStatic', message: 'Standard public IPs must be Static' };
  const label = (p['dnsSettings'] as Json | undefined)?.['domainNameLabel'];
  if (label !== undefined && !/^[a-z][a-z0-9-]{1,61}[a-z0-9]$/.test(String(label)))
    return { code: 'InvalidDomainNameLabel', message: `${String(label)} is not a valid DNS label` };
  if (typeof body['location'] !== 'string') return { code: 'LocationRequired', message: 'location is required' };
  return undefined;
}

export function checkSecurityGroup(body: Json): ArmRejection | undefined {
  const rules = list(props(body)['securityRules']);
  if (rules.length > ARM_LIMITS.nsgRules)
    return {
      code: 'SecurityRulesLimitReached',
      message: `${rules.length} security rules; the limit is ${ARM_LIMITS.nsgRules}`,
    };
  const names = new Set<string>();
  const priorities = new Set<string>();
  for (const r of rules) {
    const rp = props(r);
    const n = nameOf(r);
    if (names.has(n.toLowerCase()))
      return { code: 'DuplicateResourceName', message: `security rule ${n} appears twice` };
    names.add(n.toLowerCase());
    const priority = Number(rp['priority']);
    if (!(priority >= 100 && priority <= 4096))
      return {
        code: 'SecurityRuleInvalidPriority',
        message: `rule ${n}: priority ${String(rp['priority'])} is not 100-4096`,
      };
    const key = `${String(rp['direction'])}|${priority}`;
    if (priorities.has(key))
      return {
        code: 'SecurityRulesInvalidPriorityConflict',
        message: `rule ${n}: priority ${priority} is already used by another ${String(rp['direction'])} rule`,
      };
    priorities.add(key);
    const single = rp['sourceAddressPrefix'] !== undefined;
    const many = list(rp['sourceAddressPrefixes']).length > 0;
    if (single === many)
      return {
        code: 'SecurityRuleParameterContainsUnsupportedValue',
        message: `rule ${n}: give exactly one of sourceAddressPrefix, sourceAddressPrefixes`,
      };
    const port = String(rp['destinationPortRange'] ?? '*');
    if (port !== '*' && !/^\d{1,5}(-\d{1,5})?$/.test(port))
      return { code: 'SecurityRuleInvalidPortRange', message: `rule ${n}: ${port} is not a port or range` };
  }
  return undefined;
}
