/**
 * SDK middleware for the AWS provider's tests and benchmark: a call recorder, a fault injector with
 * AWS's real error codes, and shims that give moto's answers AWS's documented behaviour where moto
 * differs (each shim says which difference it covers). Test support only: nothing in the provider
 * imports this file.
 */
import {
  CreateListenerCommand,
  DeleteListenerCommand,
  DescribeListenersCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingV2ServiceException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type {
  CreateLoadBalancerInput,
  ElasticLoadBalancingV2Client,
  ModifyListenerInput,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type {
  HandlerExecutionContext,
  InitializeHandlerArguments,
  InitializeHandlerOutput,
  MetadataBearer,
} from '@smithy/types';
import { apiClass } from '../../providers/aws/throttle.ts';
import type { ApiClass } from '../../providers/aws/throttle.ts';

type Next = (args: InitializeHandlerArguments<object>) => Promise<InitializeHandlerOutput<MetadataBearer>>;
type Handler = (
  args: InitializeHandlerArguments<object>,
  next: Next,
  context: HandlerExecutionContext,
) => Promise<InitializeHandlerOutput<MetadataBearer>>;
type AnyClient = ElasticLoadBalancingV2Client | EC2Client;

/**
 * Add an initialize-step middleware (runs before our retry policy's call reaches the wire). `first` puts it
 * ahead of the shims (a test's own step that must happen before moto is asked).
 */
export function use(client: AnyClient, name: string, handler: Handler, first = false): void {
  const mw = (next: Next, context: HandlerExecutionContext) => (args: InitializeHandlerArguments<object>) =>
    handler(args, next, context);
  // the stack's generic types differ per client; this test-support boundary is where they meet
  const stack = client.middlewareStack as unknown as {
    add(m: typeof mw, o: { step: 'initialize'; name: string; override: boolean; priority: 'high' | 'normal' }): void;
  };
  stack.add(mw, { step: 'initialize', name, override: true, priority: first ? 'high' : 'normal' });
}

export interface Call {
  service: 'elbv2' | 'ec2';
  operation: string;
  at: number;
  input: object;
}

/** Records every call that reaches the wire (retries included), for call counts and rates. */
export class CallRecorder {
  calls: Call[] = [];
  attach(clients: { elbv2: ElasticLoadBalancingV2Client; ec2: EC2Client }): this {
    for (const [service, client] of [
      ['elbv2', clients.elbv2],
      ['ec2', clients.ec2],
    ] as const) {
      use(client, 'record-calls', (args, next, ctx) => {
        this.calls.push({
          service,
          operation: (ctx.commandName ?? '').replace(/Command$/, ''),
          at: Date.now(),
          input: args.input,
        });
        return next(args);
      });
    }
    return this;
  }
  reset(): void {
    this.calls = [];
  }
  mutating(): Call[] {
    return this.calls.filter((c) => !c.operation.startsWith('Describe'));
  }
  count(operation: string): number {
    return this.calls.filter((c) => c.operation === operation).length;
  }
  byClass(): Map<ApiClass, number[]> {
    const out = new Map<ApiClass, number[]>();
    for (const c of this.calls) {
      const classes: ApiClass[] =
        c.service === 'elbv2' ? [apiClass(c.service, c.operation), 'elbv2'] : [apiClass(c.service, c.operation)];
      for (const k of classes) out.set(k, [...(out.get(k) ?? []), c.at]);
    }
    return out;
  }
}

export function elbError(name: string, status = 400, message = name): ElasticLoadBalancingV2ServiceException {
  return new ElasticLoadBalancingV2ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message,
  });
}

export function ec2Error(name: string, status = 400, message = name): EC2ServiceException {
  return new EC2ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message,
  });
}

/** Answer one operation with an error (quotas: TooManyLoadBalancers, TooManyListeners, TooManyTargets...). */
export function failOperation(client: AnyClient, operation: string, error: () => Error, times = Infinity): void {
  let left = times;
  use(client, `fail-${operation}`, (args, next, ctx) => {
    if (ctx.commandName === `${operation}Command` && left > 0) {
      left--;
      return Promise.reject(error());
    }
    return next(args);
  });
}

