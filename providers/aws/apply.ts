/**
 * The applier: runs a plan's steps in order, one AWS call each (through the shared buckets and the one
 * retry policy), resolving the resources earlier steps made. It decides nothing: where AWS's answer shows
 * the world differs from what was observed (a create answered "duplicate"), it records what it learned and
 * throws StaleObservation, and the provider observes and plans again.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import type { IpPermission } from '@aws-sdk/client-ec2';
import {
  AddListenerCertificatesCommand,
  AddTagsCommand,
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeregisterTargetsCommand,
  ModifyListenerCommand,
  ModifyLoadBalancerAttributesCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
  RegisterTargetsCommand,
  RemoveListenerCertificatesCommand,
  RemoveTagsCommand,
  SetIpAddressTypeCommand,
  SetSecurityGroupsCommand,
  SetSubnetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import { NotOwnedError } from '../../src/model/errors.ts';
import type { Ctx } from './context.ts';
import { errorCode } from './error-codes.ts';
import { indexAdd, targetGroupIndexAdd } from './lb-index.ts';
import { quotaError } from './quotas.ts';
import { loadBalancerNamed, tagsOf, targetGroupNamed } from './reads.ts';
import { describeStep } from './steps.ts';
import type { Permission, Ref, Step, TlsSettings } from './steps.ts';
import { ownership } from './tags.ts';
import { deleteLoadBalancer, deleteSecurityGroup, deleteTargetGroup } from './apply-deletes.ts';

/** A create met a resource observe did not see: observe and plan again (the provider does, once or twice). */
export class StaleObservation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StaleObservation';
  }
}

export function isStaleObservation(err: unknown): boolean {
  return (err as { name?: unknown } | undefined)?.name === 'StaleObservation';
}

/** What a run of the applier did, kept across a re-plan. */
export interface Progress {
  /** a mutating call went through */
  changed: boolean;
  /** ids and ARNs of what the steps made, by ref key */
  made: Map<string, string>;
  /** the NLB CreateLoadBalancer answered with */
  created?: LoadBalancer;
}

export function newProgress(): Progress {
  return { changed: false, made: new Map() };
}

export function resolve(progress: Progress, ref: Ref): string {
  const id = progress.made.get(ref.key) ?? ref.id;
  if (id === undefined) throw new Error(`plan error: ${ref.key} is used before a step makes it`);
  return id;
}

export async function apply(ctx: Ctx, steps: Step[], progress: Progress): Promise<Progress> {
  for (const step of steps) {
    ctx.log.debug({ step: describeStep(step) }, 'aws: applying a step');
    await applyStep(ctx, step, progress);
    progress.changed = true;
  }
  return progress;
}

function toIpPermissions(progress: Progress, perms: Permission[]): IpPermission[] {
  return perms.map((p) => ({
    IpProtocol: p.protocol,
    ...(p.from !== undefined ? { FromPort: p.from } : {}),
    ...(p.to !== undefined ? { ToPort: p.to } : {}),
    ...(p.cidr
      ? p.cidr.includes(':')
        ? { Ipv6Ranges: [{ CidrIpv6: p.cidr }] }
        : { IpRanges: [{ CidrIp: p.cidr }] }
      : {}),
    ...(p.group
      ? { UserIdGroupPairs: [{ GroupId: resolve(progress, p.group), Description: 'lb-provisioner NLBs' }] }
      : {}),
  }));
}

function tlsInput(tls: TlsSettings | undefined) {
  if (!tls) return {};
  return {
    Certificates: [{ CertificateArn: tls.certificate }],
    SslPolicy: tls.sslPolicy,
    ...(tls.alpnPolicy ? { AlpnPolicy: [tls.alpnPolicy] } : {}),
  };
}

