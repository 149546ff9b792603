/**
 * What the soak wants the cluster to be: Services, Nodes and pools as plain values, the random operations
 * that change them, and how each is written to the apiserver (as an admin, the way a user would).
 */
import * as k8s from '@kubernetes/client-node';
import { createNode } from '../harness/fixtures.ts';
import { EXCLUDE_FROM_LB_LABEL } from '../../src/model/names.ts';
import type { Rng } from './rng.ts';

export type ProviderName = 'local' | 'aws' | 'azure';
/** `none`: no loadBalancerClass (the default provider takes it); `other`: a class that is not ours */
export type ClassChoice = ProviderName | 'none' | 'other';
export type Protocol = 'TCP' | 'UDP';

export const NAMESPACE = 'chaos';
export const OTHER_CLASS = 'example.com/other';
export const TAG_ANNOTATION = 'chaos.example.com/tag';
export const IPS_ANNOTATION = 'lbprovisioner.io/ips';
/** annotations the soak itself writes (never counted as ours left behind) */
export const DRIVER_ANNOTATIONS = [TAG_ANNOTATION, IPS_ANNOTATION];

export interface PortSpec {
  port: number;
  protocol: Protocol;
}

export interface ServiceSpec {
  name: string;
  type: 'LoadBalancer' | 'ClusterIP';
  cls: ClassChoice;
  ports: PortSpec[];
  etp: 'Cluster' | 'Local';
  tag: number;
  /** local provider: a specific address (lbprovisioner.io/ips) */
  fixedIP?: string;
}

export interface ServiceRecord {
  spec: ServiceSpec;
  /** the address(es) seen at the last passed check; absent before the first */
  address?: string;
  uid?: string;
  /** the spec asked for a new address since the last check (type, class, specific IP, pool removed) */
  addressMayChange: boolean;
  ops: number;
}

export interface NodeSpec {
  name: string;
  ip: string;
  excluded: boolean;
  /** index of the EC2 instance it stands for (aws) */
  instance: number;
}

export interface PoolsSpec {
  /** the chaos-extra IPPool: absent, or one of its address sets */
  extra: 'none' | 'wide' | 'narrow';
}

export const AUTO_POOL = { name: 'chaos-auto', addresses: ['192.0.2.0/26'] };
export const FIXED_POOL = { name: 'chaos-fixed', addresses: ['203.0.113.0/28'] };
export const EXTRA_POOL = { name: 'chaos-extra', wide: ['198.51.100.0/28'], narrow: ['198.51.100.0/29'] };
/** the --pool flag's pool */
export const FLAG_POOL = '192.0.2.192/28';
export const FIXED_IPS = Array.from({ length: 14 }, (_, i) => `203.0.113.${i + 1}`);

export interface WorldOptions {
  providers: ProviderName[];
  defaultProvider: ProviderName;
  maxServices: number;
  maxNodes: number;
  /** EC2 instances available to stand for nodes (aws), else node count */
  instances: number;
}

export type OpKind =
  | 'create'
  | 'delete'
  | 'ports'
  | 'protocol'
  | 'annotation'
  | 'class'
  | 'type'
  | 'etp'
  | 'specific-ip'
  | 'pool-edit'
  | 'node-add'
  | 'node-remove'
  | 'node-exclude';

export interface Op {
  kind: OpKind;
  target: string;
  detail: string;
}

export class World {
  readonly services = new Map<string, ServiceRecord>();
  readonly nodes = new Map<string, NodeSpec>();
  /** Services the soak deleted: they must be gone, not held by a finalizer */
  readonly deleted = new Set<string>();
  pools: PoolsSpec = { extra: 'none' };
  private nextService = 0;
  private nextNode = 0;
  readonly o: WorldOptions;
  private readonly rng: Rng;

  constructor(o: WorldOptions, rng: Rng) {
    this.o = o;
    this.rng = rng;
  }

  /** which of our providers should hold the Service, or undefined when it is not ours */
  ownerOf(spec: ServiceSpec): ProviderName | undefined {
    if (spec.type !== 'LoadBalancer') return undefined;
    if (spec.cls === 'other') return undefined;
    if (spec.cls === 'none') return this.o.defaultProvider;
    return this.o.providers.includes(spec.cls) ? spec.cls : undefined;
  }

  eligibleNodes(): NodeSpec[] {
    return [...this.nodes.values()].filter((n) => !n.excluded);
  }

  private classChoices(): ClassChoice[] {
    return [...this.o.providers, 'none', 'other'];
  }

  private randomPorts(protocols: Protocol[]): PortSpec[] {
    const n = this.rng.int(1, 3);
    const ports = new Set<number>();
    while (ports.size < n) ports.add(this.rng.pick([80, 443, 53, 8080, 9000, 5000, 7000]));
    return [...ports].map((port) => ({ port, protocol: this.rng.pick(protocols) }));
  }

