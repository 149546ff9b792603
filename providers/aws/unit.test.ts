/** The AWS provider's pure parts: names, annotations, planning, throttling. No SDK client, no moto. */
import { describe, expect, it } from '@jest/globals';
import { aLoadBalancer } from '../../test/builders/load-balancer.ts';
import { AWS_ANNOTATION, AWS_ANNOTATIONS } from './annotations.ts';
import {
  backendSecurityGroupName,
  frontendSecurityGroupName,
  legacyLoadBalancerName,
  loadBalancerName,
  targetGroupName,
} from './names.ts';
import { AWS_HEALTH_CHECK, awsOptions } from './options.ts';
import { healthCheckFor } from '../../src/model/health-check.ts';
import { HEALTH_CHECK_HEALTHY_THRESHOLD, HEALTH_CHECK_PATH } from '../../src/model/annotations.ts';
import { instanceId, planFrontendRules, planPorts, planTargets, replacementReason } from './plan.ts';
import { additionalTagSet, ownership, ownershipTags, refFromTags, removableTags, tagMap } from './tags.ts';
import { classify, TokenBucket, withPolicy } from './throttle.ts';

const signal = new AbortController().signal;
const uid = '3f2b7c1e-9d4a-4e8b-a1c2-0123456789ab';
const ref = { clusterName: 'production-cluster-eu-west-1', namespace: 'shop', name: 'web', uid };
const elbName = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;

function errorOf(fn: () => unknown): { name: string; reason: string; message: string; annotation?: string } {
  try {
    fn();
  } catch (e) {
    return e as { name: string; reason: string; message: string };
  }
  throw new Error('expected an error');
}

describe('names', () => {
  it('are deterministic, within 32 characters and valid ELBv2 names', () => {
    for (const name of [loadBalancerName(ref), targetGroupName(ref, 31234, 'TCP_UDP'), legacyLoadBalancerName(uid)]) {
      expect(name.length).toBeLessThanOrEqual(32);
      expect(name).toMatch(elbName);
    }
    expect(loadBalancerName(ref)).toBe(loadBalancerName({ ...ref }));
    expect(frontendSecurityGroupName(ref)).toContain(loadBalancerName(ref));
    expect(backendSecurityGroupName('c1')).toBe('lbp-c1-backend');
  });

  it('differ by UID (a re-created Service never meets leftovers) and by target-group port and protocol', () => {
    expect(loadBalancerName(ref)).not.toBe(loadBalancerName({ ...ref, uid: uid.replace('3f', '40') }));
    const tcp = targetGroupName(ref, 30080, 'TCP');
    expect(targetGroupName(ref, 30080, 'UDP')).not.toBe(tcp);
    expect(targetGroupName(ref, 30081, 'TCP')).not.toBe(tcp);
  });
});

describe('tags', () => {
  it('carry the Service, and only our cluster reads a ref back from them', () => {
    const tags = tagMap(ownershipTags(ref, 'load-balancer'));
    expect(tags[`kubernetes.io/cluster/${ref.clusterName}`]).toBe('owned');
    expect(tags['kubernetes.io/service-name']).toBe('shop/web');
    expect(refFromTags(ref.clusterName, tags)).toEqual(ref);
    expect(refFromTags('other', tags)).toBeUndefined();
  });

  it('tell ours, adoptable (cloud-provider-aws) and foreign load balancers apart', () => {
    expect(ownership(ref, tagMap(ownershipTags(ref, 'load-balancer')))).toBe('ours');
    expect(
      ownership(ref, {
        [`kubernetes.io/cluster/${ref.clusterName}`]: 'owned',
        'kubernetes.io/service-name': 'shop/web',
      }),
    ).toBe('adoptable');
    expect(ownership(ref, { 'kubernetes.io/cluster/other': 'owned', 'kubernetes.io/service-name': 'shop/web' })).toBe(
      'other-cluster',
    );
    expect(ownership(ref, tagMap(ownershipTags({ ...ref, uid: 'x' }, 'load-balancer')))).toBe('other-service');
  });

  it('record which keys came from the annotation, so only those are removed', () => {
    const set = additionalTagSet({ team: 'shop', 'cost center': '7', 'kubernetes.io/x': 'y', env: 'prod' });
    // reserved keys and keys with a space are tagged but not recorded (never removed)
    expect(set).toEqual({
      team: 'shop',
      'cost center': '7',
      'kubernetes.io/x': 'y',
      env: 'prod',
      'lbprovisioner.io/additional-tags': 'env team',
    });
    const current = { ...set, owner: 'alice', ...tagMap(ownershipTags(ref, 'load-balancer')) };
    expect(removableTags(current, additionalTagSet({ team: 'shop' }))).toEqual(['env']);
    expect(removableTags(current, {}).sort()).toEqual(['env', 'lbprovisioner.io/additional-tags', 'team']);
    expect(additionalTagSet({})).toEqual({});
  });
});

