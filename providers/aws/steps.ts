/**
 * The plan's value: a list of steps, each one AWS call (or one batch of it) with everything the applier
 * needs. A step names the resources it touches by `Ref`: an existing one carries its id or ARN, one that an
 * earlier step of the same plan creates is found by its key once made. Pure: types and the printable form
 * (`PlanStep`) that `lb-provisioner plan` shows.
 */
import type { PlanStep } from '../../src/provider.ts';
import type { LoadBalancerRef } from '../../src/model/desired.ts';
import type { ElbProtocol } from './plan.ts';
import type { Tag } from './tags.ts';

/** A resource a step touches: `id` when it exists now, else made by an earlier step under `key`. */
export interface Ref {
  key: string;
  /** what the user finds in the console: a name, or an id where the resource has no name */
  name: string;
  id?: string;
}

export function existing(key: string, name: string, id: string): Ref {
  return { key, name, id };
}

export function pending(key: string, name: string): Ref {
  return { key, name };
}

/** One security-group ingress rule: from a CIDR (frontend) or from a group (the nodes' rules). */
export interface Permission {
  /** tcp, udp, or -1 (all: only in rules we revoke) */
  protocol: string;
  from?: number;
  to?: number;
  cidr?: string;
  group?: Ref;
}

/** ELBv2's health-check fields, as CreateTargetGroup and ModifyTargetGroup take them. */
export interface HealthCheckInput {
  HealthCheckProtocol: string;
  HealthCheckPort: string;
  HealthCheckIntervalSeconds: number;
  HealthCheckTimeoutSeconds: number;
  HealthyThresholdCount: number;
  UnhealthyThresholdCount: number;
  HealthCheckPath?: string;
  Matcher?: { HttpCode: string };
}

export interface TlsSettings {
  certificate: string;
  sslPolicy: string;
  alpnPolicy?: string;
}

export interface SubnetMappingInput {
  SubnetId: string;
  AllocationId?: string;
  PrivateIPv4Address?: string;
  IPv6Address?: string;
}

export type Step =
  | { op: 'CreateSecurityGroup'; group: Ref; vpcId: string; description: string; tags: Tag[] }
  | { op: 'TagSecurityGroup'; group: Ref; add: Record<string, string>; remove: string[] }
  | { op: 'AuthorizeIngress'; group: Ref; permissions: Permission[] }
  | { op: 'RevokeIngress'; group: Ref; permissions: Permission[] }
  | {
      op: 'CreateLoadBalancer';
      lb: Ref;
      scheme: string;
      ipAddressType: string;
      subnets: SubnetMappingInput[];
      securityGroups: Ref[];
      tags: Tag[];
      /** an NLB found under this name instead is taken only if these say it is ours */
      owner: LoadBalancerRef;
      adopt: boolean;
    }
  | { op: 'SetSubnets'; lb: Ref; subnets: SubnetMappingInput[] }
  | { op: 'SetIpAddressType'; lb: Ref; ipAddressType: string }
  | { op: 'SetSecurityGroups'; lb: Ref; securityGroups: Ref[] }
  | { op: 'ModifyLoadBalancerAttributes'; lb: Ref; attributes: Record<string, string> }
  | {
      op: 'CreateTargetGroup';
      tg: Ref;
      protocol: ElbProtocol;
      port: number;
      vpcId: string;
      healthCheck: HealthCheckInput;
      tags: Tag[];
    }
  | { op: 'ModifyTargetGroup'; tg: Ref; healthCheck: HealthCheckInput }
  | { op: 'ModifyTargetGroupAttributes'; tg: Ref; attributes: Record<string, string> }
  | { op: 'RegisterTargets'; tg: Ref; instances: string[] }
  | { op: 'DeregisterTargets'; tg: Ref; instances: string[] }
  | {
      op: 'CreateListener';
      listener: Ref;
      lb: Ref;
      port: number;
      protocol: ElbProtocol;
      tg: Ref;
      tls?: TlsSettings;
      tags: Tag[];
    }
  | { op: 'ModifyListener'; listener: Ref; port: number; protocol?: ElbProtocol; tg?: Ref; tls?: TlsSettings }
  | { op: 'DeleteListener'; listener: Ref; port: number }
  | { op: 'AddListenerCertificates'; listener: Ref; certificates: string[] }
  | { op: 'RemoveListenerCertificates'; listener: Ref; certificates: string[] }
  | { op: 'AddTags'; resources: Ref[]; tags: Record<string, string> }
  | { op: 'RemoveTags'; resources: Ref[]; keys: string[] }
  | { op: 'DeleteLoadBalancer'; lb: Ref }
  | { op: 'DeleteTargetGroup'; tg: Ref }
  /** `keepIfInUse`: a group something else still holds is kept (the shared backend), not waited for */
  | { op: 'DeleteSecurityGroup'; group: Ref; keepIfInUse?: boolean };

const rule = (p: Permission): string =>
  `${p.protocol === '-1' ? 'all' : p.protocol} ${p.from === p.to ? (p.from ?? '') : `${p.from}-${p.to}`} from ${p.cidr ?? p.group?.name ?? '?'}`;
const pairs = (tags: Record<string, string>): string =>
  Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
