/**
 * A Service's Azure options, read once from its annotations (through the one AnnotationReader) and the
 * model's desired load balancer. Pure: a bad value throws InvalidAnnotationError / InvalidSpecError naming
 * what to change, before anything is read from or written to Azure.
 */
import type { DesiredLoadBalancer, HealthCheck, IpFamily, PortSpec } from '../../src/model/desired.ts';
import { InvalidSpecError } from '../../src/model/errors.ts';
import { HEALTH_CHECK_INTERVAL, HEALTH_CHECK_PORT } from '../../src/model/annotations.ts';
import { annotationReader, parseIp, type AnnotationReader } from '../../src/model/parse.ts';
import { AZURE_ANNOTATION as A, PER_PORT, PRIVATE_LINK_PREFIX, perPortKey } from './annotations.ts';

export type ArmTransport = 'Tcp' | 'Udp';
export type ArmProbeProtocol = 'Tcp' | 'Http' | 'Https';

export interface ProbeSpec {
  protocol: ArmProbeProtocol;
  port: number;
  requestPath?: string;
  intervalInSeconds: number;
  /** consecutive failures (and successes) that move a node out of (into) rotation */
  numberOfProbes: number;
}

/** One Service port as a load-balancing rule (before it is repeated per IP family). */
export interface PortRule {
  protocol: ArmTransport;
  port: number;
  nodePort: number;
  /** undefined: port_<n>_no_probe_rule */
  probe?: ProbeSpec;
}

export interface AzureServiceOptions {
  internal: boolean;
  /** subnet name of the internal frontend (default: --azure-subnet) */
  subnet?: string;
  /** resource group of the public IPs (default: --azure-resource-group) */
  pipResourceGroup?: string;
  /** a public IP the user brought: used, never deleted */
  pipName?: string;
  pipTags: Record<string, string>;
  pipPrefixId?: string;
  dnsLabel?: string;
  families: IpFamily[];
  /** the address asked for, per family (azure-load-balancer-ipv4/-ipv6, else spec.loadBalancerIP) */
  requestedIp: Partial<Record<IpFamily, string>>;
  rules: PortRule[];
  idleTimeoutMinutes: number;
  tcpReset: boolean;
  loadDistribution: 'Default' | 'SourceIP';
  /** CIDRs the NSG admits; with no CIDRs and no service tags, Internet (public) or VirtualNetwork (internal) */
  sourcePrefixes: string[];
  serviceTags: string[];
  denyAllExceptSourceRanges: boolean;
}

const PROBE_PROTOCOLS = ['Tcp', 'Http', 'Https'] as const;
/** Azure rejects probes whose interval x count reaches two minutes */
const PROBE_WINDOW_SECONDS = 120;

export function azureOptions(lb: DesiredLoadBalancer): AzureServiceOptions {
  const a = annotationReader(lb.annotations);
  const pls = Object.keys(lb.annotations).find((k) => k.startsWith(PRIVATE_LINK_PREFIX));
  if (pls !== undefined)
    throw new InvalidSpecError(
      `annotation ${pls}: Private Link Service is not supported: it can't sit on an IP-based backend pool, which this provider uses`,
    );
  a.bool(A.disableFloatingIP); // accepted (validated) and changes nothing: rules always forward to the NodePort
  a.bool(A.sharedSecurityRule);
  const internal = a.bool(A.internal) ?? false;
  const families = lb.ipFamilies.length > 0 ? lb.ipFamilies : (['IPv4'] as IpFamily[]);
  const requestedIp: Partial<Record<IpFamily, string>> = {};
  for (const ip of lb.requestedIPs) {
    const parsed = parseIp(ip);
    if (parsed) requestedIp[parsed.family] = parsed.text;
  }
  const v4 = a.ips(A.ipv4, 'IPv4');
  const v6 = a.ips(A.ipv6, 'IPv6');
  if (v4 && v4.length !== 1) a.reject(A.ipv4, a.string(A.ipv4) ?? '', 'one IPv4 address');
  if (v6 && v6.length !== 1) a.reject(A.ipv6, a.string(A.ipv6) ?? '', 'one IPv6 address');
  if (v4?.[0]) requestedIp.IPv4 = v4[0];
  if (v6?.[0]) requestedIp.IPv6 = v6[0];
  const pipName = a.string(A.pipName) || undefined;
  if (internal && pipName !== undefined)
    throw new InvalidSpecError(
      `annotation ${A.pipName}: an internal load balancer has no public IP; remove it or ${A.internal}`,
    );
  const subnet = a.string(A.internalSubnet) || undefined;
  const allowed = a.cidrs(A.allowedIpRanges) ?? [];
  const serviceTags = a.list(A.allowedServiceTags) ?? [];
  for (const tag of serviceTags)
    if (!/^[A-Za-z][A-Za-z0-9.]*$/.test(tag))
      a.reject(A.allowedServiceTags, tag, 'Azure service tags such as AzureFrontDoor.Backend');
  const options: AzureServiceOptions = {
    internal,
    pipTags: a.keyValues(A.pipTags) ?? {},
    families,
    requestedIp,
    rules: portRules(lb, a),
    idleTimeoutMinutes: a.int(A.idleTimeout, { min: 4, max: 100 }) ?? 4,
    tcpReset: !(a.bool(A.disableTcpReset) ?? false),
    loadDistribution: lb.sessionAffinity.type === 'ClientIP' ? 'SourceIP' : 'Default',
    sourcePrefixes: [...new Set([...lb.sourceRanges, ...allowed])],
    serviceTags,
    denyAllExceptSourceRanges: a.bool(A.denyAllExceptSourceRanges) ?? false,
  };
  if (subnet !== undefined) options.subnet = subnet;
  if (pipName !== undefined) options.pipName = pipName;
  const rg = a.string(A.resourceGroup) || undefined;
  if (rg !== undefined) options.pipResourceGroup = rg;
  const prefix = a.string(A.pipPrefixId) || undefined;
  if (prefix !== undefined) {
    if (
      !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/publicIPPrefixes\/[^/]+$/i.test(
        prefix,
      )
    )
      a.reject(A.pipPrefixId, prefix, 'a public IP prefix resource ID (/subscriptions/.../publicIPPrefixes/<name>)');
    options.pipPrefixId = prefix;
  }
  const dns = a.string(A.dnsLabelName) || undefined;
  if (dns !== undefined) {
    if (!/^[a-z][a-z0-9-]{1,61}[a-z0-9]$/.test(dns))
      a.reject(A.dnsLabelName, dns, 'a DNS label (3-63 lowercase letters, digits, -)');
    options.dnsLabel = dns;
  }
  return options;
}

