/**
 * The AWS planner as a pure function: (desired, observed) -> steps. No SDK client, no moto: an observation
 * is a value, so each story states what exists and reads the plan, as `lb-provisioner plan` prints it.
 */
import { describe, expect, it } from '@jest/globals';
import { desiredLoadBalancerFor } from '../../test/builders/load-balancer.ts';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { AWS_ANNOTATION as A } from './annotations.ts';
import { desiredLoadBalancerAttributes, desiredTargetGroupAttributes } from './attributes.ts';
import { frontendSecurityGroupName, loadBalancerName, targetGroupName } from './names.ts';
import type { Observed } from './observed.ts';
import { awsOptions } from './options.ts';
import { planDelete, planSharedCleanup } from './plan-delete.ts';
import { planEnsure } from './plan-ensure.ts';
import type { PlanSettings } from './plan-ensure.ts';
import { healthCheckInput } from './plan-listeners.ts';
import { planPorts } from './plan.ts';
import { describeStep } from './steps.ts';
import { digest, ownershipTags, TAG, tagMap } from './tags.ts';

const settings: PlanSettings = {
  clusterName: 'c1',
  adopt: true,
  quotaPrecheck: true,
  nodePortRange: { from: 30000, to: 32767 },
};
const subnets = ['a', 'b'].map((z) => ({ id: `subnet-${z}`, zone: `us-east-1${z}`, vpcId: 'vpc-1' }));

function service(patch: Partial<DesiredLoadBalancer> = {}): DesiredLoadBalancer {
  const lb = desiredLoadBalancerFor('web', {
    ref: { clusterName: 'c1', namespace: 'shop', name: 'web', uid: '0b6c3c1e-9d4a-4e8b-a1c2-0123456789ab' },
    ...patch,
  });
  lb.targets = ['i-0aa', 'i-0bb'].map((id, i) => ({
    name: `n${i}`,
    addresses: [],
    labels: {},
    providerID: `aws:///us-east-1${i ? 'b' : 'a'}/${id}`,
  }));
  return lb;
}

/** What exists once the Service's NLB was built as planned: the steady state. */
function built(lb: DesiredLoadBalancer): Observed {
  const opts = awsOptions(lb);
  const [port] = planPorts(lb, opts);
  const lbTags = tagMap(ownershipTags(lb.ref, 'load-balancer'));
  return {
    loadBalancers: [
      {
        lb: {
          LoadBalancerName: loadBalancerName(lb.ref),
          LoadBalancerArn: 'arn:lb',
          Scheme: 'internet-facing',
          VpcId: 'vpc-1',
          IpAddressType: 'ipv4',
          SecurityGroups: ['sg-open', 'sg-back'],
          AvailabilityZones: subnets.map((s) => ({ SubnetId: s.id })),
          State: { Code: 'active' },
        },
        tags: { ...lbTags, [TAG.attributes]: digest(desiredLoadBalancerAttributes(opts)) },
        listeners: [
          {
            Port: 80,
            Protocol: 'TCP',
            ListenerArn: 'arn:listener-80',
            DefaultActions: [{ Type: 'forward', TargetGroupArn: 'arn:tg-80' }],
          },
        ],
      },
    ],
    targetGroups: [
      {
        tg: {
          TargetGroupName: port!.targetGroupName,
          TargetGroupArn: 'arn:tg-80',
          ...healthCheckInput(port!.healthCheck),
          HealthCheckProtocol: 'HTTP',
        },
        tags: {
          ...tagMap(ownershipTags(lb.ref, 'target-group')),
          [TAG.attributes]: digest(desiredTargetGroupAttributes(port!, opts)),
        },
        registered: new Set(['i-0aa', 'i-0bb']),
      },
    ],
    subnets,
    openGroup: { id: 'sg-open' },
    cluster: { backendGroup: 'sg-back', nodeGroups: ['sg-nodes'] },
    eipAddresses: [],
  };
}

const printed = (lb: DesiredLoadBalancer, observed: Observed) =>
  planEnsure(lb, awsOptions(lb), observed, settings).steps.map(describeStep);

