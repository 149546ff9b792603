/** The clients' own limits: a call AWS accepts and never answers fails after the request timeout. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsApi } from './aws-api.ts';
import { classify } from './throttle.ts';

describe('AWS request timeout', () => {
  let silent: Server;
  let endpoint: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    // accepts the request, never answers
    silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' });
  });
  afterAll(async () => {
    process.env = saved;
    silent.closeAllConnections();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('a call that is never answered fails after requestTimeoutMs as a transient error, not hangs', async () => {
    const api = new AwsApi({ region: 'us-east-1', endpoint, requestTimeoutMs: 300, retry: { maxAttempts: 1 } });
    const started = Date.now();
    const err = await api.elbv2(new DescribeLoadBalancersCommand({}), new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    api.destroy();
    expect(err).toBeDefined();
    expect(classify(err)).toBe('transient');
    // loose: far below the test's own timeout, which is where a hang would end
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);
});
