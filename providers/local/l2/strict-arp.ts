/**
 * kube-proxy in IPVS mode puts every LoadBalancer address on its kube-ipvs0 interface, and with Linux's
 * default arp_ignore every node then answers ARP for every VIP: the L2 election means nothing. kube-proxy's
 * `ipvs.strictARP: true` (arp_ignore=1, arp_announce=2) stops that. The speaker warns at start, and
 * `lb-provisioner doctor` (issue 11) is meant to call the same check.
 */
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';

/** kube-proxy's configuration as kubeadm and most installers keep it. */
export const KUBE_PROXY_CONFIGMAP = { namespace: 'kube-system', name: 'kube-proxy', key: 'config.conf' } as const;

/**
 * The warning for a KubeProxyConfiguration (YAML or JSON text) in IPVS mode without strictARP, or null when
 * it is fine (another mode, strictARP on) or cannot be read as one.
 */
export function ipvsStrictArpWarning(kubeProxyConfig: string): string | null {
  let config: unknown;
  try {
    config = parse(kubeProxyConfig);
  } catch {
    return null;
  }
  if (typeof config !== 'object' || config === null) return null;
  const { mode, ipvs } = config as { mode?: unknown; ipvs?: { strictARP?: unknown } };
  if (typeof mode !== 'string' || mode.toLowerCase() !== 'ipvs') return null;
  if (ipvs?.strictARP === true) return null;
  return (
    'kube-proxy runs in IPVS mode without strictARP: every node answers ARP for every LoadBalancer address, ' +
    'so the L2 speakers cannot decide which node gets the traffic. Set ipvs.strictARP: true in the ' +
    `${KUBE_PROXY_CONFIGMAP.namespace}/${KUBE_PROXY_CONFIGMAP.name} ConfigMap and restart kube-proxy`
  );
}

/**
 * Reads kube-proxy's ConfigMap and returns the warning, or null. A missing ConfigMap (kube-proxy configured
 * another way, or replaced) or no permission to read it is not a finding: null.
 */
export async function checkKubeProxyStrictArp(kc: k8s.KubeConfig): Promise<string | null> {
  try {
    const cm = await kc
      .makeApiClient(k8s.CoreV1Api)
      .readNamespacedConfigMap({ name: KUBE_PROXY_CONFIGMAP.name, namespace: KUBE_PROXY_CONFIGMAP.namespace });
    const text = cm.data?.[KUBE_PROXY_CONFIGMAP.key];
    return text === undefined ? null : ipvsStrictArpWarning(text);
  } catch {
    return null;
  }
}
