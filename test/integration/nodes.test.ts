/** Node churn reaches load balancers through updateTargets(), coalesced, never through a full ensure. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { FakeProvider } from '../../providers/fake/provider.ts';
import { aService } from '../builders/service.ts';
import { createNode, deleteNode, uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import { EXCLUDE_FROM_LB_LABEL, TO_BE_DELETED_TAINT } from '../../src/model/names.ts';
import type { ServiceController } from '../../src/controller/controller.ts';
import { deleteService, observedBy, startCluster, startController, waitForService, type Cluster } from './support.ts';

describe('node sync (fake provider, real apiserver)', () => {
  let cluster: Cluster;
  let ns: string;
  let controller: ServiceController;
  let fake: FakeProvider;
  const services = ['alpha', 'beta', 'gamma'];

  const lastTargets = (name: string) => fake.callsOf('updateTargets', `${ns}/${name}`).at(-1)?.targets;
  const waitForTargets = (expected: string[]) =>
    waitFor(() => services.every((s) => JSON.stringify(lastTargets(s)) === JSON.stringify(expected)) || undefined, {
      message: `every load balancer to target ${expected.join(',')}`,
      timeoutMs: 10_000,
    });

  beforeAll(async () => {
    cluster = await startCluster();
    ns = await uniqueNamespace(cluster.admin, 'nodes');
    for (const n of ['n1', 'n2']) await createNode(cluster.admin, { name: n, internalIP: `10.1.0.${n.slice(1)}` });
    fake = new FakeProvider();
    controller = await startController(cluster, { providers: [fake] });
    for (const name of services) {
      const svc = aService(name, ns).withPorts(80).manifest();
      await cluster.core.createNamespacedService({ namespace: ns, body: svc });
      await waitForService(cluster, ns, name, (s) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0, 'an ingress');
    }
  });
  afterAll(async () => {
    for (const name of services) await deleteService(cluster, ns, name).catch(() => {});
    await controller?.stop();
    await cluster?.stop();
  });

  it('builds each load balancer on the nodes there are', () => {
    for (const name of services) expect(fake.callsOf('ensure', `${ns}/${name}`).at(-1)?.targets).toEqual(['n1', 'n2']);
  });

  it('node added: every load balancer gets updateTargets with the new set, and no full ensure', async () => {
    const ensures = fake.callsOf('ensure').length;
    await createNode(cluster.admin, { name: 'n3', internalIP: '10.1.0.3' });
    await waitForTargets(['n1', 'n2', 'n3']);
    expect(fake.callsOf('ensure').length).toBe(ensures);
  });

  it('node excluded by label: it leaves every target set', async () => {
    await cluster.core.patchNode(
      { name: 'n2', body: { metadata: { labels: { [EXCLUDE_FROM_LB_LABEL]: 'true' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitForTargets(['n1', 'n3']);
  });

  it('node deleted: it leaves every target set', async () => {
    await deleteNode(cluster.admin, 'n1');
    await waitForTargets(['n3']);
  });

  it('a taint alone triggers no sync (health checks drain, KEP-3458)', async () => {
    const before = fake.calls.length;
    const tainted = await cluster.core.patchNode(
      { name: 'n3', body: { spec: { taints: [{ key: TO_BE_DELETED_TAINT, effect: 'NoSchedule', value: '1' }] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    // barrier: the controller has seen the taint, and any node sync it would coalesce and queue is done
    await observedBy(controller, 'Node', 'n3', tainted.metadata?.resourceVersion);
    expect(fake.calls.length).toBe(before);
    await cluster.core.patchNode(
      { name: 'n3', body: { spec: { taints: null } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  });

  it('a Service created after a node was tainted for deletion gets the same targets as the others (one stable set)', async () => {
    await cluster.core.patchNode(
      { name: 'n3', body: { spec: { taints: [{ key: TO_BE_DELETED_TAINT, effect: 'NoSchedule', value: '1' }] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await cluster.core.createNamespacedService({ namespace: ns, body: aService('late', ns).withPorts(80).manifest() });
    await waitForService(cluster, ns, 'late', (s) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0, 'an ingress');
    const everyone = services.map((s) => lastTargets(s));
    expect(everyone).toEqual([['n3'], ['n3'], ['n3']]);
    expect(fake.callsOf('ensure', `${ns}/late`).at(-1)?.targets).toEqual(['n3']);
    await deleteService(cluster, ns, 'late');
    await cluster.core.patchNode(
      { name: 'n3', body: { spec: { taints: null } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  });

  it('a node label change reaches every load balancer at once (target-node-label selectors read labels)', async () => {
    const labelOf = (name: string) =>
      [...fake.balancers.values()]
        .find((b) => b.ref.namespace === ns && b.ref.name === name)
        ?.lb.targets.find((t) => t.name === 'n3')?.labels['node-pool'];
    await cluster.core.patchNode(
      { name: 'n3', body: { metadata: { labels: { 'node-pool': 'edge' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitFor(() => services.every((s) => labelOf(s) === 'edge') || undefined, {
      message: 'every load balancer to see the new label (no drift pass runs here)',
      timeoutMs: 10_000,
    });
  });

  it('a burst of 20 node additions coalesces into a few updates per load balancer', async () => {
    const before = fake.callsOf('updateTargets').length;
    const names = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
    await Promise.all(names.map((name, i) => createNode(cluster.admin, { name, internalIP: `10.2.0.${i + 1}` })));
    await waitForTargets([...names, 'n3'].sort());
    const perService = (fake.callsOf('updateTargets').length - before) / services.length;
    expect(perService).toBeLessThanOrEqual(4);
    await Promise.all(names.map((name) => deleteNode(cluster.admin, name)));
    await waitForTargets(['n3']);
  });
});

describe('node sync fan-out: targets-only syncs run beyond --workers (fake provider, real apiserver)', () => {
  let cluster: Cluster;
  let ns: string;
  let controller: ServiceController;
  let fake: FakeProvider;
  const services = Array.from({ length: 6 }, (_, i) => `fan-${i}`);

  const targetsOf = (name: string) =>
    [...fake.balancers.values()].find((b) => b.ref.namespace === ns && b.ref.name === name)?.targets;

  beforeAll(async () => {
    cluster = await startCluster();
    ns = await uniqueNamespace(cluster.admin, 'fanout');
    await createNode(cluster.admin, { name: 'f1', internalIP: '10.3.0.1' });
    fake = new FakeProvider();
    controller = await startController(cluster, {
      providers: [fake],
      workers: 1,
      nodeSyncConcurrency: services.length,
    });
    for (const name of services)
      await cluster.core.createNamespacedService({ namespace: ns, body: aService(name, ns).withPorts(80).manifest() });
    for (const name of services)
      await waitForService(cluster, ns, name, (s) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0, 'an ingress');
  });
  afterAll(async () => {
    for (const name of services) await deleteService(cluster, ns, name).catch(() => {});
    await controller?.stop();
    await cluster?.stop();
  });

  it('a node added: every updateTargets is in flight at once with one Service worker; a key changed meanwhile waits for its own', async () => {
    const gate = fake.hold('updateTargets');
    await createNode(cluster.admin, { name: 'f2', internalIP: '10.3.0.2' });
    await waitFor(() => gate.held().length === services.length || undefined, {
      message: `all ${services.length} updateTargets calls in flight at once (--workers 1)`,
      timeoutMs: 15_000,
    });
    // while they are held: another node, and a port added to fan-0 (a full sync of a key in flight)
    const ensures = fake.callsOf('ensure', `${ns}/fan-0`).length;
    await createNode(cluster.admin, { name: 'f3', internalIP: '10.3.0.3' });
    const patched = await cluster.core.patchNamespacedService(
      { name: 'fan-0', namespace: ns, body: { spec: { ports: [{ port: 80 }, { name: 'https', port: 443 }] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    await waitFor(
      () => controller.hasObserved('Service', `${ns}/fan-0`, patched.metadata!.resourceVersion!) || undefined,
      {
        message: 'the controller to see the port added',
      },
    );
    expect(fake.callsOf('ensure', `${ns}/fan-0`)).toHaveLength(ensures);
    expect([...gate.held()].sort()).toEqual(services.map((s) => `${ns}/${s}`).sort());

    gate.release();
    await waitFor(() => services.every((s) => targetsOf(s)?.join() === 'f1,f2,f3') || undefined, {
      message: 'every load balancer to target f1, f2, f3',
      timeoutMs: 15_000,
    });
    await waitFor(
      () => [...fake.balancers.values()].find((b) => b.ref.name === 'fan-0')?.lb.ports.length === 2 || undefined,
      { message: 'fan-0 ensured with its new port' },
    );
    expect(fake.overlapping).toBe(0);
  });
});

describe('node sync after a quiet period: no wait for the coalescing window (fake provider, real apiserver)', () => {
  let cluster: Cluster;
  let ns: string;
  let controller: ServiceController;
  let fake: FakeProvider;
  const services = ['one', 'two'];

  beforeAll(async () => {
    cluster = await startCluster();
    ns = await uniqueNamespace(cluster.admin, 'quiet');
    for (const n of ['q1', 'q2']) await createNode(cluster.admin, { name: n, internalIP: `10.4.0.${n.slice(1)}` });
    fake = new FakeProvider();
    // a window far longer than the test may take: only a sync at once passes
    controller = await startController(cluster, { providers: [fake], nodeSyncDelayMs: 600_000 });
    for (const name of services) {
      await cluster.core.createNamespacedService({ namespace: ns, body: aService(name, ns).withPorts(80).manifest() });
      await waitForService(cluster, ns, name, (s) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0, 'an ingress');
    }
  });
  afterAll(async () => {
    for (const name of services) await deleteService(cluster, ns, name).catch(() => {});
    await controller?.stop();
    await cluster?.stop();
  });

  it('the first node change reaches every load balancer at once; idle() waits for that sync, not for the window', async () => {
    // one event (a node's creation is two: the Node, then its status)
    const excluded = await cluster.core.patchNode(
      { name: 'q2', body: { metadata: { labels: { [EXCLUDE_FROM_LB_LABEL]: 'true' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await observedBy(controller, 'Node', 'q2', excluded.metadata?.resourceVersion);
    for (const name of services) expect(fake.callsOf('updateTargets', `${ns}/${name}`).at(-1)?.targets).toEqual(['q1']);
  }, 15_000);
});