describe('the plan of an ensure', () => {
  it('is empty when what exists matches: a resync writes nothing', () => {
    const lb = service();
    expect(planEnsure(lb, awsOptions(lb), built(lb), settings).steps).toEqual([]);
  });

  it('builds a new Service in order: groups, the NLB, its target group filled before its listener', () => {
    const lb = service();
    const nothing: Observed = {
      loadBalancers: [],
      targetGroups: [],
      subnets,
      cluster: { nodeGroups: ['sg-nodes'] },
      eipAddresses: [],
    };
    const tg = targetGroupName(lb.ref, 30080, 'TCP');
    const nlb = loadBalancerName(lb.ref);
    expect(printed(lb, nothing)).toEqual([
      {
        action: 'create',
        resource: 'SecurityGroup',
        name: 'lbp-c1-open',
        detail: "lb-provisioner frontend of cluster c1's NLBs open to everyone",
      },
      {
        action: 'create',
        resource: 'SecurityGroupRule',
        name: 'lbp-c1-open',
        detail: 'tcp 0-65535 from 0.0.0.0/0; tcp 0-65535 from ::/0; udp 0-65535 from 0.0.0.0/0; udp 0-65535 from ::/0',
      },
      {
        action: 'create',
        resource: 'SecurityGroup',
        name: 'lbp-c1-backend',
        detail: 'lb-provisioner backend of cluster c1',
      },
      {
        action: 'create',
        resource: 'SecurityGroupRule',
        name: 'sg-nodes',
        detail:
          'tcp 30000-32767 from lbp-c1-backend; udp 30000-32767 from lbp-c1-backend; tcp 10256 from lbp-c1-backend',
      },
      {
        action: 'create',
        resource: 'LoadBalancer',
        name: nlb,
        detail: 'internet-facing ipv4 NLB in subnet-a, subnet-b; security groups lbp-c1-open, lbp-c1-backend',
      },
      {
        action: 'create',
        resource: 'TargetGroup',
        name: tg,
        detail: 'TCP to node port 30080; health check HTTP port 10256 /healthz every 10s',
      },
      { action: 'update', resource: 'TargetGroup', name: tg, detail: 'register i-0aa, i-0bb' },
      { action: 'create', resource: 'Listener', name: `${nlb}:80`, detail: `TCP -> ${tg}` },
    ]);
  });

  it('gives a Service with source ranges a frontend group of its own, with a rule per port and range', () => {
    const lb = service({ sourceRanges: ['10.0.0.0/8'] });
    const observed: Observed = { ...built(lb), loadBalancers: [], targetGroups: [] };
    delete observed.openGroup;
    const front = frontendSecurityGroupName(lb.ref);
    expect(printed(lb, observed).slice(0, 3)).toEqual([
      { action: 'create', resource: 'SecurityGroup', name: front, detail: 'lb-provisioner frontend of shop/web' },
      { action: 'create', resource: 'SecurityGroupRule', name: front, detail: 'tcp 80 from 10.0.0.0/8' },
      {
        action: 'create',
        resource: 'LoadBalancer',
        name: loadBalancerName(lb.ref),
        detail: `internet-facing ipv4 NLB in subnet-a, subnet-b; security groups ${front}, lbp-c1-backend`,
      },
    ]);
  });

  it('uses the shared open group as it finds it, and puts back a rule of it that went missing', () => {
    const lb = service();
    const observed = built(lb);
    observed.openGroup = {
      id: 'sg-open',
      permissions: [
        { IpProtocol: 'tcp', FromPort: 0, ToPort: 65535, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
        { IpProtocol: 'udp', FromPort: 0, ToPort: 65535, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
        {
          IpProtocol: 'tcp',
          FromPort: 0,
          ToPort: 65535,
          Ipv6Ranges: [{ CidrIpv6: '::/0' }],
          IpRanges: [{ CidrIp: '10.0.0.0/8' }],
        },
      ],
    };
    expect(printed(lb, observed)).toEqual([
      { action: 'create', resource: 'SecurityGroupRule', name: 'lbp-c1-open', detail: 'udp 0-65535 from ::/0' },
    ]);
  });

  it('moves a Service that gains source ranges to a group of its own, leaving the shared open group be', () => {
    const lb = service();
    const ranged = { ...lb, sourceRanges: ['10.0.0.0/8'] };
    const front = frontendSecurityGroupName(lb.ref);
    expect(printed(ranged, built(lb)).map((s) => `${s.action} ${s.resource} ${s.name}: ${s.detail ?? ''}`)).toEqual([
      `create SecurityGroup ${front}: lb-provisioner frontend of shop/web`,
      `create SecurityGroupRule ${front}: tcp 80 from 10.0.0.0/8`,
      `update LoadBalancer ${loadBalancerName(lb.ref)}: security groups -> ${front}, lbp-c1-backend`,
    ]);
  });

  it('moves a Service that drops its source ranges to the shared open group, then deletes its own group', () => {
    const lb = service();
    const observed = built(lb);
    observed.loadBalancers[0]!.lb.SecurityGroups = ['sg-front', 'sg-back'];
    observed.frontendGroup = {
      id: 'sg-front',
      tags: tagMap(ownershipTags(lb.ref, 'frontend-security-group')),
      permissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '10.0.0.0/8' }] }],
    };
    expect(printed(lb, observed).map((s) => `${s.action} ${s.resource} ${s.name}: ${s.detail ?? ''}`)).toEqual([
      `update LoadBalancer ${loadBalancerName(lb.ref)}: security groups -> lbp-c1-open, lbp-c1-backend`,
      `delete SecurityGroup ${frontendSecurityGroupName(lb.ref)}: `,
    ]);
  });

  it("deletes a target group of the Service that no listener uses (left by a failure halfway), and no one else's", () => {
    const lb = service();
    const observed = built(lb);
    const leftover = targetGroupName(lb.ref, 30053, 'TCP');
    observed.targetGroups.push(
      {
        tg: { TargetGroupName: leftover, TargetGroupArn: 'arn:left' },
        tags: tagMap(ownershipTags(lb.ref, 'target-group')),
      },
      { tg: { TargetGroupName: 'someone-elses', TargetGroupArn: 'arn:theirs' }, tags: { team: 'other' } },
    );
    expect(printed(lb, observed)).toEqual([{ action: 'delete', resource: 'TargetGroup', name: leftover }]);
  });

  it('moves a port to a new protocol: new group filled, listener switched, then the old group deleted', () => {
    const lb = service();
    const udp = { ...lb, ports: lb.ports.map((p) => ({ ...p, protocol: 'UDP' as const })) };
    const steps = planEnsure(udp, awsOptions(udp), built(lb), settings).steps.map((s) => s.op);
    expect(steps.filter((op) => op !== 'RevokeIngress' && op !== 'AuthorizeIngress')).toEqual([
      'CreateTargetGroup',
      'RegisterTargets',
      'ModifyListener',
      'DeleteTargetGroup',
    ]);
  });

  it('refuses an NLB under our name that is tagged for someone else', () => {
    const lb = service({ annotations: { [A.name]: 'fixed' } });
    const observed = built(lb);
    observed.loadBalancers[0]!.lb.LoadBalancerName = 'fixed';
    observed.loadBalancers[0]!.tags = { team: 'theirs' };
    expect(() => planEnsure(lb, awsOptions(lb), observed, settings)).toThrow(
      expect.objectContaining({ name: 'NotOwnedError' }),
    );
  });

  it('finishes an interrupted replacement: the other slot, tagged ours, is retired with its group', () => {
    const lb = service();
    const observed = built(lb);
    const old = structuredClone(observed.loadBalancers[0]!);
    old.lb.LoadBalancerName = loadBalancerName(lb.ref, 1);
    old.lb.LoadBalancerArn = 'arn:old';
    old.listeners[0]!.DefaultActions = [{ Type: 'forward', TargetGroupArn: 'arn:old-tg' }];
    observed.loadBalancers.push(old);
    observed.targetGroups.push({
      tg: { TargetGroupName: targetGroupName(lb.ref, 30080, 'TCP', 1), TargetGroupArn: 'arn:old-tg' },
      tags: tagMap(ownershipTags(lb.ref, 'target-group')),
    });
    expect(printed(lb, observed).map((s) => `${s.action} ${s.resource} ${s.name}`)).toEqual([
      `delete LoadBalancer ${loadBalancerName(lb.ref, 1)}`,
      `delete TargetGroup ${targetGroupName(lb.ref, 30080, 'TCP', 1)}`,
    ]);
  });
});

