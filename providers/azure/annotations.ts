/**
 * Every annotation the Azure provider reads, with cloud-provider-azure's meaning and default (a Service
 * written for it works unchanged). options.ts parses values through these keys and nothing else; the
 * README table is made from AZURE_ANNOTATIONS. The health-probe annotations are read by the model
 * (src/model/health-check.ts) through AZURE_HEALTH_CHECK, so there is one health-check parser.
 */
import type { AnnotationSpec } from '../../src/model/annotation-spec.ts';
import type { HealthCheckRules } from '../../src/model/health-check.ts';

const P = 'service.beta.kubernetes.io/';

export const AZURE_ANNOTATION = {
  internal: `${P}azure-load-balancer-internal`,
  internalSubnet: `${P}azure-load-balancer-internal-subnet`,
  resourceGroup: `${P}azure-load-balancer-resource-group`,
  pipName: `${P}azure-pip-name`,
  pipTags: `${P}azure-pip-tags`,
  pipPrefixId: `${P}azure-pip-prefix-id`,
  dnsLabelName: `${P}azure-dns-label-name`,
  ipv4: `${P}azure-load-balancer-ipv4`,
  ipv6: `${P}azure-load-balancer-ipv6`,
  probeProtocol: `${P}azure-load-balancer-health-probe-protocol`,
  probePath: `${P}azure-load-balancer-health-probe-request-path`,
  probeInterval: `${P}azure-load-balancer-health-probe-interval`,
  probeCount: `${P}azure-load-balancer-health-probe-num-of-probe`,
  idleTimeout: `${P}azure-load-balancer-tcp-idle-timeout`,
  disableTcpReset: `${P}azure-load-balancer-disable-tcp-reset`,
  disableFloatingIP: `${P}azure-disable-load-balancer-floating-ip`,
  allowedIpRanges: `${P}azure-allowed-ip-ranges`,
  allowedServiceTags: `${P}azure-allowed-service-tags`,
  denyAllExceptSourceRanges: `${P}azure-deny-all-except-load-balancer-source-ranges`,
  sharedSecurityRule: `${P}azure-shared-securityrule`,
} as const;

/** Per-port annotations: `service.beta.kubernetes.io/port_<port>_<suffix>` (upstream spelling). */
export const PER_PORT = {
  probeProtocol: 'health-probe_protocol',
  probePort: 'health-probe_port',
  probePath: 'health-probe_request-path',
  probeInterval: 'health-probe_interval',
  probeCount: 'health-probe_num-of-probe',
  noLbRule: 'no_lb_rule',
  noProbeRule: 'no_probe_rule',
} as const;

export function perPortKey(port: number, suffix: string): string {
  return `${P}port_${port}_${suffix}`;
}

/** Private Link Service annotations (azure-pls-*): refused, an IP-based backend pool can't carry one. */
export const PRIVATE_LINK_PREFIX = `${P}azure-pls-`;

/**
 * How the model reads health probes for Azure: cloud-provider-azure's defaults (5 s, 2 probes) and Azure's
 * bounds (interval >= 5, probes >= 2; interval x probes < 120 is checked in options.ts, since it spans two
 * fields). Azure has no probe timeout: the model's timeout is checked against its generic range only.
 */
export const AZURE_HEALTH_CHECK: HealthCheckRules = {
  defaults: { intervalSeconds: 5, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 2 },
  bounds: { intervalSeconds: [5, 59], unhealthyThreshold: [2, 23], healthyThreshold: [1, 23] },
  aliases: {
    protocol: AZURE_ANNOTATION.probeProtocol,
    path: AZURE_ANNOTATION.probePath,
    intervalSeconds: AZURE_ANNOTATION.probeInterval,
    unhealthyThreshold: AZURE_ANNOTATION.probeCount,
  },
};

const row = (key: string, type: string, def: string, description: string, defaultSource?: string): AnnotationSpec => ({
  key,
  provider: 'azure',
  type,
  default: def,
  ...(defaultSource ? { defaultSource } : {}),
  description,
});
const CPA = 'cloud-provider-azure';
const A = AZURE_ANNOTATION;