  private freeFixedIP(): string | undefined {
    const held = new Set([...this.services.values()].map((s) => s.spec.fixedIP).filter(Boolean));
    const free = FIXED_IPS.filter((ip) => !held.has(ip));
    return free.length ? this.rng.pick(free) : undefined;
  }

  nextOpOf(kind: OpKind): Op {
    return this.nextOp(kind);
  }

  /** Picks the next operation and changes the model; returns what to write. */
  nextOp(forced?: OpKind): Op {
    const live = [...this.services.keys()];
    const lb = live.filter((n) => this.services.get(n)!.spec.type === 'LoadBalancer');
    const local = this.o.providers.includes('local');
    const choices: [number, OpKind][] = [
      [live.length < this.o.maxServices ? 6 : 0, 'create'],
      [live.length > 2 ? 3 : 0, 'delete'],
      [live.length ? 3 : 0, 'ports'],
      [live.length ? 2 : 0, 'protocol'],
      [live.length ? 2 : 0, 'annotation'],
      [live.length ? 2 : 0, 'class'],
      [live.length ? 2 : 0, 'type'],
      [lb.length ? 2 : 0, 'etp'],
      [local && live.length ? 2 : 0, 'specific-ip'],
      [local ? 1 : 0, 'pool-edit'],
      [this.nodes.size < this.o.maxNodes ? 1 : 0, 'node-add'],
      [this.nodes.size > 1 ? 1 : 0, 'node-remove'],
      [this.nodes.size ? 1 : 0, 'node-exclude'],
    ];
    const kind = forced ?? this.rng.weighted(choices);
    const svc = live.length ? this.services.get(this.rng.pick(live)) : undefined;
    const touch = (r: ServiceRecord, detail: string): Op => {
      r.ops++;
      return { kind, target: r.spec.name, detail };
    };
    switch (kind) {
      case 'create': {
        const name = `svc-${this.nextService++}`;
        const cls = this.rng.weighted<ClassChoice>([
          [3, 'none'],
          ...this.o.providers.map((p) => [3, p] as [number, ClassChoice]),
          [1, 'other'],
        ]);
        const spec: ServiceSpec = {
          name,
          type: 'LoadBalancer',
          cls,
          ports: this.randomPorts(['TCP', 'TCP', 'UDP']),
          etp: this.rng.chance(0.3) ? 'Local' : 'Cluster',
          tag: 0,
        };
        this.services.set(name, { spec, addressMayChange: true, ops: 1 });
        return { kind, target: name, detail: JSON.stringify(spec) };
      }
      case 'delete': {
        this.services.delete(svc!.spec.name);
        this.deleted.add(svc!.spec.name);
        return { kind, target: svc!.spec.name, detail: '' };
      }
      case 'ports': {
        const before = svc!.spec.ports;
        svc!.spec.ports = this.randomPorts(['TCP', 'UDP']);
        if (this.ownerOf(svc!.spec) === 'aws') {
          // moto's ModifyListener takes no UDP (AWS's does): a port that stays keeps its protocol on aws
          for (const p of svc!.spec.ports) p.protocol = before.find((b) => b.port === p.port)?.protocol ?? p.protocol;
        }
        return touch(svc!, JSON.stringify(svc!.spec.ports));
      }
      case 'protocol': {
        if (this.ownerOf(svc!.spec) === 'aws') return touch(svc!, 'skipped: moto cannot change a listener to UDP');
        const p = this.rng.pick(svc!.spec.ports);
        p.protocol = p.protocol === 'TCP' ? 'UDP' : 'TCP';
        return touch(svc!, `${p.port} -> ${p.protocol}`);
      }
      case 'annotation': {
        svc!.spec.tag++;
        return touch(svc!, `tag=${svc!.spec.tag}`);
      }
      case 'class': {
        const cls = this.rng.pick(this.classChoices().filter((c) => c !== svc!.spec.cls));
        svc!.spec.cls = cls;
        svc!.spec.type = 'LoadBalancer';
        if (this.ownerOf(svc!.spec) !== 'local') delete svc!.spec.fixedIP;
        svc!.addressMayChange = true;
        return touch(svc!, `class -> ${cls}`);
      }
      case 'type': {
        svc!.spec.type = svc!.spec.type === 'LoadBalancer' ? 'ClusterIP' : 'LoadBalancer';
        if (svc!.spec.type === 'ClusterIP') delete svc!.spec.fixedIP;
        svc!.addressMayChange = true;
        return touch(svc!, `type -> ${svc!.spec.type}`);
      }
      case 'etp': {
        const r = this.services.get(this.rng.pick(lb))!;
        r.spec.etp = r.spec.etp === 'Cluster' ? 'Local' : 'Cluster';
        return touch(r, `externalTrafficPolicy -> ${r.spec.etp}`);
      }
      case 'specific-ip': {
        const candidates = live.filter((n) => this.ownerOf(this.services.get(n)!.spec) === 'local');
        if (!candidates.length) return { kind, target: '-', detail: 'no local Service' };
        const r = this.services.get(this.rng.pick(candidates))!;
        const ip = r.spec.fixedIP && this.rng.chance(0.4) ? undefined : this.freeFixedIP();
        if (ip) r.spec.fixedIP = ip;
        else delete r.spec.fixedIP;
        r.addressMayChange = true;
        return touch(r, ip ? `ips=${ip}` : 'ips removed');
      }
      case 'pool-edit': {
        const next = this.rng.pick((['none', 'wide', 'narrow'] as const).filter((e) => e !== this.pools.extra));
        // addresses the edit takes away may move; every other address stays
        const keeps = next === 'wide' ? 16 : next === 'narrow' ? 8 : 0;
        for (const r of this.services.values()) {
          const m = /^198\.51\.100\.(\d+)$/.exec(r.address ?? '');
          if (m && Number(m[1]) >= keeps) r.addressMayChange = true;
        }
        this.pools = { extra: next };
        return { kind, target: EXTRA_POOL.name, detail: next };
      }
      case 'node-add': {
        const used = new Set([...this.nodes.values()].map((n) => n.instance));
        const instance = Array.from({ length: this.o.instances }, (_, i) => i).find((i) => !used.has(i));
        if (instance === undefined) return { kind, target: '-', detail: 'no free instance' };
        const name = `chaos-node-${this.nextNode++}`;
        this.nodes.set(name, { name, ip: `10.0.${100 + (instance % 3)}.${10 + instance}`, excluded: false, instance });
        return { kind, target: name, detail: `instance ${instance}` };
      }
      case 'node-remove': {
        const name = this.rng.pick([...this.nodes.keys()]);
        this.nodes.delete(name);
        return { kind, target: name, detail: '' };
      }
      case 'node-exclude': {
        const n = this.nodes.get(this.rng.pick([...this.nodes.keys()]))!;
        n.excluded = !n.excluded;
        return { kind, target: n.name, detail: n.excluded ? 'excluded' : 'included' };
      }
    }
  }
}

