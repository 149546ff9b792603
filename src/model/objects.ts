/**
 * The parts of Kubernetes Services and Nodes the model reads. Structural subsets of the API types, so
 * the model stays free of client-node (the objects from the informers fit these shapes as they are).
 */

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: Date | string;
  creationTimestamp?: Date | string;
  /** who set which field (server-side field tracking); read to name another controller */
  managedFields?: { manager?: string; operation?: string; fieldsV1?: object; subresource?: string }[];
}

export interface ServicePortObject {
  name?: string;
  protocol?: string;
  port: number;
  nodePort?: number;
}

export interface ConditionObject {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: Date | string;
  observedGeneration?: number;
}

export interface IngressObject {
  ip?: string;
  hostname?: string;
  ipMode?: string;
  ports?: { port: number; protocol: string; error?: string }[];
}

export interface ServiceObject {
  metadata?: ObjectMeta;
  spec?: {
    type?: string;
    ports?: ServicePortObject[];
    selector?: Record<string, string>;
    loadBalancerClass?: string;
    loadBalancerIP?: string;
    loadBalancerSourceRanges?: string[];
    externalTrafficPolicy?: string;
    healthCheckNodePort?: number;
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    sessionAffinity?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    allocateLoadBalancerNodePorts?: boolean;
  };
  status?: {
    loadBalancer?: { ingress?: IngressObject[] };
    conditions?: ConditionObject[];
  };
}

export interface NodeObject {
  metadata?: ObjectMeta;
  spec?: {
    providerID?: string;
    taints?: { key: string; value?: string; effect: string }[];
    unschedulable?: boolean;
  };
  status?: {
    addresses?: { type: string; address: string }[];
  };
}