describe('the plans of a delete', () => {
  it('removes the NLB first, then its target groups, then its frontend group', () => {
    const steps = planDelete({
      loadBalancers: [{ name: 'nlb', arn: 'arn:lb' }],
      targetGroups: [
        { name: 'tg', arn: 'arn:tg' },
        { name: 'tg', arn: 'arn:tg' },
      ],
      frontendGroup: { name: 'front', id: 'sg-1' },
    });
    expect(steps.map((s) => describeStep(s)).map((s) => `${s.action} ${s.resource} ${s.name}`)).toEqual([
      'delete LoadBalancer nlb',
      'delete TargetGroup tg',
      'delete SecurityGroup front',
    ]);
  });

  it('keeps the shared backend group and node rules while any NLB carries it, managed frontend or not', () => {
    const backend = {
      id: 'sg-back',
      name: 'lbp-c1-backend',
      referencedBy: [{ groupId: 'sg-nodes', permissions: [{ IpProtocol: 'tcp', FromPort: 30000, ToPort: 32767 }] }],
    };
    const none = { openGroups: [] };
    expect(planSharedCleanup({ ...none, frontendGroups: 1, backendGroups: [{ ...backend, usedBy: [] }] })).toEqual([]);
    expect(
      planSharedCleanup({ ...none, frontendGroups: 0, backendGroups: [{ ...backend, usedBy: ['own-groups'] }] }),
    ).toEqual([]);
    expect(
      planSharedCleanup({ ...none, frontendGroups: 0, backendGroups: [{ ...backend, usedBy: [] }] }).map((s) =>
        describeStep(s),
      ),
    ).toEqual([
      {
        action: 'delete',
        resource: 'SecurityGroupRule',
        name: 'sg-nodes',
        detail: 'tcp 30000-32767 from lbp-c1-backend',
      },
      { action: 'delete', resource: 'SecurityGroup', name: 'lbp-c1-backend' },
    ]);
  });

  it('deletes the shared open group once no NLB carries it, whatever frontend groups are left', () => {
    const open = { id: 'sg-open', name: 'lbp-c1-open', referencedBy: [] };
    expect(
      planSharedCleanup({ frontendGroups: 1, backendGroups: [], openGroups: [{ ...open, usedBy: ['nlb'] }] }),
    ).toEqual([]);
    expect(
      planSharedCleanup({ frontendGroups: 1, backendGroups: [], openGroups: [{ ...open, usedBy: [] }] }).map((s) =>
        describeStep(s),
      ),
    ).toEqual([{ action: 'delete', resource: 'SecurityGroup', name: 'lbp-c1-open' }]);
  });
});
