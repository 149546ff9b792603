/**
 * The AWS provider against moto: frontend security groups. A Service open to everyone (no source ranges)
 * uses the cluster's one shared open group; one with source ranges gets a group of its own; a Service
 * moving between the two swaps its NLB's groups with SetSecurityGroups and leaves nothing behind; the
 * shared groups go with the last NLB; and Services ensured at once create the shared group once.
 */
import { describe, expect, it } from '@jest/globals';
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { NOTHING_LEFT } from '../../test/aws/moto-inventory.ts';
import { motoWorldFor } from '../../test/aws/moto-world.ts';
import { AWS_ANNOTATION as A } from './annotations.ts';

const CLUSTER = 'sg-it';
const signal = new AbortController().signal;
const OPEN_GROUP = `lbp-${CLUSTER}-open`;
const world = motoWorldFor(CLUSTER);

/** the mutating operations since the last reset, sorted */
const mutations = () =>
  world()
    .calls.mutating()
    .map((x) => x.operation)
    .sort();

const groupNames = async (lb: DesiredLoadBalancer) => (await world().frontendGroups(lb)).map((g) => g.GroupName).sort();

/** The cluster's shared open groups in moto (by name: a second one would be a race lost). */
async function openGroups(): Promise<string[]> {
  const res = await world().raw.ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [OPEN_GROUP] }] }),
  );
  return (res.SecurityGroups ?? []).map((g) => g.GroupId!);
}

describe('frontend security groups', () => {
  it('Services open to everyone share one group (7 mutating calls each after the first); one with source ranges gets its own', async () => {
    const [a, b, c] = ['open-a', 'open-b', 'open-c'].map((name) => world().service(name, 80, 443));
    await world().provider.ensure(a!, signal);
    world().calls.reset();
    await world().provider.ensure(b!, signal);
    expect(mutations()).toEqual([
      'CreateListener',
      'CreateListener',
      'CreateLoadBalancer',
      'CreateTargetGroup',
      'CreateTargetGroup',
      'RegisterTargets',
      'RegisterTargets',
    ]);
    // a restarted controller finds the shared group instead of making a second one
    const restarted = world().newProvider();
    await restarted.provider.ensure(c!, signal);
    expect(restarted.calls.count('CreateSecurityGroup')).toBe(0);
    for (const lb of [a!, b!, c!]) expect(await groupNames(lb)).toEqual([OPEN_GROUP]);
    expect(await openGroups()).toHaveLength(1);
    const rules = (await world().frontendRules(a!)).map((p) => `${p.IpProtocol}/${p.FromPort}-${p.ToPort}`).sort();
    expect(rules).toEqual(['tcp/0-65535', 'udp/0-65535']);

    const ranged = { ...world().service('ranged', 80), annotations: { [A.sourceRanges]: '10.0.0.0/8' } };
    await world().converge(ranged);
    expect(await groupNames(ranged)).toEqual([expect.stringMatching(/-frontend$/)]);
    // the shared group belongs to no Service: list() reports the four Services and nothing else
    const listed = await world().newProvider().provider.list(signal);
    expect(listed.map((r) => r.uid).sort()).toEqual([a!, b!, c!, ranged].map((lb) => lb.ref.uid).sort());

    for (const lb of [a!, b!, c!, ranged]) await world().provider.delete(lb.ref, signal);
    expect(await world().stock()).toEqual(NOTHING_LEFT);
  });

  it('switching source ranges on and off swaps the groups with SetSecurityGroups and leaves nothing behind', async () => {
    const open = world().service('switch', 80);
    await world().converge(open);
    const ranged = { ...open, sourceRanges: ['192.168.0.0/16'] };
    world().calls.reset();
    await world().provider.ensure(ranged, signal);
    expect(mutations()).toEqual(['AuthorizeSecurityGroupIngress', 'CreateSecurityGroup', 'SetSecurityGroups']);
    await world().converge(ranged);
    const own = await groupNames(ranged);
    expect(own).toEqual([expect.stringMatching(/-frontend$/)]);

    world().calls.reset();
    await world().provider.ensure(open, signal);
    expect(mutations()).toEqual(['DeleteSecurityGroup', 'SetSecurityGroups']);
    await world().converge(open);
    expect(await groupNames(open)).toEqual([OPEN_GROUP]);
    expect((await world().stock()).securityGroups).not.toContain(own[0]);

    // explicit groups: the NLB carries them (and the backend group), no managed frontend group
    const user = (
      await world().raw.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [world().fx.clusterSecurityGroup] }))
    ).SecurityGroups![0]!;
    const explicit = { ...open, annotations: { [A.securityGroups]: user.GroupId! } };
    await world().converge(explicit);
    expect((await world().ofService(open)).lbs[0]!.SecurityGroups).toContain(user.GroupId);
    expect(await world().frontendGroups(open)).toEqual([]);

    await world().provider.delete(open.ref, signal);
    expect(await world().stock()).toEqual(NOTHING_LEFT);
  });

  it('the shared groups stay while an NLB carries them and go with the last one, also after a restart', async () => {
    const a = world().service('last-a', 80);
    const b = world().service('last-b', 80);
    await world().provider.ensure(a, signal);
    await world().provider.ensure(b, signal);
    // a restarted controller deletes one: the other still uses both shared groups
    await world().newProvider().provider.delete(a.ref, signal);
    const left = await world().stock();
    expect(left.securityGroups.sort()).toEqual([`lbp-${CLUSTER}-backend`, OPEN_GROUP]);
    expect(left.nodeRules).toBeGreaterThanOrEqual(3);
    const last = world().newProvider().provider;
    await last.delete(b.ref, signal);
    expect(await world().stock()).toEqual(NOTHING_LEFT);
    // and the next open Service makes them again (the provider forgot the groups it removed)
    const again = world().service('again', 80);
    await last.ensure(again, signal);
    expect(await groupNames(again)).toEqual([OPEN_GROUP]);
    await last.delete(again.ref, signal);
    expect(await world().stock()).toEqual(NOTHING_LEFT);
  });

  it('Services open to everyone ensured at once create exactly one shared group, also once the cluster is set up', async () => {
    const fresh = world().newProvider();
    // the cluster is set up by a Service with source ranges: the open group does not exist yet
    const ranged = { ...world().service('first-ranged', 80), sourceRanges: ['10.0.0.0/8'] };
    await fresh.provider.ensure(ranged, signal);
    fresh.calls.reset();
    const open = Array.from({ length: 8 }, (_, i) => world().service(`burst-${i}`, 80, 443));
    await Promise.all(open.map((lb) => fresh.provider.ensure(lb, signal)));
    expect(fresh.calls.count('CreateSecurityGroup')).toBe(1);
    expect(await openGroups()).toHaveLength(1);
    for (const lb of open) expect(await groupNames(lb)).toEqual([OPEN_GROUP]);
    await Promise.all([ranged, ...open].map((lb) => fresh.provider.delete(lb.ref, signal)));
    expect(await world().stock()).toEqual(NOTHING_LEFT);
  });
});
