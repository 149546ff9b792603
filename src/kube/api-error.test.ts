/** API errors read like kubectl's, from what a real apiserver answers (no client-node dump reaches a user). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../devcluster/controlplane.ts';
import { freePort } from '../devcluster/ports.ts';
import { apiStatusCode, describeApiError } from './api-error.ts';

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the request to fail');
}

describe('describeApiError against a real apiserver', () => {
  let cp: ControlPlane;
  let admin: k8s.KubeConfig;

  beforeAll(async () => {
    cp = await startControlPlane();
    admin = cp.kubeConfig();
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('a missing namespace', async () => {
    const err = await failure(
      admin.makeApiClient(k8s.CoordinationV1Api).createNamespacedLease({
        namespace: 'lb-provisioner',
        body: { metadata: { name: 'x' }, spec: {} },
      }),
    );
    expect(String(err)).toContain('HTTP-Code'); // what client-node would have us print
    expect(describeApiError(err)).toBe('namespaces "lb-provisioner" not found (404 NotFound)');
    expect(apiStatusCode(err)).toBe(404);
  });

  it('a forbidden request names the user and the verb', async () => {
    const core = admin.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'nobody' } } });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(await cp.serviceAccountKubeconfig('default', 'nobody'));
    const err = await failure(kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: 'n' } } }));
    expect(describeApiError(err)).toBe(
      'namespaces is forbidden: User "system:serviceaccount:default:nobody" cannot create resource "namespaces" in API group "" at the cluster scope (403 Forbidden)',
    );
  });

  it('a resource the server does not serve (an IPPool CRD not installed)', async () => {
    const err = await failure(
      admin
        .makeApiClient(k8s.CustomObjectsApi)
        .listClusterCustomObject({ group: 'lbprovisioner.io', version: 'v1alpha1', plural: 'ippools' }),
    );
    expect(describeApiError(err)).toBe('the server could not find the requested resource (404 NotFound)');
  });

  it('a conflict', async () => {
    const core = admin.makeApiClient(k8s.CoreV1Api);
    const err = await failure(core.createNamespace({ body: { metadata: { name: 'default' } } }));
    expect(describeApiError(err)).toBe('namespaces "default" already exists (409 AlreadyExists)');
  });

  it('an apiserver nobody answers at, and a request that times out', async () => {
    const port = await freePort('127.0.0.1');
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const err = await failure(kc.makeApiClient(k8s.CoreV1Api).listNamespace());
    expect(describeApiError(err)).toBe(`cannot reach the apiserver: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(describeApiError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toBe(
      'the request to the apiserver timed out',
    );
  });
});