async function applyStep(ctx: Ctx, s: Step, progress: Progress): Promise<void> {
  const id = (ref: Ref) => resolve(progress, ref);
  switch (s.op) {
    case 'CreateSecurityGroup': {
      try {
        const res = await ctx.api.ec2(
          new CreateSecurityGroupCommand({
            GroupName: s.group.name,
            Description: s.description,
            VpcId: s.vpcId,
            TagSpecifications: [{ ResourceType: 'security-group', Tags: s.tags }],
          }),
          ctx.signal,
        );
        progress.made.set(s.group.key, res.GroupId ?? '');
      } catch (err) {
        if (errorCode(err) === 'InvalidGroup.Duplicate')
          throw new StaleObservation(`security group ${s.group.name} exists (a leftover, or a create retried)`);
        throw quotaError(err);
      }
      return;
    }
    case 'TagSecurityGroup': {
      const group = id(s.group);
      if (s.remove.length > 0)
        await ctx.api.ec2(
          new DeleteTagsCommand({ Resources: [group], Tags: s.remove.map((Key) => ({ Key })) }),
          ctx.signal,
        );
      const add = Object.entries(s.add).map(([Key, Value]) => ({ Key, Value }));
      if (add.length > 0) await ctx.api.ec2(new CreateTagsCommand({ Resources: [group], Tags: add }), ctx.signal);
      return;
    }
    case 'AuthorizeIngress':
      return authorize(ctx, id(s.group), toIpPermissions(progress, s.permissions));
    case 'RevokeIngress':
      try {
        await ctx.api.ec2(
          new RevokeSecurityGroupIngressCommand({
            GroupId: id(s.group),
            IpPermissions: toIpPermissions(progress, s.permissions),
          }),
          ctx.signal,
        );
      } catch (err) {
        // already gone (a concurrent delete, a lost answer): what we wanted
        if (errorCode(err) !== 'InvalidPermission.NotFound' && errorCode(err) !== 'InvalidGroup.NotFound') throw err;
      }
      return;
    case 'CreateLoadBalancer':
      return createLoadBalancer(ctx, s, progress);
    case 'SetSubnets':
      await ctx.api.elbv2(new SetSubnetsCommand({ LoadBalancerArn: id(s.lb), SubnetMappings: s.subnets }), ctx.signal);
      return;
    case 'SetIpAddressType':
      await ctx.api.elbv2(
        new SetIpAddressTypeCommand({ LoadBalancerArn: id(s.lb), IpAddressType: s.ipAddressType as 'ipv4' }),
        ctx.signal,
      );
      return;
    case 'SetSecurityGroups':
      await ctx.api.elbv2(
        new SetSecurityGroupsCommand({ LoadBalancerArn: id(s.lb), SecurityGroups: s.securityGroups.map(id) }),
        ctx.signal,
      );
      return;
    case 'ModifyLoadBalancerAttributes':
      await ctx.api.elbv2(
        new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: id(s.lb), Attributes: keyValues(s.attributes) }),
        ctx.signal,
      );
      return;
    case 'CreateTargetGroup':
      try {
        const res = await ctx.api.elbv2(
          new CreateTargetGroupCommand({
            Name: s.tg.name,
            Protocol: s.protocol,
            Port: s.port,
            VpcId: s.vpcId,
            TargetType: 'instance',
            ...s.healthCheck,
            HealthCheckProtocol: s.healthCheck.HealthCheckProtocol as 'HTTP',
            Tags: s.tags,
          }),
          ctx.signal,
        );
        const arn = res.TargetGroups?.[0]?.TargetGroupArn ?? '';
        progress.made.set(s.tg.key, arn);
        targetGroupIndexAdd(ctx, s.tg.name, arn);
      } catch (err) {
        // AWS answers "duplicate" when the settings differ (moto always): the name hashes our UID, so the
        // group is ours, made by an attempt whose answer was lost; observe it and plan again
        if (errorCode(err) !== 'DuplicateTargetGroupName') throw quotaError(err);
        const found = await targetGroupNamed(ctx, s.tg.name);
        if (!found?.TargetGroupArn) throw err;
        targetGroupIndexAdd(ctx, s.tg.name, found.TargetGroupArn);
        throw new StaleObservation(`target group ${s.tg.name} exists`);
      }
      return;
    case 'ModifyTargetGroup':
      await ctx.api.elbv2(
        new ModifyTargetGroupCommand({
          TargetGroupArn: id(s.tg),
          ...s.healthCheck,
          HealthCheckProtocol: s.healthCheck.HealthCheckProtocol as 'HTTP',
        }),
        ctx.signal,
      );
      return;
    case 'ModifyTargetGroupAttributes':
      await ctx.api.elbv2(
        new ModifyTargetGroupAttributesCommand({ TargetGroupArn: id(s.tg), Attributes: keyValues(s.attributes) }),
        ctx.signal,
      );
      return;
    case 'RegisterTargets':
      try {
        await ctx.api.elbv2(
          new RegisterTargetsCommand({ TargetGroupArn: id(s.tg), Targets: s.instances.map((Id) => ({ Id })) }),
          ctx.signal,
        );
      } catch (err) {
        throw quotaError(err);
      }
      return;
    case 'DeregisterTargets':
      try {
        await ctx.api.elbv2(
          new DeregisterTargetsCommand({ TargetGroupArn: id(s.tg), Targets: s.instances.map((Id) => ({ Id })) }),
          ctx.signal,
        );
      } catch (err) {
        // already gone (deregistered elsewhere, or the instance was terminated): the goal is met
        if (errorCode(err) !== 'InvalidTarget') throw err;
      }
      return;
    case 'CreateListener':
      try {
        const res = await ctx.api.elbv2(
          new CreateListenerCommand({
            LoadBalancerArn: id(s.lb),
            Port: s.port,
            Protocol: s.protocol,
            DefaultActions: [{ Type: 'forward', TargetGroupArn: id(s.tg) }],
            ...tlsInput(s.tls),
            Tags: s.tags,
          }),
          ctx.signal,
        );
        progress.made.set(s.listener.key, res.Listeners?.[0]?.ListenerArn ?? '');
      } catch (err) {
        if (errorCode(err) === 'DuplicateListener') throw new StaleObservation(`listener ${s.listener.name} exists`);
        throw quotaError(err);
      }
      return;
    case 'ModifyListener': {
      const res = await ctx.api.elbv2(
        new ModifyListenerCommand({
          ListenerArn: id(s.listener),
          ...(s.protocol ? { Protocol: s.protocol } : {}),
          ...(s.tg ? { DefaultActions: [{ Type: 'forward', TargetGroupArn: id(s.tg) }] } : {}),
          ...tlsInput(s.tls),
        }),
        ctx.signal,
      );
      // the answer's ARN (AWS keeps it; moto's shim in the tests re-creates a listener it cannot modify)
      const arn = res.Listeners?.[0]?.ListenerArn;
      if (arn) progress.made.set(s.listener.key, arn);
      return;
    }
    case 'DeleteListener':
      try {
        await ctx.api.elbv2(new DeleteListenerCommand({ ListenerArn: id(s.listener) }), ctx.signal);
      } catch (err) {
        if (errorCode(err) !== 'ListenerNotFound') throw err;
      }
      return;
    case 'AddListenerCertificates':
      await ctx.api.elbv2(
        new AddListenerCertificatesCommand({
          ListenerArn: id(s.listener),
          Certificates: s.certificates.map((CertificateArn) => ({ CertificateArn })),
        }),
        ctx.signal,
      );
      return;
    case 'RemoveListenerCertificates':
      await ctx.api.elbv2(
        new RemoveListenerCertificatesCommand({
          ListenerArn: id(s.listener),
          Certificates: s.certificates.map((CertificateArn) => ({ CertificateArn })),
        }),
        ctx.signal,
      );
      return;
    case 'AddTags':
      await ctx.api.elbv2(
        new AddTagsCommand({ ResourceArns: s.resources.map(id), Tags: keyValues(s.tags) }),
        ctx.signal,
      );
      return;
    case 'RemoveTags':
      await ctx.api.elbv2(new RemoveTagsCommand({ ResourceArns: s.resources.map(id), TagKeys: s.keys }), ctx.signal);
      return;
    case 'DeleteLoadBalancer':
      return deleteLoadBalancer(ctx, id(s.lb), s.lb.name);
    case 'DeleteTargetGroup':
      return deleteTargetGroup(ctx, id(s.tg));
    case 'DeleteSecurityGroup':
      return deleteSecurityGroup(ctx, id(s.group), s.keepIfInUse ?? false);
  }
}

