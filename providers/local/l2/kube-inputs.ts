/**
 * The speaker's view of the cluster: informers on Services, EndpointSlices, Nodes, IPPools, L2Advertisements
 * and L2Announcements, read into the election's inputs on demand. Handlers only call `changed()`, and only
 * when something the election reads moved (a kubelet's status heartbeat on a Node moves nothing).
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ResilientInformer } from '../../../src/kube/informer.ts';
import { EXCLUDE_FROM_LB_LABEL } from '../../../src/model/names.ts';
import { parseAddress } from '../ipam/address.ts';
import { compilePools, poolContains, type Pool } from '../ipam/pool-set.ts';
import { IPPOOL_GROUP, IPPOOL_PLURAL, IPPOOL_VERSION, poolFromObject } from '../pool.ts';
import {
  L2_GROUP,
  L2_VERSION,
  L2ADVERTISEMENT_PLURAL,
  advertisementFromObject,
  type Advertisement,
} from './advertisement.ts';
import { SERVICE_NAME_LABEL, announcedService } from './announced-services.ts';
import type { AnnouncedService, ClusterNode } from './election.ts';

export const L2ANNOUNCEMENT_PLURAL = 'l2announcements';

export interface CustomObject extends k8s.KubernetesObject {
  spec?: unknown;
  status?: Record<string, unknown>;
}

export interface NodeInfo extends ClusterNode {
  /** InternalIPs (then ExternalIPs): where its speaker's heartbeats come from and go to */
  addresses: string[];
  /** Ready condition True (a NotReady node's silent speaker is not a sign that we are cut off) */
  ready: boolean;
}

export class KubeInputs {
  readonly services: ResilientInformer<k8s.V1Service>;
  readonly slices: ResilientInformer<k8s.V1EndpointSlice>;
  readonly nodes: ResilientInformer<k8s.V1Node>;
  readonly pools: ResilientInformer<CustomObject>;
  readonly advertisements: ResilientInformer<CustomObject>;
  readonly announcements: ResilientInformer<CustomObject>;
  readonly #changed: () => void;
  readonly #nodeFingerprints = new Map<string, string>();
  #compiledPools: Pool[] | undefined;

  constructor(kc: k8s.KubeConfig, log: Logger, changed: () => void) {
    this.#changed = changed;
    const on = <T>(handler: (obj: T) => void) => ({ onAdd: handler, onUpdate: handler, onDelete: handler });
    const options = (name: string) => ({ name, log });

    this.services = new ResilientInformer(
      kc,
      '/api/v1/services',
      on<k8s.V1Service>((s) => {
        if (s.spec?.type === 'LoadBalancer' || s.status?.loadBalancer?.ingress?.length) changed();
      }),
      options('services'),
    );
    this.slices = new ResilientInformer(
      kc,
      '/apis/discovery.k8s.io/v1/endpointslices',
      on<k8s.V1EndpointSlice>((slice) => {
        // only Local traffic reads endpoints
        const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
        const service = name ? this.services.get(name, slice.metadata?.namespace) : undefined;
        if (service?.spec?.type === 'LoadBalancer' && service.spec.externalTrafficPolicy === 'Local') changed();
      }),
      options('endpointslices'),
    );
    this.nodes = new ResilientInformer(
      kc,
      '/api/v1/nodes',
      {
        onAdd: (n) => this.#nodeMoved(n),
        onUpdate: (n) => this.#nodeMoved(n),
        onDelete: (n) => {
          this.#nodeFingerprints.delete(n.metadata?.name ?? '');
          changed();
        },
      },
      options('nodes'),
    );
    this.pools = new ResilientInformer(
      kc,
      `/apis/${IPPOOL_GROUP}/${IPPOOL_VERSION}/${IPPOOL_PLURAL}`,
      on<CustomObject>(() => {
        this.#compiledPools = undefined;
        changed();
      }),
      options('ippools'),
    );
    this.advertisements = new ResilientInformer(
      kc,
      `/apis/${L2_GROUP}/${L2_VERSION}/${L2ADVERTISEMENT_PLURAL}`,
      on<CustomObject>(() => changed()),
      options('l2advertisements'),
    );
    this.announcements = new ResilientInformer(
      kc,
      `/apis/${L2_GROUP}/${L2_VERSION}/${L2ANNOUNCEMENT_PLURAL}`,
      on<CustomObject>(() => changed()),
      options('l2announcements'),
    );
  }

  #all(): ResilientInformer<k8s.KubernetesObject>[] {
    return [this.services, this.slices, this.nodes, this.pools, this.advertisements, this.announcements];
  }

  /** Resolves once every informer has delivered its first full list. */
  async start(): Promise<void> {
    await Promise.all(this.#all().map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#all().map((i) => i.stop()));
  }

  /** Every Service the speakers announce, with its endpoints and pools. */
  announcedServices(): AnnouncedService[] {
    const slicesByService = new Map<string, k8s.V1EndpointSlice[]>();
    for (const slice of this.slices.list()) {
      const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (!name) continue;
      const key = `${slice.metadata?.namespace ?? ''}/${name}`;
      slicesByService.set(key, [...(slicesByService.get(key) ?? []), slice]);
    }
    const poolOf = (ip: string): string | null => {
      const address = parseAddress(ip);
      return (address && this.#pools().find((p) => poolContains(p, address))?.name) ?? null;
    };
    const result: AnnouncedService[] = [];
    for (const service of this.services.list()) {
      const key = `${service.metadata?.namespace ?? ''}/${service.metadata?.name ?? ''}`;
      const announced = announcedService(service, slicesByService.get(key) ?? [], poolOf);
      if (announced) result.push(announced);
    }
    return result;
  }

  nodeInfos(): Map<string, NodeInfo> {
    return new Map(this.nodes.list().map((node) => [node.metadata?.name ?? '', nodeInfo(node)]));
  }

  /** Valid advertisements, and the invalid ones with what is wrong. */
  readAdvertisements(): { valid: Advertisement[]; invalid: { name: string; message: string }[] } {
    const valid: Advertisement[] = [];
    const invalid: { name: string; message: string }[] = [];
    for (const object of this.advertisements.list()) {
      const parsed = advertisementFromObject(object);
      if (parsed.ok) valid.push(parsed.advertisement);
      else invalid.push({ name: parsed.name, message: parsed.message });
    }
    return { valid, invalid };
  }

  #pools(): Pool[] {
    this.#compiledPools ??= compilePools(
      this.pools.list().flatMap((object) => {
        const parsed = poolFromObject(object);
        return parsed.ok ? [parsed.pool] : [];
      }),
    ).ordered;
    return this.#compiledPools;
  }

  #nodeMoved(node: k8s.V1Node): void {
    const info = nodeInfo(node);
    const fingerprint = JSON.stringify([info.labels, info.addresses, info.ready]);
    if (this.#nodeFingerprints.get(info.name) === fingerprint) return;
    this.#nodeFingerprints.set(info.name, fingerprint);
    this.#changed();
  }
}

export function nodeInfo(node: k8s.V1Node): NodeInfo {
  const labels = node.metadata?.labels ?? {};
  const addresses = node.status?.addresses ?? [];
  const ofType = (type: string) => addresses.filter((a) => a.type === type).map((a) => a.address);
  return {
    name: node.metadata?.name ?? '',
    labels,
    excluded: Object.hasOwn(labels, EXCLUDE_FROM_LB_LABEL),
    addresses: [...ofType('InternalIP'), ...ofType('ExternalIP')],
    ready: node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
  };
}
