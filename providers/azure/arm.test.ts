/**
 * The ARM edge against the fake ARM (real SDK, real HTTPS): what a caller gets back when ARM does not
 * answer or throttles a read. The controller takes a bare AbortError for a shutdown and never retries it,
 * so a hung request must come back as a RetryAfterError (the chaos soak's hung calls stalled a Service
 * for good before).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { classify } from '../../src/controller/errors.ts';
import { RetryAfterError } from '../../src/model/errors.ts';
import { NSG, RG, staticCredential, startFakeArmWorld, type FakeArmWorld } from '../../test/azure-fake/world.ts';
import { ArmApi } from './arm.ts';

const REQUEST_TIMEOUT_MS = 400;

describe('ArmApi: hung and throttled requests', () => {
  let world: FakeArmWorld;
  let api: ArmApi;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    world = await startFakeArmWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });
  beforeEach(() => {
    world.fake.faults.length = 0;
    api = new ArmApi({
      subscriptionId: world.fake.subscriptionId,
      credential: staticCredential,
      endpoint: world.fake.endpoint,
      pollIntervalMs: 10,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
  });

  /** the error a call ends with, and how long it took */
  const failure = async (call: Promise<unknown>): Promise<{ err: unknown; ms: number }> => {
    const started = performance.now();
    const err = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    return { err, ms: performance.now() - started };
  };

  it('a read ARM never answers ends within the request timeout as a retry, not as a shutdown', async () => {
    world.fake.inject({ method: 'GET', path: /networkSecurityGroups/, hang: true });
    const { err, ms } = await failure(api.getSecurityGroup(RG, NSG, signal, true));
    expect(err).toBeInstanceOf(RetryAfterError);
    expect((err as RetryAfterError).reason).toBe('ArmTimeout');
    expect(classify(err).retry.kind).toBe('after');
    expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(10_000);
    // the positive control: the same read answers once ARM does
    expect((await api.getSecurityGroup(RG, NSG, signal, true))?.name).toBe(NSG);
  });

  it('a write ARM never answers ends within the request timeout as a retry', async () => {
    world.fake.inject({ method: 'PUT', path: /publicIPAddresses/, hang: true });
    const body = { location: world.fake.location, sku: { name: 'Standard' }, publicIPAllocationMethod: 'Static' };
    const { err } = await failure(api.putPublicIp(RG, 'hung-ip', body, undefined, signal));
    expect(err).toBeInstanceOf(RetryAfterError);
    expect(classify(err).retry.kind).toBe('after');
    expect(world.fake.state.get(world.fake.id(RG, 'publicIPAddresses', 'hung-ip'))).toBeUndefined();
  });

  it('a throttled read is retried after its Retry-After, not with the generic backoff', async () => {
    world.fake.inject({
      method: 'GET',
      path: /loadBalancers/,
      status: 429,
      code: 'TooManyRequests',
      retryAfterSeconds: 7,
    });
    const { err } = await failure(api.getLoadBalancer(RG, 'any-lb', signal, true));
    expect(err).toBeInstanceOf(RetryAfterError);
    expect(classify(err).retry).toEqual({ kind: 'after', delayMs: 7000 });
  });

  it('a caller that aborts still gets its abort (a shutdown is not retried)', async () => {
    world.fake.inject({ method: 'GET', path: /networkSecurityGroups/, hang: true });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const { err } = await failure(api.getSecurityGroup(RG, NSG, ac.signal, true));
    expect((err as Error).name).toBe('AbortError');
  });
});
