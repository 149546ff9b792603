/**
 * Listeners and target groups by diff. Port and protocol of a target group are immutable, and its name
 * hashes them: a change makes a new group (targets registered before traffic moves), switches the
 * listener to it and deletes the old one. Health checks change in place with ModifyTargetGroup, and only
 * when they differ (aws-load-balancer-controller users see ModifyTargetGroup on every sync).
 */
import {
  CreateListenerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteTargetGroupCommand,
  DescribeListenersCommand,
  DescribeTargetGroupsCommand,
  ModifyListenerCommand,
  ModifyTargetGroupCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Action, Listener, ModifyListenerInput, TargetGroup } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { LoadBalancerRef } from '../../src/model/desired.ts';
import { errorCode } from './aws-api.ts';
import type { Ctx } from './context.ts';
import type { AwsHealthCheck, AwsOptions } from './options.ts';
import type { PortPlan } from './plan.ts';
import { quotaError } from './quotas.ts';
import { additionalTagSet, digest, ownershipTags, TAG, tagMap } from './tags.ts';
import { syncAttributes } from './attributes.ts';
import { certificateDigest, extraCertificates, syncListenerCertificates } from './certificates.ts';
import { registeredTargets, syncTargets } from './targets.ts';
import { sleep } from './throttle.ts';

export interface ListenerState {
  listeners: Listener[];
  targetGroups: TargetGroup[];
}

export function forwardTarget(actions: Action[] | undefined): string | undefined {
  const a = actions?.find((x) => x.Type === 'forward');
  return a?.TargetGroupArn ?? a?.ForwardConfig?.TargetGroups?.[0]?.TargetGroupArn;
}

/**
 * Listeners, and the target groups they forward to. Target groups are read by the ARNs the listeners
 * name rather than by load balancer: the listener is the truth (and moto's by-load-balancer answer
 * misses groups switched in with ModifyListener).
 */
export async function readListeners(
  ctx: Ctx,
  loadBalancerArn: string,
  withTargetGroups = true,
): Promise<ListenerState> {
  const listeners: Listener[] = [];
  let marker: string | undefined;
  do {
    const page = await ctx.api.elbv2(
      new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn, Marker: marker }),
      ctx.signal,
    );
    listeners.push(...(page.Listeners ?? []));
    marker = page.NextMarker;
  } while (marker);
  const arns = [...new Set(listeners.map((l) => forwardTarget(l.DefaultActions)).filter((a): a is string => !!a))];
  const targetGroups =
    arns.length === 0 || !withTargetGroups
      ? []
      : ((await ctx.api.elbv2(new DescribeTargetGroupsCommand({ TargetGroupArns: arns }), ctx.signal)).TargetGroups ??
        []);
  return { listeners, targetGroups };
}

/**
 * The attributes we manage on a target group. The ones we derive (proxy protocol, and source-IP
 * stickiness for sessionAffinity: ClientIP) are always stated, so removing the annotation or the
 * affinity turns them back off; the annotation wins over what we derive.
 */
export function desiredTargetGroupAttributes(plan: PortPlan, opts: AwsOptions): Record<string, string> {
  const attrs = { ...defaultTargetGroupAttributes(plan) };
  // NLB stickiness is by source IP, and not available on TLS target groups
  if (opts.sessionAffinity === 'ClientIP' && plan.targetProtocol !== 'TLS') {
    attrs['stickiness.enabled'] = 'true';
    attrs['stickiness.type'] = 'source_ip';
  }
  Object.assign(attrs, opts.targetGroupAttributes);
  // PROXY protocol v2 is not available on UDP and TCP_UDP target groups
  if (plan.targetProtocol !== 'TCP' && plan.targetProtocol !== 'TLS') delete attrs['proxy_protocol_v2.enabled'];
  return attrs;
}

/** AWS's defaults for the attributes we always state: a new group needs no modify call for them. */
function defaultTargetGroupAttributes(plan: PortPlan): Record<string, string> {
  const tcpLike = plan.targetProtocol === 'TCP' || plan.targetProtocol === 'TLS';
  return {
    ...(tcpLike ? { 'proxy_protocol_v2.enabled': 'false' } : {}),
    ...(plan.targetProtocol !== 'TLS' ? { 'stickiness.enabled': 'false' } : {}),
  };
}