describe('annotations', () => {
  it('the table lists every annotation the parser reads, for provider aws, with a type and description', () => {
    const keys = AWS_ANNOTATIONS.map((a) => a.key);
    for (const key of Object.values(AWS_ANNOTATION)) expect(keys).toContain(key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const a of AWS_ANNOTATIONS) {
      expect(a.provider).toBe('aws');
      expect(a.type.length).toBeGreaterThan(0);
      expect(a.description.length).toBeGreaterThan(10);
    }
    // where the anchors disagree, the scheme follows cloud-provider-aws
    expect(AWS_ANNOTATIONS.find((a) => a.key === AWS_ANNOTATION.scheme)?.default).toBe('internet-facing');
  });

  const withAnnotation = (key: string, value: string) =>
    aLoadBalancer('a')
      .withPorts(80)
      .withAnnotations({ [key]: value })
      .build();

  it.each([
    [AWS_ANNOTATION.scheme, 'public', 'internet-facing, internal'],
    [AWS_ANNOTATION.crossZone, 'yes', 'true or false'],
    [AWS_ANNOTATION.additionalTags, 'novalue', 'key=value'],
    [AWS_ANNOTATION.proxyProtocol, 'true', 'one of *'],
    [AWS_ANNOTATION.ipAddressType, 'ipv6', 'ipv4, dualstack'],
    [AWS_ANNOTATION.name, 'internal-web', '1-32 letters'],
    [AWS_ANNOTATION.sourceRanges, '10.0.0.0/33', 'CIDR'],
    [AWS_ANNOTATION.healthCheckSuccessCodes, 'ok', '200-399'],
  ])('%s: %s is refused naming the annotation and the accepted values', (key, value, accepted) => {
    const err = errorOf(() => awsOptions(withAnnotation(key, value)));
    expect(err.name).toBe('InvalidAnnotationError');
    expect(err.annotation).toBe(key);
    expect(err.message).toContain(key);
    expect(err.message).toContain(accepted);
  });

  // health checks are read once, by the model, with the AWS rules (NLB ranges, aws-load-balancer-healthcheck-*)
  const healthCheckWith = (annotations: Record<string, string>) =>
    healthCheckFor({ metadata: { annotations } }, AWS_HEALTH_CHECK);

  it.each([
    [AWS_ANNOTATION.healthCheckInterval, '3', 'from 5 to 300'],
    [AWS_ANNOTATION.healthCheckProtocol, 'UDP', 'HTTP, HTTPS, TCP'],
    [HEALTH_CHECK_HEALTHY_THRESHOLD, '1', 'from 2 to 10'],
  ])('health check %s: %s is refused naming the annotation and the NLB range', (key, value, accepted) => {
    const err = errorOf(() => healthCheckWith({ [key]: value }));
    expect(err.name).toBe('InvalidAnnotationError');
    expect(err.annotation).toBe(key);
    expect(err.message).toContain(accepted);
  });

  it('reads the aws-load-balancer-healthcheck-* annotations over the neutral ones, with NLB defaults', () => {
    expect(
      healthCheckWith({ [AWS_ANNOTATION.healthCheckPath]: '/ready', [HEALTH_CHECK_PATH]: '/ignored' }),
    ).toMatchObject({ protocol: 'HTTP', port: 10256, path: '/ready', intervalSeconds: 30, timeoutSeconds: 10 });
    expect(healthCheckWith({ [AWS_ANNOTATION.healthCheckTimeout]: '20' }).timeoutSeconds).toBe(20);
    expect(errorOf(() => healthCheckWith({ [AWS_ANNOTATION.healthCheckTimeout]: '40' })).annotation).toBe(
      AWS_ANNOTATION.healthCheckTimeout,
    );
  });

  it('refuses IP targets with InvalidSpec', () => {
    expect(errorOf(() => awsOptions(withAnnotation(AWS_ANNOTATION.targetType, 'ip'))).name).toBe('InvalidSpecError');
    expect(errorOf(() => awsOptions(withAnnotation(AWS_ANNOTATION.type, 'nlb-ip'))).name).toBe('InvalidSpecError');
  });

  it('adds success codes to the model health check and turns proxy-protocol into the target-group attribute', () => {
    const lb = aLoadBalancer('a')
      .withPorts(80)
      .withAnnotations({ [AWS_ANNOTATION.proxyProtocol]: '*', [AWS_ANNOTATION.internal]: 'true' })
      .build();
    const o = awsOptions(lb);
    expect(o.healthCheck).toEqual({ ...lb.healthCheck, successCodes: '200-399' });
    expect(o.targetGroupAttributes['proxy_protocol_v2.enabled']).toBe('true');
    expect(o.scheme).toBe('internal');
    expect(awsOptions(aLoadBalancer('b').withPorts(80).build()).scheme).toBeUndefined();
  });
});

