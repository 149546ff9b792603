/**
 * Nodes for a control plane with no kubelet (the demo's stand-in nodes, tests): the object, then its
 * status as a kubelet would leave it.
 */
import * as k8s from '@kubernetes/client-node';

export interface NodeFixture {
  name: string;
  internalIP?: string;
  internalIPv6?: string;
  labels?: Record<string, string>;
  providerID?: string;
  taints?: k8s.V1Taint[];
}

/**
 * Creates a Node as a kubelet would leave it: the object, then (status subresource) its addresses
 * and a Ready condition. Nothing ever updates it again: no node-lifecycle controller runs here.
 */
export async function createNode(kc: k8s.KubeConfig, node: NodeFixture): Promise<k8s.V1Node> {
  const api = kc.makeApiClient(k8s.CoreV1Api);
  await api.createNode({
    body: {
      metadata: { name: node.name, ...(node.labels ? { labels: node.labels } : {}) },
      spec: {
        ...(node.providerID ? { providerID: node.providerID } : {}),
        ...(node.taints ? { taints: node.taints } : {}),
      },
    },
  });
  const addresses: k8s.V1NodeAddress[] = [{ type: 'Hostname', address: node.name }];
  if (node.internalIP) addresses.push({ type: 'InternalIP', address: node.internalIP });
  if (node.internalIPv6) addresses.push({ type: 'InternalIP', address: node.internalIPv6 });
  const now = new Date();
  const ready: k8s.V1NodeCondition = {
    type: 'Ready',
    status: 'True',
    reason: 'KubeletReady',
    message: 'test fixture',
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  };
  return api.patchNodeStatus(
    { name: node.name, body: { status: { addresses, conditions: [ready] } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}
