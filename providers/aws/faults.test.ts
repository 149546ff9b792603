/**
 * Quotas, the paths where moto differs from AWS, and fault injection: the AWS provider against moto with
 * SDK middleware giving AWS's real answers and errors.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DescribeTargetGroupsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { CreateTargetGroupInput } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { DesiredLoadBalancer, LoadBalancerRef } from '../../src/model/desired.ts';
import { NOTHING_LEFT } from '../../test/aws/moto-inventory.ts';
import { MotoWorld } from '../../test/aws/moto-world.ts';
import { DEFAULT_LIMITS, LIMIT } from './quotas.ts';
import { elbError, failOperation, faultInjector, seeded, use } from '../../test/aws/sdk-middleware.ts';

const CLUSTER = 'faults';
const signal = new AbortController().signal;
let w: MotoWorld;

const setup = (limits = DEFAULT_LIMITS, options: Parameters<MotoWorld['newProvider']>[1] = {}) =>
  w.newProvider(CLUSTER, { ...options, limits });
const service = (name: string, ports = [80]): DesiredLoadBalancer => w.service(name, ...ports);
const stock = () => w.stock();

beforeAll(async () => {
  w = await MotoWorld.start(CLUSTER, 4);
}, 120_000);

afterAll(async () => {
  await w?.stop();
});

describe('quotas', () => {
  it("AWS's TooManyLoadBalancers becomes QuotaExceeded naming the limit", async () => {
    const { provider, clients } = setup(DEFAULT_LIMITS, { quotaPrecheck: false });
    failOperation(clients.elbv2, 'CreateLoadBalancer', () =>
      elbError('TooManyLoadBalancers', 400, 'Too many load balancers'),
    );
    const lb = service('over');
    const err = await provider.ensure(lb, signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'QuotaExceededError', reason: 'QuotaExceeded' });
    expect((err as Error).message).toContain(LIMIT.loadBalancers);
    await provider.delete(lb.ref, signal);
    expect(await stock()).toEqual(NOTHING_LEFT);
  });

  it.each([
    ['CreateListener', 'TooManyListeners', LIMIT.listeners],
    ['RegisterTargets', 'TooManyTargets', LIMIT.targetsPerZone],
  ])('%s answering %s becomes QuotaExceeded naming %s', async (operation, code, limit) => {
    const { provider, clients } = setup(DEFAULT_LIMITS, { quotaPrecheck: false });
    failOperation(clients.elbv2, operation, () => elbError(code));
    const lb = service(code);
    const err = await provider.ensure(lb, signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'QuotaExceededError' });
    expect((err as Error).message).toContain(limit);
    await provider.delete(lb.ref, signal);
    expect(await stock()).toEqual(NOTHING_LEFT);
  });

  it('the pre-check refuses before building anything: NLBs per region, listeners per NLB, targets per zone', async () => {
    const other = await w.raw.elbv2.send(
      new CreateLoadBalancerCommand({ Name: 'someone-elses', Type: 'network', Subnets: w.fx.publicSubnets }),
    );
    const cases: [Record<string, number>, DesiredLoadBalancer, string][] = [
      [{ ...DEFAULT_LIMITS, [LIMIT.loadBalancers]: 1 }, service('lbs'), LIMIT.loadBalancers],
      [{ ...DEFAULT_LIMITS, [LIMIT.listeners]: 2 }, service('listeners', [80, 443, 8080]), LIMIT.listeners],
      // 4 nodes over 3 zones: us-east-1a holds 2, x 2 target groups = 4 > 3
      [{ ...DEFAULT_LIMITS, [LIMIT.targetsPerZone]: 3 }, service('targets', [80, 443]), LIMIT.targetsPerZone],
    ];
    for (const [limits, lb, limit] of cases) {
      const { provider, calls } = setup(limits);
      const err = await provider.ensure(lb, signal).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'QuotaExceededError' });
      expect((err as Error).message).toContain(limit);
      expect(calls.mutating()).toEqual([]);
    }
    await w.raw.elbv2.send(
      new DeleteLoadBalancerCommand({ LoadBalancerArn: other.LoadBalancers![0]!.LoadBalancerArn }),
    );
  });
});

describe('where moto differs from AWS', () => {
  it('an interrupted create is finished without duplicates; CreateTargetGroup answers with the existing group as AWS does', async () => {
    const { provider, clients } = setup();
    // AWS: CreateTargetGroup with the name and settings of an existing group returns that group; moto
    // always answers DuplicateTargetGroupName (that path is covered by every re-created group above)
    use(clients.elbv2, 'create-target-group-as-aws', async (args, next, ctx) => {
      if (ctx.commandName !== 'CreateTargetGroupCommand') return next(args);
      const name = (args.input as CreateTargetGroupInput).Name!;
      const existing = await w.raw.elbv2
        .send(new DescribeTargetGroupsCommand({ Names: [name] }))
        .catch(() => undefined);
      if (existing?.TargetGroups?.length)
        return { output: { TargetGroups: existing.TargetGroups, $metadata: {} }, response: {} };
      return next(args);
    });
    failOperation(clients.elbv2, 'CreateListener', () => elbError('ValidationError'), 1);
    const lb = service('interrupted', [80, 443]);
    await expect(provider.ensure(lb, signal)).rejects.toMatchObject({ name: 'ValidationError' });
    await provider.ensure(lb, signal);
    expect((await provider.ensure(lb, signal)).changed).toBe(false);
    const inv = await stock();
    expect([inv.loadBalancers.length, inv.targetGroups.length, inv.listeners]).toEqual([1, 2, 2]);
    await provider.delete(lb.ref, signal);
    expect(await stock()).toEqual(NOTHING_LEFT);
  });
});

async function pool<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: size }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

/** What the controller does: retry a failed sync (after RetryAfter's delay, capped for the test) until it sticks. */
async function untilDone(what: () => Promise<unknown>): Promise<number> {
  let last: unknown;
  for (let attempt = 1; attempt <= 40; attempt++) {
    try {
      await what();
      return attempt;
    } catch (err) {
      last = err;
      const e = err as { name?: string; terminal?: boolean; delayMs?: number };
      if (e.terminal) throw err;
      await new Promise((r) => setTimeout(r, Math.min(e.name === 'RetryAfterError' ? (e.delayMs ?? 100) : 50, 500)));
    }
  }
  throw new Error(
    `did not converge in 40 attempts; last error: ${String((last as Error)?.name)}: ${String((last as Error)?.message)}`,
  );
}

