/** The fault proxy's answers are faults the AWS provider recognises, and its record counts every call. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { classify } from '../../providers/aws/throttle.ts';
import { Checks } from './invariants.ts';
import { checkCallBudget } from './aws-rig.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';
import { Rng } from './rng.ts';

describe('the fault proxy in front of moto', () => {
  let upstream: Server;
  let proxy: FaultProxy;
  let upstreamCalls = 0;

  beforeAll(async () => {
    // a stand-in upstream: the faults never reach it
    upstream = createServer((_req, res) => {
      upstreamCalls++;
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(
        '<DescribeLoadBalancersResponse><DescribeLoadBalancersResult><LoadBalancers/></DescribeLoadBalancersResult></DescribeLoadBalancersResponse>',
      );
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    proxy = await startFaultProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, new Rng(7));
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  const config = () => ({
    region: 'us-east-1',
    endpoint: proxy.endpoint,
    maxAttempts: 1,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    requestHandler: { requestTimeout: 500, throwOnRequestTimeout: true },
  });

  it('answers every call with throttling, a 5xx or a hang at rate 1, each classified as retryable by the provider', async () => {
    proxy.setFaultRate(1);
    const elbv2 = new ElasticLoadBalancingV2Client(config());
    const ec2 = new EC2Client(config());
    const seen = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const call =
        i % 2 ? elbv2.send(new DescribeLoadBalancersCommand({})) : ec2.send(new DescribeInstancesCommand({}));
      const err = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeDefined();
      seen.add(classify(err));
    }
    expect([...seen].sort()).toEqual(['throttled', 'transient']);
    const counts = proxy.faultCounts();
    expect(counts.throttle).toBeGreaterThan(0);
    expect(counts['5xx']).toBeGreaterThan(0);
    expect(counts.hang).toBeGreaterThan(0);
    expect(upstreamCalls).toBe(0);
    elbv2.destroy();
    ec2.destroy();
  });

  it('forwards everything at rate 0 and records each call by API and action', async () => {
    proxy.setFaultRate(0);
    const before = proxy.calls.length;
    const elbv2 = new ElasticLoadBalancingV2Client(config());
    await elbv2.send(new DescribeLoadBalancersCommand({}));
    elbv2.destroy();
    expect(upstreamCalls).toBe(1);
    expect(proxy.calls.slice(before)).toEqual([
      expect.objectContaining({ api: 'elbv2', action: 'DescribeLoadBalancers' }),
    ]);
  });
});

describe('the AWS call budget check', () => {
  const at = (n: number, every: number, action = 'CreateTargetGroup') =>
    Array.from({ length: n }, (_, i) => ({ api: 'elbv2' as const, action, at: 1_000_000 + i * every }));

  it('passes calls within the bucket (burst 40, then 10/s) and fails a storm above it', () => {
    const ok = new Checks();
    checkCallBudget([...at(40, 1), ...at(50, 100).map((c) => ({ ...c, at: c.at + 100 }))], [], ok);
    expect(ok.violations).toEqual([]);
    expect(ok.passed).toBeGreaterThan(0);
    const storm = new Checks();
    checkCallBudget(at(200, 5), [], storm);
    expect(storm.violations.join('\n')).toContain('elbv2-modify calls within 1 s');
  });

  it('allows one more burst for each controller process started in the window (a new leader)', () => {
    const calls = at(80, 1);
    const one = new Checks();
    checkCallBudget(calls, [], one);
    expect(one.violations).not.toEqual([]);
    const two = new Checks();
    checkCallBudget(calls, [1_000_040], two);
    expect(two.violations).toEqual([]);
  });
});
