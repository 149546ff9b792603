/** The soak's invariants can fail: each is shown a state that breaks it. */
import { describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { OUR_FINALIZER, PROVIDER_ANNOTATION, READY_CONDITION, UPSTREAM_FINALIZER } from '../../src/model/names.ts';
import type { SecurityGroup } from '@aws-sdk/client-ec2';
import { checkSecurityGroupRules, CLUSTER_NAME } from './aws-rig.ts';
import { checkApiserverBudget, checkState, Checks, type PoolObject } from './invariants.ts';
import { Rng } from './rng.ts';
import { World, type ServiceSpec } from './world.ts';

function world(...specs: ServiceSpec[]): World {
  const w = new World(
    { providers: ['local'], defaultProvider: 'local', maxServices: 10, maxNodes: 3, instances: 3 },
    new Rng(1),
  );
  for (const spec of specs) w.services.set(spec.name, { spec, addressMayChange: false, ops: 1 });
  return w;
}

const spec = (name: string, over: Partial<ServiceSpec> = {}): ServiceSpec => ({
  name,
  type: 'LoadBalancer',
  cls: 'none',
  ports: [{ port: 80, protocol: 'TCP' }],
  etp: 'Cluster',
  tag: 0,
  ...over,
});

function served(name: string, ip: string | undefined): k8s.V1Service {
  return {
    metadata: {
      name,
      finalizers: [UPSTREAM_FINALIZER],
      annotations: { [PROVIDER_ANNOTATION]: 'local', ...(ip ? { 'lbprovisioner.io/allocated-ips': ip } : {}) },
    },
    spec: { type: 'LoadBalancer' },
    status: {
      loadBalancer: { ingress: ip ? [{ ip }] : [] },
      conditions: [
        { type: READY_CONDITION, status: 'True', reason: 'Provisioned', message: '', lastTransitionTime: new Date() },
      ],
    },
  };
}

const pools = (used: number): PoolObject[] => [
  { metadata: { name: 'chaos-auto' }, spec: { addresses: ['192.0.2.0/26'] }, status: { used: String(used) } },
  { metadata: { name: 'chaos-fixed' }, spec: { addresses: ['203.0.113.0/28'] }, status: { used: '0' } },
];

describe('chaos invariants', () => {
  it('pass on a served state (the positive control)', async () => {
    const c = await checkState(
      world(spec('a'), spec('b')),
      [served('a', '192.0.2.1'), served('b', '192.0.2.2')],
      pools(2),
      [],
    );
    expect(c.violations).toEqual([]);
    expect(c.passed).toBeGreaterThan(10);
  });

  it('fail on a missing address, a doubled address, a moved address and a pool count that disagrees', async () => {
    const w = world(spec('a'), spec('b'), spec('c'));
    w.services.get('c')!.address = '192.0.2.9';
    const c = await checkState(
      w,
      [served('a', undefined), served('b', '192.0.2.2'), { ...served('c', '192.0.2.2') }],
      pools(1),
      [],
    );
    const text = c.violations.join('\n');
    expect(text).toContain('a (local) has no address');
    expect(text).toContain('192.0.2.2 is held by b, c');
    expect(text).toContain('c address changed 192.0.2.9 -> 192.0.2.2');
    expect(text).toContain('IPPool chaos-auto says used=1, the Services hold 2');
  });

  it('fail when a Service not ours keeps our finalizer, annotations or address, or a deleted one stays', async () => {
    const w = world(spec('x', { type: 'ClusterIP' }));
    w.deleted.add('gone');
    const x = served('x', '192.0.2.3');
    x.metadata!.finalizers = [OUR_FINALIZER];
    const c = await checkState(
      w,
      [x, { ...served('gone', undefined), metadata: { name: 'gone', finalizers: [UPSTREAM_FINALIZER] } }],
      pools(0),
      [],
    );
    const text = c.violations.join('\n');
    expect(text).toContain('x (not ours: ClusterIP/none) keeps our finalizer');
    expect(text).toContain('x (not ours) keeps our annotations');
    expect(text).toContain('x (not ours) keeps the address 192.0.2.3');
    expect(text).toContain('deleted Service gone is still there');
  });

  it('fail on a Secret read, a hot loop, and writes while nothing changes', () => {
    const base = { auditID: '', user: 'u', userAgent: '', namespace: 'chaos', name: 'a', receivedMs: 0 };
    const requests = [
      { ...base, auditID: 's', verb: 'get', resource: 'secrets', name: 'creds' },
      ...Array.from({ length: 30 }, (_, i) => ({
        ...base,
        auditID: `w${i}`,
        verb: 'patch',
        resource: 'services/status',
        receivedMs: 100 + i,
      })),
    ];
    const c = checkApiserverBudget(requests, new Map([['a', 1]]), 0, { from: 120, to: 200 });
    const text = c.violations.join('\n');
    expect(text).toContain('the controller touched Secrets: get chaos/creds');
    expect(text).toContain('30 Service writes to a (bound 8)');
    expect(text).toContain('10 Service writes after convergence');
  });

  it('a write a dead replica sent into a partition, delivered after the heal, is not a write while nothing changes; a refused one is', () => {
    const base = { user: 'u', userAgent: '', namespace: 'chaos', name: 'a', verb: 'patch', resource: 'services' };
    const zombie = {
      ...base,
      auditID: 'z',
      receivedMs: 150,
      code: 504,
      message: 'Timeout: request did not complete within requested timeout - context canceled',
    };
    expect(checkApiserverBudget([zombie], new Map([['a', 1]]), 1, { from: 120, to: 200 }).violations).toEqual([]);
    const conflict = { ...base, auditID: 'c', receivedMs: 160, code: 409, message: 'the object has been modified' };
    expect(checkApiserverBudget([zombie, conflict], new Map([['a', 1]]), 1, { from: 120, to: 200 }).violations).toEqual(
      ['5: 1 Service writes after convergence with nothing changing: patch services a'],
    );
  });

  describe('security-group rules (AWS)', () => {
    const tags = (resource: string, extra: Record<string, string> = {}) =>
      Object.entries({ 'lbprovisioner.io/cluster': CLUSTER_NAME, 'lbprovisioner.io/resource': resource, ...extra }).map(
        ([Key, Value]) => ({ Key, Value }),
      );
    const backend: SecurityGroup = {
      GroupId: 'sg-backend',
      GroupName: 'lbp-chaos-backend',
      Tags: tags('backend-security-group'),
    };
    const frontend = (uid: string): SecurityGroup => ({
      GroupId: `sg-front-${uid}`,
      GroupName: `front-${uid}`,
      Tags: tags('frontend-security-group', {
        'lbprovisioner.io/service-uid': uid,
        'kubernetes.io/service-name': `chaos/${uid}`,
      }),
    });
    const admits = (group: string, protocol: string, from: number, to = from) => ({
      IpProtocol: protocol,
      FromPort: from,
      ToPort: to,
      UserIdGroupPairs: [{ GroupId: group }],
    });
    const nodes = (...IpPermissions: ReturnType<typeof admits>[]): SecurityGroup => ({
      GroupId: 'sg-nodes',
      GroupName: 'nodes',
      IpPermissions,
    });
    const nodeRules = [
      admits('sg-backend', 'tcp', 20000, 59999),
      admits('sg-backend', 'udp', 20000, 59999),
      admits('sg-backend', 'tcp', 10256),
    ];
    const ownedService = (uid: string): k8s.V1Service => ({ metadata: { name: uid, uid } });
    const check = (groups: SecurityGroup[], owned: k8s.V1Service[]): Checks => {
      const c = new Checks();
      checkSecurityGroupRules(groups, 'sg-nodes', owned, c);
      return c;
    };

    it('pass while an owned Service needs the node rules (the positive control)', () => {
      const c = check([nodes(...nodeRules), backend, frontend('u1')], [ownedService('u1')]);
      expect(c.violations).toEqual([]);
      expect(c.passed).toBeGreaterThanOrEqual(7);
    });

    it('fail on node rules and a backend group left after the last NLB', () => {
      const text = check([nodes(...nodeRules), backend], []).violations.join('\n');
      expect(text).toContain('backend security group lbp-chaos-backend outlives every NLB');
      expect(text).toContain('rule tcp 20000-59999 on nodes (sg-nodes) admits the backend group, but no NLB is left');
      expect(text).toContain('rule tcp 10256-10256 on nodes (sg-nodes) admits the backend group, but no NLB is left');
    });

    it("fail on a rule for a deleted Service's frontend group, a NodePort rule no Service uses, and a rule admitting a group that is gone", () => {
      const leaked = nodes(
        ...nodeRules,
        admits('sg-front-u2', 'tcp', 31234),
        admits('sg-backend', 'tcp', 31234),
        admits('sg-gone', 'tcp', 80),
      );
      const text = check([leaked, backend, frontend('u1'), frontend('u2')], [ownedService('u1')]).violations.join('\n');
      expect(text).toContain('admits the frontend group of chaos/u2, which has no owned AWS Service');
      expect(text).toContain(
        'rule tcp 31234-31234 on nodes (sg-nodes) admits the backend group on a port no owned Service uses',
      );
      expect(text).toContain('admits sg-gone, a group that is gone');
    });
  });
});
