/**
 * Every annotation the AWS provider reads, with its type, default and where the default comes from.
 * options.ts parses values through these keys (the one place that does); the README table is made from
 * this list. Where cloud-provider-aws and aws-load-balancer-controller disagree we follow
 * cloud-provider-aws, whose replacement this is.
 */
import type { AnnotationSpec } from '../../src/model/annotation-spec.ts';

const P = 'service.beta.kubernetes.io/';

/** Annotation keys, named once so the parser and the table cannot drift apart. */
export const AWS_ANNOTATION = {
  type: `${P}aws-load-balancer-type`,
  internal: `${P}aws-load-balancer-internal`,
  scheme: `${P}aws-load-balancer-scheme`,
  subnets: `${P}aws-load-balancer-subnets`,
  eipAllocations: `${P}aws-load-balancer-eip-allocations`,
  privateIPv4Addresses: `${P}aws-load-balancer-private-ipv4-addresses`,
  ipv6Addresses: `${P}aws-load-balancer-ipv6-addresses`,
  healthCheckProtocol: `${P}aws-load-balancer-healthcheck-protocol`,
  healthCheckPort: `${P}aws-load-balancer-healthcheck-port`,
  healthCheckPath: `${P}aws-load-balancer-healthcheck-path`,
  healthCheckInterval: `${P}aws-load-balancer-healthcheck-interval`,
  healthCheckTimeout: `${P}aws-load-balancer-healthcheck-timeout`,
  healthyThreshold: `${P}aws-load-balancer-healthcheck-healthy-threshold`,
  unhealthyThreshold: `${P}aws-load-balancer-healthcheck-unhealthy-threshold`,
  healthCheckSuccessCodes: `${P}aws-load-balancer-healthcheck-success-codes`,
  crossZone: `${P}aws-load-balancer-cross-zone-load-balancing-enabled`,
  sslCert: `${P}aws-load-balancer-ssl-cert`,
  sslPorts: `${P}aws-load-balancer-ssl-ports`,
  sslNegotiationPolicy: `${P}aws-load-balancer-ssl-negotiation-policy`,
  alpnPolicy: `${P}aws-load-balancer-alpn-policy`,
  additionalTags: `${P}aws-load-balancer-additional-resource-tags`,
  targetGroupAttributes: `${P}aws-load-balancer-target-group-attributes`,
  attributes: `${P}aws-load-balancer-attributes`,
  ipAddressType: `${P}aws-load-balancer-ip-address-type`,
  securityGroups: `${P}aws-load-balancer-security-groups`,
  manageBackendSecurityGroupRules: `${P}aws-load-balancer-manage-backend-security-group-rules`,
  targetNodeLabels: `${P}aws-load-balancer-target-node-labels`,
  proxyProtocol: `${P}aws-load-balancer-proxy-protocol`,
  name: `${P}aws-load-balancer-name`,
  backendProtocol: `${P}aws-load-balancer-backend-protocol`,
  targetType: `${P}aws-load-balancer-nlb-target-type`,
  sourceRanges: `${P}load-balancer-source-ranges`,
} as const;

const CPA = 'cloud-provider-aws';
const ALBC = 'aws-load-balancer-controller';
const MODEL = 'lb-provisioner model';

