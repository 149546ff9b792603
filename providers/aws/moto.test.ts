/**
 * The AWS provider against a real moto server (the AWS API emulator): create and update paths, plus the
 * shared conformance suite. Where moto differs from AWS, SDK middleware (test/aws/sdk-middleware.ts, wired in
 * test/aws/moto-world.ts) gives AWS's answer and says so.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AllocateAddressCommand } from '@aws-sdk/client-ec2';
import {
  DescribeLoadBalancerAttributesCommand,
  DescribeTargetGroupAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { clusterFixture } from '../../test/harness/moto.ts';
import type { ClusterFixture } from '../../test/harness/moto.ts';
import { runConformance } from '../../test/conformance/suite.ts';
import { AWS_ANNOTATION as A } from './annotations.ts';
import { inventory } from '../../test/aws/moto-inventory.ts';
import { MotoWorld } from '../../test/aws/moto-world.ts';
import { aLoadBalancer } from '../../test/builders/load-balancer.ts';
import type { Clients } from '../../test/aws/moto-world.ts';
import type { AwsProvider } from './provider.ts';
import type { CallRecorder } from '../../test/aws/sdk-middleware.ts';

const CLUSTER = 'moto-it';
const signal = new AbortController().signal;
let w: MotoWorld;
let provider: AwsProvider;
let calls: CallRecorder;
let fx: ClusterFixture;
let raw: Clients;
const service = (...args: Parameters<MotoWorld['service']>) => w.service(...args);
const stock = () => w.stock();
const ofService = (lb: DesiredLoadBalancer) => w.ofService(lb);
const converge = (lb: DesiredLoadBalancer) => w.converge(lb);
const newProvider = (clusterName?: string) => w.newProvider(clusterName);

beforeAll(async () => {
  w = await MotoWorld.start(CLUSTER);
  ({ provider, calls, fx, raw } = w);
}, 120_000);

afterAll(async () => {
  await w?.stop();
});
const listenersOf = (arn: string) => w.listenersOf(arn);
const targetsOf = (arn: string) => w.targetsOf(arn);

describe('AWS provider against moto: create and update', () => {
  it('creates an NLB with one listener and target group per port, tags, security groups and targets; a resync changes nothing', async () => {
    const lb = service('web', 80, 443);
    const status = await provider.ensure(lb, signal);
    expect(status.changed).toBe(true);
    expect(status.ingress).toEqual([{ hostname: expect.stringMatching(/elb\.amazonaws\.com$/) }]);
    const again = await converge(lb);
    expect(again.ingress).toEqual(status.ingress);
    expect((await provider.ensure(lb, signal)).ready).toBe(true);

    const { lbs, tgs } = await ofService(lb);
    expect(lbs).toHaveLength(1);
    expect(lbs[0]!.tags).toMatchObject({
      [`kubernetes.io/cluster/${CLUSTER}`]: 'owned',
      'kubernetes.io/service-name': 'default/web',
    });
    expect(lbs[0]!.SecurityGroups).toHaveLength(2);
    expect(
      tgs
        .map((t) => [t.Protocol, t.Port, t.TargetType, t.HealthCheckProtocol, t.HealthCheckPort, t.HealthCheckPath])
        .sort(),
    ).toEqual([
      ['TCP', lb.ports[0]!.nodePort, 'instance', 'HTTP', '10256', '/healthz'],
      ['TCP', lb.ports[1]!.nodePort, 'instance', 'HTTP', '10256', '/healthz'],
    ]);
    for (const tg of tgs)
      expect(await targetsOf(tg.TargetGroupArn!)).toEqual(
        fx.instances
          .slice(0, 3)
          .map((i) => i.id)
          .sort(),
      );
    expect((await listenersOf(lbs[0]!.LoadBalancerArn!)).map((l) => [l.Port, l.Protocol]).sort()).toEqual([
      [443, 'TCP'],
      [80, 'TCP'],
    ]);
    const inv = await stock();
    expect(inv.nodeRules).toBeGreaterThanOrEqual(3); // tcp + udp NodePort range and 10256 from the backend group
    await provider.delete(lb.ref, signal);
  });

  it('adds and removes ports, changes protocol with a new target group, and serves UDP and TCP_UDP', async () => {
    const lb = service('dns', 80);
    await converge(lb);
    const nodePort = 31053;
    const withDns = { ...lb, ports: [...lb.ports, { name: 'dns', protocol: 'TCP' as const, port: 53, nodePort }] };
    await converge(withDns);
    const tcp53 = (await ofService(lb)).tgs.find((t) => t.Port === nodePort)!;
    // TCP -> UDP: target-group protocol is immutable: a new group, the listener switched, the old one deleted.
    // (moto's ModifyListener refuses UDP/TCP_UDP/TLS; modifyListenerAsAws answers as AWS does)
    const udp = { ...withDns, ports: [lb.ports[0]!, { name: 'dns', protocol: 'UDP' as const, port: 53, nodePort }] };
    await converge(udp);
    let now = await ofService(lb);
    expect(now.tgs.find((t) => t.TargetGroupArn === tcp53.TargetGroupArn)).toBeUndefined();
    expect(now.tgs.find((t) => t.Port === nodePort)?.Protocol).toBe('UDP');
    const both = { ...udp, ports: [...udp.ports, { name: 'dns-tcp', protocol: 'TCP' as const, port: 53, nodePort }] };
    await converge(both);
    now = await ofService(lb);
    expect(now.tgs.map((t) => t.Protocol).sort()).toEqual(['TCP', 'TCP_UDP']);
    expect((await listenersOf(now.lbs[0]!.LoadBalancerArn!)).map((l) => `${l.Port}/${l.Protocol}`).sort()).toEqual([
      '53/TCP_UDP',
      '80/TCP',
    ]);
    const fewer = { ...both, ports: both.ports.filter((p) => p.port === 53) };
    await converge(fewer);
    now = await ofService(lb);
    expect(now.tgs.map((t) => t.Port)).toEqual([nodePort]);
    await provider.delete(lb.ref, signal);
  });

  it('changes health checks in place, and checks healthCheckNodePort for externalTrafficPolicy Local', async () => {
    const lb = service('health', 80);
    await converge(lb);
    const before = (await ofService(lb)).tgs[0]!;
    const changed = { ...lb, healthCheck: { ...lb.healthCheck, path: '/ready', healthyThreshold: 4 } };
    calls.reset();
    await provider.ensure(changed, signal);
    expect(calls.mutating().map((c) => c.operation)).toEqual(['ModifyTargetGroup']);
    const after = (await ofService(lb)).tgs[0]!;
    expect(after.TargetGroupArn).toBe(before.TargetGroupArn);
    expect([after.HealthCheckPath, Number(after.HealthyThresholdCount)]).toEqual(['/ready', 4]);
    const local = {
      ...changed,
      externalTrafficPolicy: 'Local' as const,
      healthCheckNodePort: 32100,
      healthCheck: { ...changed.healthCheck, port: 32100 },
    };
    await converge(local);
    expect((await ofService(lb)).tgs[0]!.HealthCheckPort).toBe('32100');
    await provider.delete(lb.ref, signal);
  });

  it('updates targets with one register or deregister call per target group, in chunks of 100, without describing', async () => {
    const lb = service('nodes', 80, 443);
    await converge(lb);
    calls.reset();
    await provider.updateTargets({ ...lb, targets: fx.nodes(4) }, signal);
    expect(calls.calls.map((c) => c.operation)).toEqual(['RegisterTargets', 'RegisterTargets']);
    calls.reset();
    await provider.updateTargets({ ...lb, targets: fx.nodes(2) }, signal);
    expect(calls.calls.map((c) => c.operation)).toEqual(['DeregisterTargets', 'DeregisterTargets']);
    // 150 nodes: 2 chunks per group (moto accepts unknown instance IDs)
    const many = Array.from({ length: 150 }, (_, i) => ({
      name: `n${i}`,
      addresses: [],
      labels: {},
      providerID: `aws:///us-east-1a/i-${(0x1000 + i).toString(16)}`,
      zone: 'us-east-1a',
    }));
    calls.reset();
    await provider.updateTargets({ ...lb, targets: many }, signal);
    expect(calls.count('RegisterTargets')).toBe(4);
    expect(calls.count('DeregisterTargets')).toBe(2); // the two old nodes leave
    expect((await provider.ensure({ ...lb, targets: many }, signal)).changed).toBe(false);
    const { tgs } = await ofService(lb);
    expect(tgs.length).toBeGreaterThan(0);
    for (const tg of tgs) expect(await targetsOf(tg.TargetGroupArn!)).toHaveLength(150);
    // after a restart the target sets are read once, then changed in chunks of 100
    const restarted = newProvider();
    await restarted.provider.updateTargets({ ...lb, targets: fx.nodes(2) }, signal);
    expect(restarted.calls.count('DescribeTargetHealth')).toBe(2);
    expect(restarted.calls.count('DeregisterTargets')).toBe(4);
    expect((await restarted.provider.ensure({ ...lb, targets: fx.nodes(2) }, signal)).changed).toBe(false);
    await provider.delete(lb.ref, signal);
  });

  it('applies annotation changes (tags, attributes, proxy protocol, TLS) and refuses invalid ones', async () => {
    const lb = service('annotated', 80, 443);
    await converge(lb);
    const cert = 'arn:aws:iam::123456789012:server-certificate/web';
    const annotated = {
      ...lb,
      annotations: {
        [A.additionalTags]: 'team=shop',
        [A.crossZone]: 'true',
        [A.proxyProtocol]: '*',
        [A.sslCert]: cert,
        [A.sslPorts]: '443',
      },
    };
    await converge(annotated);
    const { lbs, tgs } = await ofService(lb);
    expect(lbs[0]!.tags.team).toBe('shop');
    expect(tgs.length).toBeGreaterThan(0);
    for (const tg of tgs) expect(tg.tags.team).toBe('shop');
    const attrs =
      (await raw.elbv2.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: lbs[0]!.LoadBalancerArn })))
        .Attributes ?? [];
    expect(attrs.find((a) => a.Key === 'load_balancing.cross_zone.enabled')?.Value).toBe('true');
    const tgAttrs =
      (await raw.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: tgs[0]!.TargetGroupArn })))
        .Attributes ?? [];
    expect(tgAttrs.find((a) => a.Key === 'proxy_protocol_v2.enabled')?.Value).toBe('true');
    const tls = (await listenersOf(lbs[0]!.LoadBalancerArn!)).find((l) => l.Port === 443)!;
    expect([tls.Protocol, tls.Certificates?.[0]?.CertificateArn]).toEqual(['TLS', cert]);
    // sessionAffinity: ClientIP becomes source-IP stickiness
    await converge({ ...annotated, sessionAffinity: { type: 'ClientIP', timeoutSeconds: 10800 } });
    const sticky =
      (await raw.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: tgs[0]!.TargetGroupArn })))
        .Attributes ?? [];
    expect(
      sticky
        .filter((a) => a.Key?.startsWith('stickiness.'))
        .map((a) => `${a.Key}=${a.Value}`)
        .sort(),
    ).toEqual(['stickiness.enabled=true', 'stickiness.type=source_ip']);
    // removing the annotations turns the settings back off
    await converge(lb);
    const reset =
      (await raw.elbv2.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: lbs[0]!.LoadBalancerArn })))
        .Attributes ?? [];
    expect(reset.find((a) => a.Key === 'load_balancing.cross_zone.enabled')?.Value).toBe('false');
    const tgReset =
      (await raw.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: tgs[0]!.TargetGroupArn })))
        .Attributes ?? [];
    expect(
      tgReset.filter((a) => ['stickiness.enabled', 'proxy_protocol_v2.enabled'].includes(a.Key!)).map((a) => a.Value),
    ).toEqual(['false', 'false']);
    // (health-check timing annotations are read by the model since it reads health checks once)
    const err = await provider
      .ensure({ ...lb, annotations: { [A.healthCheckSuccessCodes]: 'soon' } }, signal)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'InvalidAnnotationError', annotation: A.healthCheckSuccessCodes });
    await provider.delete(lb.ref, signal);
  });

  it('turns source ranges into frontend security-group rules', async () => {
    const lb = { ...service('ranges', 80, 443), sourceRanges: ['10.0.0.0/8', '192.168.0.0/16'] };
    await converge(lb);
    const rules = async () =>
      (await w.frontendRules(lb))
        .flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.IpProtocol}/${p.FromPort}/${r.CidrIp}`))
        .sort();
    expect(await rules()).toEqual([
      'tcp/443/10.0.0.0/8',
      'tcp/443/192.168.0.0/16',
      'tcp/80/10.0.0.0/8',
      'tcp/80/192.168.0.0/16',
    ]);
    await converge({ ...lb, sourceRanges: [], annotations: { [A.sourceRanges]: '172.16.0.0/12' } });
    expect(await rules()).toEqual(['tcp/443/172.16.0.0/12', 'tcp/80/172.16.0.0/12']);
    await provider.delete(lb.ref, signal);
  });

  it('switches the address type in place; the shared open group admits ::/0 for dualstack', async () => {
    const lb = { ...service('dual', 80), annotations: { [A.ipAddressType]: 'dualstack' } };
    await converge(lb);
    const ranges = async () =>
      (await w.frontendRules(lb))
        .flatMap((p) => [
          ...(p.IpRanges ?? []).map((r) => `${p.IpProtocol}/${p.FromPort}-${p.ToPort}/${r.CidrIp}`),
          ...(p.Ipv6Ranges ?? []).map((r) => `${p.IpProtocol}/${p.FromPort}-${p.ToPort}/${r.CidrIpv6}`),
        ])
        .sort();
    const open = ['tcp/0-65535/0.0.0.0/0', 'tcp/0-65535/::/0', 'udp/0-65535/0.0.0.0/0', 'udp/0-65535/::/0'];
    expect((await ofService(lb)).lbs[0]!.IpAddressType).toBe('dualstack');
    expect(await ranges()).toEqual(open);
    const v4 = { ...lb, annotations: {} };
    calls.reset();
    await provider.ensure(v4, signal);
    // an IPv4 NLB has no IPv6 address, so the shared group's ::/0 rules admit nothing more: no group change
    expect(calls.mutating().map((c) => c.operation)).toEqual(['SetIpAddressType']);
    await converge(v4);
    expect(await ranges()).toEqual(open);
    // with source ranges, a group of its own: a rule per port and range
    const ranged = { ...lb, sourceRanges: ['10.0.0.0/8', 'fd00::/8'] };
    await converge(ranged);
    expect(await ranges()).toEqual(['tcp/80-80/10.0.0.0/8', 'tcp/80-80/fd00::/8']);
    await provider.delete(lb.ref, signal);
  });

  it('reports Elastic IPs with ipMode Proxy next to the DNS name', async () => {
    const eips = [];
    for (let i = 0; i < 3; i++) eips.push(await raw.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' })));
    const lb = {
      ...service('eip', 80),
      annotations: { [A.eipAllocations]: eips.map((e) => e.AllocationId).join(',') },
    };
    const status = await converge(lb);
    expect(status.ingress).toEqual([
      { hostname: expect.any(String) },
      ...eips.map((e) => ({ ip: e.PublicIp, ipMode: 'Proxy' })),
    ]);
    await provider.delete(lb.ref, signal);
  });

  it('moves subnets in place with SetSubnets', async () => {
    const lb = { ...service('subnets', 80), annotations: { [A.subnets]: fx.publicSubnets.slice(0, 2).join(',') } };
    await converge(lb);
    const moved = { ...lb, annotations: { [A.subnets]: fx.publicSubnets.join(',') } };
    calls.reset();
    await provider.ensure(moved, signal);
    expect(calls.mutating().map((c) => c.operation)).toEqual(['SetSubnets']);
    expect((await ofService(lb)).lbs[0]!.AvailabilityZones?.map((z) => z.SubnetId).sort()).toEqual(
      [...fx.publicSubnets].sort(),
    );
    await provider.delete(lb.ref, signal);
  });
});

describe('AWS provider against moto: a cold start', () => {
  it('sets the cluster up once when eight Services are ensured at once on a fresh provider', async () => {
    const cluster = await clusterFixture(raw.ec2, 'cold-start', 3);
    const fresh = newProvider('cold-start');
    const lbs = Array.from({ length: 8 }, (_, i) => {
      const lb = aLoadBalancer(`cold-${i}`, 'cold-start').withPorts(80, 443).build();
      lb.targets = cluster.nodes(3);
      return lb;
    });
    const statuses = await Promise.all(lbs.map((lb) => fresh.provider.ensure(lb, signal)));
    expect(statuses.every((s) => s.ingress.length === 1)).toBe(true);
    // the shared open frontend group and the backend group, each once; the setup's reads once, not once per worker
    expect(fresh.calls.count('CreateSecurityGroup')).toBe(2);
    expect(fresh.calls.count('DescribeAccountLimits')).toBe(1);
    expect(fresh.calls.count('DescribeInstances')).toBe(1);
    // nothing was re-planned: a new Service's target groups are never described
    expect(fresh.calls.count('DescribeTargetHealth')).toBe(0);
    expect(fresh.calls.count('CreateLoadBalancer')).toBe(8);
    await Promise.all(lbs.map((lb) => fresh.provider.delete(lb.ref, signal)));
    fresh.provider.close();
  }, 120_000);
});

describe('AWS provider against moto: a load balancer still provisioning', () => {
  it('is polled with one DescribeLoadBalancers while the Service asks for what was built, and ensured in full otherwise', async () => {
    const lb = service('poll', 80);
    const created = await provider.ensure(lb, signal);
    expect(created.ready).toBe(false); // moto, like AWS, answers a new NLB as provisioning
    calls.reset();
    // the controller's recheck builds the same spec afresh: other key order, nodes listed in another order
    const afresh = { ...Object.fromEntries(Object.entries(lb).reverse()), targets: [...lb.targets].reverse() };
    const polled = await provider.ensure(afresh as DesiredLoadBalancer, signal);
    expect(calls.calls.map((c) => c.operation)).toEqual(['DescribeLoadBalancers']);
    expect(polled.ingress).toEqual(created.ingress);
    expect(polled.changed).toBe(false);

    // a changed spec (a port added) is built, whatever the NLB's state
    const wider = {
      ...lb,
      ports: [...lb.ports, { ...lb.ports[0]!, name: 'alt', port: 8080, nodePort: 32100 }],
    };
    calls.reset();
    await provider.ensure(wider, signal);
    expect(
      calls
        .mutating()
        .map((c) => c.operation)
        .sort(),
    ).toEqual(['CreateListener', 'CreateTargetGroup', 'RegisterTargets']);
    // a drift pass always reads everything
    calls.reset();
    await provider.ensure(wider, signal, { drift: true });
    expect(calls.count('DescribeListeners')).toBeGreaterThan(0);
    await provider.delete(lb.ref, signal);
  });
});

describe('AWS provider against moto: load balancers still provisioning, rechecked together', () => {
  it('shares one DescribeLoadBalancers among rechecks that come together, and each gets its own NLB', async () => {
    const lbs = ['batch-a', 'batch-b', 'batch-c', 'batch-d', 'batch-e'].map((name) => service(name, 80));
    const created = [];
    for (const lb of lbs) created.push(await provider.ensure(lb, signal));
    expect(created.every((s) => !s.ready)).toBe(true);
    calls.reset();
    const polled = await Promise.all(lbs.map((lb) => provider.ensure(lb, signal)));
    expect(calls.calls.map((c) => c.operation)).toEqual(['DescribeLoadBalancers']);
    expect((calls.calls[0]!.input as { LoadBalancerArns: string[] }).LoadBalancerArns).toHaveLength(5);
    expect(polled.map((s) => s.ingress)).toEqual(created.map((s) => s.ingress));
    // one recheck alone also asks after the others still provisioning
    const more = ['batch-f', 'batch-g'].map((name) => service(name, 80));
    for (const lb of more) await provider.ensure(lb, signal);
    calls.reset();
    await provider.ensure(more[0]!, signal);
    expect((calls.calls[0]!.input as { LoadBalancerArns: string[] }).LoadBalancerArns).toHaveLength(2);
    for (const lb of [...lbs, ...more]) await provider.delete(lb.ref, signal);
  });
});

runConformance(
  'aws (moto)',
  async () => {
    const conformanceCluster = await clusterFixture(raw.ec2, 'conformance', 3);
    const subject = newProvider('conformance');
    return {
      provider: subject.provider,
      ownedResources: async () => {
        const inv = await inventory(raw, 'conformance', conformanceCluster.clusterSecurityGroup);
        return inv.loadBalancers.length + inv.targetGroups.length + inv.securityGroups.length + inv.nodeRules;
      },
      invalid: (lb) => ({ ...lb, annotations: { [A.scheme]: 'public' } }),
      // the suite's nodes become moto instances (looked up by name, so n1..n3 stay stable)
      adapt: (lb) => ({
        ...lb,
        targets: lb.targets.map((t) => ({
          ...conformanceCluster.nodes(1, Number(t.name.replace(/\D/g, '')) % 3)[0]!,
          name: t.name,
        })),
      }),
      close: () => subject.provider.close(),
    };
  },
  { timeoutMs: 60_000 },
);
