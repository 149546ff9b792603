import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from './controlplane.ts';
import { createNode, deleteNode, uniqueNamespace, waitFor } from '../../test/harness/fixtures.ts';

// Another loopback address stands in for a test bridge: it exercises the forwarder and the SAN.
const BRIDGE_ADDRESS = '127.0.0.2';
const COLD_BUILD_MS = 40 * 60_000;

const inRange = (port: number | undefined): boolean => port !== undefined && port >= 20000 && port <= 59999;

describe('test control plane', () => {
  let cp: ControlPlane;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;

  beforeAll(async () => {
    cp = await startControlPlane({
      bridgeAddress: BRIDGE_ADDRESS,
      // only a cold build says anything, and it should not look hung
      log: (line) => line.startsWith('build-control-plane:') && process.stderr.write(`${line}\n`),
    });
    kc = cp.kubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
  }, COLD_BUILD_MS);

  afterAll(async () => {
    await cp?.stop();
  });

  it('is ready and answers kubectl as admin', async () => {
    const readyz = await cp.kubectl(['get', '--raw', '/readyz']);
    expect(readyz).toMatchObject({ code: 0, stdout: 'ok' });

    const namespaces = await cp.kubectl(['get', 'ns', '-o', 'name']);
    expect(namespaces.code).toBe(0);
    expect(namespaces.stdout.split('\n')).toEqual(
      expect.arrayContaining(['namespace/default', 'namespace/kube-system']),
    );

    const manifest =
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-stdin, namespace: default}\ndata: {k: v}\n';
    expect(await cp.kubectl(['apply', '-f', '-'], { input: manifest })).toMatchObject({ code: 0 });
    const data = await cp.kubectl(['get', 'configmap', 'from-stdin', '-o', 'jsonpath={.data.k}']);
    expect(data.stdout).toBe('v');
  });

  it('allocates nodePorts and a healthCheckNodePort in the wide range for a LoadBalancer Service', async () => {
    const namespace = await uniqueNamespace(kc, 'harness-lb');
    const created = await core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          type: 'LoadBalancer',
          externalTrafficPolicy: 'Local',
          selector: { app: 'web' },
          ports: [
            { name: 'http', port: 80, protocol: 'TCP' },
            { name: 'https', port: 443, protocol: 'TCP' },
          ],
        },
      },
    });

    const read = await core.readNamespacedService({ namespace, name: 'web' });
    expect(read.metadata?.uid).toBe(created.metadata?.uid);
    const nodePorts = (read.spec?.ports ?? []).map((p) => p.nodePort);
    expect(nodePorts).toHaveLength(2);
    expect(nodePorts.every(inRange)).toBe(true);
    expect(new Set(nodePorts).size).toBe(2);
    expect(inRange(read.spec?.healthCheckNodePort)).toBe(true);
    expect(read.spec?.clusterIP).toMatch(/^10\.96\./);
  });

  it('gives a RequireDualStack Service one clusterIP per family', async () => {
    const namespace = await uniqueNamespace(kc, 'harness-ds');
    const svc = await core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'dual' },
        spec: { ipFamilyPolicy: 'RequireDualStack', ports: [{ port: 53, protocol: 'UDP' }] },
      },
    });

    expect(svc.spec?.ipFamilies).toEqual(['IPv4', 'IPv6']);
    expect(svc.spec?.clusterIPs).toHaveLength(2);
    expect(svc.spec?.clusterIPs?.[0]).toMatch(/^10\.96\./);
    expect(svc.spec?.clusterIPs?.[1]).toMatch(/^fd00:10:96::/);
  });

  it('runs a ServiceAccount kubeconfig under its RBAC only, also through the bridge address', async () => {
    const namespace = await uniqueNamespace(kc, 'harness-sa');
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'ctl' } } });
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'read-services' },
        rules: [{ apiGroups: [''], resources: ['services'], verbs: ['list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'ctl-read-services' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-services' },
        subjects: [{ kind: 'ServiceAccount', name: 'ctl', namespace }],
      },
    });

    const saKc = new k8s.KubeConfig();
    saKc.loadFromFile(await cp.serviceAccountKubeconfig(namespace, 'ctl', { server: cp.bridgeUrl }));
    expect(saKc.getCurrentCluster()?.server).toBe(cp.bridgeUrl);
    const review = await saKc.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${namespace}:ctl`);

    const saCore = saKc.makeApiClient(k8s.CoreV1Api);
    const services = await saCore.listNamespacedService({ namespace });
    expect(services.items).toEqual([]);
    await expect(saCore.listNamespacedSecret({ namespace })).rejects.toMatchObject({ code: 403 });
  });

  it('creates Ready Nodes with addresses, and deletes them', async () => {
    await createNode(kc, {
      name: 'harness-node-1',
      internalIP: '192.0.2.10',
      internalIPv6: 'fd00::10',
      labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' },
      providerID: 'fake://harness-node-1',
      taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }],
    });

    const node = await core.readNode({ name: 'harness-node-1' });
    expect(node.status?.addresses).toEqual(
      expect.arrayContaining([
        { type: 'InternalIP', address: '192.0.2.10' },
        { type: 'InternalIP', address: 'fd00::10' },
      ]),
    );
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.spec?.providerID).toBe('fake://harness-node-1');
    expect(node.spec?.taints?.[0]?.key).toBe('ToBeDeletedByClusterAutoscaler');
    expect(node.metadata?.labels?.['node.kubernetes.io/exclude-from-external-load-balancers']).toBe('true');

    await deleteNode(kc, 'harness-node-1');
    await deleteNode(kc, 'harness-node-1');
    await expect(core.readNode({ name: 'harness-node-1' })).rejects.toMatchObject({ code: 404 });
  });

  it('keeps its data across an apiserver restart on the same address', async () => {
    const namespace = await uniqueNamespace(kc, 'harness-restart');
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'kept' }, data: { k: 'v' } } });

    await cp.stopApiserver();
    const down = await cp.kubectl(['get', '--raw', '/readyz', '--request-timeout=2s']);
    expect(down.code).not.toBe(0);
    await cp.startApiserver();

    // the client made before the restart still works: same URL, same CA
    const kept = await core.readNamespacedConfigMap({ namespace, name: 'kept' });
    expect(kept.data).toEqual({ k: 'v' });
  });

  it('waitFor returns the first truthy value, or names what it waited for', async () => {
    let calls = 0;
    await expect(waitFor(() => ++calls >= 3 && calls, { message: 'three calls', intervalMs: 1 })).resolves.toBe(3);
    await expect(waitFor(() => false, { message: 'never', timeoutMs: 50, intervalMs: 10 })).rejects.toThrow(
      /waiting for never \(last value: false\)/,
    );
  });
});
