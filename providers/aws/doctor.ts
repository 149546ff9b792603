/**
 * `lb-provisioner doctor` for AWS: the credentials of the SDK's chain reach ELBv2 in the region (one
 * DescribeLoadBalancers of one page, with a short timeout: no STS call, nothing written).
 */
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { DoctorCheck, DoctorContext } from '../../src/provider-descriptor.ts';
import { makeClients } from './aws-api.ts';

export interface AwsDoctorOptions {
  awsRegion?: string | undefined;
  awsEndpoint?: string | undefined;
}

export async function awsDoctor(o: AwsDoctorOptions, ctx: DoctorContext): Promise<DoctorCheck[]> {
  const region = o.awsRegion ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
  const check = 'aws: credentials and ELBv2';
  const { elbv2, ec2 } = makeClients({
    region,
    ...(o.awsEndpoint ? { endpoint: o.awsEndpoint } : {}),
    requestTimeoutMs: 5000,
  });
  try {
    const out = await elbv2.send(new DescribeLoadBalancersCommand({ PageSize: 1 }), { abortSignal: ctx.signal });
    return [
      {
        check,
        result: 'OK',
        detail: `region ${region}${o.awsEndpoint ? ` at ${o.awsEndpoint}` : ''}: DescribeLoadBalancers answered (${out.LoadBalancers?.length ?? 0} on the first page)`,
      },
    ];
  } catch (err) {
    const e = err as { name?: string; message?: string };
    return [
      {
        check,
        result: 'FAIL',
        detail: `region ${region}: DescribeLoadBalancers failed: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`,
        fix: 'give credentials through the SDK chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, IRSA, an instance profile) that may call elasticloadbalancing:Describe*, and --aws-region',
      },
    ];
  } finally {
    elbv2.destroy();
    ec2.destroy();
  }
}
