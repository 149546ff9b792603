/**
 * moto_server for the AWS provider's tests: installed by install-moto.sh into a cache outside the repo,
 * started on 127.0.0.1 with a random free port through setpriv --pdeathsig (it dies with the test
 * process), and fixtures that build what a cluster has in EC2: a VPC, subnets in 3 AZs with the role and
 * cluster tags, the nodes' cluster security group, and instances to register.
 */
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TargetNode } from '../../src/model/desired.ts';
import { runChild, spawnChild } from './children.ts';
import type { Child } from './children.ts';
import { freePort } from './ports.ts';

export const MOTO_REGION = 'us-east-1';
const HERE = dirname(fileURLToPath(import.meta.url));

export interface Moto {
  endpoint: string;
  /** forget every resource (POST /moto-api/reset) */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function installMoto(): Promise<string> {
  const res = await runChild('bash', [join(HERE, 'install-moto.sh')], { name: 'install-moto' });
  const bin = res.stdout.trim().split('\n').pop() ?? '';
  if (res.code !== 0 || !bin) throw new Error(`install-moto.sh failed (${res.code}):\n${res.stderr.slice(-4000)}`);
  return bin;
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Start moto_server; a port taken between probe and bind is retried with another. */
export async function startMoto(): Promise<Moto> {
  const bin = await installMoto();
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort('127.0.0.1');
    const endpoint = `http://127.0.0.1:${port}`;
    const child: Child = spawnChild(bin, ['-H', '127.0.0.1', '-p', String(port)], { name: 'moto_server' });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && child.isRunning()) {
      if (await answers(endpoint)) {
        return {
          endpoint,
          reset: async () => {
            const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
            await res.arrayBuffer();
          },
          stop: () => child.stop(2000),
        };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    lastError = child.outputTail();
    await child.stop(0);
  }
  throw new Error(`moto_server did not start:\n${lastError}`);
}

/** SDK clients for moto: static test credentials, no SDK retries (the provider's policy retries). */
export function motoClients(endpoint: string): { elbv2: ElasticLoadBalancingV2Client; ec2: EC2Client } {
  const config = {
    region: MOTO_REGION,
    endpoint,
    maxAttempts: 1,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    requestHandler: { requestTimeout: 20_000 },
  };
  return { elbv2: new ElasticLoadBalancingV2Client(config), ec2: new EC2Client(config) };
}

export interface ClusterFixture {
  clusterName: string;
  vpcId: string;
  zones: string[];
  publicSubnets: string[];
  internalSubnets: string[];
  clusterSecurityGroup: string;
  instances: { id: string; zone: string }[];
  /** nodes as the model hands them over: the first n instances */
  nodes(n?: number, from?: number): TargetNode[];
}

/** A cluster's EC2 side: VPC, tagged subnets in 3 AZs, the nodes' security group, `instances` EC2 instances. */
export async function clusterFixture(ec2: EC2Client, clusterName: string, instances = 4): Promise<ClusterFixture> {
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  const zones = ['a', 'b', 'c'].map((z) => `${MOTO_REGION}${z}`);
  const clusterTag = { Key: `kubernetes.io/cluster/${clusterName}`, Value: 'shared' };
  const subnet = async (cidr: string, zone: string, role: string): Promise<string> => {
    const res = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpcId,
        CidrBlock: cidr,
        AvailabilityZone: zone,
        TagSpecifications: [
          {
            ResourceType: 'subnet',
            Tags: [
              { Key: role, Value: '1' },
              clusterTag,
              { Key: 'Name', Value: `${clusterName}-${role.split('/').pop()}-${zone}` },
            ],
          },
        ],
      }),
    );
    return res.Subnet!.SubnetId!;
  };
  const publicSubnets: string[] = [];
  const internalSubnets: string[] = [];
  for (const [i, zone] of zones.entries()) {
    publicSubnets.push(await subnet(`10.0.${i}.0/24`, zone, 'kubernetes.io/role/elb'));
    internalSubnets.push(await subnet(`10.0.${100 + i}.0/24`, zone, 'kubernetes.io/role/internal-elb'));
  }
  const sg = await ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: `${clusterName}-nodes`,
      Description: 'cluster nodes',
      VpcId: vpcId,
      TagSpecifications: [
        { ResourceType: 'security-group', Tags: [{ Key: `kubernetes.io/cluster/${clusterName}`, Value: 'owned' }] },
      ],
    }),
  );
  const images = await ec2.send(new DescribeImagesCommand({}));
  const imageId = images.Images?.find((i) => i.ImageId)?.ImageId ?? 'ami-12c6146b';
  const made: { id: string; zone: string }[] = [];
  for (let i = 0; i < instances; i++) {
    const zoneIndex = i % zones.length;
    const res = await ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.small',
        SubnetId: internalSubnets[zoneIndex],
        SecurityGroupIds: [sg.GroupId!],
      }),
    );
    made.push({ id: res.Instances![0]!.InstanceId!, zone: zones[zoneIndex]! });
  }
  return {
    clusterName,
    vpcId,
    zones,
    publicSubnets,
    internalSubnets,
    clusterSecurityGroup: sg.GroupId!,
    instances: made,
    nodes: (n = made.length, from = 0) =>
      made.slice(from, from + n).map((m, i) => ({
        name: `node-${from + i}`,
        addresses: [`10.0.${100 + (i % 3)}.${10 + from + i}`],
        providerID: `aws:///${m.zone}/${m.id}`,
        labels: { 'topology.kubernetes.io/zone': m.zone },
        zone: m.zone,
      })),
  };
}
