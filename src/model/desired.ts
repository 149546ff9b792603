/**
 * The provider-neutral description of a load balancer, computed from a Service and the Node set by the
 * pure functions in src/model. Providers receive it; they never read Kubernetes objects themselves.
 */

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** How the address in status is reached: see KEP-1860. Only valid on ingress entries with an ip. */
export type IpMode = 'VIP' | 'Proxy';

export interface PortStatus {
  port: number;
  protocol: Protocol;
  /** a CamelCase reason when this port is not served, as in the Kubernetes PortStatus API */
  error?: string;
}

/** One address a provider reports for a load balancer (status.loadBalancer.ingress[]). */
export interface IngressPoint {
  ip?: string;
  hostname?: string;
  ipMode?: IpMode;
  ports?: PortStatus[];
}
export type IpFamily = 'IPv4' | 'IPv6';

/** Identifies the Service a load balancer belongs to. Cloud names derive from clusterName + uid. */
export interface LoadBalancerRef {
  clusterName: string;
  namespace: string;
  name: string;
  uid: string;
}

export interface PortSpec {
  /** the Service port's name ('' when it has none) */
  name: string;
  protocol: Protocol;
  port: number;
  /** absent when allocateLoadBalancerNodePorts is false and none was set explicitly */
  nodePort?: number;
}

export interface TargetNode {
  name: string;
  /** InternalIP addresses (first of each family), else ExternalIP */
  addresses: string[];
  providerID?: string;
  labels: Record<string, string>;
  /** topology.kubernetes.io/zone, when set */
  zone?: string;
}

export interface HealthCheck {
  protocol: 'HTTP' | 'HTTPS' | 'TCP';
  /** a node port number; 'traffic-port' means each port's own nodePort */
  port: number | 'traffic-port';
  /** for HTTP(S) */
  path?: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export interface SessionAffinity {
  type: 'None' | 'ClientIP';
  timeoutSeconds: number;
}

export interface DesiredLoadBalancer {
  ref: LoadBalancerRef;
  ports: PortSpec[];
  targets: TargetNode[];
  healthCheck: HealthCheck;
  externalTrafficPolicy: 'Cluster' | 'Local';
  healthCheckNodePort?: number;
  /** CIDRs allowed to reach the load balancer; empty means everyone */
  sourceRanges: string[];
  ipFamilies: IpFamily[];
  ipFamilyPolicy: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
  sessionAffinity: SessionAffinity;
  /** addresses the user asked for (spec.loadBalancerIP, lbprovisioner.io/ips, metallb.io/loadBalancerIPs...) */
  requestedIPs: string[];
  /** addresses already in status.loadBalancer.ingress (adoption, and what a restart must keep) */
  currentIngressIPs: string[];
  /** the Service's labels and annotations, for provider-specific options (each provider parses its own) */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** labels of the Service's namespace (pool namespace selectors), when known */
  namespaceLabels: Record<string, string>;
  /** the Service's selector (sharing rules for externalTrafficPolicy: Local) */
  selector: Record<string, string>;
}