const keyValues = (values: Record<string, string>) => Object.entries(values).map(([Key, Value]) => ({ Key, Value }));

/** Authorize rules; one that exists already makes AWS refuse the whole call, so then one by one. */
async function authorize(ctx: Ctx, groupId: string, perms: IpPermission[]): Promise<void> {
  const send = (IpPermissions: IpPermission[]) =>
    ctx.api.ec2(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions }), ctx.signal);
  try {
    await send(perms);
  } catch (err) {
    if (errorCode(err) !== 'InvalidPermission.Duplicate') throw quotaError(err);
    if (perms.length === 1) return;
    for (const p of perms) {
      try {
        await send([p]);
      } catch (e) {
        if (errorCode(e) !== 'InvalidPermission.Duplicate') throw quotaError(e);
      }
    }
  }
}

type CreateStep = Extract<Step, { op: 'CreateLoadBalancer' }>;

async function createLoadBalancer(ctx: Ctx, s: CreateStep, progress: Progress): Promise<void> {
  try {
    const res = await ctx.api.elbv2(
      new CreateLoadBalancerCommand({
        Name: s.lb.name,
        Type: 'network',
        Scheme: s.scheme as 'internet-facing',
        IpAddressType: s.ipAddressType as 'ipv4',
        SubnetMappings: s.subnets,
        ...(s.securityGroups.length > 0 ? { SecurityGroups: s.securityGroups.map((g) => resolve(progress, g)) } : {}),
        Tags: s.tags,
      }),
      ctx.signal,
    );
    const lb = res.LoadBalancers![0]!;
    progress.made.set(s.lb.key, lb.LoadBalancerArn!);
    progress.created = lb;
    indexAdd(ctx, s.lb.name);
  } catch (err) {
    // AWS answers a create with the same name and settings with the existing NLB, and
    // DuplicateLoadBalancerName when settings differ. The name was free when observed: an NLB made since
    // (by us on an earlier attempt, or by someone else) is taken only if its tags say it is this Service's
    if (errorCode(err) !== 'DuplicateLoadBalancerName') throw quotaError(err);
    const found = await loadBalancerNamed(ctx, s.lb.name);
    if (!found?.LoadBalancerArn) throw err;
    const whose = ownership(s.owner, (await tagsOf(ctx, [found.LoadBalancerArn])).get(found.LoadBalancerArn) ?? {});
    if (whose !== 'ours' && !(whose === 'adoptable' && s.adopt)) {
      throw new NotOwnedError(
        `an NLB named ${s.lb.name} already exists and is not this Service's (${whose}); refusing to take it over; choose another ${'service.beta.kubernetes.io/aws-load-balancer-name'}`,
      );
    }
    indexAdd(ctx, s.lb.name);
    throw new StaleObservation(`NLB ${s.lb.name} exists`);
  }
}
