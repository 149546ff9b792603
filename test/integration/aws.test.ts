/**
 * The AWS provider end to end: the controller (in-process, under its own ServiceAccount) + a real
 * kube-apiserver + moto. Nodes in the apiserver point at moto's EC2 instances through spec.providerID;
 * every check reads what a user sees (the Service, its Events) or what exists in moto (raw clients, not
 * provider code). Where moto differs from AWS, the provider's clients carry the SDK middleware of
 * test/aws/moto-world.ts (ModifyListener for UDP/TCP_UDP, account limits, deletion protection) and say so there.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { AWS_ANNOTATION as A } from '../../providers/aws/annotations.ts';
import { NOTHING_LEFT } from '../aws/moto-inventory.ts';
import type { Inventory } from '../aws/moto-inventory.ts';
import { MotoWorld } from '../aws/moto-world.ts';
import type { AwsProvider } from '../../providers/aws/provider.ts';
import type { CallRecorder } from '../aws/sdk-middleware.ts';
import type { ServiceController } from '../../src/controller/controller.ts';
import {
  EXCLUDE_FROM_LB_LABEL,
  OUR_FINALIZER,
  PROVIDER_ANNOTATION,
  UPSTREAM_FINALIZER,
} from '../../src/model/names.ts';
import { aService } from '../builders/service.ts';
import { SERVICE_NODE_PORT_RANGE } from '../harness/controlplane.ts';
import { createNode, deleteNode, uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import {
  deleteService,
  readService,
  readyOf,
  sleep,
  startCluster,
  startController,
  waitForEvent,
  waitForService,
  type Cluster,
} from './support.ts';

const CLUSTER = 'aws-it';
const NODE_PORTS = SERVICE_NODE_PORT_RANGE.split('-').map(Number) as [number, number];
const AWS_CLASS = 'lbprovisioner.io/aws';
const UID_TAG = 'lbprovisioner.io/service-uid';
const RESOURCE_TAG = 'lbprovisioner.io/resource';
const JSON_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
/** moto answers in milliseconds; these cover the controller's queue and a few ensures, on 2 busy cores */
const AWS_WAIT_MS = 20_000;

type JsonPatchOp = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