function healthCheckInput(hc: AwsHealthCheck) {
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

export function healthCheckDiffers(tg: TargetGroup, hc: AwsHealthCheck): boolean {
  const want = healthCheckInput(hc);
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

async function createTargetGroup(
  ctx: Ctx,
  ref: LoadBalancerRef,
  vpcId: string,
  plan: PortPlan,
  opts: AwsOptions,
  defaultAttrs: Record<string, string>,
): Promise<{ tg: TargetGroup; tags: Record<string, string> }> {
  const tags = ownershipTags(ref, 'target-group', {
    ...additionalTagSet(opts.additionalTags),
    [TAG.attributes]: digest(defaultAttrs),
  });
  try {
    const res = await ctx.api.elbv2(
      new CreateTargetGroupCommand({
        Name: plan.targetGroupName,
        Protocol: plan.targetProtocol,
        Port: plan.nodePort,
        VpcId: vpcId,
        TargetType: 'instance',
        ...healthCheckInput(plan.healthCheck),
        Tags: tags,
      }),
      ctx.signal,
    );
    ctx.changed = true;
    ctx.createdTargetGroups.push(res.TargetGroups![0]!.TargetGroupArn!);
    return { tg: res.TargetGroups![0]!, tags: tagMap(tags) };
  } catch (err) {
    // AWS returns the existing group when the settings match and DuplicateTargetGroupName when they
    // don't (moto always says Duplicate): either way the group of this name is ours, since the name
    // hashes our UID. Take it and converge its health check below.
    if (errorCode(err) !== 'DuplicateTargetGroupName') throw quotaError(err);
    const found = await ctx.api.elbv2(new DescribeTargetGroupsCommand({ Names: [plan.targetGroupName] }), ctx.signal);
    const tg = found.TargetGroups?.[0];
    if (!tg) throw err;
    ctx.createdTargetGroups.push(tg.TargetGroupArn!);
    // its tags are unknown here: an empty map makes the attributes and tags converge once
    return { tg, tags: {} };
  }
}

/** Each target group of an NLB with its listener's port and its registered targets (node churn after a restart). */
export async function readTargetGroupStates(ctx: Ctx, loadBalancerArn: string): Promise<TargetGroupState[]> {
  const { listeners, targetGroups } = await readListeners(ctx, loadBalancerArn);
  const out: TargetGroupState[] = [];
  for (const tg of targetGroups) {
    const port = listeners.find((l) => forwardTarget(l.DefaultActions) === tg.TargetGroupArn)?.Port ?? 0;
    out.push({ port, arn: tg.TargetGroupArn!, registered: await registeredTargets(ctx, tg.TargetGroupArn!) });
  }
  return out;
}

/** Delete a target group; AWS may still see it in use for a moment after its listener went away. */
export async function deleteTargetGroup(ctx: Ctx, arn: string, attempts = 5): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await ctx.api.elbv2(new DeleteTargetGroupCommand({ TargetGroupArn: arn }), ctx.signal);
      ctx.changed = true;
      return;
    } catch (err) {
      const code = errorCode(err);
      if (code === 'TargetGroupNotFound') return;
      if (code !== 'ResourceInUse' || i >= attempts) throw err;
      await sleep(250 * 2 ** i, ctx.signal);
    }
  }
}

export interface TargetGroupState {
  port: number;
  arn: string;
  registered: Set<string>;
}