const names = (refs: Ref[]): string => refs.map((r) => r.name).join(', ');
const health = (h: HealthCheckInput): string =>
  `health check ${h.HealthCheckProtocol} port ${h.HealthCheckPort}${h.HealthCheckPath ? ` ${h.HealthCheckPath}` : ''} every ${h.HealthCheckIntervalSeconds}s`;

/** The printable form of one step: what `lb-provisioner plan` shows. */
export function describeStep(s: Step): PlanStep {
  switch (s.op) {
    case 'CreateSecurityGroup':
      return { action: 'create', resource: 'SecurityGroup', name: s.group.name, detail: s.description };
    case 'TagSecurityGroup':
      return { action: 'update', resource: 'SecurityGroup', name: s.group.name, detail: tagDetail(s.add, s.remove) };
    case 'AuthorizeIngress':
      return {
        action: 'create',
        resource: 'SecurityGroupRule',
        name: s.group.name,
        detail: s.permissions.map(rule).join('; '),
      };
    case 'RevokeIngress':
      return {
        action: 'delete',
        resource: 'SecurityGroupRule',
        name: s.group.name,
        detail: s.permissions.map(rule).join('; '),
      };
    case 'CreateLoadBalancer':
      return {
        action: 'create',
        resource: 'LoadBalancer',
        name: s.lb.name,
        detail: `${s.scheme} ${s.ipAddressType} NLB in ${s.subnets.map((m) => m.SubnetId).join(', ')}; security groups ${names(s.securityGroups) || 'none'}`,
      };
    case 'SetSubnets':
      return {
        action: 'update',
        resource: 'LoadBalancer',
        name: s.lb.name,
        detail: `subnets -> ${s.subnets.map((m) => m.SubnetId).join(', ')}`,
      };
    case 'SetIpAddressType':
      return {
        action: 'update',
        resource: 'LoadBalancer',
        name: s.lb.name,
        detail: `address type -> ${s.ipAddressType}`,
      };
    case 'SetSecurityGroups':
      return {
        action: 'update',
        resource: 'LoadBalancer',
        name: s.lb.name,
        detail: `security groups -> ${names(s.securityGroups)}`,
      };
    case 'ModifyLoadBalancerAttributes':
      return {
        action: 'update',
        resource: 'LoadBalancer',
        name: s.lb.name,
        detail: `attributes ${pairs(s.attributes)}`,
      };
    case 'CreateTargetGroup':
      return {
        action: 'create',
        resource: 'TargetGroup',
        name: s.tg.name,
        detail: `${s.protocol} to node port ${s.port}; ${health(s.healthCheck)}`,
      };
    case 'ModifyTargetGroup':
      return { action: 'update', resource: 'TargetGroup', name: s.tg.name, detail: health(s.healthCheck) };
    case 'ModifyTargetGroupAttributes':
      return {
        action: 'update',
        resource: 'TargetGroup',
        name: s.tg.name,
        detail: `attributes ${pairs(s.attributes)}`,
      };
    case 'RegisterTargets':
      return {
        action: 'update',
        resource: 'TargetGroup',
        name: s.tg.name,
        detail: `register ${s.instances.join(', ')}`,
      };
    case 'DeregisterTargets':
      return {
        action: 'update',
        resource: 'TargetGroup',
        name: s.tg.name,
        detail: `deregister ${s.instances.join(', ')}`,
      };
    case 'CreateListener':
      return {
        action: 'create',
        resource: 'Listener',
        name: s.listener.name,
        detail: `${s.protocol} -> ${s.tg.name}${s.tls ? ` (certificate ${s.tls.certificate})` : ''}`,
      };
    case 'ModifyListener': {
      const what = [
        ...(s.protocol ? [`protocol ${s.protocol}`] : []),
        ...(s.tg ? [`forward to ${s.tg.name}`] : []),
        ...(s.tls ? [`certificate ${s.tls.certificate}, policy ${s.tls.sslPolicy}`] : []),
      ];
      return { action: 'update', resource: 'Listener', name: s.listener.name, detail: what.join('; ') };
    }
    case 'DeleteListener':
      return { action: 'delete', resource: 'Listener', name: s.listener.name };
    case 'AddListenerCertificates':
      return {
        action: 'update',
        resource: 'Listener',
        name: s.listener.name,
        detail: `add certificates ${s.certificates.join(', ')}`,
      };
    case 'RemoveListenerCertificates':
      return {
        action: 'update',
        resource: 'Listener',
        name: s.listener.name,
        detail: `remove certificates ${s.certificates.join(', ')}`,
      };
    case 'AddTags':
      return { action: 'update', resource: 'Tags', name: names(s.resources), detail: `add ${pairs(s.tags)}` };
    case 'RemoveTags':
      return { action: 'update', resource: 'Tags', name: names(s.resources), detail: `remove ${s.keys.join(', ')}` };
    case 'DeleteLoadBalancer':
      return { action: 'delete', resource: 'LoadBalancer', name: s.lb.name };
    case 'DeleteTargetGroup':
      return { action: 'delete', resource: 'TargetGroup', name: s.tg.name };
    case 'DeleteSecurityGroup':
      return { action: 'delete', resource: 'SecurityGroup', name: s.group.name };
  }
}

function tagDetail(add: Record<string, string>, remove: string[]): string {
  return [
    ...(Object.keys(add).length ? [`add ${pairs(add)}`] : []),
    ...(remove.length ? [`remove ${remove.join(', ')}`] : []),
  ].join('; ');
}
