/**
 * The AWS provider against moto: removal of annotation tags, attribute drift repaired by the drift pass,
 * and extra (SNI) certificates of TLS listeners. moto supports AddListenerCertificates,
 * RemoveListenerCertificates and DescribeListenerCertificates, so those run against moto itself; where
 * moto differs from AWS the middleware wired in test/aws/moto-world.ts gives AWS's answer (here: moto leaves
 * proxy_protocol_v2.enabled out of DescribeTargetGroupAttributes until it is set, AWS lists it as false).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateTagsCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import {
  AddTagsCommand,
  DescribeListenerCertificatesCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  ModifyLoadBalancerAttributesCommand,
  ModifyTargetGroupAttributesCommand,
  RemoveListenerCertificatesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { AWS_ANNOTATION as A } from './annotations.ts';
import { MotoWorld } from '../../test/aws/moto-world.ts';

const signal = new AbortController().signal;
let w: MotoWorld;

beforeAll(async () => {
  w = await MotoWorld.start('moto-sync');
}, 120_000);

afterAll(async () => {
  await w?.stop();
});

const withAnnotations = (lb: DesiredLoadBalancer, annotations: Record<string, string>): DesiredLoadBalancer => ({
  ...lb,
  annotations,
});

/** ensure, and the mutating operations it made */
async function mutations(lb: DesiredLoadBalancer, drift = false): Promise<string[]> {
  w.calls.reset();
  await w.provider.ensure(lb, signal, { drift });
  return w.calls.mutating().map((c) => c.operation);
}

async function elbTags(arn: string): Promise<Record<string, string>> {
  const res = await w.raw.elbv2.send(new DescribeTagsCommand({ ResourceArns: [arn] }));
  return Object.fromEntries((res.TagDescriptions?.[0]?.Tags ?? []).map((t) => [t.Key!, t.Value!]));
}

async function frontendGroup(lb: DesiredLoadBalancer): Promise<{ id: string; tags: Record<string, string> }> {
  const res = await w.raw.ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'tag:lbprovisioner.io/service-uid', Values: [lb.ref.uid] },
        { Name: 'tag:lbprovisioner.io/resource', Values: ['frontend-security-group'] },
      ],
    }),
  );
  const g = res.SecurityGroups![0]!;
  return { id: g.GroupId!, tags: Object.fromEntries((g.Tags ?? []).map((t) => [t.Key!, t.Value!])) };
}

async function resources(lb: DesiredLoadBalancer) {
  const { lbs, tgs } = await w.ofService(lb);
  return { lbArn: lbs[0]!.LoadBalancerArn!, tgArns: tgs.map((t) => t.TargetGroupArn!) };
}

