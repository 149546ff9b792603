/** How the AWS provider is built: flags and injected clients (per-Service settings are AwsOptions, options.ts). */
import type { Logger } from 'pino';
import type { AwsClients } from './aws-api.ts';
import type { NodePortRange } from './observed.ts';
import type { ApiClass, Rate, RetryPolicy } from './throttle.ts';

export interface AwsProviderOptions {
  clusterName: string;
  /** defaults to the SDK's chain (AWS_REGION, profile) */
  region?: string;
  /** a private endpoint, or moto in tests */
  endpoint?: string;
  /**
   * The cluster's VPC (flag --aws-vpc-id): subnets are discovered only there. When absent, the VPC of the
   * nodes' instances; a Service whose nodes map to no instance then needs it if tagged subnets span VPCs.
   */
  vpcId?: string;
  /** adopt an NLB tagged for the same cluster and Service by cloud-provider-aws or an earlier install */
  adopt?: boolean;
  /** check quotas with DescribeAccountLimits before creating */
  quotaPrecheck?: boolean;
  clients?: Partial<AwsClients>;
  rates?: Partial<Record<ApiClass, Rate>>;
  retry?: Partial<RetryPolicy>;
  requestTimeoutMs?: number;
  nodePortRange?: NodePortRange;
  /** the nodes' security groups; discovered by the cluster tag when absent */
  nodeSecurityGroups?: string[];
  log?: Logger;
}
