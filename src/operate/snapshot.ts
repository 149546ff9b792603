/**
 * What plan and status read, once: every Service, the Nodes and namespace labels, and the configured
 * providers, built but never started (no data plane, no informer, nothing allocated or written).
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { loadKubeConfig } from '../kube/client.ts';
import { describeApiError } from '../kube/api-error.ts';
import type { NodeObject, ServiceObject } from '../model/objects.ts';
import type { OwnershipConfig } from '../model/ownership.ts';
import type { DesiredLoadBalancer, LoadBalancerProvider } from '../provider.ts';
import { desiredLoadBalancer } from '../model/desired-load-balancer.ts';
import { targetsOf } from '../model/nodes.ts';
import { RunFailure, UserFixableError } from '../cli/exit-errors.ts';
import { tryRead } from './reads.ts';

export interface Snapshot {
  kubeConfig: k8s.KubeConfig;
  services: ServiceObject[];
  nodes: NodeObject[];
  namespaceLabels(namespace: string): Record<string, string>;
  providers: Map<string, LoadBalancerProvider>;
  ownership: OwnershipConfig;
  close(): Promise<void>;
}

/** The load balancer the controller would ask `provider` for, built from the snapshot as the controller builds it. */
export function desiredFor(
  s: Snapshot,
  svc: ServiceObject,
  provider: LoadBalancerProvider,
  clusterName: string,
): DesiredLoadBalancer {
  const requireProviderID = provider.capabilities.mapsNodesByProviderID;
  return desiredLoadBalancer(svc, s.nodes, {
    clusterName,
    requireProviderID,
    needsNodePorts: provider.capabilities.needsNodePorts,
    healthCheck: provider.healthCheck,
    namespaceLabels: s.namespaceLabels(svc.metadata?.namespace ?? ''),
    targets: targetsOf(s.nodes, { requireProviderID }),
  });
}

export async function takeSnapshot(config: Config, log: Logger): Promise<Snapshot> {
  if (!config.kubeconfig && !process.env['KUBERNETES_SERVICE_HOST'])
    throw new UserFixableError('no --kubeconfig (or KUBECONFIG), and not running in a cluster; give --kubeconfig');
  const kc = loadKubeConfig(config.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const [services, nodes, namespaces] = await Promise.all([
    tryRead((o) => core.listServiceForAllNamespaces({}, o)),
    tryRead((o) => core.listNode({}, o)),
    tryRead((o) => core.listNamespace({}, o)),
  ]);
  if (services.kind !== 'found')
    throw new RunFailure(`listing Services: ${services.kind === 'missing' ? 'not found' : services.message}`);
  if (nodes.kind !== 'found')
    throw new RunFailure(`listing Nodes: ${nodes.kind === 'missing' ? 'not found' : nodes.message}`);
  const labels = new Map<string, Record<string, string>>(
    namespaces.kind === 'found'
      ? namespaces.value.items.map((n) => [n.metadata?.name ?? '', n.metadata?.labels ?? {}])
      : [],
  );
  const providers = new Map<string, LoadBalancerProvider>();
  try {
    for (const p of config.providers)
      providers.set(
        p.name,
        await p.create({ clusterName: config.clusterName, nodePortRange: config.nodePortRange, log }),
      );
  } catch (err) {
    throw new RunFailure(`creating the providers: ${describeApiError(err)}`);
  }
  return {
    kubeConfig: kc,
    services: services.value.items as ServiceObject[],
    nodes: nodes.value.items as NodeObject[],
    namespaceLabels: (ns) => labels.get(ns) ?? {},
    providers,
    ownership: {
      providers: config.provider,
      ...(config.defaultProvider ? { defaultProvider: config.defaultProvider } : {}),
      classOnly: config.classOnly,
      takesClassless: (name, annotations) => providers.get(name)?.takesClassless?.(annotations) ?? true,
    },
    close: async () => {
      for (const p of providers.values()) await p.close?.();
    },
  };
}
