/**
 * What a Service needs, from its desired state alone: listeners and target groups per port, targets,
 * frontend rules, and whether an NLB must be replaced. Pure; the plan-*.ts files compare these with what
 * exists.
 */
import type { LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import { InvalidSpecError } from '../../src/model/errors.ts';
import type { DesiredLoadBalancer, TargetNode } from '../../src/model/desired.ts';
import type { SubnetInfo } from './observed.ts';
import { targetGroupName } from './names.ts';
import type { Slot } from './names.ts';
import type { AwsHealthCheck, AwsOptions } from './options.ts';

/** One rule of a frontend security group: a listener port from a client range. */
export interface FrontendRule {
  protocol: 'tcp' | 'udp';
  port: number;
  cidr: string;
}

export type ElbProtocol = 'TCP' | 'UDP' | 'TCP_UDP' | 'TLS';

export interface PortPlan {
  port: number;
  listenerProtocol: ElbProtocol;
  targetProtocol: ElbProtocol;
  nodePort: number;
  targetGroupName: string;
  healthCheck: AwsHealthCheck;
  /** TLS listeners only */
  certificates: string[];
}

/**
 * One listener and one target group per Service port number. A port exposed on both TCP and UDP becomes
 * one TCP_UDP listener (NLB takes no TCP and UDP listeners on the same port), which needs both to share
 * a nodePort, as the apiserver allocates them.
 */
export function planPorts(lb: DesiredLoadBalancer, opts: AwsOptions, slot: Slot = 0): PortPlan[] {
  const byPort = new Map<number, { protocols: Set<string>; nodePorts: Set<number>; names: string[] }>();
  for (const p of lb.ports) {
    if (p.protocol === 'SCTP') throw new InvalidSpecError(`port ${p.port}: Network Load Balancers do not carry SCTP`);
    if (p.nodePort === undefined) {
      throw new InvalidSpecError(
        `port ${p.port}/${p.protocol} has no nodePort; AWS NLBs forward to NodePorts (set allocateLoadBalancerNodePorts: true)`,
      );
    }
    const entry = byPort.get(p.port) ?? { protocols: new Set<string>(), nodePorts: new Set<number>(), names: [] };
    entry.protocols.add(p.protocol);
    entry.nodePorts.add(p.nodePort);
    if (p.name) entry.names.push(p.name);
    byPort.set(p.port, entry);
  }
  const plans: PortPlan[] = [];
  for (const [port, e] of [...byPort.entries()].sort((a, b) => a[0] - b[0])) {
    if (e.nodePorts.size > 1)
      throw new InvalidSpecError(
        `port ${port} on TCP and UDP needs one nodePort for both (an NLB TCP_UDP target group has one port)`,
      );
    const nodePort = [...e.nodePorts][0]!;
    const both = e.protocols.size > 1;
    const udp = e.protocols.has('UDP');
    const tls =
      !udp &&
      opts.certificates.length > 0 &&
      (opts.sslPorts === 'all' ||
        opts.sslPorts.has(String(port)) ||
        e.names.some((n) => (opts.sslPorts as Set<string>).has(n)));
    const listenerProtocol: ElbProtocol = both ? 'TCP_UDP' : udp ? 'UDP' : tls ? 'TLS' : 'TCP';
    const targetProtocol: ElbProtocol = both
      ? 'TCP_UDP'
      : udp
        ? 'UDP'
        : tls && opts.backendProtocol === 'ssl'
          ? 'TLS'
          : 'TCP';
    plans.push({
      port,
      listenerProtocol,
      targetProtocol,
      nodePort,
      targetGroupName: targetGroupName(lb.ref, nodePort, targetProtocol, slot),
      healthCheck: opts.healthCheck,
      certificates: tls ? opts.certificates : [],
    });
  }
  return plans;
}

export interface TargetPlan {
  /** instance IDs that should be registered in every target group */
  instances: string[];
  zones: Map<string, number>;
}

/** Eligible nodes (already filtered by the model) narrowed by aws-load-balancer-target-node-labels. */
export function planTargets(lb: DesiredLoadBalancer, opts: AwsOptions): TargetPlan {
  const instances = new Set<string>();
  const zones = new Map<string, number>();
  for (const node of lb.targets) {
    if (!Object.entries(opts.targetNodeLabels).every(([k, v]) => node.labels[k] === v)) continue;
    const id = instanceId(node.providerID);
    if (id === undefined || instances.has(id)) continue;
    instances.add(id);
    const zone = zoneOf(node) ?? 'unknown';
    zones.set(zone, (zones.get(zone) ?? 0) + 1);
  }
  return { instances: [...instances].sort(), zones };
}

/**
 * An NLB whose Service gives no source ranges (and no security groups of its own) admits everyone: it uses
 * the cluster's shared open group instead of a group of its own with a rule per port.
 */
export function opensToEveryone(opts: AwsOptions): boolean {
  return !opts.securityGroups && opts.sourceRanges.length === 0;
}

/** Frontend rules: every listener port from every source range (everyone when none is given). */
export function planFrontendRules(plans: PortPlan[], opts: AwsOptions): FrontendRule[] {
  const ranges =
    opts.sourceRanges.length > 0
      ? opts.sourceRanges
      : opts.ipAddressType === 'dualstack'
        ? ['0.0.0.0/0', '::/0']
        : ['0.0.0.0/0'];
  const rules: FrontendRule[] = [];
  for (const p of plans) {
    const protocols: ('tcp' | 'udp')[] =
      p.listenerProtocol === 'TCP_UDP' ? ['tcp', 'udp'] : p.listenerProtocol === 'UDP' ? ['udp'] : ['tcp'];
    for (const protocol of protocols) for (const cidr of ranges) rules.push({ protocol, port: p.port, cidr });
  }
  return rules;
}

/** Numeric health-check ports, for the node security-group rule. */
export function healthPorts(plans: PortPlan[]): number[] {
  return [...new Set(plans.map((p) => p.healthCheck.port).filter((p): p is number => typeof p === 'number'))];
}

/**
 * Why an NLB must be replaced to match the options, if it must: its scheme, or the Elastic IP or private
 * address of an Availability Zone that stays enabled, can only be set at creation. An existing NLB keeps
 * its scheme when the annotation is absent. Addresses are compared only where AWS reports them.
 */
export function replacementReason(lb: LoadBalancer, subnets: SubnetInfo[], opts: AwsOptions): string | undefined {
  if (opts.scheme !== undefined && lb.Scheme !== opts.scheme)
    return `its scheme changes from ${lb.Scheme} to ${opts.scheme}`;
  const current = new Map((lb.AvailabilityZones ?? []).map((z) => [z.SubnetId!, z]));
  for (const [i, s] of subnets.entries()) {
    const address = current.get(s.id)?.LoadBalancerAddresses?.[0];
    if (!address) continue;
    const eip = opts.eipAllocations[i];
    if (eip !== undefined && address.AllocationId !== eip)
      return 'the Elastic IP of an Availability Zone that stays enabled changes';
    const ip = opts.privateIPv4Addresses[i];
    if (ip !== undefined && address.PrivateIPv4Address !== ip) {
      return 'the private address of an Availability Zone that stays enabled changes';
    }
  }
  return undefined;
}

/** The instance ID in a providerID `aws:///<zone>/<instance-id>` (or `aws:///<instance-id>`). */
export function instanceId(providerID: string | undefined): string | undefined {
  const m = /^aws:\/\/\/(?:[^/]*\/)?(i-[0-9a-f]+)$/.exec(providerID ?? '');
  return m?.[1];
}

export function zoneOf(node: TargetNode): string | undefined {
  return node.zone ?? /^aws:\/\/\/([^/]+)\/i-/.exec(node.providerID ?? '')?.[1];
}