export const AWS_ANNOTATIONS: AnnotationSpec[] = [
  {
    key: AWS_ANNOTATION.type,
    provider: 'aws',
    type: 'nlb | external | nlb-ip',
    default: 'nlb',
    defaultSource: 'lb-provisioner (Classic ELBs are never made)',
    description:
      'Load balancer type. `external` takes its target type from aws-load-balancer-nlb-target-type; `nlb-ip` (IP targets) is refused until IP targets exist.',
  },
  {
    key: AWS_ANNOTATION.internal,
    provider: 'aws',
    type: 'bool',
    default: 'false',
    defaultSource: CPA,
    description:
      'true makes an internal NLB (legacy form of aws-load-balancer-scheme; 0.0.0.0/0 is read as true, as upstream does).',
  },
  {
    key: AWS_ANNOTATION.scheme,
    provider: 'aws',
    type: 'internet-facing | internal',
    default: 'internet-facing',
    defaultSource: `${CPA} (${ALBC} defaults to internal)`,
    description:
      'NLB scheme; wins over aws-load-balancer-internal. When absent an existing NLB keeps its scheme. A change replaces the NLB.',
  },
  {
    key: AWS_ANNOTATION.subnets,
    provider: 'aws',
    type: 'comma list of subnet IDs or Name tags',
    default: '',
    defaultSource:
      "discovery in the cluster's VPC by kubernetes.io/role/elb (or role/internal-elb) and the cluster tag, one per AZ",
    description:
      "Subnets (one per Availability Zone), in the cluster's VPC. Changes are applied in place with SetSubnets.",
  },
  {
    key: AWS_ANNOTATION.eipAllocations,
    provider: 'aws',
    type: 'comma list of EIP allocation IDs',
    default: '',
    description: 'One Elastic IP per subnet (internet-facing only); their addresses are reported with ipMode Proxy.',
  },
  {
    key: AWS_ANNOTATION.privateIPv4Addresses,
    provider: 'aws',
    type: 'comma list of IPv4 addresses',
    default: '',
    description: 'One private IPv4 address per subnet (internal only).',
  },
  {
    key: AWS_ANNOTATION.ipv6Addresses,
    provider: 'aws',
    type: 'comma list of IPv6 addresses',
    default: '',
    description: 'One IPv6 address per subnet (dualstack only).',
  },
  {
    key: AWS_ANNOTATION.healthCheckProtocol,
    provider: 'aws',
    type: 'TCP | HTTP | HTTPS',
    default: 'HTTP',
    defaultSource: MODEL,
    description: 'Health-check protocol; changed in place with ModifyTargetGroup.',
  },
  {
    key: AWS_ANNOTATION.healthCheckPort,
    provider: 'aws',
    type: 'traffic-port | int (1-65535)',
    default: '10256 (Cluster) / healthCheckNodePort (Local)',
    defaultSource: MODEL,
    description: 'Health-check port on the node.',
  },
  {
    key: AWS_ANNOTATION.healthCheckPath,
    provider: 'aws',
    type: 'string starting with /',
    default: '/healthz',
    defaultSource: MODEL,
    description: 'Health-check path for HTTP and HTTPS checks.',
  },
  {
    key: AWS_ANNOTATION.healthCheckInterval,
    provider: 'aws',
    type: 'int seconds (5-300)',
    default: '30',
    defaultSource: CPA,
    description: 'Seconds between health checks.',
  },
  {
    key: AWS_ANNOTATION.healthCheckTimeout,
    provider: 'aws',
    type: 'int seconds (2-120)',
    default: '10',
    defaultSource: CPA,
    description: 'Health-check timeout; must not exceed the interval.',
  },
  {
    key: AWS_ANNOTATION.healthyThreshold,
    provider: 'aws',
    type: 'int (2-10)',
    default: '3',
    defaultSource: CPA,
    description: 'Consecutive successes before a node is healthy.',
  },
  {
    key: AWS_ANNOTATION.unhealthyThreshold,
    provider: 'aws',
    type: 'int (2-10)',
    default: '3',
    defaultSource: CPA,
    description: 'Consecutive failures before a node is unhealthy.',
  },
  {
    key: AWS_ANNOTATION.healthCheckSuccessCodes,
    provider: 'aws',
    type: 'HTTP codes: 200 | 200,202 | 200-399',
    default: '200-399',
    defaultSource: ALBC,
    description: 'HTTP codes counted as healthy (HTTP/HTTPS checks only).',
  },
  {
    key: AWS_ANNOTATION.crossZone,
    provider: 'aws',
    type: 'bool',
    default: 'false',
    defaultSource: 'AWS (NLB attribute default)',
    description: 'Sets load_balancing.cross_zone.enabled.',
  },
  {
    key: AWS_ANNOTATION.sslCert,
    provider: 'aws',
    type: 'comma list of certificate ARNs',
    default: '',
    description:
      'Listeners on aws-load-balancer-ssl-ports become TLS with these certificates: the first is the default, the others are added to the listener (SNI) and removed when they leave the list.',
  },
  {
    key: AWS_ANNOTATION.sslPorts,
    provider: 'aws',
    type: '* or comma list of port numbers or names',
    default: '*',
    defaultSource: CPA,
    description: 'Which ports get TLS listeners when a certificate is set.',
  },
  {
    key: AWS_ANNOTATION.sslNegotiationPolicy,
    provider: 'aws',
    type: 'ELB security policy name',
    default: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
    defaultSource: ALBC,
    description: 'TLS policy of TLS listeners.',
  },
  {
    key: AWS_ANNOTATION.alpnPolicy,
    provider: 'aws',
    type: 'HTTP1Only | HTTP2Only | HTTP2Optional | HTTP2Preferred | None',
    default: 'None',
    defaultSource: ALBC,
    description: 'ALPN policy of TLS listeners.',
  },
  {
    key: AWS_ANNOTATION.additionalTags,
    provider: 'aws',
    type: 'comma list of key=value',
    default: '',
    description:
      'Extra tags on the NLB, its target groups and its security group; a key dropped from the list is removed (tags added by hand are kept).',
  },
  {
    key: AWS_ANNOTATION.targetGroupAttributes,
    provider: 'aws',
    type: 'comma list of key=value',
    default: '',
    description: 'Target-group attributes (e.g. deregistration_delay.timeout_seconds=30).',
  },
  {
    key: AWS_ANNOTATION.attributes,
    provider: 'aws',
    type: 'comma list of key=value',
    default: '',
    description:
      'Load-balancer attributes (e.g. deletion_protection.enabled=true: cleanup then waits, retrying every minute, until protection is turned off in AWS; the Event names the command).',
  },
  {
    key: AWS_ANNOTATION.ipAddressType,
    provider: 'aws',
    type: 'ipv4 | dualstack',
    default: 'ipv4',
    defaultSource: CPA,
    description: 'Address family of the NLB; changed in place with SetIpAddressType.',
  },
  {
    key: AWS_ANNOTATION.securityGroups,
    provider: 'aws',
    type: 'comma list of security group IDs',
    default: '',
    description:
      'Use these frontend security groups instead of a managed one (the NLB then has no managed frontend group).',
  },
  {
    key: AWS_ANNOTATION.manageBackendSecurityGroupRules,
    provider: 'aws',
    type: 'bool',
    default: 'true',
    defaultSource: ALBC,
    description: 'Whether the shared backend group and its node rule are managed.',
  },
  {
    key: AWS_ANNOTATION.targetNodeLabels,
    provider: 'aws',
    type: 'comma list of key=value',
    default: '',
    description: 'Only nodes with all these labels are targets.',
  },
  {
    key: AWS_ANNOTATION.proxyProtocol,
    provider: 'aws',
    type: '*',
    default: '',
    defaultSource: CPA,
    description: '* enables PROXY protocol v2 on every target group (proxy_protocol_v2.enabled).',
  },
  {
    key: AWS_ANNOTATION.name,
    provider: 'aws',
    type: 'string (1-32: letters, digits, -)',
    default: 'derived from cluster and Service UID',
    description: 'A fixed NLB name.',
  },
  {
    key: AWS_ANNOTATION.backendProtocol,
    provider: 'aws',
    type: 'tcp | ssl',
    default: 'tcp',
    defaultSource: CPA,
    description: 'ssl makes TLS target groups behind TLS listeners.',
  },
  {
    key: AWS_ANNOTATION.targetType,
    provider: 'aws',
    type: 'instance | ip',
    default: 'instance',
    defaultSource: CPA,
    description: 'Target type; ip is refused (InvalidSpec) until IP targets exist.',
  },
  {
    key: AWS_ANNOTATION.sourceRanges,
    provider: 'aws',
    type: 'comma list of CIDRs',
    default: '0.0.0.0/0 (and ::/0 for dualstack)',
    defaultSource: 'Kubernetes',
    description:
      "Allowed client ranges when spec.loadBalancerSourceRanges is empty; rules of the NLB's own frontend security group (without ranges the NLB uses the cluster's shared open group).",
  },
];