describe('drift budget', () => {
  it('drift resyncs draw on their own small budget, and real work does not wait behind them', async () => {
    const { provider, calls } = setup(DEFAULT_LIMITS, {
      rates: {
        drift: { qps: 10, burst: 5 },
      },
    });
    const services = Array.from({ length: 6 }, (_, i) => service(`drift-${i}`));
    for (const lb of services) await provider.ensure(lb, signal);
    calls.reset();
    const started = Date.now();
    let driftDone = 0;
    const drift = Promise.all(services.map((lb) => provider.ensure(lb, signal, { drift: true }))).then((r) => {
      driftDone = Date.now();
      return r;
    });
    const urgent = service('urgent');
    await provider.ensure(urgent, signal);
    const urgentDone = Date.now();
    const results = await drift;
    expect(results.every((r) => !r.changed)).toBe(true);
    expect(urgentDone).toBeLessThan(driftDone);
    // a one-port resync reads NLB, listeners, target groups, tags, frontend group and targets: 6 calls
    const driftCalls = services.length * 6;
    expect(driftDone - started).toBeGreaterThanOrEqual(((driftCalls - 5) / 10) * 1000 * 0.9);
    for (const lb of [...services, urgent]) await provider.delete(lb.ref, signal);
    expect(await stock()).toEqual(NOTHING_LEFT);
  });
});