function portRules(lb: DesiredLoadBalancer, a: AnnotationReader): PortRule[] {
  const rules: PortRule[] = [];
  for (const p of lb.ports) {
    if (p.protocol === 'SCTP')
      throw new InvalidSpecError(`port ${p.port}/SCTP: Azure load balancers carry TCP and UDP only`);
    if (p.nodePort === undefined)
      throw new InvalidSpecError(`port ${p.port}/${p.protocol} has no nodePort: Azure rules forward to NodePorts`);
    if (a.bool(perPortKey(p.port, PER_PORT.noLbRule))) continue;
    const rule: PortRule = { protocol: p.protocol === 'UDP' ? 'Udp' : 'Tcp', port: p.port, nodePort: p.nodePort };
    if (!a.bool(perPortKey(p.port, PER_PORT.noProbeRule))) rule.probe = probeOf(lb, { ...p, nodePort: p.nodePort }, a);
    rules.push(rule);
  }
  return rules;
}

/** The model's health check as an Azure probe, with the per-port overrides of port_<n>_health-probe_*. */
function probeOf(lb: DesiredLoadBalancer, p: PortSpec & { nodePort: number }, a: AnnotationReader): ProbeSpec {
  const hc: HealthCheck = lb.healthCheck;
  const key = (suffix: string) => perPortKey(p.port, suffix);
  const protocolWord = a.oneOf(key(PER_PORT.probeProtocol), PROBE_PROTOCOLS, { ignoreCase: true });
  const protocol: ArmProbeProtocol =
    protocolWord ?? (hc.protocol === 'TCP' ? 'Tcp' : hc.protocol === 'HTTPS' ? 'Https' : 'Http');
  let port = hc.port === 'traffic-port' ? p.nodePort : hc.port;
  const portRaw = a.string(key(PER_PORT.probePort));
  if (portRaw !== undefined) {
    const named = lb.ports.find((q) => q.name === portRaw || String(q.port) === portRaw);
    if (named?.nodePort !== undefined) port = named.nodePort;
    else port = a.int(key(PER_PORT.probePort), { min: 1, max: 65535, also: 'a Service port name' }) ?? port;
  } else if (protocol === 'Tcp' && !a.has(HEALTH_CHECK_PORT)) {
    // cloud-provider-azure: a Tcp probe checks the traffic port (a connect to kube-proxy's port says little)
    port = p.nodePort;
  }
  const interval = a.int(key(PER_PORT.probeInterval), { min: 5, max: 59 }) ?? hc.intervalSeconds;
  const count = a.int(key(PER_PORT.probeCount), { min: 2, max: 23 }) ?? hc.unhealthyThreshold;
  if (interval * count >= PROBE_WINDOW_SECONDS) {
    const culprit = [key(PER_PORT.probeCount), key(PER_PORT.probeInterval), A.probeCount, A.probeInterval].find((k) =>
      a.has(k),
    );
    const k = culprit ?? HEALTH_CHECK_INTERVAL;
    a.reject(
      k,
      a.string(k) ?? String(interval),
      `a probe interval x count under ${PROBE_WINDOW_SECONDS} s (now ${interval} x ${count})`,
    );
  }
  const probe: ProbeSpec = { protocol, port, intervalInSeconds: interval, numberOfProbes: count };
  if (protocol !== 'Tcp') {
    const path = a.string(key(PER_PORT.probePath)) ?? hc.path ?? '/healthz';
    if (!path.startsWith('/')) a.reject(key(PER_PORT.probePath), path, 'a path that starts with /');
    probe.requestPath = path;
  }
  return probe;
}