describe('planning', () => {
  it('merges TCP and UDP on one port into TCP_UDP and makes TLS listeners for ssl ports', () => {
    const lb = aLoadBalancer('p').withPorts(53, 443, 8080).build();
    lb.ports.push({ name: 'dns-udp', protocol: 'UDP', port: 53, nodePort: lb.ports[0]!.nodePort! });
    lb.annotations = {
      [AWS_ANNOTATION.sslCert]: 'arn:aws:iam::123456789012:server-certificate/web',
      [AWS_ANNOTATION.sslPorts]: '443',
    };
    const plans = planPorts(lb, awsOptions(lb));
    expect(plans.map((p) => [p.port, p.listenerProtocol, p.targetProtocol])).toEqual([
      [53, 'TCP_UDP', 'TCP_UDP'],
      [443, 'TLS', 'TCP'],
      [8080, 'TCP', 'TCP'],
    ]);
    const rules = planFrontendRules(plans, awsOptions(lb));
    expect(
      rules
        .filter((r) => r.port === 53)
        .map((r) => r.protocol)
        .sort(),
    ).toEqual(['tcp', 'udp']);
  });

  it('refuses SCTP and ports without a nodePort with InvalidSpec', () => {
    const sctp = aLoadBalancer('s').withPorts([9, 'SCTP']).build();
    expect(errorOf(() => planPorts(sctp, awsOptions(sctp))).name).toBe('InvalidSpecError');
    const noNodePort = aLoadBalancer('n').withPorts(80).build();
    delete noNodePort.ports[0]!.nodePort;
    expect(errorOf(() => planPorts(noNodePort, awsOptions(noNodePort))).reason).toBe('InvalidSpec');
  });

  it('maps nodes to instances by providerID and filters by target-node-labels', () => {
    expect(instanceId('aws:///us-east-1a/i-0abc123')).toBe('i-0abc123');
    expect(instanceId('aws:///i-0abc123')).toBe('i-0abc123');
    expect(instanceId('gce://p/z/n')).toBeUndefined();
    const lb = aLoadBalancer('t')
      .withPorts(80)
      .withAnnotations({ [AWS_ANNOTATION.targetNodeLabels]: 'pool=edge' })
      .build();
    lb.targets = [
      { name: 'a', addresses: [], providerID: 'aws:///us-east-1a/i-0a', labels: { pool: 'edge' }, zone: 'us-east-1a' },
      { name: 'b', addresses: [], providerID: 'aws:///us-east-1b/i-0b', labels: {} },
    ];
    expect(planTargets(lb, awsOptions(lb)).instances).toEqual(['i-0a']);
  });
});