/** Converge listeners, target groups, their attributes and their targets; returns the groups in use. */
export async function convergeListeners(
  ctx: Ctx,
  ref: LoadBalancerRef,
  lbArn: string,
  vpcId: string,
  state: ListenerState,
  tgTags: Map<string, Record<string, string>>,
  plans: PortPlan[],
  opts: AwsOptions,
  instances: string[],
): Promise<TargetGroupState[]> {
  const byArn = new Map(state.targetGroups.map((tg) => [tg.TargetGroupArn!, tg]));
  const listenerByPort = new Map(state.listeners.map((l) => [l.Port!, l]));
  const result: TargetGroupState[] = [];
  const retired = new Set<string>();
  /** listeners created or modified here, by port: their extra certificates are checked */
  const touched = new Map<number, string>();

  for (const plan of plans) {
    const listener = listenerByPort.get(plan.port);
    const currentArn = listener ? forwardTarget(listener.DefaultActions) : undefined;
    let tg = [...byArn.values()].find((g) => g.TargetGroupName === plan.targetGroupName);
    const attrs = desiredTargetGroupAttributes(plan, opts);
    let fresh = false;
    if (!tg) {
      const created = await createTargetGroup(ctx, ref, vpcId, plan, opts, defaultTargetGroupAttributes(plan));
      tg = created.tg;
      byArn.set(tg.TargetGroupArn!, tg);
      tgTags.set(tg.TargetGroupArn!, created.tags);
      fresh = true;
    }
    const tgArn = tg.TargetGroupArn!;
    if (healthCheckDiffers(tg, plan.healthCheck)) {
      await ctx.api.elbv2(
        new ModifyTargetGroupCommand({ TargetGroupArn: tgArn, ...healthCheckInput(plan.healthCheck) }),
        ctx.signal,
      );
      ctx.changed = true;
    }
    await syncAttributes(ctx, 'target-group', tgArn, attrs, tgTags.get(tgArn)?.[TAG.attributes]);
    // targets before traffic: a new group is filled before a listener points at it
    const have = fresh ? new Set<string>() : await registeredTargets(ctx, tgArn);
    const registered = await syncTargets(ctx, tgArn, have, instances);
    result.push({ port: plan.port, arn: tgArn, registered });

    if (!listener) {
      try {
        const res = await ctx.api.elbv2(
          new CreateListenerCommand({
            LoadBalancerArn: lbArn,
            Port: plan.port,
            Protocol: plan.listenerProtocol,
            DefaultActions: [{ Type: 'forward', TargetGroupArn: tgArn }],
            ...tlsInput(plan, opts),
            Tags: ownershipTags(ref, 'load-balancer'),
          }),
          ctx.signal,
        );
        touched.set(plan.port, res.Listeners?.[0]?.ListenerArn ?? '');
      } catch (err) {
        throw quotaError(err);
      }
      ctx.changed = true;
      continue;
    }
    const change = listenerChange(listener, plan, opts, tgArn);
    if (change) {
      // the answer's ARN: moto's shim (test/aws/sdk-middleware.ts) re-creates a listener it cannot modify
      const res = await ctx.api.elbv2(new ModifyListenerCommand(change), ctx.signal);
      touched.set(plan.port, res.Listeners?.[0]?.ListenerArn ?? listener.ListenerArn!);
      ctx.changed = true;
    }
    if (currentArn && currentArn !== tgArn) retired.add(currentArn);
  }

  const wanted = new Set(plans.map((p) => p.port));
  for (const l of state.listeners) {
    if (wanted.has(l.Port!)) continue;
    await ctx.api.elbv2(new DeleteListenerCommand({ ListenerArn: l.ListenerArn }), ctx.signal);
    ctx.changed = true;
    const arn = forwardTarget(l.DefaultActions);
    if (arn) retired.add(arn);
  }
  // extra (SNI) certificates: checked where the digest on the NLB differs, on a drift pass, and on
  // listeners just created or modified that should have some
  const extra = extraCertificates(plans);
  const check = ctx.drift === true || tgTags.get(lbArn)?.[TAG.certificates] !== certificateDigest(plans);
  for (const plan of plans) {
    const arn = touched.get(plan.port) ?? listenerByPort.get(plan.port)?.ListenerArn;
    if (plan.listenerProtocol !== 'TLS' || !arn || !(check || (touched.has(plan.port) && extra.has(plan.port))))
      continue;
    await syncListenerCertificates(ctx, arn, plan.certificates[0], extra.get(plan.port) ?? []);
  }
  const inUse = new Set(result.map((r) => r.arn));
  for (const arn of retired) if (!inUse.has(arn)) await deleteTargetGroup(ctx, arn);
  return result;
}

function tlsInput(plan: PortPlan, opts: AwsOptions) {
  if (plan.listenerProtocol !== 'TLS') return {};
  return {
    Certificates: [{ CertificateArn: plan.certificates[0] }],
    SslPolicy: opts.sslPolicy,
    ...(opts.alpnPolicy ? { AlpnPolicy: [opts.alpnPolicy] } : {}),
  };
}

/** The ModifyListener input that brings a listener to the plan, or undefined when it already matches. */
export function listenerChange(
  l: Listener,
  plan: PortPlan,
  opts: AwsOptions,
  tgArn: string,
): ModifyListenerInput | undefined {
  const protocolChanged = l.Protocol !== plan.listenerProtocol;
  const targetChanged = forwardTarget(l.DefaultActions) !== tgArn;
  const tls = plan.listenerProtocol === 'TLS';
  const tlsChanged =
    tls &&
    (l.Certificates?.[0]?.CertificateArn !== plan.certificates[0] ||
      l.SslPolicy !== opts.sslPolicy ||
      (l.AlpnPolicy?.[0] ?? 'None') !== (opts.alpnPolicy ?? 'None'));
  if (!protocolChanged && !targetChanged && !tlsChanged) return undefined;
  return {
    ListenerArn: l.ListenerArn,
    ...(protocolChanged ? { Protocol: plan.listenerProtocol } : {}),
    ...(targetChanged || protocolChanged ? { DefaultActions: [{ Type: 'forward', TargetGroupArn: tgArn }] } : {}),
    ...(tlsChanged || (tls && protocolChanged) ? tlsInput(plan, opts) : {}),
  };
}