describe('AWS provider through the controller (real apiserver, moto)', () => {
  let cluster: Cluster | undefined;
  let world: MotoWorld | undefined;
  let controller: ServiceController | undefined;
  let provider: AwsProvider;
  let calls: CallRecorder;
  let ns: string;

  const kube = (): Cluster => cluster!;
  const moto = (): MotoWorld => world!;
  /** node-i is instance i of the moto fixture (4 instances; node-0..2 exist at the start) */
  const nodeName = (i: number) => `node-${i}`;
  const instance = (i: number) => moto().fx.instances[i]!;
  const providerID = (i: number) => `aws:///${instance(i).zone}/${instance(i).id}`;
  const instanceIds = (...is: number[]) => is.map((i) => instance(i).id).sort();

  async function addNode(i: number, name = nodeName(i)): Promise<void> {
    await createNode(kube().admin, {
      name,
      internalIP: `10.0.${100 + (i % 3)}.${10 + i}`,
      providerID: providerID(i),
      labels: { 'topology.kubernetes.io/zone': instance(i).zone },
    });
  }

  /** a controller under its ServiceAccount with a provider of its own (a restart knows nothing), on moto */
  async function start(): Promise<void> {
    ({ provider, calls } = moto().newProvider(CLUSTER, {
      // the apiserver's NodePort range, which the node security group rule must cover
      nodePortRange: { from: NODE_PORTS[0], to: NODE_PORTS[1] },
    }));
    controller = await startController(kube(), {
      clusterName: CLUSTER,
      providers: [provider],
      defaultProvider: 'aws',
      // moto makes an NLB active at its next describe; AWS takes minutes
      provisioningRecheckMs: 300,
    });
  }

  async function stop(): Promise<void> {
    const c = controller;
    controller = undefined;
    await c?.stop();
  }

  async function create(svc: k8s.V1Service): Promise<void> {
    svc.metadata!.namespace = ns;
    await kube().core.createNamespacedService({ namespace: ns, body: svc });
  }

  async function patch(name: string, ops: JsonPatchOp[]): Promise<void> {
    await kube().core.patchNamespacedService({ name, namespace: ns, body: ops }, JSON_PATCH);
  }

  async function mergePatch(name: string, body: object): Promise<void> {
    await kube().core.patchNamespacedService({ name, namespace: ns, body }, MERGE_PATCH);
  }

  const isReady = (s: k8s.V1Service) =>
    readyOf(s)?.status === 'True' && (s.status?.loadBalancer?.ingress?.[0]?.hostname ?? '') !== '';

  /** the Service once the controller reports its NLB active (hostname in status, condition True) */
  /** the Service once the controller reports its NLB active (hostname in status, condition True) */
  const waitReady = (name: string): Promise<k8s.V1Service> =>
    waitFor(
      async () => {
        const svc = await readService(kube(), ns, name);
        if (svc && isReady(svc)) return svc;
        // thrown, so a timeout says where the Service stood
        throw new Error(`status ${JSON.stringify(svc?.status)}`);
      },
      { message: `${ns}/${name} to have a hostname and a True condition`, timeoutMs: AWS_WAIT_MS },
    );

  /** what exists in moto for one Service, by its UID tag (raw clients: the provider's code is not trusted) */
  async function resourcesOf(
    uid: string,
  ): Promise<{ lbs: Inventory['loadBalancers']; tgs: Inventory['targetGroups'] }> {
    const inv = await moto().stock();
    return {
      lbs: inv.loadBalancers.filter((l) => l.tags[UID_TAG] === uid),
      tgs: inv.targetGroups.filter((t) => t.tags[UID_TAG] === uid),
    };
  }

  async function nlbOf(uid: string) {
    const { lbs, tgs } = await resourcesOf(uid);
    if (lbs.length !== 1) throw new Error(`expected one NLB for ${uid}, found ${lbs.length}`);
    const listeners = await moto().listenersOf(lbs[0]!.LoadBalancerArn!);
    return { lb: lbs[0]!, tgs, listeners };
  }

  /** listeners as port/protocol, sorted */
  const listenerKeys = (ls: { Port?: number; Protocol?: string }[]) => ls.map((l) => `${l.Port}/${l.Protocol}`).sort();

  /** poll moto until check(nlb) holds; returns the NLB with its target groups and listeners */
  async function waitForAws(
    uid: string,
    check: (nlb: Awaited<ReturnType<typeof nlbOf>>) => boolean | Promise<boolean>,
    message: string,
  ): Promise<Awaited<ReturnType<typeof nlbOf>>> {
    return waitFor(
      async () => {
        const nlb = await nlbOf(uid);
        return (await check(nlb)) ? nlb : undefined;
      },
      { message, timeoutMs: AWS_WAIT_MS, intervalMs: 200 },
    );
  }

  /** every target group of the Service registers exactly these instances (moto's DescribeTargetHealth) */
  async function waitForTargets(uid: string, ids: string[], message: string): Promise<void> {
    await waitForAws(
      uid,
      async ({ tgs }) => {
        for (const tg of tgs)
          if (JSON.stringify(await moto().targetsOf(tg.TargetGroupArn!)) !== JSON.stringify(ids)) return false;
        return tgs.length > 0;
      },
      message,
    );
  }

  /** the rules of the frontend group the Service's NLB carries: its own, or the cluster's shared open one */
  async function frontendRules(uid: string): Promise<string[]> {
    const { lb } = await nlbOf(uid);
    const groups =
      (await moto().raw.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: lb.SecurityGroups ?? [] })))
        .SecurityGroups ?? [];
    const frontend = groups.filter((g) =>
      (g.Tags ?? []).some(
        (t) => t.Key === RESOURCE_TAG && (t.Value === 'frontend-security-group' || t.Value === 'open-security-group'),
      ),
    );
    if (frontend.length !== 1) throw new Error(`expected one frontend group for ${uid}, found ${frontend.length}`);
    return (frontend[0]!.IpPermissions ?? [])
      .flatMap((p) => {
        const ports = p.FromPort === p.ToPort ? `${p.FromPort}` : `${p.FromPort}-${p.ToPort}`;
        return [
          ...(p.IpRanges ?? []).map((r) => `${p.IpProtocol}/${ports}/${r.CidrIp}`),
          ...(p.Ipv6Ranges ?? []).map((r) => `${p.IpProtocol}/${ports}/${r.CidrIpv6}`),
        ];
      })
      .sort();
  }

  /** the security groups tagged for the Service (its own frontend group, while it has one) */
  async function ownGroups(uid: string): Promise<string[]> {
    const res = await moto().raw.ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: `tag:${UID_TAG}`, Values: [uid] }] }),
    );
    return (res.SecurityGroups ?? []).map((g) => g.GroupName!);
  }

  /** the shared open group's rules: every TCP and UDP port from anywhere */
  const OPEN_RULES = ['tcp/0-65535/0.0.0.0/0', 'tcp/0-65535/::/0', 'udp/0-65535/0.0.0.0/0', 'udp/0-65535/::/0'];

  const nodePortOf = (svc: k8s.V1Service, port: number, protocol = 'TCP') =>
    svc.spec!.ports!.find((p) => p.port === port && (p.protocol ?? 'TCP') === protocol)!.nodePort!;

  beforeAll(async () => {
    // the control plane and moto start side by side; whichever started is stopped in afterAll
    const [c, w] = await Promise.allSettled([
      startCluster().then((x) => (cluster = x)),
      MotoWorld.start(CLUSTER).then((x) => (world = x)),
    ]);
    for (const r of [c, w]) if (r.status === 'rejected') throw r.reason;
    ns = await uniqueNamespace(kube().admin, 'aws');
    for (let i = 0; i < 3; i++) await addNode(i);
    await start();
  }, 120_000);

  afterAll(async () => {
    try {
      // every Service goes through the controller, so its finalizer is removed by cleanup, not by hand
      if (cluster && world && ns) {
        if (!controller) await start();
        const left = await kube().core.listNamespacedService({ namespace: ns });
        for (const svc of left.items) await deleteService(kube(), ns, svc.metadata!.name!);
      }
    } finally {
      await stop().catch((err: unknown) => console.error('stopping the controller:', err));
      await cluster?.stop().catch((err: unknown) => console.error('stopping the control plane:', err));
      await world?.stop().catch((err: unknown) => console.error('stopping moto:', err));
    }
  }, 60_000);

  it('create: the NLB DNS name in status (no ipMode), True once active, one listener and target group per port', async () => {
    await create(aService('web').withPorts(80, 443).manifest());
    const svc = await waitReady('web');
    const uid = svc.metadata!.uid!;
    expect(svc.metadata?.finalizers).toEqual([UPSTREAM_FINALIZER]);
    expect(svc.metadata?.annotations?.[PROVIDER_ANNOTATION]).toBe('aws');
    expect(readyOf(svc)).toMatchObject({ status: 'True', reason: 'Provisioned' });

    const { lb, tgs, listeners } = await nlbOf(uid);
    expect(svc.status?.loadBalancer?.ingress).toEqual([{ hostname: lb.DNSName }]);
    expect(lb.DNSName).toMatch(/elb\.amazonaws\.com$/);
    expect([lb.Type, lb.Scheme, lb.State?.Code]).toEqual(['network', 'internet-facing', 'active']);
    expect(lb.tags).toMatchObject({
      [`kubernetes.io/cluster/${CLUSTER}`]: 'owned',
      'kubernetes.io/service-name': `${ns}/web`,
    });
    expect(listenerKeys(listeners)).toEqual(['443/TCP', '80/TCP']);
    expect(
      tgs
        .map((t) => [t.Protocol, t.Port, t.TargetType, t.HealthCheckProtocol, t.HealthCheckPort, t.HealthCheckPath])
        .sort(),
    ).toEqual(
      [nodePortOf(svc, 80), nodePortOf(svc, 443)]
        .map((p) => ['TCP', p, 'instance', 'HTTP', '10256', '/healthz'])
        .sort(),
    );
    for (const tg of tgs) expect(await moto().targetsOf(tg.TargetGroupArn!)).toEqual(instanceIds(0, 1, 2));
    // the nodes' group admits one of the NLB's groups (the shared backend group) on the NodePort range
    const nodeGroup = (
      await moto().raw.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [moto().fx.clusterSecurityGroup] }))
    ).SecurityGroups![0]!;
    const fromNlb = (nodeGroup.IpPermissions ?? []).filter((p) =>
      (p.UserIdGroupPairs ?? []).some((u) => lb.SecurityGroups?.includes(u.GroupId!)),
    );
    for (const port of [nodePortOf(svc, 80), nodePortOf(svc, 443)])
      expect(fromNlb.some((p) => p.IpProtocol === 'tcp' && p.FromPort! <= port && port <= p.ToPort!)).toBe(true);
    expect(fromNlb.some((p) => p.IpProtocol === 'tcp' && p.FromPort === 10256 && p.ToPort === 10256)).toBe(true);
    // EnsuringLoadBalancer too when the build took over a second (moto is usually faster: outcome.ts)
    // Normal Events follow a second after the syncs go quiet (events.ts): waited for, not read at once
    await waitForEvent(kube(), ns, 'web', 'EnsuredLoadBalancer');
    await deleteService(kube(), ns, 'web');
  });

  it('port add and remove: listeners and target groups follow, the DNS name stays', async () => {
    await create(aService('ports').withPorts(80).manifest());
    const before = await waitReady('ports');
    const uid = before.metadata!.uid!;
    const hostname = before.status!.loadBalancer!.ingress![0]!.hostname;

    await patch('ports', [
      { op: 'add', path: '/spec/ports/-', value: { name: 'alt', port: 8080, protocol: 'TCP' } },
      { op: 'add', path: '/spec/ports/-', value: { name: 'metrics', port: 9090, protocol: 'TCP' } },
    ]);
    const three = await waitForAws(uid, ({ listeners }) => listeners.length === 3, 'three listeners');
    let svc = (await readService(kube(), ns, 'ports'))!;
    expect(listenerKeys(three.listeners)).toEqual(['80/TCP', '8080/TCP', '9090/TCP']);
    expect(three.tgs.map((t) => t.Port).sort()).toEqual(
      [nodePortOf(svc, 80), nodePortOf(svc, 8080), nodePortOf(svc, 9090)].sort(),
    );
    for (const tg of three.tgs) expect(await moto().targetsOf(tg.TargetGroupArn!)).toEqual(instanceIds(0, 1, 2));
    const tg80 = three.tgs.find((t) => t.Port === nodePortOf(svc, 80))!.TargetGroupArn;

    await patch('ports', [{ op: 'remove', path: '/spec/ports/0' }]);
    const two = await waitForAws(
      uid,
      ({ listeners, tgs }) => listeners.length === 2 && tgs.length === 2,
      'port 80 gone: two listeners and two target groups',
    );
    svc = (await readService(kube(), ns, 'ports'))!;
    expect(listenerKeys(two.listeners)).toEqual(['8080/TCP', '9090/TCP']);
    expect(two.tgs.map((t) => t.Port).sort()).toEqual([nodePortOf(svc, 8080), nodePortOf(svc, 9090)].sort());
    expect(two.tgs.map((t) => t.TargetGroupArn)).not.toContain(tg80);
    expect(two.lb.DNSName).toBe(hostname);
    await waitForEvent(kube(), ns, 'ports', 'UpdatedLoadBalancer');
    expect((await readService(kube(), ns, 'ports'))!.status!.loadBalancer!.ingress).toEqual([{ hostname }]);
    await deleteService(kube(), ns, 'ports');
  });

  it('protocol change TCP -> UDP: a new target group, the listener switched, the old group gone', async () => {
    await create(aService('proto').withPorts(80, 53).manifest());
    const svc = await waitReady('proto');
    const uid = svc.metadata!.uid!;
    const nodePort = nodePortOf(svc, 53);
    const tcp53 = (await nlbOf(uid)).tgs.find((t) => t.Port === nodePort)!;
    expect(tcp53.Protocol).toBe('TCP');

    await patch('proto', [{ op: 'replace', path: '/spec/ports/1/protocol', value: 'UDP' }]);
    const after = await waitForAws(
      uid,
      ({ tgs, listeners }) =>
        tgs.length === 2 &&
        tgs.some((t) => t.Port === nodePort && t.Protocol === 'UDP') &&
        listeners.some((l) => l.Port === 53 && l.Protocol === 'UDP'),
      'a UDP target group and listener for port 53',
    );
    expect(nodePortOf((await readService(kube(), ns, 'proto'))!, 53, 'UDP')).toBe(nodePort);
    expect(after.tgs.map((t) => t.TargetGroupArn)).not.toContain(tcp53.TargetGroupArn);
    const udp = after.tgs.find((t) => t.Protocol === 'UDP')!;
    // UDP can't be checked with a TCP connect: kube-proxy's HTTP /healthz
    expect([udp.HealthCheckProtocol, udp.HealthCheckPort, udp.HealthCheckPath]).toEqual(['HTTP', '10256', '/healthz']);
    expect(listenerKeys(after.listeners)).toEqual(['53/UDP', '80/TCP']);
    expect(after.listeners.find((l) => l.Port === 53)!.DefaultActions?.[0]?.TargetGroupArn).toBe(udp.TargetGroupArn);
    expect(await moto().targetsOf(udp.TargetGroupArn!)).toEqual(instanceIds(0, 1, 2));
    // the deleted group is gone from ELBv2 altogether, not just detached
    const all = (await moto().raw.elbv2.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? [];
    expect(all.map((t) => t.TargetGroupArn)).not.toContain(tcp53.TargetGroupArn);
    await deleteService(kube(), ns, 'proto');
  });

  it('UDP and TCP_UDP with our class: one TCP_UDP group for a port served on both, a UDP group for the other', async () => {
    await create(aService('dns').withPorts([53, 'TCP'], [53, 'UDP'], [5353, 'UDP']).withClass(AWS_CLASS).manifest());
    const svc = await waitReady('dns');
    expect(svc.metadata?.finalizers).toEqual([OUR_FINALIZER]);
    // the apiserver gives the same port number on both protocols the same nodePort
    expect(nodePortOf(svc, 53, 'UDP')).toBe(nodePortOf(svc, 53, 'TCP'));
    const { tgs, listeners } = await nlbOf(svc.metadata!.uid!);
    expect(tgs.map((t) => `${t.Protocol}/${t.Port}`).sort()).toEqual(
      [`TCP_UDP/${nodePortOf(svc, 53)}`, `UDP/${nodePortOf(svc, 5353, 'UDP')}`].sort(),
    );
    expect(listenerKeys(listeners)).toEqual(['53/TCP_UDP', '5353/UDP']);
    for (const tg of tgs) {
      expect([tg.HealthCheckProtocol, tg.HealthCheckPort]).toEqual(['HTTP', '10256']);
      expect(await moto().targetsOf(tg.TargetGroupArn!)).toEqual(instanceIds(0, 1, 2));
    }
    // no source ranges: the NLB carries the cluster's shared open group (TCP and UDP), no group of its own
    expect(await frontendRules(svc.metadata!.uid!)).toEqual(OPEN_RULES);
    expect(await ownGroups(svc.metadata!.uid!)).toEqual([]);
    await deleteService(kube(), ns, 'dns');
  });

  it('health-check annotations change the target group in place with one ModifyTargetGroup', async () => {
    await create(aService('health').withPorts(80).manifest());
    const svc = await waitReady('health');
    const uid = svc.metadata!.uid!;
    const before = (await nlbOf(uid)).tgs[0]!;
    await controller!.idle();
    calls.reset();
    await mergePatch('health', {
      metadata: {
        annotations: { [A.healthCheckPath]: '/ready', [A.healthCheckInterval]: '10', [A.healthyThreshold]: '4' },
      },
    });
    const after = await waitForAws(
      uid,
      ({ tgs }) => tgs[0]?.HealthCheckPath === '/ready',
      'the health-check path to become /ready',
    );
    await controller!.idle();
    const tg = after.tgs[0]!;
    expect(tg.TargetGroupArn).toBe(before.TargetGroupArn);
    expect([
      tg.HealthCheckProtocol,
      tg.HealthCheckPort,
      tg.HealthCheckIntervalSeconds,
      tg.HealthyThresholdCount,
    ]).toEqual(['HTTP', '10256', 10, 4]);
    expect(calls.mutating().map((c) => c.operation)).toEqual(['ModifyTargetGroup']);
    expect(readyOf(await readService(kube(), ns, 'health'))?.status).toBe('True');
    await deleteService(kube(), ns, 'health');
  });

  it('externalTrafficPolicy Local checks healthCheckNodePort; back to Cluster checks kube-proxy again, in place', async () => {
    await create(aService('local').withPorts(80).local().manifest());
    const svc = await waitReady('local');
    const uid = svc.metadata!.uid!;
    const hcnp = svc.spec!.healthCheckNodePort!;
    expect(hcnp).toBeGreaterThan(0);
    const local = (await nlbOf(uid)).tgs[0]!;
    expect([local.HealthCheckProtocol, local.HealthCheckPort, local.HealthCheckPath]).toEqual([
      'HTTP',
      String(hcnp),
      '/healthz',
    ]);
    // the apiserver releases healthCheckNodePort with the policy
    await patch('local', [
      { op: 'replace', path: '/spec/externalTrafficPolicy', value: 'Cluster' },
      { op: 'remove', path: '/spec/healthCheckNodePort' },
    ]);
    const cluster = await waitForAws(uid, ({ tgs }) => tgs[0]?.HealthCheckPort === '10256', 'the check on 10256');
    expect(cluster.tgs.map((t) => t.TargetGroupArn)).toEqual([local.TargetGroupArn]);
    await deleteService(kube(), ns, 'local');
  });

  it('nodes added, excluded and removed: every target group registers exactly the eligible instances', async () => {
    await create(aService('nodes').withPorts(80, 443).manifest());
    const svc = await waitReady('nodes');
    const uid = svc.metadata!.uid!;
    expect((await nlbOf(uid)).tgs).toHaveLength(2);
    await waitForTargets(uid, instanceIds(0, 1, 2), 'the three first instances');
    await controller!.idle();
    calls.reset();
    try {
      await addNode(3);
      await waitForTargets(uid, instanceIds(0, 1, 2, 3), 'node-3 registered');
      await kube().core.patchNode(
        { name: nodeName(1), body: { metadata: { labels: { [EXCLUDE_FROM_LB_LABEL]: '' } } } },
        MERGE_PATCH,
      );
      await waitForTargets(uid, instanceIds(0, 2, 3), 'node-1 deregistered once excluded');
      await deleteNode(kube().admin, nodeName(2));
      await waitForTargets(uid, instanceIds(0, 3), 'node-2 deregistered once deleted');
    } finally {
      // back to node-0..2 for the tests that follow
      await kube().core.patchNode(
        { name: nodeName(1), body: { metadata: { labels: { [EXCLUDE_FROM_LB_LABEL]: null } } } },
        MERGE_PATCH,
      );
      if (!(await kube().core.listNode()).items.some((n) => n.metadata?.name === nodeName(2))) await addNode(2);
      await deleteNode(kube().admin, nodeName(3));
    }
    await waitForTargets(uid, instanceIds(0, 1, 2), 'the three first instances again');
    await controller!.idle();
    // node churn goes through updateTargets: registrations only, nothing described, the NLB untouched
    expect(new Set(calls.calls.map((c) => c.operation))).toEqual(new Set(['RegisterTargets', 'DeregisterTargets']));
    expect(readyOf(await readService(kube(), ns, 'nodes'))?.status).toBe('True');
    await deleteService(kube(), ns, 'nodes');
  });

  it('a node without providerID: a NodesWithoutProviderID Warning, and it is registered once it gets one', async () => {
    await createNode(kube().admin, { name: 'bare', internalIP: '10.0.100.99' });
    try {
      await create(aService('bare-svc').withPorts(80).manifest());
      const svc = await waitReady('bare-svc');
      const uid = svc.metadata!.uid!;
      const warning = await waitForEvent(kube(), ns, 'bare-svc', 'NodesWithoutProviderID');
      expect(warning.type).toBe('Warning');
      expect(warning.message).toBe('nodes without spec.providerID are not targets: bare');
      await waitForTargets(uid, instanceIds(0, 1, 2), 'the three nodes with a providerID, and not bare');
      // a cloud controller sets providerID later (it may be set once): the node joins the targets
      await kube().core.patchNode({ name: 'bare', body: { spec: { providerID: providerID(3) } } }, MERGE_PATCH);
      await waitForTargets(uid, instanceIds(0, 1, 2, 3), 'bare registered as instance 3');
    } finally {
      await deleteNode(kube().admin, 'bare');
    }
    await deleteService(kube(), ns, 'bare-svc');
  });

  it('an invalid annotation: a Warning Event and a False condition naming it; fixing it builds the NLB', async () => {
    await create(
      aService('invalid')
        .withPorts(80)
        .withAnnotations({ [A.healthCheckTimeout]: 'soon' })
        .manifest(),
    );
    const svc = await waitForService(
      kube(),
      ns,
      'invalid',
      (s) => readyOf(s)?.status === 'False',
      'a False condition',
      AWS_WAIT_MS,
    );
    expect(readyOf(svc)).toMatchObject({
      reason: 'InvalidAnnotation',
      message: expect.stringContaining(A.healthCheckTimeout),
    });
    const warning = await waitForEvent(kube(), ns, 'invalid', 'InvalidAnnotation');
    expect(warning.type).toBe('Warning');
    expect(warning.message).toContain(A.healthCheckTimeout);
    expect(warning.message).toContain('soon');
    expect(svc.status?.loadBalancer?.ingress ?? []).toEqual([]);
    expect(await resourcesOf(svc.metadata!.uid!)).toEqual({ lbs: [], tgs: [] });

    await mergePatch('invalid', { metadata: { annotations: { [A.healthCheckTimeout]: '5' } } });
    await waitReady('invalid');
    expect((await nlbOf(svc.metadata!.uid!)).tgs[0]!.HealthCheckTimeoutSeconds).toBe(5);
    await deleteService(kube(), ns, 'invalid');
  });

  it('source ranges become the frontend security group rules, from the spec or the annotation', async () => {
    await create(
      aService('ranges')
        .withPorts(80, 443)
        .with((s) => (s.spec!.loadBalancerSourceRanges = ['10.0.0.0/8', '192.168.0.0/16']))
        .manifest(),
    );
    const svc = await waitReady('ranges');
    const uid = svc.metadata!.uid!;
    expect(await frontendRules(uid)).toEqual([
      'tcp/443/10.0.0.0/8',
      'tcp/443/192.168.0.0/16',
      'tcp/80/10.0.0.0/8',
      'tcp/80/192.168.0.0/16',
    ]);
    // the NLB carries its own frontend group and the cluster's shared backend group
    const { lb } = await nlbOf(uid);
    expect(lb.SecurityGroups).toHaveLength(2);

    await patch('ranges', [{ op: 'replace', path: '/spec/loadBalancerSourceRanges', value: ['172.16.0.0/12'] }]);
    await waitFor(
      async () =>
        JSON.stringify(await frontendRules(uid)) === JSON.stringify(['tcp/443/172.16.0.0/12', 'tcp/80/172.16.0.0/12']),
      { message: 'the rules to follow the new range', timeoutMs: AWS_WAIT_MS },
    );
    await patch('ranges', [
      { op: 'remove', path: '/spec/loadBalancerSourceRanges' },
      {
        op: 'add',
        path: `/metadata/annotations/${A.sourceRanges.replace(/~/g, '~0').replace(/\//g, '~1')}`,
        value: '203.0.113.0/24',
      },
    ]);
    await waitFor(
      async () =>
        JSON.stringify(await frontendRules(uid)) ===
        JSON.stringify(['tcp/443/203.0.113.0/24', 'tcp/80/203.0.113.0/24']),
      { message: 'the rules to follow the annotation', timeoutMs: AWS_WAIT_MS },
    );
    await patch('ranges', [
      { op: 'remove', path: `/metadata/annotations/${A.sourceRanges.replace(/~/g, '~0').replace(/\//g, '~1')}` },
    ]);
    // without ranges: the shared open group instead, and the Service's own group goes
    await waitFor(
      async () =>
        JSON.stringify(await frontendRules(uid)) === JSON.stringify(OPEN_RULES) && (await ownGroups(uid)).length === 0,
      { message: 'the shared open group without ranges, and no group of its own', timeoutMs: AWS_WAIT_MS },
    );
    await deleteService(kube(), ns, 'ranges');
  });

  it('a burst of eight 2-port Services: each NLB is built with a fixed bill of calls, none ensured twice', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `burst-${i}`);
    await controller!.idle();
    calls.reset();
    await Promise.all(names.map((n) => create(aService(n).withPorts(80, 443).manifest())));
    for (const n of names) await waitReady(n);
    await controller!.idle();
    const bill: Record<string, number> = {};
    for (const c of calls.calls) bill[c.operation] = (bill[c.operation] ?? 0) + 1;
    // per Service: one NLB, and per port one target group, one registration, one listener; nothing read
    // back per Service and nothing ensured twice
    const PER_SERVICE = ['CreateLoadBalancer', 'CreateTargetGroup', 'RegisterTargets', 'CreateListener'];
    expect(Object.fromEntries(PER_SERVICE.map((op) => [op, bill[op] ?? 0]))).toEqual({
      CreateLoadBalancer: 8,
      CreateTargetGroup: 16,
      RegisterTargets: 16,
      CreateListener: 16,
    });
    // the rest is the provider's one-time setup (shared security groups, subnets, nodes, limits), at most
    // what a cold provider spends (measured first in this file, fewer once an earlier test warmed it)
    const COLD_SETUP: Record<string, number> = {
      DescribeLoadBalancers: 2,
      DescribeTargetGroups: 2,
      DescribeSecurityGroups: 4,
      DescribeInstances: 1,
      DescribeSubnets: 1,
      DescribeAccountLimits: 1,
      CreateSecurityGroup: 2,
      AuthorizeSecurityGroupIngress: 2,
    };
    for (const [op, n] of Object.entries(bill)) {
      if (PER_SERVICE.includes(op)) continue;
      expect(`${op} x${n}`).toBe(`${op} x${Math.min(n, COLD_SETUP[op] ?? 0)}`);
    }
    for (const n of names) await deleteService(kube(), ns, n);
  });

  it('a controller restart with the Services up makes no mutating AWS call and no Service write', async () => {
    await create(
      aService('steady')
        .withPorts(80, 443)
        .local()
        .with((s) => (s.spec!.loadBalancerSourceRanges = ['10.0.0.0/8']))
        .manifest(),
    );
    await create(
      aService('steady-dns')
        .withPorts([53, 'TCP'], [53, 'UDP'])
        .withClass(AWS_CLASS)
        .withAnnotations({ [A.healthCheckPath]: '/ready', [A.additionalTags]: 'team=dns' })
        .manifest(),
    );
    await waitReady('steady');
    await waitReady('steady-dns');
    await controller!.idle();
    await stop();

    await start();
    // start() queued every Service; wait until they are all worked, and for any watch event of our own
    await controller!.idle();
    await sleep(1000);
    await controller!.idle();
    expect(calls.count('DescribeLoadBalancers')).toBeGreaterThanOrEqual(2); // both were ensured
    expect(calls.mutating().map((c) => `${c.service}:${c.operation}`)).toEqual([]);
    expect(controller!.writer.counts).toEqual({ metadata: 0, status: 0 });
    for (const name of ['steady', 'steady-dns'])
      expect(readyOf(await readService(kube(), ns, name))?.status).toBe('True');
    await deleteService(kube(), ns, 'steady');
    await deleteService(kube(), ns, 'steady-dns');
  });

  it('delete: the finalizer goes and nothing tagged for the cluster is left in ELBv2 or EC2', async () => {
    await create(aService('gone').withPorts(80, [53, 'UDP']).manifest());
    const svc = await waitReady('gone');
    const uid = svc.metadata!.uid!;
    const { lb, tgs } = await nlbOf(uid);
    expect(tgs).toHaveLength(2);
    await kube().core.deleteNamespacedService({ name: 'gone', namespace: ns });
    // the controller removes the finalizer only after delete() succeeded: then the object is gone
    await waitFor(async () => ((await readService(kube(), ns, 'gone')) === undefined ? true : undefined), {
      message: 'the Service to be gone (finalizer removed)',
      timeoutMs: AWS_WAIT_MS,
    });
    expect(await resourcesOf(uid)).toEqual({ lbs: [], tgs: [] });
    await waitForEvent(kube(), ns, 'gone', 'DeletedLoadBalancer');

    // every Service is gone now (each test deleted its own): the cluster's shared groups and node rule went
    // with the last NLB. Listed by tag, and everything ELBv2 and EC2 hold, not only what carries our tags.
    expect((await kube().core.listNamespacedService({ namespace: ns })).items).toEqual([]);
    await controller!.idle();
    const inv = await moto().stock();
    expect(inv).toEqual(NOTHING_LEFT);
    const raw = moto().raw;
    expect((await raw.elbv2.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).toEqual([]);
    expect((await raw.elbv2.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? []).toEqual([]);
    await expect(
      raw.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn })),
    ).rejects.toMatchObject({ Code: 'LoadBalancerNotFound' });
    const groups =
      (
        await raw.ec2.send(
          new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [moto().fx.vpcId] }] }),
        )
      ).SecurityGroups ?? [];
    expect(groups.map((g) => g.GroupName).sort()).toEqual([`${CLUSTER}-nodes`, 'default'].sort());
    const nodeGroup = groups.find((g) => g.GroupId === moto().fx.clusterSecurityGroup)!;
    expect(nodeGroup.IpPermissions ?? []).toEqual([]);
  });
});