describe('replacement', () => {
  const subnets = [
    { id: 'subnet-a', zone: 'us-east-1a', vpcId: 'vpc-1' },
    { id: 'subnet-b', zone: 'us-east-1b', vpcId: 'vpc-1' },
  ];
  const nlb = {
    Scheme: 'internet-facing' as const,
    AvailabilityZones: [
      { SubnetId: 'subnet-a', LoadBalancerAddresses: [{ AllocationId: 'eipalloc-1' }] },
      { SubnetId: 'subnet-b', LoadBalancerAddresses: [{ AllocationId: 'eipalloc-2' }] },
    ],
  };
  const opts = (annotations: Record<string, string>) =>
    awsOptions(aLoadBalancer('r').withPorts(80).withAnnotations(annotations).build());

  it('is needed for a scheme change or a new Elastic IP in a zone that stays, not for an absent scheme annotation', () => {
    expect(replacementReason(nlb, subnets, opts({}))).toBeUndefined();
    expect(replacementReason(nlb, subnets, opts({ [AWS_ANNOTATION.scheme]: 'internal' }))).toContain('scheme');
    expect(
      replacementReason(nlb, subnets, opts({ [AWS_ANNOTATION.eipAllocations]: 'eipalloc-1,eipalloc-2' })),
    ).toBeUndefined();
    expect(
      replacementReason(nlb, subnets, opts({ [AWS_ANNOTATION.eipAllocations]: 'eipalloc-1,eipalloc-3' })),
    ).toContain('Elastic IP');
  });
});

describe('throttling', () => {
  it('a token bucket hands out its burst, then spaces calls at its rate, and halves the rate when throttled', () => {
    let now = 0;
    const bucket = new TokenBucket({ qps: 10, burst: 3 }, () => now);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    expect(bucket.reserve()).toBe(100);
    now += 1000;
    bucket.throttled();
    expect(bucket.currentRate).toBe(5);
    for (let i = 0; i < 40; i++) bucket.throttled();
    expect(bucket.currentRate).toBe(10 / 16);
    for (let i = 0; i < 100; i++) bucket.succeeded();
    expect(bucket.currentRate).toBe(10);
  });

  it("classifies with the SDK's lists: Throttling and RequestLimitExceeded throttle, 5xx and timeouts are transient", () => {
    expect(classify({ name: 'Throttling', $metadata: { httpStatusCode: 400 } })).toBe('throttled');
    expect(classify({ name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } })).toBe('throttled');
    expect(classify({ name: 'InternalFailure', $metadata: { httpStatusCode: 500 } })).toBe('transient');
    expect(classify({ name: 'TimeoutError', $metadata: {} })).toBe('transient');
    expect(classify({ name: 'TooManyLoadBalancers', $metadata: { httpStatusCode: 400 } })).toBe('fatal');
  });

  it('retries throttling and 5xx with backoff, passes other errors through, and gives RetryAfter when throttling persists', async () => {
    const bucket = new TokenBucket({ qps: 1000, burst: 100 });
    const policy = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, maxQueueWaitMs: 1000 };
    let n = 0;
    const flaky = () =>
      ++n < 3 ? Promise.reject({ name: 'InternalFailure', $metadata: { httpStatusCode: 500 } }) : Promise.resolve('ok');
    await expect(withPolicy([bucket], 'Op', flaky, signal, policy)).resolves.toBe('ok');
    expect(n).toBe(3);
    await expect(
      withPolicy(
        [bucket],
        'Op',
        () => Promise.reject({ name: 'ValidationError', $metadata: { httpStatusCode: 400 } }),
        signal,
        policy,
      ),
    ).rejects.toMatchObject({ name: 'ValidationError' });
    const err = await withPolicy(
      [bucket],
      'Op',
      () => Promise.reject({ name: 'Throttling', $metadata: { httpStatusCode: 400 } }),
      signal,
      policy,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'RetryAfterError', reason: 'Throttled' });
    expect(bucket.currentRate).toBeLessThan(1000);
  });

  it('says RetryAfter instead of queueing a caller behind a long bucket wait', async () => {
    const bucket = new TokenBucket({ qps: 1, burst: 1 });
    bucket.reserve();
    bucket.reserve();
    const err = await withPolicy([bucket], 'Op', () => Promise.resolve(1), signal, {
      maxAttempts: 1,
      baseDelayMs: 1,
      maxDelayMs: 1,
      maxQueueWaitMs: 500,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'RetryAfterError' });
    expect((err as { delayMs: number }).delayMs).toBeGreaterThan(500);
  });
});