/** The cluster side: writes the model's objects as a user would. */
export class ClusterWriter {
  private readonly core: k8s.CoreV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly kc: k8s.KubeConfig;
  /** the node's providerID for an instance index (aws), if any */
  private readonly providerID: (instance: number) => string | undefined;

  constructor(kc: k8s.KubeConfig, providerID: (instance: number) => string | undefined) {
    this.kc = kc;
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.providerID = providerID;
  }

  classOf(spec: ServiceSpec): string | undefined {
    if (spec.cls === 'none') return undefined;
    if (spec.cls === 'other') return OTHER_CLASS;
    return `lbprovisioner.io/${spec.cls}`;
  }

  private annotations(spec: ServiceSpec, current: Record<string, string> = {}): Record<string, string> {
    const out: Record<string, string> = { ...current, [TAG_ANNOTATION]: String(spec.tag) };
    if (spec.fixedIP) out[IPS_ANNOTATION] = spec.fixedIP;
    else delete out[IPS_ANNOTATION];
    return out;
  }

  private ports(spec: ServiceSpec, current: k8s.V1ServicePort[] = []): k8s.V1ServicePort[] {
    return spec.ports.map((p) => {
      const same = current.find((c) => c.port === p.port && c.protocol === p.protocol);
      return {
        name: `${p.protocol.toLowerCase()}-${p.port}`,
        port: p.port,
        protocol: p.protocol,
        targetPort: p.port,
        ...(spec.type === 'LoadBalancer' && same?.nodePort ? { nodePort: same.nodePort } : {}),
      };
    });
  }

  async createService(spec: ServiceSpec): Promise<string> {
    const cls = this.classOf(spec);
    const created = await this.core.createNamespacedService({
      namespace: NAMESPACE,
      body: {
        metadata: { name: spec.name, annotations: this.annotations(spec) },
        spec: {
          type: spec.type,
          selector: { app: spec.name },
          ports: this.ports(spec),
          ...(spec.type === 'LoadBalancer' ? { externalTrafficPolicy: spec.etp } : {}),
          ...(cls && spec.type === 'LoadBalancer' ? { loadBalancerClass: cls } : {}),
        },
      },
    });
    return created.metadata?.uid ?? '';
  }

  async deleteService(name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedService({ name, namespace: NAMESPACE });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }

