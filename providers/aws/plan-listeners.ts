/**
 * Listeners and target groups by diff. Port and protocol of a target group are immutable, and its name
 * hashes them: a change makes a new group (targets registered before traffic moves), switches the
 * listener to it and deletes the old one. Health checks change in place with ModifyTargetGroup, and only
 * when they differ (aws-load-balancer-controller users see ModifyTargetGroup on every sync).
 *
 * The plan reconciles the Service's full set of target groups, as aws-load-balancer-controller does: every
 * group observed for the Service that no listener will use is deleted, so a group left behind by a failure
 * halfway (after ModifyListener, before its delete) goes at the next sync. Pure.
 */
import type { Action, Listener, TargetGroup } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { LoadBalancerRef } from '../../src/model/desired.ts';
import { attributeWrites, defaultTargetGroupAttributes, desiredTargetGroupAttributes } from './attributes.ts';
import { extraCertificates } from './certificates.ts';
import type { ObservedLoadBalancer, ObservedTargetGroup } from './observed.ts';
import type { AwsHealthCheck, AwsOptions } from './options.ts';
import type { PortPlan } from './plan.ts';
import { existing, pending } from './steps.ts';
import type { HealthCheckInput, Ref, Step, TlsSettings } from './steps.ts';
import { additionalTagSet, digest, ownership, ownershipTags, TAG, tagMap } from './tags.ts';

export const TARGETS_PER_CALL = 100;

export function forwardTarget(actions: Action[] | undefined): string | undefined {
  const a = actions?.find((x) => x.Type === 'forward');
  return a?.TargetGroupArn ?? a?.ForwardConfig?.TargetGroups?.[0]?.TargetGroupArn;
}

export function healthCheckInput(hc: AwsHealthCheck): HealthCheckInput {
  const http = hc.protocol !== 'TCP';
  return {
    HealthCheckProtocol: hc.protocol,
    HealthCheckPort: hc.port === 'traffic-port' ? 'traffic-port' : String(hc.port),
    HealthCheckIntervalSeconds: hc.intervalSeconds,
    HealthCheckTimeoutSeconds: hc.timeoutSeconds,
    HealthyThresholdCount: hc.healthyThreshold,
    UnhealthyThresholdCount: hc.unhealthyThreshold,
    ...(http ? { HealthCheckPath: hc.path ?? '/', Matcher: { HttpCode: hc.successCodes ?? '200-399' } } : {}),
  };
}

export function healthCheckDiffers(tg: TargetGroup, want: HealthCheckInput): boolean {
  return (
    tg.HealthCheckProtocol !== want.HealthCheckProtocol ||
    String(tg.HealthCheckPort) !== want.HealthCheckPort ||
    Number(tg.HealthCheckIntervalSeconds) !== want.HealthCheckIntervalSeconds ||
    Number(tg.HealthCheckTimeoutSeconds) !== want.HealthCheckTimeoutSeconds ||
    Number(tg.HealthyThresholdCount) !== want.HealthyThresholdCount ||
    Number(tg.UnhealthyThresholdCount) !== want.UnhealthyThresholdCount ||
    (want.HealthCheckPath !== undefined && tg.HealthCheckPath !== want.HealthCheckPath) ||
    (want.Matcher !== undefined && tg.Matcher?.HttpCode !== want.Matcher.HttpCode)
  );
}

/** Register what is missing and deregister what is extra, 100 per call. */
export function targetSteps(tg: Ref, have: ReadonlySet<string>, want: readonly string[]): Step[] {
  const wanted = new Set(want);
  const add = want.filter((id) => !have.has(id));
  const remove = [...have].filter((id) => !wanted.has(id)).sort();
  const steps: Step[] = [];
  for (let i = 0; i < add.length; i += TARGETS_PER_CALL)
    steps.push({ op: 'RegisterTargets', tg, instances: add.slice(i, i + TARGETS_PER_CALL) });
  for (let i = 0; i < remove.length; i += TARGETS_PER_CALL)
    steps.push({ op: 'DeregisterTargets', tg, instances: remove.slice(i, i + TARGETS_PER_CALL) });
  return steps;
}

function tls(plan: PortPlan, opts: AwsOptions): TlsSettings | undefined {
  if (plan.listenerProtocol !== 'TLS') return undefined;
  return {
    certificate: plan.certificates[0]!,
    sslPolicy: opts.sslPolicy,
    ...(opts.alpnPolicy ? { alpnPolicy: opts.alpnPolicy } : {}),
  };
}

/** The ModifyListener step that brings a listener to the plan, or undefined when it already matches. */
export function listenerChange(
  l: Listener,
  listener: Ref,
  plan: PortPlan,
  opts: AwsOptions,
  tg: Ref,
): Step | undefined {
  const protocolChanged = l.Protocol !== plan.listenerProtocol;
  const targetChanged = tg.id === undefined || forwardTarget(l.DefaultActions) !== tg.id;
  const isTls = plan.listenerProtocol === 'TLS';
  const tlsChanged =
    isTls &&
    (l.Certificates?.[0]?.CertificateArn !== plan.certificates[0] ||
      l.SslPolicy !== opts.sslPolicy ||
      (l.AlpnPolicy?.[0] ?? 'None') !== (opts.alpnPolicy ?? 'None'));
  if (!protocolChanged && !targetChanged && !tlsChanged) return undefined;
  const settings = tls(plan, opts);
  return {
    op: 'ModifyListener',
    listener,
    port: plan.port,
    ...(protocolChanged ? { protocol: plan.listenerProtocol } : {}),
    ...(targetChanged || protocolChanged ? { tg } : {}),
    ...((tlsChanged || (isTls && protocolChanged)) && settings ? { tls: settings } : {}),
  };
}