describe('AWS provider against moto: tags, attribute drift, certificates', () => {
  it('removes tags dropped from aws-load-balancer-additional-resource-tags and keeps tags it does not own', async () => {
    // source ranges: a frontend group of its own, which takes the annotation's tags (the shared open group does not)
    const base = { ...w.service('tagged', 80), sourceRanges: ['10.0.0.0/8'] };
    const lb = withAnnotations(base, { [A.additionalTags]: 'team=shop,env=prod' });
    await w.converge(lb);
    const { lbArn, tgArns } = await resources(lb);
    const sg = await frontendGroup(lb);
    // a user's own tags, added by hand in AWS
    await w.raw.elbv2.send(
      new AddTagsCommand({ ResourceArns: [lbArn, ...tgArns], Tags: [{ Key: 'owner', Value: 'alice' }] }),
    );
    await w.raw.ec2.send(new CreateTagsCommand({ Resources: [sg.id], Tags: [{ Key: 'owner', Value: 'alice' }] }));

    const dropped = withAnnotations(base, { [A.additionalTags]: 'team=shop' });
    const ops = await mutations(dropped);
    // env removed (RemoveTags: NLB and target group in one call; DeleteTags: security group), the record
    // of annotation keys rewritten (AddTags, CreateTags)
    expect(ops.sort()).toEqual(['AddTags', 'CreateTags', 'DeleteTags', 'RemoveTags']);
    expect(w.calls.calls.find((c) => c.operation === 'RemoveTags')?.input).toEqual({
      ResourceArns: [lbArn, ...tgArns],
      TagKeys: ['env'],
    });
    await w.converge(dropped);
    for (const tags of [...(await Promise.all([lbArn, ...tgArns].map(elbTags))), (await frontendGroup(lb)).tags]) {
      expect(tags.env).toBeUndefined();
      expect(tags).toMatchObject({
        team: 'shop',
        owner: 'alice',
        'lbprovisioner.io/additional-tags': 'team',
        'kubernetes.io/cluster/moto-sync': 'owned',
        'lbprovisioner.io/service-uid': lb.ref.uid,
      });
    }

    // the annotation removed: its tags and the record go, the user's and ownership tags stay
    expect((await mutations(base)).sort()).toEqual(['DeleteTags', 'RemoveTags']);
    await w.converge(base);
    for (const tags of [...(await Promise.all([lbArn, ...tgArns].map(elbTags))), (await frontendGroup(lb)).tags]) {
      expect(tags.team).toBeUndefined();
      expect(tags['lbprovisioner.io/additional-tags']).toBeUndefined();
      expect(tags).toMatchObject({ owner: 'alice', 'lbprovisioner.io/resource': expect.any(String) });
    }
    await w.provider.delete(lb.ref, signal);
  });

  it('reverts attribute edits made by hand on a drift pass, and makes no mutating call when nothing drifted', async () => {
    const lb = withAnnotations(w.service('drifting', 80), {
      [A.crossZone]: 'true',
      [A.targetGroupAttributes]: 'deregistration_delay.timeout_seconds=30',
    });
    await w.converge(lb);
    const { lbArn, tgArns } = await resources(lb);
    const lbAttr = async (key: string) =>
      (await w.raw.elbv2.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: lbArn }))).Attributes?.find(
        (a) => a.Key === key,
      )?.Value;
    const tgAttr = async (key: string) =>
      (
        await w.raw.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: tgArns[0] }))
      ).Attributes?.find((a) => a.Key === key)?.Value;

    // steady state: reads only; a drift pass with nothing changed adds one attribute read per NLB and per
    // target group, and writes nothing either
    expect(await mutations(lb)).toEqual([]);
    const steadyReads = w.calls.calls.length;
    expect(await mutations(lb, true)).toEqual([]);
    expect(w.calls.count('DescribeLoadBalancerAttributes')).toBe(1);
    expect(w.calls.count('DescribeTargetGroupAttributes')).toBe(1);
    expect(w.calls.calls.length).toBe(steadyReads + 2);

    // edits by hand in AWS
    await w.raw.elbv2.send(
      new ModifyLoadBalancerAttributesCommand({
        LoadBalancerArn: lbArn,
        Attributes: [{ Key: 'load_balancing.cross_zone.enabled', Value: 'false' }],
      }),
    );
    await w.raw.elbv2.send(
      new ModifyTargetGroupAttributesCommand({
        TargetGroupArn: tgArns[0],
        Attributes: [
          { Key: 'deregistration_delay.timeout_seconds', Value: '300' },
          { Key: 'proxy_protocol_v2.enabled', Value: 'true' },
        ],
      }),
    );
    // an ordinary sync trusts the digest tag: no read, no write
    expect(await mutations(lb)).toEqual([]);
    expect(w.calls.count('DescribeLoadBalancerAttributes') + w.calls.count('DescribeTargetGroupAttributes')).toBe(0);
    expect(await lbAttr('load_balancing.cross_zone.enabled')).toBe('false');

    // the drift pass writes exactly the attributes that differ
    expect((await mutations(lb, true)).sort()).toEqual(['ModifyLoadBalancerAttributes', 'ModifyTargetGroupAttributes']);
    const written = w.calls.calls.filter((c) => c.operation.startsWith('Modify')).map((c) => c.input);
    expect(written).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Attributes: [{ Key: 'load_balancing.cross_zone.enabled', Value: 'true' }] }),
        expect.objectContaining({
          Attributes: expect.arrayContaining([
            { Key: 'proxy_protocol_v2.enabled', Value: 'false' },
            { Key: 'deregistration_delay.timeout_seconds', Value: '30' },
          ]),
        }),
      ]),
    );
    expect(await lbAttr('load_balancing.cross_zone.enabled')).toBe('true');
    expect([await tgAttr('deregistration_delay.timeout_seconds'), await tgAttr('proxy_protocol_v2.enabled')]).toEqual([
      '30',
      'false',
    ]);
    expect(await mutations(lb, true)).toEqual([]);
    await w.provider.delete(lb.ref, signal);
  });

  it('adds the certificates after the first of aws-load-balancer-ssl-cert to the TLS listener, and removes them when they leave', async () => {
    const cert = (n: string) => `arn:aws:iam::123456789012:server-certificate/${n}`;
    const base = w.service('sni', 443);
    const tls = (certs: string[]) => withAnnotations(base, { [A.sslCert]: certs.join(','), [A.sslPorts]: '443' });
    const extraOf = async () => {
      const { lbArn } = await resources(base);
      const listener = (await w.listenersOf(lbArn)).find((l) => l.Port === 443)!;
      const res = await w.raw.elbv2.send(
        new DescribeListenerCertificatesCommand({ ListenerArn: listener.ListenerArn }),
      );
      return {
        listener: listener.ListenerArn!,
        default: listener.Certificates?.[0]?.CertificateArn,
        extra: (res.Certificates ?? [])
          .filter((c) => !c.IsDefault)
          .map((c) => c.CertificateArn!)
          .sort(),
      };
    };

    await w.converge(tls([cert('a'), cert('b'), cert('c')]));
    expect(await extraOf()).toMatchObject({ default: cert('a'), extra: [cert('b'), cert('c')] });

    expect(await mutations(tls([cert('a'), cert('c')]))).toEqual(['RemoveListenerCertificates', 'AddTags']);
    await w.converge(tls([cert('a'), cert('c')]));
    expect(await extraOf()).toMatchObject({ default: cert('a'), extra: [cert('c')] });

    // removed by hand: an ordinary sync trusts the digest tag, the drift pass puts it back
    const { listener } = await extraOf();
    await w.raw.elbv2.send(
      new RemoveListenerCertificatesCommand({ ListenerArn: listener, Certificates: [{ CertificateArn: cert('c') }] }),
    );
    expect(await mutations(tls([cert('a'), cert('c')]))).toEqual([]);
    expect(await mutations(tls([cert('a'), cert('c')]), true)).toEqual(['AddListenerCertificates']);
    expect(await mutations(tls([cert('a'), cert('c')]), true)).toEqual([]);
    expect(await extraOf()).toMatchObject({ extra: [cert('c')] });

    // down to one certificate: the extra one and the digest tag go
    expect(await mutations(tls([cert('a')]))).toEqual(['RemoveListenerCertificates', 'RemoveTags']);
    await w.converge(tls([cert('a')]));
    expect(await extraOf()).toMatchObject({ default: cert('a'), extra: [] });
    expect((await elbTags((await resources(base)).lbArn))['lbprovisioner.io/certificates']).toBeUndefined();
    await w.provider.delete(base.ref, signal);
  });
});
