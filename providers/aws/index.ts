/**
 * The AWS provider's public entry: its descriptor (flags, their validation, annotations). The provider and
 * the AWS SDK load only when `--provider aws` runs (`create`), so `--provider local` never loads the SDK.
 */
import * as z from '../../src/config/zod.ts';
import type { ProviderDescriptor } from '../../src/provider-descriptor.ts';
import { AWS_ANNOTATIONS } from './annotations.ts';

export { AWS_ANNOTATIONS } from './annotations.ts';
export type { AwsProvider } from './provider.ts';
export type { AwsProviderOptions } from './provider.ts';

const options = z.object({
  awsRegion: z.optional(z.string().check(z.minLength(1, { message: '--aws-region: must not be empty' }))),
  awsEndpoint: z.optional(z.url({ message: '--aws-endpoint: expected a URL (e.g. http://127.0.0.1:5000)' })),
  awsVpcId: z.optional(
    z.string().check(z.regex(/^vpc-[0-9a-f]+$/, { message: '--aws-vpc-id: expected a VPC ID (vpc-...)' })),
  ),
  awsAdopt: z.boolean(),
  awsQuotaPrecheck: z.boolean(),
});

export const awsProvider: ProviderDescriptor<z.output<typeof options>> = {
  name: 'aws',
  title: 'AWS provider',
  flags: [
    { flags: '--aws-region <region>', documentedDefault: 'SDK chain', description: 'region (default: AWS_REGION)' },
    {
      flags: '--aws-endpoint <url>',
      documentedDefault: 'AWS',
      description: 'ELBv2 and EC2 endpoint (moto, private endpoints)',
    },
    {
      flags: '--aws-vpc-id <id>',
      documentedDefault: "the nodes' VPC",
      description: "the cluster's VPC: subnets and NLBs only there (default: the VPC of the nodes' instances)",
    },
    {
      flags: '--no-aws-adopt',
      documentedDefault: 'adopt',
      description: 'do not adopt NLBs tagged for the same cluster and Service',
    },
    {
      flags: '--no-aws-quota-precheck',
      documentedDefault: 'check',
      description: 'skip DescribeAccountLimits before creating',
    },
  ],
  options,
  annotations: [{ title: 'AWS provider', rows: AWS_ANNOTATIONS }],
  doctor: async (o, ctx) => (await import('./doctor.ts')).awsDoctor(o, ctx),
  create: async (o, shared) => {
    const { AwsProvider } = await import('./provider.ts');
    return new AwsProvider({
      clusterName: shared.clusterName,
      adopt: o.awsAdopt,
      quotaPrecheck: o.awsQuotaPrecheck,
      nodePortRange: shared.nodePortRange,
      log: shared.log,
      ...(o.awsRegion ? { region: o.awsRegion } : {}),
      ...(o.awsEndpoint ? { endpoint: o.awsEndpoint } : {}),
      ...(o.awsVpcId ? { vpcId: o.awsVpcId } : {}),
    });
  },
};