/**
 * moto returns fixed limits (20 NLBs, 200 targets per NLB, no per-AZ key): answer DescribeAccountLimits
 * with AWS's documented defaults, or the limits a test gives.
 */
export function accountLimits(client: ElasticLoadBalancingV2Client, limits: Record<string, number>): void {
  use(client, 'account-limits', (args, next, ctx) => {
    if (ctx.commandName !== 'DescribeAccountLimitsCommand') return next(args);
    const Limits = Object.entries(limits).map(([Name, Max]) => ({ Name, Max: String(Max) }));
    return Promise.resolve({ output: { Limits, $metadata: {} }, response: {} });
  });
}

/**
 * moto's ModifyListener refuses UDP, TLS and TCP_UDP (AWS accepts them for NLB listeners): carry such a
 * change out as moto can (delete and re-create the listener with the new settings) and answer as AWS
 * does. The listener ARN changes, which AWS would keep; the provider does not depend on it.
 */
export function modifyListenerAsAws(client: ElasticLoadBalancingV2Client, raw: ElasticLoadBalancingV2Client): void {
  use(client, 'modify-listener-as-aws', async (args, next, ctx) => {
    const input = args.input as ModifyListenerInput;
    if (ctx.commandName !== 'ModifyListenerCommand' || !['UDP', 'TLS', 'TCP_UDP'].includes(input.Protocol ?? ''))
      return next(args);
    const current = (await raw.send(new DescribeListenersCommand({ ListenerArns: [input.ListenerArn!] })))
      .Listeners![0]!;
    await raw.send(new DeleteListenerCommand({ ListenerArn: input.ListenerArn }));
    const created = await raw.send(
      new CreateListenerCommand({
        LoadBalancerArn: current.LoadBalancerArn,
        Port: input.Port ?? current.Port,
        Protocol: input.Protocol,
        DefaultActions: input.DefaultActions ?? current.DefaultActions,
        ...(input.Certificates ? { Certificates: input.Certificates } : {}),
        ...(input.SslPolicy ? { SslPolicy: input.SslPolicy } : {}),
        ...(input.AlpnPolicy ? { AlpnPolicy: input.AlpnPolicy } : {}),
      }),
    );
    return { output: { Listeners: created.Listeners, $metadata: {} }, response: {} };
  });
}

/**
 * moto deletes an NLB whatever its deletion_protection.enabled attribute says; AWS refuses with
 * OperationNotPermitted. Answer as AWS does.
 */
export function deletionProtectionAsAws(client: ElasticLoadBalancingV2Client, raw: ElasticLoadBalancingV2Client): void {
  use(client, 'deletion-protection-as-aws', async (args, next, ctx) => {
    if (ctx.commandName !== 'DeleteLoadBalancerCommand') return next(args);
    const arn = (args.input as { LoadBalancerArn?: string }).LoadBalancerArn;
    const attrs = await raw
      .send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: arn }))
      .catch(() => undefined);
    if (attrs?.Attributes?.some((a) => a.Key === 'deletion_protection.enabled' && a.Value === 'true')) {
      throw elbError(
        'OperationNotPermitted',
        400,
        `Load balancer '${arn}' cannot be deleted because deletion protection is enabled`,
      );
    }
    return next(args);
  });
}

/**
 * moto creates a second NLB under a name that is taken; AWS answers CreateLoadBalancer with the existing NLB
 * when its settings match (scheme, subnets, security groups) and DuplicateLoadBalancerName when they
 * differ. Answer as AWS does.
 */
