/**
 * The AWS clients, with every call passing through the shared token buckets and the one retry policy
 * (throttle.ts). Credentials come from the SDK's standard chain (env, IRSA web identity, instance
 * profile); nothing here logs them.
 */
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type {
  ElasticLoadBalancingV2ClientResolvedConfig,
  ServiceInputTypes as ElbIn,
  ServiceOutputTypes as ElbOut,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { EC2Client } from '@aws-sdk/client-ec2';
import type {
  EC2ClientResolvedConfig,
  ServiceInputTypes as Ec2In,
  ServiceOutputTypes as Ec2Out,
} from '@aws-sdk/client-ec2';
import type { Command } from '@smithy/types';
import { apiClass, DEFAULT_RATES, DEFAULT_RETRY, TokenBucket, withPolicy } from './throttle.ts';
import type { ApiClass, Rate, RetryPolicy } from './throttle.ts';

export interface AwsClients {
  elbv2: ElasticLoadBalancingV2Client;
  ec2: EC2Client;
}

export interface AwsApiOptions {
  region: string;
  endpoint?: string;
  /** injected clients (tests add middleware); they should be built with maxAttempts: 1 */
  clients?: Partial<AwsClients>;
  rates?: Partial<Record<ApiClass, Rate>>;
  retry?: Partial<RetryPolicy>;
  /** per-request timeout; a timed-out request counts as transient and is retried by our policy */
  requestTimeoutMs?: number;
}

export function makeClients(options: AwsApiOptions): AwsClients {
  const common = {
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    // our policy retries; the SDK must not retry underneath it
    maxAttempts: 1,
    // without throwOnRequestTimeout the SDK only warns when requestTimeout passes, and a call AWS never
    // answers holds its worker until the connection dies (the chaos soak's hung calls found it)
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? 20_000,
      throwOnRequestTimeout: true,
      connectionTimeout: 5_000,
    },
  };
  return {
    elbv2: options.clients?.elbv2 ?? new ElasticLoadBalancingV2Client(common),
    ec2: options.clients?.ec2 ?? new EC2Client(common),
  };
}

function operationOf(command: object): string {
  return command.constructor.name.replace(/Command$/, '');
}

interface Shared {
  clients: AwsClients;
  buckets: Record<ApiClass, TokenBucket>;
  retry: RetryPolicy;
}

export class AwsApi {
  readonly clients: AwsClients;
  readonly buckets: Record<ApiClass, TokenBucket>;
  private readonly retry: RetryPolicy;
  /** buckets a scoped view takes from on top of the shared ones (the drift pass's own budget) */
  private readonly extra: TokenBucket[];

  constructor(options: AwsApiOptions, shared?: Shared, extra: TokenBucket[] = []) {
    this.extra = extra;
    if (shared) {
      ({ clients: this.clients, buckets: this.buckets, retry: this.retry } = shared);
      return;
    }
    this.clients = makeClients(options);
    const rates = { ...DEFAULT_RATES, ...options.rates };
    this.buckets = {
      elbv2: new TokenBucket(rates.elbv2),
      'elbv2-describe': new TokenBucket(rates['elbv2-describe']),
      'elbv2-modify': new TokenBucket(rates['elbv2-modify']),
      'elbv2-targets': new TokenBucket(rates['elbv2-targets']),
      'ec2-describe': new TokenBucket(rates['ec2-describe']),
      'ec2-modify': new TokenBucket(rates['ec2-modify']),
      drift: new TokenBucket(rates.drift),
    };
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /** The same clients and buckets, every call also taking a token from `bucket`. */
  withBudget(bucket: TokenBucket): AwsApi {
    return new AwsApi({ region: '' }, { clients: this.clients, buckets: this.buckets, retry: this.retry }, [bucket]);
  }

  elbv2<I extends ElbIn, O extends ElbOut>(
    command: Command<ElbIn, I, ElbOut, O, ElasticLoadBalancingV2ClientResolvedConfig>,
    signal: AbortSignal,
  ): Promise<O> {
    const op = operationOf(command);
    return withPolicy(
      [this.buckets[apiClass('elbv2', op)], this.buckets.elbv2, ...this.extra],
      op,
      () => this.clients.elbv2.send(command, { abortSignal: signal }),
      signal,
      this.retry,
    );
  }

  ec2<I extends Ec2In, O extends Ec2Out>(
    command: Command<Ec2In, I, Ec2Out, O, EC2ClientResolvedConfig>,
    signal: AbortSignal,
  ): Promise<O> {
    const op = operationOf(command);
    return withPolicy(
      [this.buckets[apiClass('ec2', op)], ...this.extra],
      op,
      () => this.clients.ec2.send(command, { abortSignal: signal }),
      signal,
      this.retry,
    );
  }

  destroy(): void {
    this.clients.elbv2.destroy();
    this.clients.ec2.destroy();
  }
}
