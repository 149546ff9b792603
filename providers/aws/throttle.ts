/**
 * Client-side rate limits and the one retry policy of the AWS provider.
 *
 * The account's API budget is shared with everything else in it, so we throttle ourselves before AWS
 * does: one token bucket per API class, shared by every caller of a provider. Throttling answers halve
 * the bucket's rate (recovering slowly on success); throttling and 5xx/timeouts back off with full jitter.
 * The SDK's own retries are switched off (maxAttempts: 1) so its retries and ours never multiply into a
 * storm. When a bucket would make a caller wait too long, the caller gets a RetryAfterError instead and
 * the controller requeues the Service.
 */
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import type { SdkError } from '@smithy/types';
import { RetryAfterError } from '../../src/provider.ts';

/**
 * `elbv2` is the whole ELBv2 budget: every ELBv2 call takes a token from it and from its class's bucket.
 * `drift` is the drift pass's own small budget, taken on top by every call of a drift resync, so the
 * drift pass never crowds out real work.
 */
export type ApiClass =
  'elbv2' | 'elbv2-describe' | 'elbv2-modify' | 'elbv2-targets' | 'ec2-describe' | 'ec2-modify' | 'drift';

export interface Rate {
  /** tokens per second */
  qps: number;
  burst: number;
}

/**
 * Defaults no higher than aws-load-balancer-controller's (pkg/aws/throttle/defaults.go): ELBv2 10 qps /
 * burst 40 for all operations together, target (de)registration 4 qps / burst 20 within that. The
 * describe and modify classes are there to be lowered separately.
 */
export const DEFAULT_RATES: Record<ApiClass, Rate> = {
  elbv2: { qps: 10, burst: 40 },
  'elbv2-describe': { qps: 10, burst: 40 },
  'elbv2-modify': { qps: 10, burst: 40 },
  'elbv2-targets': { qps: 4, burst: 20 },
  'ec2-describe': { qps: 20, burst: 40 },
  'ec2-modify': { qps: 5, burst: 20 },
  drift: { qps: 2, burst: 10 },
};

export function apiClass(service: 'elbv2' | 'ec2', operation: string): ApiClass {
  if (operation.startsWith('Describe')) return `${service}-describe`;
  if (service === 'elbv2' && /^(Register|Deregister)Targets/.test(operation)) return 'elbv2-targets';
  return `${service}-modify`;
}

/**
 * A token bucket that hands out reservations: a caller takes a token now and waits until it is due, so
 * concurrent callers queue in order without polling. Throttling halves the rate (down to 1/16 of it);
 * each success adds back a twentieth (AIMD).
 */
export class TokenBucket {
  readonly maxRate: number;
  readonly burst: number;
  private rate: number;
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(rate: Rate, now: () => number = Date.now) {
    this.maxRate = rate.qps;
    this.burst = rate.burst;
    this.rate = rate.qps;
    this.tokens = rate.burst;
    this.now = now;
    this.last = now();
  }

  get currentRate(): number {
    return this.rate;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }

  /** ms a new reservation would wait */
  delay(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  /** take a token; returns how many ms the caller must wait before using it */
  reserve(): number {
    const wait = this.delay();
    this.tokens -= 1;
    return wait;
  }

  throttled(): void {
    this.rate = Math.max(this.maxRate / 16, this.rate / 2);
  }

  succeeded(): void {
    this.rate = Math.min(this.maxRate, this.rate + this.maxRate / 20);
  }
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** a bucket wait longer than this becomes a RetryAfterError instead of a sleep */
  maxQueueWaitMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxQueueWaitMs: 15_000,
};

export type Failure = 'throttled' | 'transient' | 'fatal';

/** Classified with the SDK's own lists (THROTTLING_ERROR_CODES, 5xx, timeouts), not by one error name. */
export function classify(err: unknown): Failure {
  if (typeof err !== 'object' || err === null) return 'fatal';
  const e = err as SdkError;
  if ((e as Error).name === 'AbortError') return 'fatal';
  if (isThrottlingError(e)) return 'throttled';
  if (isServerError(e) || isTransientError(e)) return 'transient';
  return 'fatal';
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Full jitter: a uniform delay up to the capped exponential step (AWS architecture blog, "Exponential Backoff And Jitter"). */
export function backoff(attempt: number, policy: RetryPolicy): number {
  return Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
}

/** The one retry policy: take a token, call, classify a failure, back off or give up. */
export async function withPolicy<T>(
  buckets: readonly TokenBucket[],
  operation: string,
  call: () => Promise<T>,
  signal: AbortSignal,
  policy: RetryPolicy = DEFAULT_RETRY,
): Promise<T> {
  const due = (): number => Math.max(0, ...buckets.map((b) => b.delay()));
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    const wait = due();
    if (wait > policy.maxQueueWaitMs) {
      throw new RetryAfterError(
        `AWS ${operation}: client-side rate limit reached, retrying in ${Math.ceil(wait / 1000)} s`,
        wait,
        'Throttled',
      );
    }
    await sleep(Math.max(...buckets.map((b) => b.reserve())), signal);
    try {
      const result = await call();
      for (const b of buckets) b.succeeded();
      return result;
    } catch (err) {
      const failure = signal.aborted ? 'fatal' : classify(err);
      if (failure === 'fatal') throw err;
      if (failure === 'throttled') for (const b of buckets) b.throttled();
      if (attempt >= policy.maxAttempts) {
        if (failure === 'throttled') {
          const delay = Math.max(due(), policy.maxDelayMs);
          throw new RetryAfterError(
            `AWS ${operation} is throttled, retrying in ${Math.ceil(delay / 1000)} s`,
            delay,
            'Throttled',
            {
              cause: err,
            },
          );
        }
        throw err;
      }
      await sleep(backoff(attempt, policy), signal);
    }
  }
}