  /** Read-modify-replace until no conflict. A class change on a LoadBalancer goes through ClusterIP (the class is immutable there). */
  async updateService(spec: ServiceSpec): Promise<void> {
    const wantClass = this.classOf(spec);
    for (let attempt = 0; ; attempt++) {
      const cur = await this.core.readNamespacedService({ name: spec.name, namespace: NAMESPACE });
      const s = cur.spec!;
      const classChange =
        spec.type === 'LoadBalancer' && s.type === 'LoadBalancer' && s.loadBalancerClass !== wantClass;
      const stepType = classChange ? 'ClusterIP' : spec.type;
      cur.metadata!.annotations = this.annotations(spec, cur.metadata?.annotations);
      s.type = stepType;
      s.ports = this.ports({ ...spec, type: stepType }, s.ports);
      if (stepType === 'LoadBalancer') {
        s.externalTrafficPolicy = spec.etp;
        if (spec.etp === 'Cluster') delete s.healthCheckNodePort;
        if (wantClass) s.loadBalancerClass = wantClass;
        else delete s.loadBalancerClass;
      } else {
        delete s.externalTrafficPolicy;
        delete s.healthCheckNodePort;
        delete s.loadBalancerClass;
        delete s.allocateLoadBalancerNodePorts;
        delete s.externalIPs;
      }
      try {
        await this.core.replaceNamespacedService({ name: spec.name, namespace: NAMESPACE, body: cur });
        if (!classChange) return;
      } catch (err) {
        if ((err as { code?: number }).code !== 409 || attempt > 20) throw err;
      }
    }
  }

  async createNode(n: NodeSpec): Promise<void> {
    const providerID = this.providerID(n.instance);
    await createNode(this.kc, {
      name: n.name,
      internalIP: n.ip,
      labels: {
        'topology.kubernetes.io/zone': `us-east-1${'abc'[n.instance % 3]}`,
        ...(n.excluded ? { [EXCLUDE_FROM_LB_LABEL]: 'true' } : {}),
      },
      ...(providerID ? { providerID } : {}),
    });
  }

  async deleteNode(name: string): Promise<void> {
    try {
      await this.core.deleteNode({ name });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }

  async labelNode(n: NodeSpec): Promise<void> {
    await this.core.patchNode(
      { name: n.name, body: { metadata: { labels: { [EXCLUDE_FROM_LB_LABEL]: n.excluded ? 'true' : null } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  private async putPool(name: string, spec: Record<string, unknown>): Promise<void> {
    const group = { group: 'lbprovisioner.io', version: 'v1alpha1', plural: 'ippools' };
    try {
      const cur = (await this.custom.getClusterCustomObject({ ...group, name })) as {
        metadata: k8s.V1ObjectMeta;
      };
      await this.custom.replaceClusterCustomObject({
        ...group,
        name,
        body: { apiVersion: 'lbprovisioner.io/v1alpha1', kind: 'IPPool', metadata: cur.metadata, spec },
      });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      await this.custom.createClusterCustomObject({
        ...group,
        body: { apiVersion: 'lbprovisioner.io/v1alpha1', kind: 'IPPool', metadata: { name }, spec },
      });
    }
  }

  async writePools(p: PoolsSpec): Promise<void> {
    await this.putPool(AUTO_POOL.name, { addresses: AUTO_POOL.addresses, priority: 10 });
    await this.putPool(FIXED_POOL.name, { addresses: FIXED_POOL.addresses, autoAssign: false });
    if (p.extra === 'none') {
      try {
        await this.custom.deleteClusterCustomObject({
          group: 'lbprovisioner.io',
          version: 'v1alpha1',
          plural: 'ippools',
          name: EXTRA_POOL.name,
        });
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
    } else {
      await this.putPool(EXTRA_POOL.name, { addresses: EXTRA_POOL[p.extra], priority: 1 });
    }
  }

  async ensureNamespace(): Promise<void> {
    try {
      await this.core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
}

/** Writes one operation the model just made. */
export async function applyOp(world: World, writer: ClusterWriter, op: Op): Promise<void> {
  switch (op.kind) {
    case 'create': {
      const r = world.services.get(op.target)!;
      r.uid = await writer.createService(r.spec);
      return;
    }
    case 'delete':
      return writer.deleteService(op.target);
    case 'pool-edit':
      return writer.writePools(world.pools);
    case 'node-add':
      if (op.target !== '-') await writer.createNode(world.nodes.get(op.target)!);
      return;
    case 'node-remove':
      return writer.deleteNode(op.target);
    case 'node-exclude':
      return writer.labelNode(world.nodes.get(op.target)!);
    default: {
      const r = world.services.get(op.target);
      if (r) await writer.updateService(r.spec);
    }
  }
}
