/** The Service writer against a real apiserver: what a patch leaves on the Service, and errors as kubectl says them. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../devcluster/controlplane.ts';
import type { ServiceObject } from '../model/objects.ts';
import { describeApiError } from './api-error.ts';
import { withConnectionPool } from './client.ts';
import { FIELD_MANAGER, ServiceWriter } from './service-writer.ts';

describe('ServiceWriter', () => {
  let cp: ControlPlane;
  let core: k8s.CoreV1Api;
  let writer: ServiceWriter;
  let svc: ServiceObject;
  beforeAll(async () => {
    cp = await startControlPlane();
    const kc = withConnectionPool(cp.kubeConfig());
    core = kc.makeApiClient(k8s.CoreV1Api);
    writer = new ServiceWriter(kc);
    svc = (await core.createNamespacedService({
      namespace: 'default',
      body: {
        metadata: { name: 'web', finalizers: ['example.com/theirs'] },
        spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
      },
    })) as ServiceObject;
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it("adds our finalizer and annotation beside another controller's, and returns the Service as written", async () => {
    const written = await writer.patchMetadata(svc, {
      addFinalizers: ['lbprovisioner.io/load-balancer-cleanup'],
      annotations: { 'lbprovisioner.io/provider': 'fake' },
    });
    const read = await core.readNamespacedService({ name: 'web', namespace: 'default' });
    expect([...(read.metadata?.finalizers ?? [])].sort()).toEqual([
      'example.com/theirs',
      'lbprovisioner.io/load-balancer-cleanup',
    ]);
    expect(written.metadata?.finalizers).toEqual(read.metadata?.finalizers);
    expect(written.metadata?.annotations?.['lbprovisioner.io/provider']).toBe('fake');
    expect(written.metadata?.resourceVersion).toBe(read.metadata?.resourceVersion);
    expect(read.metadata?.managedFields?.some((f) => f.manager === FIELD_MANAGER)).toBe(true);
    svc = written;
  });

  it('writes the ingress and a condition into status, and removes them again', async () => {
    const condition = {
      type: 'lbprovisioner.io/LoadBalancerReady',
      status: 'True',
      reason: 'Provisioned',
      message: 'the load balancer is ready',
      lastTransitionTime: new Date().toISOString(),
    };
    const written = await writer.patchStatus(svc, { ingress: [{ ip: '198.51.100.7' }], condition });
    expect(written.status?.loadBalancer?.ingress?.map((i) => i.ip)).toEqual(['198.51.100.7']);
    expect(written.status?.conditions?.map((c) => c.type)).toEqual([condition.type]);
    const cleared = await writer.patchStatus(written, { ingress: null, removeConditionType: condition.type });
    const read = await core.readNamespacedService({ name: 'web', namespace: 'default' });
    expect(read.status?.loadBalancer?.ingress ?? []).toEqual([]);
    expect(read.status?.conditions ?? []).toEqual([]);
    expect(cleared.metadata?.resourceVersion).toBe(read.metadata?.resourceVersion);
  });

  it('ifUnchanged: a write computed from an older version is refused (409 Conflict) and changes nothing', async () => {
    const before = await writer.read('default', 'web');
    // someone else's write: what we read is behind now
    const edited = await core.patchNamespacedService(
      { name: 'web', namespace: 'default', body: { metadata: { labels: { edited: 'yes' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const stale = before!;
    const metadata = await writer
      .patchMetadata(stale, { annotations: { 'lbprovisioner.io/allocated-ips': '198.51.100.9' }, ifUnchanged: true })
      .catch((e: unknown) => e);
    expect(describeApiError(metadata)).toMatch(/the object has been modified.*\(409 Conflict\)$/);
    const status = await writer
      .patchStatus(stale, { ingress: [{ ip: '198.51.100.9' }], ifUnchanged: true })
      .catch((e: unknown) => e);
    expect(describeApiError(status)).toMatch(/\(409 Conflict\)$/);
    const after = await writer.read('default', 'web');
    expect(after?.metadata?.resourceVersion).toBe(edited.metadata?.resourceVersion);
    expect(after?.metadata?.annotations?.['lbprovisioner.io/allocated-ips']).toBeUndefined();
    expect(after?.status?.loadBalancer?.ingress ?? []).toEqual([]);

    // from the version it is now, both apply
    const written = await writer.patchMetadata(after!, {
      annotations: { 'lbprovisioner.io/allocated-ips': '198.51.100.9' },
      ifUnchanged: true,
    });
    const shown = await writer.patchStatus(written, { ingress: [{ ip: '198.51.100.9' }], ifUnchanged: true });
    expect(shown.status?.loadBalancer?.ingress?.map((i) => i.ip)).toEqual(['198.51.100.9']);
    expect(shown.metadata?.annotations?.['lbprovisioner.io/allocated-ips']).toBe('198.51.100.9');
    svc = shown;
  });

  it('read: the Service as the apiserver has it, as plain JSON; undefined once it is gone', async () => {
    const read = await writer.read('default', 'web');
    const typed = await core.readNamespacedService({ name: 'web', namespace: 'default' });
    expect(read?.metadata?.resourceVersion).toBe(typed.metadata?.resourceVersion);
    expect(read?.metadata?.annotations?.['lbprovisioner.io/allocated-ips']).toBe('198.51.100.9');
    expect(typeof read?.metadata?.creationTimestamp).toBe('string');
    expect(await writer.read('default', 'gone')).toBeUndefined();
  });

  it("fails on a Service that isn't there with the apiserver's answer, as kubectl says it", async () => {
    const gone = { metadata: { name: 'gone', namespace: 'default' } };
    const err = await writer.patchMetadata(gone, { annotations: { a: 'b' } }).catch((e: unknown) => e);
    expect((err as { code?: number }).code).toBe(404);
    expect(describeApiError(err)).toBe('services "gone" not found (404 NotFound)');
  });
});