export const AZURE_ANNOTATIONS: AnnotationSpec[] = [
  row(
    A.internal,
    'bool',
    'false',
    'true puts the frontend on a private address of the internal load balancer (`<cluster>-lbp-internal`).',
    CPA,
  ),
  row(
    A.internalSubnet,
    'subnet name',
    '--azure-subnet',
    'Subnet (in --azure-vnet) of the internal frontend address.',
    CPA,
  ),
  row(
    A.resourceGroup,
    'resource group name',
    '--azure-resource-group',
    'Resource group of the public IPs (ours and bring-your-own).',
    CPA,
  ),
  row(
    A.pipName,
    'public IP name',
    '',
    'Bring your own public IP: used as the frontend, never deleted. Services naming the same IP share one frontend (disjoint ports).',
    CPA,
  ),
  row(A.pipTags, 'comma list of key=value', '', 'Extra tags on the public IP we create (ours win on conflicts).', CPA),
  row(A.pipPrefixId, 'public IP prefix resource ID', '', 'Allocate the public IP we create from this prefix.', CPA),
  row(
    A.dnsLabelName,
    'DNS label',
    '',
    'DNS label of the public IP we create (`<label>.<location>.cloudapp.azure.com`).',
    CPA,
  ),
  row(
    A.ipv4,
    'IPv4 address',
    '',
    'The frontend address: an existing public IP of the resource group (public), or a static private address (internal). Wins over spec.loadBalancerIP.',
    CPA,
  ),
  row(
    A.ipv6,
    'IPv6 address',
    '',
    'As azure-load-balancer-ipv4, for the IPv6 frontend of a dual-stack or IPv6 Service.',
    CPA,
  ),
  row(
    A.probeProtocol,
    'Tcp | Http | Https (any case)',
    'Http (lb-provisioner model: kube-proxy /healthz)',
    "Probe protocol for every port (the model's health-check protocol).",
  ),
  row(A.probePath, 'path starting with /', '/healthz', 'Probe path for Http and Https probes.'),
  row(
    A.probeInterval,
    'int seconds (5-59)',
    '5',
    'Seconds between probes; interval x num-of-probe must stay under 120.',
    CPA,
  ),
  row(
    A.probeCount,
    'int (2-23)',
    '2',
    'Consecutive failed (and successful) probes before a node leaves (or rejoins) rotation.',
    CPA,
  ),
  row(
    perPortKey(0, PER_PORT.probeProtocol).replace('port_0_', 'port_{port}_'),
    'Tcp | Http | Https',
    '(the Service-wide probe)',
    'Probe protocol of one Service port.',
    CPA,
  ),
  row(
    perPortKey(0, PER_PORT.probePort).replace('port_0_', 'port_{port}_'),
    'int (1-65535) or a Service port name',
    '(the Service-wide probe)',
    'Node port the probe of one Service port checks (a Service port name means its nodePort).',
    CPA,
  ),
  row(
    perPortKey(0, PER_PORT.probePath).replace('port_0_', 'port_{port}_'),
    'path starting with /',
    '(the Service-wide probe)',
    'Probe path of one Service port.',
    CPA,
  ),
  row(
    perPortKey(0, PER_PORT.probeInterval).replace('port_0_', 'port_{port}_'),
    'int seconds (5-59)',
    '(the Service-wide probe)',
    'Probe interval of one Service port.',
    CPA,
  ),
  row(
    perPortKey(0, PER_PORT.probeCount).replace('port_0_', 'port_{port}_'),
    'int (2-23)',
    '(the Service-wide probe)',
    'Probe count of one Service port.',
    CPA,
  ),
  row(
    perPortKey(0, PER_PORT.noLbRule).replace('port_0_', 'port_{port}_'),
    'bool',
    'false',
    'true: no load-balancing rule (and no probe) for this Service port.',
    CPA,
  ),
  row(
    perPortKey(0, PER_PORT.noProbeRule).replace('port_0_', 'port_{port}_'),
    'bool',
    'false',
    'true: the rule of this Service port has no probe (every node gets traffic).',
    CPA,
  ),
  row(A.idleTimeout, 'int minutes (4-100)', '4', 'TCP idle timeout of the rules.', CPA),
  row(
    A.disableTcpReset,
    'bool',
    'false',
    'true turns off TCP reset on idle timeout (Standard load balancers send it by default).',
    CPA,
  ),
  row(
    A.disableFloatingIP,
    'bool',
    'true (always)',
    'Accepted and changes nothing: rules forward to the NodePort with floating IP off (our NodePort model; cloud-provider-azure defaults to floating IP on).',
  ),
  row(
    A.allowedIpRanges,
    'comma list of CIDRs',
    '(Internet)',
    'Sources the network security group admits (with spec.loadBalancerSourceRanges, which it adds to).',
    CPA,
  ),
  row(
    A.allowedServiceTags,
    'comma list of service tags',
    '',
    'Azure service tags the network security group admits (one rule each).',
    CPA,
  ),
  row(
    A.denyAllExceptSourceRanges,
    'bool',
    'false',
    "true adds a deny rule for every other source on the Service's NodePorts (the VNet included).",
    CPA,
  ),
  row(
    A.sharedSecurityRule,
    'bool',
    'false',
    'Accepted; each Service keeps rules of its own (its NodePorts are its own), so nothing is shared.',
  ),
  row(
    `${PRIVATE_LINK_PREFIX}*`,
    '(refused)',
    '',
    "Private Link Service can't sit on an IP-based backend pool: any azure-pls-* annotation is an InvalidSpec condition.",
  ),
];