export interface ListenerInput {
  ref: LoadBalancerRef;
  opts: AwsOptions;
  ports: PortPlan[];
  lb: Ref;
  current?: ObservedLoadBalancer;
  retiring: ObservedLoadBalancer[];
  targetGroups: ObservedTargetGroup[];
  instances: string[];
  vpcId: string;
}

export interface ListenerPlan {
  /** per port: its group, its targets, then its listener */
  steps: Step[];
  /** listeners of ports that went, extra certificates, and groups no listener uses any more */
  cleanup: Step[];
  /** each port's group, and the tags it carries once its steps are done (for the tag plan) */
  targetGroups: { port: number; tg: Ref; tags: Record<string, string>; attributes: string }[];
}

export function planListeners(input: ListenerInput): ListenerPlan {
  const { ref, opts, current } = input;
  const byName = new Map(input.targetGroups.map((t) => [t.tg.TargetGroupName ?? '', t]));
  const listenerByPort = new Map((current?.listeners ?? []).map((l) => [l.Port!, l]));
  const lbName = input.lb.name;
  const steps: Step[] = [];
  const cleanup: Step[] = [];
  const result: ListenerPlan['targetGroups'] = [];
  const extras = extraCertificates(input.ports);

  for (const plan of input.ports) {
    const observed = byName.get(plan.targetGroupName);
    const health = healthCheckInput(plan.healthCheck);
    const want = desiredTargetGroupAttributes(plan, opts);
    let tg: Ref;
    let tags: Record<string, string>;
    if (!observed) {
      tg = pending(`tg:${plan.targetGroupName}`, plan.targetGroupName);
      const created = ownershipTags(ref, 'target-group', {
        ...additionalTagSet(opts.additionalTags),
        [TAG.attributes]: digest(defaultTargetGroupAttributes(plan)),
      });
      tags = tagMap(created);
      steps.push({
        op: 'CreateTargetGroup',
        tg,
        protocol: plan.targetProtocol,
        port: plan.nodePort,
        vpcId: input.vpcId,
        healthCheck: health,
        tags: created,
      });
    } else {
      tg = existing(`tg:${plan.targetGroupName}`, plan.targetGroupName, observed.tg.TargetGroupArn!);
      tags = observed.tags;
      if (healthCheckDiffers(observed.tg, health)) steps.push({ op: 'ModifyTargetGroup', tg, healthCheck: health });
    }
    const writes = attributeWrites(want, tags[TAG.attributes], observed?.attributes);
    if (Object.keys(writes).length > 0) steps.push({ op: 'ModifyTargetGroupAttributes', tg, attributes: writes });
    // targets before traffic: a new group is filled before a listener points at it
    steps.push(...targetSteps(tg, observed?.registered ?? new Set(), input.instances));
    result.push({ port: plan.port, tg, tags, attributes: digest(want) });

    const l = listenerByPort.get(plan.port);
    const listener = l
      ? existing(`listener:${lbName}:${plan.port}`, `${lbName}:${plan.port}`, l.ListenerArn!)
      : pending(`listener:${lbName}:${plan.port}`, `${lbName}:${plan.port}`);
    const settings = tls(plan, opts);
    if (!l) {
      steps.push({
        op: 'CreateListener',
        listener,
        lb: input.lb,
        port: plan.port,
        protocol: plan.listenerProtocol,
        tg,
        ...(settings ? { tls: settings } : {}),
        tags: ownershipTags(ref, 'load-balancer'),
      });
    } else {
      const change = listenerChange(l, listener, plan, opts, tg);
      if (change) steps.push(change);
    }
    // extra (SNI) certificates: all of them on a new listener (or one that was not TLS); on an existing TLS
    // listener the difference from what was read, nothing when they were not read (the digest matched)
    const wanted = extras.get(plan.port) ?? [];
    const have = !l || l.Protocol !== 'TLS' ? [] : current?.certificates?.get(l.ListenerArn!);
    if (plan.listenerProtocol === 'TLS' && have !== undefined) {
      const add = wanted.filter((c) => !have.includes(c));
      const remove = have.filter((c) => !wanted.includes(c));
      if (add.length > 0) cleanup.push({ op: 'AddListenerCertificates', listener, certificates: add });
      if (remove.length > 0) cleanup.push({ op: 'RemoveListenerCertificates', listener, certificates: remove });
    }
  }

  const ports = new Set(input.ports.map((p) => p.port));
  const listenerDeletes: Step[] = [];
  for (const l of current?.listeners ?? []) {
    if (ports.has(l.Port!)) continue;
    listenerDeletes.push({
      op: 'DeleteListener',
      listener: existing(`listener:${lbName}:${l.Port}`, `${lbName}:${l.Port}`, l.ListenerArn!),
      port: l.Port!,
    });
  }
  cleanup.unshift(...listenerDeletes);

  // every group of this Service that no listener will use, except those a retiring NLB still uses (they go
  // with it); groups not tagged for this Service are never deleted
  const kept = new Set(input.ports.map((p) => p.targetGroupName));
  const ofRetiring = new Set(
    input.retiring.flatMap((r) => r.listeners.map((l) => forwardTarget(l.DefaultActions))).filter(Boolean),
  );
  for (const t of input.targetGroups) {
    const arn = t.tg.TargetGroupArn!;
    const whose = ownership(ref, t.tags);
    if (kept.has(t.tg.TargetGroupName ?? '') || ofRetiring.has(arn) || (whose !== 'ours' && whose !== 'adoptable'))
      continue;
    cleanup.push({
      op: 'DeleteTargetGroup',
      tg: existing(`tg:${t.tg.TargetGroupName}`, t.tg.TargetGroupName ?? arn, arn),
    });
  }
  return { steps, cleanup, targetGroups: result };
}
