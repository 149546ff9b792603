/**
 * Builders for Services and Nodes: `aService('web').withPorts(80, 443).withClass('lbprovisioner.io/fake').build()`.
 * The objects fit both the model's structural types and client-node's V1Service/V1Node.
 */
import type * as k8s from '@kubernetes/client-node';

type Protocol = 'TCP' | 'UDP' | 'SCTP';

export class ServiceBuilder {
  private readonly svc: k8s.V1Service;
  private nodePort = 30000;

  constructor(name: string, namespace = 'default') {
    this.svc = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, uid: `uid-${namespace}-${name}`, generation: 1, annotations: {}, labels: {} },
      spec: { type: 'LoadBalancer', selector: { app: name }, ports: [] },
    };
  }

  withPorts(...ports: (number | [number, Protocol])[]): this {
    this.svc.spec!.ports = ports.map((p) => {
      const [port, protocol] = typeof p === 'number' ? [p, 'TCP' as Protocol] : p;
      return { name: `${protocol.toLowerCase()}-${port}`, port, protocol, targetPort: port };
    });
    return this;
  }

  /** give every port a nodePort (the apiserver does this for real in integration tests) */
  withNodePorts(): this {
    for (const p of this.svc.spec!.ports ?? []) p.nodePort = ++this.nodePort + 10000;
    return this;
  }

  withClass(cls: string): this {
    this.svc.spec!.loadBalancerClass = cls;
    return this;
  }

  withAnnotations(a: Record<string, string>): this {
    this.svc.metadata!.annotations = { ...this.svc.metadata!.annotations, ...a };
    return this;
  }

  withFinalizers(...f: string[]): this {
    this.svc.metadata!.finalizers = f;
    return this;
  }

  withLabels(l: Record<string, string>): this {
    this.svc.metadata!.labels = { ...this.svc.metadata!.labels, ...l };
    return this;
  }

  local(healthCheckNodePort?: number): this {
    this.svc.spec!.externalTrafficPolicy = 'Local';
    if (healthCheckNodePort) this.svc.spec!.healthCheckNodePort = healthCheckNodePort;
    return this;
  }

  clusterIP(): this {
    this.svc.spec!.type = 'ClusterIP';
    return this;
  }

  dualStack(policy: 'PreferDualStack' | 'RequireDualStack' = 'RequireDualStack'): this {
    this.svc.spec!.ipFamilyPolicy = policy;
    this.svc.spec!.ipFamilies = ['IPv4', 'IPv6'];
    return this;
  }

  deleting(): this {
    this.svc.metadata!.deletionTimestamp = new Date();
    return this;
  }

  with(fn: (svc: k8s.V1Service) => void): this {
    fn(this.svc);
    return this;
  }

  build(): k8s.V1Service {
    return structuredClone(this.svc);
  }

  /** what to send to the apiserver: no uid, no generation */
  manifest(): k8s.V1Service {
    const s = this.build();
    delete s.metadata!.uid;
    delete s.metadata!.generation;
    return s;
  }
}

export function aService(name: string, namespace?: string): ServiceBuilder {
  return new ServiceBuilder(name, namespace);
}

export function aNode(
  name: string,
  options: {
    ip?: string;
    labels?: Record<string, string>;
    providerID?: string;
    taints?: k8s.V1Taint[];
    deleting?: boolean;
  } = {},
): k8s.V1Node {
  const node: k8s.V1Node = {
    metadata: { name, uid: `uid-node-${name}`, labels: options.labels ?? {} },
    spec: {},
    status: { addresses: [{ type: 'InternalIP', address: options.ip ?? '10.0.0.1' }] },
  };
  if (options.providerID) node.spec!.providerID = options.providerID;
  if (options.taints) node.spec!.taints = options.taints;
  if (options.deleting) node.metadata!.deletionTimestamp = new Date();
  return node;
}