export function duplicateNameAsAws(client: ElasticLoadBalancingV2Client, raw: ElasticLoadBalancingV2Client): void {
  use(client, 'duplicate-name-as-aws', async (args, next, ctx) => {
    if (ctx.commandName !== 'CreateLoadBalancerCommand') return next(args);
    const input = args.input as CreateLoadBalancerInput;
    const existing = (await raw.send(new DescribeLoadBalancersCommand({ Names: [input.Name!] })).catch(() => undefined))
      ?.LoadBalancers?.[0];
    if (!existing) return next(args);
    const sorted = (xs: (string | undefined)[] | undefined) => [...(xs ?? [])].sort().join(',');
    const subnets = input.SubnetMappings?.map((m) => m.SubnetId) ?? input.Subnets;
    const same =
      (input.Scheme ?? 'internet-facing') === existing.Scheme &&
      sorted(subnets) === sorted(existing.AvailabilityZones?.map((z) => z.SubnetId)) &&
      sorted(input.SecurityGroups) === sorted(existing.SecurityGroups);
    if (same) return { output: { LoadBalancers: [existing], $metadata: {} }, response: {} };
    throw elbError('DuplicateLoadBalancerName', 400, 'A load balancer with the same name already exists');
  });
}

/**
 * moto leaves proxy_protocol_v2.enabled out of DescribeTargetGroupAttributes until it is set; AWS lists it
 * (false by default) for TCP and TLS groups. Answer as AWS does, so a drift pass sees AWS's default.
 */
export function targetGroupAttributesAsAws(client: ElasticLoadBalancingV2Client): void {
  use(client, 'target-group-attributes-as-aws', async (args, next, ctx) => {
    const res = await next(args);
    if (ctx.commandName !== 'DescribeTargetGroupAttributesCommand') return res;
    const out = res.output as { Attributes?: { Key?: string; Value?: string }[] };
    const attrs = out.Attributes ?? [];
    if (!attrs.some((a) => a.Key === 'proxy_protocol_v2.enabled'))
      out.Attributes = [...attrs, { Key: 'proxy_protocol_v2.enabled', Value: 'false' }];
    return res;
  });
}

export interface FaultOptions {
  /** share of calls that fail, 0..1 */
  rate: number;
  /** a deterministic source of randomness (a seeded PRNG), so a failing run can be repeated */
  random: () => number;
  enabled: () => boolean;
  /** operations that may fail after moto carried them out (a lost answer); see faultInjector */
  lostAnswerSafe?: (operation: string) => boolean;
}

export interface FaultCounts {
  throttled: number;
  serverError: number;
  timeout: number;
}

/**
 * Fail a share of calls the way AWS does: throttling (ELBv2 `Throttling`, EC2 `RequestLimitExceeded`),
 * 5xx (`InternalFailure`, `ServiceUnavailable`) and timeouts (the SDK's TimeoutError). Some timeouts
 * happen after the call went through (the answer was lost), but only for operations whose repeat moto
 * treats as AWS does: moto creates a second NLB under a taken name and a second listener on a taken
 * port, where AWS answers with the existing NLB or DuplicateListener.
 */
export function faultInjector(client: AnyClient, service: 'elbv2' | 'ec2', opts: FaultOptions): FaultCounts {
  const counts: FaultCounts = { throttled: 0, serverError: 0, timeout: 0 };
  use(client, 'inject-faults', async (args, next, ctx) => {
    if (!opts.enabled() || opts.random() >= opts.rate) return next(args);
    const op = (ctx.commandName ?? '').replace(/Command$/, '');
    const kind = opts.random();
    if (kind < 0.4) {
      counts.throttled++;
      throw service === 'ec2'
        ? ec2Error('RequestLimitExceeded', 503, 'Request limit exceeded.')
        : elbError('Throttling', 400, 'Rate exceeded');
    }
    if (kind < 0.7) {
      counts.serverError++;
      throw service === 'ec2' ? ec2Error('ServiceUnavailable', 503) : elbError('InternalFailure', 500);
    }
    counts.timeout++;
    if (kind < 0.85 && (opts.lostAnswerSafe?.(op) ?? false)) await next(args);
    const err = new Error('Request timed out');
    err.name = 'TimeoutError';
    throw err;
  });
  return counts;
}

/** A small seeded PRNG (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
