/**
 * What exists in AWS for one Service, as observe.ts reads it before anything is planned: the pure planners
 * (plan-*.ts) take this value and the desired state, and nothing else. Pure: types only (the ELBv2 and EC2
 * shapes are the SDK's data types, imported as types).
 */
import type { IpPermission } from '@aws-sdk/client-ec2';
import type { Listener, LoadBalancer, TargetGroup } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { QuotaState } from './quotas.ts';

export interface SubnetInfo {
  id: string;
  zone: string;
  vpcId: string;
}

export interface NodePortRange {
  from: number;
  to: number;
}

export interface ObservedLoadBalancer {
  lb: LoadBalancer;
  tags: Record<string, string>;
  listeners: Listener[];
  /** a drift pass only: the attributes AWS reports */
  attributes?: Record<string, string>;
  /**
   * The extra (non-default) certificates of TLS listeners, by listener ARN: read on a drift pass and when the
   * certificate digest tag differs; absent otherwise (the digest says they are as we left them).
   */
  certificates?: Map<string, string[]>;
}

export interface ObservedTargetGroup {
  tg: TargetGroup;
  tags: Record<string, string>;
  /** instances registered (not draining); read for the groups the plan keeps */
  registered?: Set<string>;
  /** a drift pass only, for the groups the plan keeps */
  attributes?: Record<string, string>;
}

export interface ObservedSecurityGroup {
  id: string;
  tags: Record<string, string>;
  permissions: IpPermission[];
}

/** The cluster's shared pieces, for Services whose backend security-group rules are managed. */
export interface ObservedCluster {
  /** the shared backend group of the VPC, when it exists */
  backendGroup?: string;
  /** the nodes' security groups */
  nodeGroups: string[];
  /** their rules that admit the backend group, per node group; absent when known to be complete (cached) */
  nodeRules?: Map<string, IpPermission[]>;
}

export interface Observed {
  /** every NLB under one of this Service's names (the last synced, a fixed name, both slots, the legacy name) */
  loadBalancers: ObservedLoadBalancer[];
  /**
   * The Service's full set of target groups: those its NLBs' listeners name and every group named for it
   * (attached or not: a group left by a failure halfway is found here and removed by the plan).
   */
  targetGroups: ObservedTargetGroup[];
  subnets: SubnetInfo[];
  /**
   * The NLB's own frontend group; absent when none exists or none was looked for (a new NLB: it is
   * created). An open Service's own group is a leftover of its ranged past: the plan deletes it.
   */
  frontendGroup?: ObservedSecurityGroup;
  /**
   * The cluster's shared open group, for a Service open to everyone, when it exists; its rules only when
   * read (absent when known from the provider's cache: our own create or an earlier read).
   */
  openGroup?: { id: string; permissions?: IpPermission[] };
  cluster?: ObservedCluster;
  /** only when the plan may create an NLB or listeners and the pre-check is on */
  quota?: QuotaState;
  /** public addresses of the Elastic IPs the annotation names, for the status */
  eipAddresses: string[];
}
