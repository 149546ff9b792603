/**
 * The life of a Service against a real apiserver, with the fake cloud: create, change, type changes,
 * class rules, ipMode, delete, drift repair. The controller runs under its own ServiceAccount.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { FakeProvider } from '../../providers/fake/provider.ts';
import { aService } from '../builders/service.ts';
import { uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import { OUR_FINALIZER, PROVIDER_ANNOTATION, UPSTREAM_FINALIZER } from '../../src/model/names.ts';
import type { ServiceController } from '../../src/controller/controller.ts';
import {
  deleteService,
  eventsOf,
  readService,
  readyOf,
  observedBy,
  startCluster,
  startController,
  waitForEvent,
  waitForService,
  type Cluster,
} from './support.ts';

const hasIngress = (s: k8s.V1Service) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0;
const noIngress = (s: k8s.V1Service) => (s.status?.loadBalancer?.ingress?.length ?? 0) === 0;

describe('Service lifecycle (fake provider, real apiserver)', () => {
  let cluster: Cluster;
  let ns: string;
  let controller: ServiceController | undefined;
  let fake: FakeProvider;
  let other: FakeProvider;

  beforeAll(async () => {
    cluster = await startCluster();
    ns = await uniqueNamespace(cluster.admin, 'life');
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  afterEach(async () => {
    await controller?.stop();
    controller = undefined;
  });

  async function start(
    opts: {
      defaultProvider?: string;
      resyncPeriodMs?: number;
      proxyIpMode?: boolean;
      keepClouds?: boolean;
      provisioningEnsures?: number;
    } = {},
  ) {
    // keepClouds: a restarted controller meets the same cloud, as in life
    if (!opts.keepClouds) {
      fake = new FakeProvider({
        name: 'fake',
        ...(opts.proxyIpMode ? { capabilities: { ipMode: 'Proxy' } } : {}),
        ...(opts.provisioningEnsures ? { provisioningEnsures: opts.provisioningEnsures } : {}),
      });
      other = new FakeProvider({ name: 'other', firstHost: 200 });
    }
    controller = await startController(cluster, {
      provisioningRecheckMs: 300,
      providers: [fake, other],
      defaultProvider: opts.defaultProvider ?? 'fake',
      ...(opts.resyncPeriodMs ? { resyncPeriodMs: opts.resyncPeriodMs } : {}),
    });
  }

  async function create(svc: k8s.V1Service): Promise<k8s.V1Service> {
    svc.metadata!.namespace = ns;
    return cluster.core.createNamespacedService({ namespace: ns, body: svc });
  }

  it('create: the finalizer and provider record come first, then the ingress, the Ready condition and Events', async () => {
    await start();
    await create(aService('create').withPorts(80, 443).manifest());
    const svc = await waitForService(cluster, ns, 'create', hasIngress, 'an ingress on create');
    expect(svc.metadata?.finalizers).toContain(UPSTREAM_FINALIZER);
    expect(svc.metadata?.annotations?.[PROVIDER_ANNOTATION]).toBe('fake');
    expect(svc.status?.loadBalancer?.ingress).toEqual([
      {
        ip: expect.stringMatching(/^198\.51\./),
        ipMode: 'VIP',
        ports: [
          { port: 80, protocol: 'TCP' },
          { port: 443, protocol: 'TCP' },
        ],
      },
    ]);
    expect(readyOf(svc)).toMatchObject({ status: 'True', reason: 'Provisioned' });
    const lb = fake.balancers.get(svc.metadata!.uid!);
    expect(lb?.lb.ports.map((p) => [p.port, p.nodePort])).toEqual(svc.spec!.ports!.map((p) => [p.port, p.nodePort]));
    await waitForEvent(cluster, ns, 'create', 'EnsuredLoadBalancer');
    const reasons = (await eventsOf(cluster, ns, 'create')).map((e) => e.reason);
    // the fake cloud answers at once: the result is the news, no progress Event before it (outcome.ts)
    expect(reasons).toContain('EnsuredLoadBalancer');
    expect(reasons).not.toContain('EnsuringLoadBalancer');
    await deleteService(cluster, ns, 'create');
  });

  it('a slow cloud: EnsuringLoadBalancer shows while the call runs, then EnsuredLoadBalancer', async () => {
    await start();
    const gate = fake.hold('ensure');
    await create(aService('slow').withPorts(80).manifest());
    await waitFor(() => gate.held().includes(`${ns}/slow`), { message: 'the ensure to be in flight' });
    await waitForEvent(cluster, ns, 'slow', 'EnsuringLoadBalancer');
    expect((await eventsOf(cluster, ns, 'slow')).map((e) => e.reason)).toEqual(['EnsuringLoadBalancer']);
    gate.release();
    await waitForEvent(cluster, ns, 'slow', 'EnsuredLoadBalancer');
    await deleteService(cluster, ns, 'slow');
  });

  it('port change: the load balancer follows and the address stays', async () => {
    await start();
    await create(aService('ports').withPorts(80).manifest());
    const before = await waitForService(cluster, ns, 'ports', hasIngress, 'an ingress');
    const ip = before.status!.loadBalancer!.ingress![0]!.ip;
    await cluster.core.patchNamespacedService(
      {
        name: 'ports',
        namespace: ns,
        body: [{ op: 'add', path: '/spec/ports/-', value: { name: 'dns', port: 53, protocol: 'UDP' } }],
      },
      (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/json-patch+json'),
    );
    const after = await waitForService(
      cluster,
      ns,
      'ports',
      (s) => s.status?.loadBalancer?.ingress?.[0]?.ports?.length === 2,
      'two ports in status',
    );
    expect(after.status!.loadBalancer!.ingress![0]!.ip).toBe(ip);
    expect(fake.balancers.get(after.metadata!.uid!)?.lb.ports.map((p) => `${p.port}/${p.protocol}`)).toEqual([
      '80/TCP',
      '53/UDP',
    ]);
    await waitForEvent(cluster, ns, 'ports', 'UpdatedLoadBalancer');
    await deleteService(cluster, ns, 'ports');
  });

  for (const withClass of [false, true]) {
    it(`type change to ClusterIP and back ${withClass ? 'with' : 'without'} a class: cleanup by the recorded provider`, async () => {
      await start();
      const name = withClass ? 'retype-class' : 'retype';
      const builder = aService(name).withPorts(80);
      if (withClass) builder.withClass('lbprovisioner.io/other');
      await create(builder.manifest());
      const provider = withClass ? other : fake;
      const svc = await waitForService(cluster, ns, name, hasIngress, 'an ingress');
      expect(svc.metadata?.finalizers).toEqual([withClass ? OUR_FINALIZER : UPSTREAM_FINALIZER]);
      const uid = svc.metadata!.uid!;
      expect(provider.balancers.has(uid)).toBe(true);

      // to ClusterIP: the apiserver wipes the class and the nodePorts
      await cluster.core.patchNamespacedService(
        {
          name,
          namespace: ns,
          body: [
            { op: 'replace', path: '/spec/type', value: 'ClusterIP' },
            ...(withClass ? [{ op: 'remove', path: '/spec/loadBalancerClass' }] : []),
          ],
        },
        (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/json-patch+json'),
      );
      const cleaned = await waitForService(
        cluster,
        ns,
        name,
        (s) => noIngress(s) && !s.metadata?.finalizers?.length && readyOf(s) === undefined,
        'cleanup after type change',
      );
      expect(provider.balancers.has(uid)).toBe(false);
      expect(provider.callsOf('delete', `${ns}/${name}`).length).toBeGreaterThanOrEqual(1);
      expect(cleaned.metadata?.annotations?.[PROVIDER_ANNOTATION]).toBeUndefined();
      expect(readyOf(cleaned)).toBeUndefined();

      // and back
      await cluster.core.patchNamespacedService(
        {
          name,
          namespace: ns,
          body: [
            { op: 'replace', path: '/spec/type', value: 'LoadBalancer' },
            ...(withClass ? [{ op: 'add', path: '/spec/loadBalancerClass', value: 'lbprovisioner.io/other' }] : []),
          ],
        },
        (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/json-patch+json'),
      );
      await waitForService(cluster, ns, name, hasIngress, 'an ingress again');
      expect(provider.balancers.has(uid)).toBe(true);
      await deleteService(cluster, ns, name);
      expect(provider.balancers.has(uid)).toBe(false);
    });
  }

  it('a graceful stop just after a build still records its Normal Event (held for the quiet second)', async () => {
    await start();
    await create(aService('last-words').withPorts(80).manifest());
    await waitForService(cluster, ns, 'last-words', hasIngress, 'an ingress');
    await controller!.stop();
    // read once, at once: the stop itself sent what the sync had recorded
    expect((await eventsOf(cluster, ns, 'last-words')).map((e) => e.reason)).toContain('EnsuredLoadBalancer');
    await start({ keepClouds: true });
    await deleteService(cluster, ns, 'last-words');
  });

  it('--default-provider changed with Services up: nothing moves', async () => {
    await start({ defaultProvider: 'fake' });
    await create(aService('stay').withPorts(80).manifest());
    const svc = await waitForService(cluster, ns, 'stay', hasIngress, 'an ingress');
    const ip = svc.status!.loadBalancer!.ingress![0]!.ip;
    await controller!.stop();
    const ensuresBefore = fake.callsOf('ensure', `${ns}/stay`).length;
    await start({ defaultProvider: 'other', keepClouds: true });
    // barrier: the new controller has seen the Service as it stands and done what it queued for it (the
    // sync every Service gets on taking the lease)
    await observedBy(
      controller!,
      'Service',
      `${ns}/stay`,
      (await readService(cluster, ns, 'stay'))?.metadata?.resourceVersion,
    );
    await waitFor(() => fake.callsOf('ensure', `${ns}/stay`).length > ensuresBefore || undefined, {
      message: 'the new controller to sync stay once',
      timeoutMs: 15_000,
    });
    await controller!.idle();
    // the new default is never asked; the recorded provider keeps the Service, its address, and writes nothing
    expect(other.calls.filter((c) => c.key === `${ns}/stay`)).toEqual([]);
    expect(fake.callsOf('ensure', `${ns}/stay`).length).toBe(ensuresBefore + 1);
    expect(controller!.writer.counts).toEqual({ metadata: 0, status: 0 });
    const after = await readService(cluster, ns, 'stay');
    expect(after?.metadata?.annotations?.[PROVIDER_ANNOTATION]).toBe('fake');
    expect(after?.status?.loadBalancer?.ingress?.[0]?.ip).toBe(ip);
    await deleteService(cluster, ns, 'stay');
  });

  it('class mismatch: a Service of another controller is never touched', async () => {
    await start();
    const created = [
      await create(aService('foreign').withPorts(80).withClass('example.com/other-lb').manifest()),
      await create(aService('unknown-ours').withPorts(80).withClass('lbprovisioner.io/aws').manifest()),
    ];
    // barrier: the controller has seen both (its handlers ran) and finished whatever they queued
    for (const c of created)
      await observedBy(controller!, 'Service', `${ns}/${c.metadata!.name}`, c.metadata!.resourceVersion);
    for (const name of ['foreign', 'unknown-ours']) {
      const svc = await readService(cluster, ns, name);
      expect(svc?.metadata?.finalizers ?? []).toEqual([]);
      expect(svc?.status?.loadBalancer?.ingress ?? []).toEqual([]);
      expect(await eventsOf(cluster, ns, name)).toEqual([]);
    }
    expect(
      [...fake.calls, ...other.calls].filter((c) => c.key.endsWith('/foreign') || c.key.endsWith('/unknown-ours')),
    ).toEqual([]);
    await cluster.core.deleteNamespacedService({ name: 'foreign', namespace: ns });
    await cluster.core.deleteNamespacedService({ name: 'unknown-ours', namespace: ns });
  });

  it('ipMode: VIP for announced data planes, Proxy for proxying ones; accepted by the apiserver', async () => {
    await start({ proxyIpMode: true });
    await create(aService('proxied').withPorts(80).manifest());
    await create(aService('announced').withPorts(80).withClass('lbprovisioner.io/other').manifest());
    const proxied = await waitForService(cluster, ns, 'proxied', hasIngress, 'an ingress');
    const announced = await waitForService(cluster, ns, 'announced', hasIngress, 'an ingress');
    expect(proxied.status!.loadBalancer!.ingress![0]!.ipMode).toBe('Proxy');
    expect(announced.status!.loadBalancer!.ingress![0]!.ipMode).toBe('VIP');
    await deleteService(cluster, ns, 'proxied');
    await deleteService(cluster, ns, 'announced');
  });

  it('allocateLoadBalancerNodePorts false: InvalidSpec for a NodePort data plane, and nothing is built', async () => {
    await start();
    await create(
      aService('no-nodeports')
        .withPorts(80)
        .with((s) => (s.spec!.allocateLoadBalancerNodePorts = false))
        .manifest(),
    );
    const svc = await waitForService(
      cluster,
      ns,
      'no-nodeports',
      (s) => readyOf(s)?.status === 'False',
      'an InvalidSpec condition',
    );
    expect(readyOf(svc)).toMatchObject({
      reason: 'InvalidSpec',
      message: expect.stringContaining('port 80/TCP has no nodePort'),
    });
    expect((await waitForEvent(cluster, ns, 'no-nodeports', 'InvalidSpec')).type).toBe('Warning');
    expect(fake.callsOf('ensure', `${ns}/no-nodeports`)).toEqual([]);
    await deleteService(cluster, ns, 'no-nodeports');
  });

  it('a load balancer still provisioning shows Provisioning, and turns Ready by itself once the cloud is done', async () => {
    await start({ provisioningEnsures: 2 });
    await create(aService('slow').withPorts(80).manifest());
    const provisioning = await waitForService(
      cluster,
      ns,
      'slow',
      (s) => readyOf(s)?.reason === 'Provisioning',
      'Provisioning',
    );
    expect(readyOf(provisioning)?.status).toBe('False');
    const ready = await waitForService(
      cluster,
      ns,
      'slow',
      (s) => readyOf(s)?.status === 'True',
      'Ready without any change',
      5000,
    );
    expect(readyOf(ready)?.reason).toBe('Provisioned');
    // one ensure per recheck (300 ms apart): our own writes coming back as watch events do not ensure again
    const ensures = fake.callsOf('ensure', `${ns}/slow`);
    expect(ensures.length).toBe(3);
    expect(ensures[1]!.at - ensures[0]!.at).toBeGreaterThanOrEqual(250);
    expect(ensures[2]!.at - ensures[1]!.at).toBeGreaterThanOrEqual(250);
    await deleteService(cluster, ns, 'slow');
  });

  it('delete: cleanup runs, the finalizer goes, the object goes', async () => {
    await start();
    await create(aService('gone').withPorts(80).manifest());
    const svc = await waitForService(cluster, ns, 'gone', hasIngress, 'an ingress');
    await deleteService(cluster, ns, 'gone');
    expect(fake.balancers.has(svc.metadata!.uid!)).toBe(false);
    expect(fake.callsOf('delete', `${ns}/gone`).length).toBe(1);
  });

  it('a failing delete keeps the finalizer, says why, and finishes once the cloud recovers', async () => {
    await start();
    await create(aService('stubborn').withPorts(80).manifest());
    const svc = await waitForService(cluster, ns, 'stubborn', hasIngress, 'an ingress');
    fake.failNext('delete', new Error('cloud API unavailable'), 2);
    await cluster.core.deleteNamespacedService({ name: 'stubborn', namespace: ns });
    const warning = await waitForEvent(cluster, ns, 'stubborn', 'SyncLoadBalancerFailed');
    expect(warning.type).toBe('Warning');
    expect(warning.message).toBe('error syncing load balancer: cloud API unavailable');
    await deleteService(cluster, ns, 'stubborn');
    expect(fake.balancers.has(svc.metadata!.uid!)).toBe(false);
    expect(fake.callsOf('delete', `${ns}/stubborn`).length).toBe(3);
  });

  it('drift: a load balancer deleted by hand in the cloud is rebuilt by the drift pass; a pass with nothing to repair writes nothing', async () => {
    await start({ resyncPeriodMs: 1500 });
    await create(aService('drift').withPorts(80).manifest());
    const svc = await waitForService(cluster, ns, 'drift', hasIngress, 'an ingress');
    const uid = svc.metadata!.uid!;
    const ensures = fake.callsOf('ensure', `${ns}/drift`).length;
    fake.deleteBehindOurBack(uid);
    await import('../harness/fixtures.ts').then(({ waitFor }) =>
      waitFor(() => fake.balancers.has(uid) || undefined, {
        message: 'the drift pass to rebuild the load balancer',
        timeoutMs: 10_000,
      }),
    );
    expect(fake.callsOf('ensure', `${ns}/drift`).length).toBeGreaterThan(ensures);
    // the fake cloud hands out a new address for a rebuilt load balancer, so status follows (one write);
    // a drift pass that finds nothing to repair writes nothing
    const statusWrites = controller!.writer.counts.status;
    const repaired = fake.callsOf('ensure', `${ns}/drift`).length;
    await import('../harness/fixtures.ts').then(({ waitFor }) =>
      waitFor(() => fake.callsOf('ensure', `${ns}/drift`).length > repaired + 1 || undefined, {
        message: 'two more drift passes',
        timeoutMs: 10_000,
      }),
    );
    expect(controller!.writer.counts.status).toBe(statusWrites);
    await deleteService(cluster, ns, 'drift');
  });
});
