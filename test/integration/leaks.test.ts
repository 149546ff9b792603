/**
 * No load balancer outlives its Service: a Service that vanishes without our cleanup (finalizer removed by
 * hand), one re-created under the same name, one deleted while the controller was down (the orphan sweep),
 * and Services whose finalizer nobody here can release say so. Fake provider, real apiserver.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { FakeProvider } from '../../providers/fake/provider.ts';
import { aService } from '../builders/service.ts';
import { uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import { OUR_FINALIZER, PROVIDER_ANNOTATION, UPSTREAM_FINALIZER } from '../../src/model/names.ts';
import type { ServiceController } from '../../src/controller/controller.ts';
import { readService, startCluster, startController, waitForEvent, waitForService, type Cluster } from './support.ts';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const hasIngress = (s: k8s.V1Service) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0;

describe('no load balancer outlives its Service (fake provider, real apiserver)', () => {
  let cluster: Cluster;
  let ns: string;
  let fake: FakeProvider;
  let controller: ServiceController | undefined;

  beforeAll(async () => {
    cluster = await startCluster();
    ns = await uniqueNamespace(cluster.admin, 'leaks');
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  afterEach(async () => {
    await controller?.stop();
    controller = undefined;
  });

  async function start(keepCloud = false): Promise<void> {
    if (!keepCloud) fake = new FakeProvider();
    controller = await startController(cluster, { providers: [fake] });
  }

  async function createReady(name: string, build = aService(name, ns).withPorts(80)): Promise<string> {
    await cluster.core.createNamespacedService({ namespace: ns, body: build.manifest() });
    const svc = await waitForService(cluster, ns, name, hasIngress, `${name} to get an address`);
    const uid = svc.metadata!.uid!;
    expect(fake.balancers.has(uid)).toBe(true);
    return uid;
  }

  /** What a user (or a namespace force-delete) does: strip the finalizers, then delete. */
  async function deleteBehindOurBack(name: string): Promise<void> {
    await cluster.core.patchNamespacedService({ name, namespace: ns, body: { metadata: { finalizers: null } } }, MERGE);
    await cluster.core.deleteNamespacedService({ name, namespace: ns });
  }

  it('a Service deleted after its finalizer was removed by hand: its load balancer is deleted from what was applied', async () => {
    await start();
    const uid = await createReady('stripped');
    await deleteBehindOurBack('stripped');
    await waitFor(() => !fake.balancers.has(uid) || undefined, { message: 'the load balancer to be deleted' });
    expect(fake.callsOf('delete', `${ns}/stripped`).length).toBeGreaterThanOrEqual(1);
  });

  it('a Service re-created under the same name is a new Service: the old UID goes, the new one is built', async () => {
    await start();
    const oldUid = await createReady('reborn');
    await deleteBehindOurBack('reborn');
    await cluster.core.createNamespacedService({
      namespace: ns,
      body: aService('reborn', ns).withPorts(80).manifest(),
    });
    const svc = await waitForService(
      cluster,
      ns,
      'reborn',
      (s) => hasIngress(s) && s.metadata!.uid !== oldUid,
      'the new Service to get an address',
    );
    const newUid = svc.metadata!.uid!;
    await waitFor(() => !fake.balancers.has(oldUid) || undefined, { message: 'the old load balancer to go' });
    expect(fake.balancers.has(newUid)).toBe(true);
    await cluster.core.deleteNamespacedService({ name: 'reborn', namespace: ns });
    await waitFor(() => !fake.balancers.has(newUid) || undefined, { message: 'the new load balancer to go' });
  });

  it("deleted while the controller was down: the orphan sweep deletes it at start, and never another cluster's", async () => {
    await start();
    const uid = await createReady('while-down');
    await controller!.stop({ crash: true });
    controller = undefined;
    await deleteBehindOurBack('while-down');
    // a load balancer of another cluster that happens to name a Service of this namespace
    const foreignRef = { clusterName: 'another-cluster', namespace: ns, name: 'while-down', uid: 'foreign' };
    fake.balancers.set('foreign', { ref: foreignRef, ip: '203.0.113.1', spec: '', targets: [], lb: {} as never });

    await start(true);
    await waitFor(() => !fake.balancers.has(uid) || undefined, { message: 'the orphan to be deleted at start' });
    expect(fake.balancers.has('foreign')).toBe(true);
    const deleted = await controller!.metrics.orphansDeleted.get();
    expect(deleted.values.find((v) => v.labels['provider'] === 'fake')?.value).toBe(1);
    fake.balancers.delete('foreign');
  });

  it('an orphan whose Service exists but is no longer ours (class now names another controller) is deleted', async () => {
    await start();
    const uid = await createReady('moved');
    await controller!.stop({ crash: true });
    controller = undefined;
    // someone strips our finalizer and record and hands the Service to another controller
    await cluster.core.patchNamespacedService(
      {
        name: 'moved',
        namespace: ns,
        body: { metadata: { finalizers: null, annotations: { [PROVIDER_ANNOTATION]: null } } },
      },
      MERGE,
    );
    await cluster.core.patchNamespacedService(
      { name: 'moved', namespace: ns, body: { spec: { type: 'ClusterIP', loadBalancerClass: null } } },
      MERGE,
    );
    await start(true);
    await waitFor(() => !fake.balancers.has(uid) || undefined, { message: 'the orphan to be deleted' });
    await cluster.core.deleteNamespacedService({ name: 'moved', namespace: ns });
  });

  it('a Service recorded for a provider this controller does not run: a Warning names the finalizer and the fix', async () => {
    await start();
    const body = aService('elsewhere', ns)
      .withPorts(80)
      .withFinalizers(UPSTREAM_FINALIZER)
      .withAnnotations({ [PROVIDER_ANNOTATION]: 'aws' })
      .manifest();
    await cluster.core.createNamespacedService({ namespace: ns, body });
    const event = await waitForEvent(cluster, ns, 'elsewhere', 'ProviderNotRunning');
    expect(event.type).toBe('Warning');
    expect(event.message).toContain(UPSTREAM_FINALIZER);
    expect(event.message).toContain('--provider aws');
    expect(fake.callsOf('ensure', `${ns}/elsewhere`)).toEqual([]);
    await deleteBehindOurBack('elsewhere');
  });

  it('our record removed and the type changed: this controller still knows the provider and cleans up', async () => {
    await start();
    const uid = await createReady(
      'unrecorded',
      aService('unrecorded', ns).withPorts(80).withClass('lbprovisioner.io/fake'),
    );
    await stripRecordAndType('unrecorded');
    await waitFor(() => !fake.balancers.has(uid) || undefined, { message: 'the load balancer to be deleted' });
    const svc = await waitForService(
      cluster,
      ns,
      'unrecorded',
      (s) => !(s.metadata?.finalizers ?? []).includes(OUR_FINALIZER),
      'our finalizer to go',
    );
    expect(svc.spec?.type).toBe('ClusterIP');
  });

  it('our record removed and the type changed while we were down: the provider listing its load balancer cleans up', async () => {
    await start();
    const uid = await createReady(
      'lost-record',
      aService('lost-record', ns).withPorts(80).withClass('lbprovisioner.io/fake'),
    );
    await controller!.stop({ crash: true });
    controller = undefined;
    await stripRecordAndType('lost-record');
    await start(true);
    await waitFor(() => !fake.balancers.has(uid) || undefined, { message: 'the load balancer to be deleted' });
    await waitForService(
      cluster,
      ns,
      'lost-record',
      (s) => !(s.metadata?.finalizers ?? []).includes(OUR_FINALIZER),
      'our finalizer to go',
    );
  });

  it('our record removed, the type changed and no provider knows it: a Warning names the finalizer and how to release it', async () => {
    await start();
    const uid = await createReady(
      'no-trace',
      aService('no-trace', ns).withPorts(80).withClass('lbprovisioner.io/fake'),
    );
    await controller!.stop({ crash: true });
    controller = undefined;
    fake.balancers.delete(uid); // deleted in the cloud by hand
    await stripRecordAndType('no-trace');
    await start(true);
    const event = await waitForEvent(cluster, ns, 'no-trace', 'UnknownProvider');
    expect(event.type).toBe('Warning');
    expect(event.message).toContain(OUR_FINALIZER);
    expect(event.message).toContain('patch service no-trace');
    expect((await readService(cluster, ns, 'no-trace'))?.metadata?.finalizers).toContain(OUR_FINALIZER);
    await deleteBehindOurBack('no-trace');
  });

  async function stripRecordAndType(name: string): Promise<void> {
    await cluster.core.patchNamespacedService(
      { name, namespace: ns, body: { metadata: { annotations: { [PROVIDER_ANNOTATION]: null } } } },
      MERGE,
    );
    await cluster.core.patchNamespacedService({ name, namespace: ns, body: { spec: { type: 'ClusterIP' } } }, MERGE);
  }
});
