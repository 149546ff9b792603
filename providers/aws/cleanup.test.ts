/**
 * The AWS provider against a real moto server: delete (complete, idempotent, interrupted), the orphan
 * sweep, adoption, and NLB replacement (deletion protection: safety.test.ts). Where moto differs from AWS, SDK middleware
 * (test/aws/sdk-middleware.ts, wired in test/aws/moto-world.ts) gives AWS's answer and says so.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateLoadBalancerCommand, DeleteLoadBalancerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import type { ClusterFixture } from '../../test/harness/moto.ts';
import { AWS_ANNOTATION as A } from './annotations.ts';
import { inventory, NOTHING_LEFT } from '../../test/aws/moto-inventory.ts';
import { MotoWorld } from '../../test/aws/moto-world.ts';
import type { Clients } from '../../test/aws/moto-world.ts';
import { legacyLoadBalancerName } from './names.ts';
import type { AwsProvider } from './provider.ts';
import { elbError, failOperation } from '../../test/aws/sdk-middleware.ts';

const CLUSTER = 'cleanup-it';
const signal = new AbortController().signal;
let w: MotoWorld;
let provider: AwsProvider;
let fx: ClusterFixture;
let raw: Clients;
const service = (...args: Parameters<MotoWorld['service']>) => w.service(...args);
const stock = () => w.stock();
const ofService = (lb: DesiredLoadBalancer) => w.ofService(lb);
const converge = (lb: DesiredLoadBalancer) => w.converge(lb);
const newProvider = (clusterName?: string) => w.newProvider(clusterName);

beforeAll(async () => {
  w = await MotoWorld.start(CLUSTER);
  ({ provider, fx, raw } = w);
}, 120_000);

afterAll(async () => {
  await w?.stop();
});

describe('AWS provider against moto: delete, orphans, adoption, replacement', () => {
  it('delete leaves nothing tagged for the cluster, and is idempotent', async () => {
    const a = service('gone-a', 80, [53, 'UDP']);
    const b = service('gone-b', 443);
    await provider.ensure(a, signal);
    await provider.ensure(b, signal);
    for (const lb of [a, b]) {
      await provider.delete(lb.ref, signal);
      await provider.delete(lb.ref, signal);
    }
    expect(await stock()).toEqual(NOTHING_LEFT);
  });

  it('finishes an interrupted delete: one stopped halfway, and one whose NLB was already gone', async () => {
    const lb = service('halfway', 80, 443);
    await provider.ensure(lb, signal);
    const p2 = newProvider();
    failOperation(p2.clients.elbv2, 'DeleteTargetGroup', () => elbError('ValidationError'));
    await expect(p2.provider.delete(lb.ref, signal)).rejects.toMatchObject({ name: 'ValidationError' });
    expect(await ofService(lb)).toMatchObject({ lbs: [], tgs: [{}, {}] }); // the NLB went, its target groups stayed
    await provider.delete(lb.ref, signal);
    expect(await ofService(lb)).toEqual({ lbs: [], tgs: [] });

    const orphaned = service('lb-gone', 80, 443);
    await provider.ensure(orphaned, signal);
    const { lbs } = await ofService(orphaned);
    await raw.elbv2.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: lbs[0]!.LoadBalancerArn }));
    expect((await ofService(orphaned)).tgs).toHaveLength(2);
    const fresh = newProvider().provider; // a restarted controller knows nothing
    await fresh.delete(orphaned.ref, signal);
    expect(await stock()).toEqual(NOTHING_LEFT);
  });

  it('list() finds every Service with resources, so an orphan sweep removes those whose Service is gone', async () => {
    const live = service('live', 80);
    const orphan = service('orphan', 80);
    await provider.ensure(live, signal);
    await provider.ensure(orphan, signal);
    const listed = await newProvider().provider.list(signal);
    expect(listed.map((r) => r.uid).sort()).toEqual([live.ref.uid, orphan.ref.uid].sort());
    expect(listed.find((r) => r.uid === orphan.ref.uid)).toEqual(orphan.ref);
    for (const ref of listed) if (ref.uid !== live.ref.uid) await provider.delete(ref, signal);
    expect((await provider.list(signal)).map((r) => r.uid)).toEqual([live.ref.uid]);
    await provider.delete(live.ref, signal);
  });

  it("adopts cloud-provider-aws's NLB for the same Service and refuses another cluster's", async () => {
    const lb = service('legacy', 80);
    const tags = (cluster: string) => [
      { Key: `kubernetes.io/cluster/${cluster}`, Value: 'owned' },
      { Key: 'kubernetes.io/service-name', Value: 'default/legacy' },
    ];
    const made = await raw.elbv2.send(
      new CreateLoadBalancerCommand({
        Name: legacyLoadBalancerName(lb.ref.uid),
        Type: 'network',
        Subnets: fx.publicSubnets,
        Tags: tags(CLUSTER),
      }),
    );
    // the controller starts after cloud-provider-aws made its NLBs (a migration): a fresh provider
    const migrated = newProvider().provider;
    const status = await migrated.ensure(lb, signal);
    // cloud-provider-aws made it without security groups: reported, not silently left open
    expect(status.message).toContain('no security groups');
    const { lbs } = await ofService(lb);
    expect(lbs.map((l) => l.LoadBalancerArn)).toEqual([made.LoadBalancers![0]!.LoadBalancerArn]);
    await migrated.delete(lb.ref, signal);

    const foreign = service('foreign', 80);
    await raw.elbv2.send(
      new CreateLoadBalancerCommand({
        Name: legacyLoadBalancerName(foreign.ref.uid),
        Type: 'network',
        Subnets: fx.publicSubnets,
        Tags: tags('someone-else'),
      }),
    );
    const restarted = newProvider().provider;
    await expect(restarted.ensure(foreign, signal)).rejects.toMatchObject({
      name: 'NotOwnedError',
      reason: 'NotOwned',
    });
    await restarted.delete(foreign.ref, signal);
    const left = (await inventory(raw, 'someone-else', fx.clusterSecurityGroup)).loadBalancers;
    expect(left).toHaveLength(1); // never touched
    await raw.elbv2.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: left[0]!.LoadBalancerArn }));
  });

  it('moves to a new NLB, create-before-delete, when aws-load-balancer-name changes', async () => {
    const lb = { ...service('renamed', 80), annotations: { [A.name]: 'first-name' } };
    await converge(lb);
    const renamed = { ...lb, annotations: { [A.name]: 'second-name' } };
    expect((await provider.ensure(renamed, signal)).message).toContain('replaced');
    await converge(renamed);
    expect((await ofService(lb)).lbs.map((l) => l.LoadBalancerName)).toEqual(['second-name']);
    const unnamed = { ...lb, annotations: {} };
    await provider.ensure(unnamed, signal);
    await converge(unnamed);
    expect((await ofService(lb)).lbs.map((l) => l.LoadBalancerName)).toEqual([
      expect.stringMatching(/^lbp-cleanupit-/),
    ]);
    expect((await ofService(lb)).tgs).toHaveLength(1);
    await provider.delete(lb.ref, signal);
    expect(await ofService(lb)).toEqual({ lbs: [], tgs: [] });
  });

  it('makes internal NLBs in internal-elb subnets, honours a fixed name and user security groups, and a restarted provider still deletes them', async () => {
    const lb = {
      ...service('internal', 80),
      annotations: {
        [A.scheme]: 'internal',
        [A.name]: 'fixed-internal-nlb',
        [A.securityGroups]: fx.clusterSecurityGroup,
        [A.manageBackendSecurityGroupRules]: 'false',
      },
    };
    await converge(lb);
    const { lbs } = await ofService(lb);
    expect(lbs.map((l) => [l.LoadBalancerName, l.Scheme, l.SecurityGroups])).toEqual([
      ['fixed-internal-nlb', 'internal', [fx.clusterSecurityGroup]],
    ]);
    expect(lbs[0]!.AvailabilityZones!.map((z) => z.SubnetId).sort()).toEqual([...fx.internalSubnets].sort());
    expect((await stock()).securityGroups).toEqual([]); // no frontend group, no backend group
    await newProvider().provider.delete(lb.ref, signal); // knows neither the UID nor the fixed name
    expect(await stock()).toEqual(NOTHING_LEFT);
  });

  it('replaces the NLB create-before-delete when its scheme changes, and says so', async () => {
    const lb = service('rescheme', 80);
    const before = await converge(lb);
    const old = (await ofService(lb)).lbs[0]!;
    const internal = { ...lb, annotations: { [A.scheme]: 'internal' } };
    const after = await provider.ensure(internal, signal);
    expect(after.message).toContain('replaced');
    expect(after.ingress[0]!.hostname).not.toBe(before.ingress[0]!.hostname);
    await converge(internal);
    const now = await ofService(lb);
    expect(now.lbs.map((l) => [l.Scheme, l.LoadBalancerArn === old.LoadBalancerArn])).toEqual([['internal', false]]);
    expect(now.tgs).toHaveLength(1);
    // a restarted provider that finds an interrupted replacement (both NLBs) finishes it
    const back = { ...lb, annotations: { [A.scheme]: 'internet-facing' } };
    const interrupted = newProvider();
    failOperation(interrupted.clients.elbv2, 'DeleteLoadBalancer', () => elbError('ValidationError'), 1);
    await expect(interrupted.provider.ensure(back, signal)).rejects.toMatchObject({ name: 'ValidationError' });
    expect((await ofService(lb)).lbs).toHaveLength(2);
    const restarted = newProvider().provider;
    await restarted.ensure(back, signal);
    expect((await ofService(lb)).lbs.map((l) => l.Scheme)).toEqual(['internet-facing']);
    expect((await restarted.ensure(back, signal)).changed).toBe(false);
    await restarted.delete(lb.ref, signal);
    expect(await ofService(lb)).toEqual({ lbs: [], tgs: [] });
  });
});