describe('fault injection', () => {
  it('50 Services with churn under 20% throttled / 5xx / timed-out calls all converge, leak nothing, and stay within the buckets', async () => {
    const rates = {
      elbv2: { qps: 100, burst: 25 },
      'elbv2-describe': { qps: 80, burst: 20 },
      'elbv2-modify': { qps: 40, burst: 10 },
      'elbv2-targets': { qps: 20, burst: 5 },
      'ec2-describe': { qps: 40, burst: 10 },
      'ec2-modify': { qps: 20, burst: 5 },
    };
    const { provider, clients, calls } = w.newProvider(CLUSTER, {
      rates,
      retry: { baseDelayMs: 20, maxDelayMs: 200, maxQueueWaitMs: 3_000 },
    });
    let faults = true;
    const random = seeded(20261124);
    // moto creates a second NLB under a taken name and a second listener on a taken port where AWS
    // answers with the existing NLB or DuplicateListener: those two never lose their answer here
    const lostAnswerSafe = (op: string) => op !== 'CreateLoadBalancer' && op !== 'CreateListener';
    const injected = [
      faultInjector(clients.elbv2, 'elbv2', { rate: 0.2, random, enabled: () => faults, lostAnswerSafe }),
      faultInjector(clients.ec2, 'ec2', { rate: 0.2, random, enabled: () => faults, lostAnswerSafe }),
    ];

    // every third Service has source ranges (a frontend group of its own), the others share the open group
    let services = Array.from({ length: 50 }, (_, i) => ({
      ...service(`svc-${i}`, i % 2 ? [80, 443] : [80]),
      sourceRanges: i % 3 === 0 ? ['10.0.0.0/8'] : [],
    }));
    await pool(services, 8, async (lb) => void (await untilDone(() => provider.ensure(lb, signal))));

    // churn: ports added, a protocol changed, health checks changed, nodes removed, Services deleted
    const deleted: LoadBalancerRef[] = [];
    services = services.flatMap((lb, i) => {
      switch (i % 5) {
        case 0:
          return [
            { ...lb, ports: [...lb.ports, { name: 'extra', protocol: 'TCP' as const, port: 9000, nodePort: 31900 }] },
          ];
        case 1:
          return [{ ...lb, ports: lb.ports.map((p) => (p.port === 443 ? { ...p, protocol: 'UDP' as const } : p)) }];
        case 2:
          return [{ ...lb, healthCheck: { ...lb.healthCheck, path: '/ready' } }];
        case 3:
          deleted.push(lb.ref);
          return [];
        default:
          return [{ ...lb, targets: lb.targets.slice(0, 2) }];
      }
    });
    await pool(deleted, 4, async (ref) => void (await untilDone(() => provider.delete(ref, signal))));
    await pool(services, 8, async (lb) => {
      if (lb.targets.length === 2) await untilDone(() => provider.updateTargets(lb, signal));
      await untilDone(() => provider.ensure(lb, signal));
    });

    faults = false;
    const total = injected.reduce((n, c) => n + c.throttled + c.serverError + c.timeout, 0);
    expect(total).toBeGreaterThan(50);
    expect(services.length).toBeGreaterThan(0);
    for (const lb of services) expect((await provider.ensure(lb, signal)).changed).toBe(false);
    const inv = await stock();
    expect(inv.loadBalancers).toHaveLength(services.length);
    expect(inv.targetGroups).toHaveLength(services.reduce((n, lb) => n + new Set(lb.ports.map((p) => p.port)).size, 0));
    // one frontend group per Service with source ranges, the shared open group and the shared backend group
    expect(inv.securityGroups).toHaveLength(services.filter((lb) => lb.sourceRanges.length > 0).length + 2);
    expect((await provider.list(signal)).map((r) => r.uid).sort()).toEqual(services.map((lb) => lb.ref.uid).sort());

    // every window of 1 s and 5 s holds at most burst + qps x window calls per class (retries included)
    for (const [cls, times] of calls.byClass()) {
      const rate = rates[cls as keyof typeof rates];
      if (!rate) continue;
      times.sort((a, b) => a - b);
      for (const windowMs of [1000, 5000]) {
        let j = 0;
        for (let i = 0; i < times.length; i++) {
          while (times[i]! - times[j]! >= windowMs) j++;
          expect(i - j + 1).toBeLessThanOrEqual(rate.burst + (rate.qps * windowMs) / 1000 + 1);
        }
      }
    }

    await pool(services, 8, async (lb) => provider.delete(lb.ref, signal));
    expect(await stock()).toEqual(NOTHING_LEFT);
    await provider.close();
  }, 300_000);
});
