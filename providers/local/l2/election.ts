/**
 * Who announces each VIP: a pure function of what every speaker sees (the Services, their endpoints, the
 * Nodes, the L2Advertisements, and which speakers are alive). Every speaker computes the same answer with no
 * coordination and no API writes, so API load does not grow with Services or failovers.
 *
 * For each VIP the announcer is the first eligible node in an order given by a hash of node name and VIP
 * (as MetalLB does), so VIPs spread over nodes and a failure moves only the VIPs of the node that failed.
 */
import { createHash } from 'node:crypto';
import { selectorMatches } from '../ipam/selector.ts';
import type { Advertisement } from './advertisement.ts';

/** A Service whose addresses the speakers announce (ours, type LoadBalancer, with ingress IPs). */
export interface AnnouncedService {
  /** `namespace/name` */
  key: string;
  /** ingress addresses, each with the pool it came from (null: not known, only unrestricted advertisements) */
  addresses: ReadonlyArray<{ ip: string; pool: string | null }>;
  /** externalTrafficPolicy: Local: only nodes with an endpoint may announce */
  localTraffic: boolean;
  /** nodes with ready endpoints, and nodes with serving (ready or terminating) ones, from EndpointSlices */
  endpoints: { ready: ReadonlySet<string>; serving: ReadonlySet<string> };
}

export interface ClusterNode {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** node.kubernetes.io/exclude-from-external-load-balancers */
  excluded: boolean;
}

/** A speaker that is alive and ready, as its heartbeats say (the local speaker included). */
export interface Member {
  node: string;
  /** it reaches the apiserver */
  apiserver: boolean;
  /** its network interfaces, for advertisements that name interfaces */
  interfaces: readonly string[];
}

export interface ElectionInputs {
  services: readonly AnnouncedService[];
  nodes: ReadonlyMap<string, ClusterNode>;
  /** valid advertisements only (an invalid one announces nothing, and says so in its status) */
  advertisements: readonly Advertisement[];
  /** alive speakers; empty when this speaker is cut off (it then announces nothing) */
  members: readonly Member[];
}

/** Where the holder announces: the interfaces named by its advertisements, or `auto` (the VIP's subnet). */
export interface AnnounceOn {
  auto: boolean;
  interfaces: string[];
}

export interface VipDecision {
  ip: string;
  /** Services using the address (several when shared) */
  services: string[];
  /** the node that announces it, or null (`why` says why) */
  holder: string | null;
  /** eligible nodes, in announcement order: the next one takes over if the holder fails */
  eligible: string[];
  announceOn: AnnounceOn;
  why?: string;
}

export const EXCLUDE_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

/** The announcement order of nodes for a VIP: by SHA-256 of `node#ip`. Deterministic on every speaker. */
export function rankNodes(ip: string, nodes: Iterable<string>): string[] {
  const keyed = [...nodes].map((node) => ({ node, key: createHash('sha256').update(`${node}#${ip}`).digest('hex') }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.node);
}

/** Decides the announcer of every VIP. */
export function electAnnouncers(inputs: ElectionInputs): Map<string, VipDecision> {
  const byIp = new Map<string, { pool: string | null; services: AnnouncedService[] }>();
  for (const service of inputs.services) {
    for (const { ip, pool } of service.addresses) {
      const entry = byIp.get(ip) ?? { pool, services: [] };
      entry.services.push(service);
      byIp.set(ip, entry);
    }
  }
  const decisions = new Map<string, VipDecision>();
  for (const [ip, { pool, services }] of byIp) decisions.set(ip, decide(ip, pool, services, inputs));
  return decisions;
}

function decide(ip: string, pool: string | null, services: AnnouncedService[], inputs: ElectionInputs): VipDecision {
  const keys = services.map((s) => s.key).sort();
  const none = (why: string): VipDecision => ({
    ip,
    services: keys,
    holder: null,
    eligible: [],
    announceOn: { auto: false, interfaces: [] },
    why,
  });
  const advertisements = inputs.advertisements.filter(
    (a) => a.pools === 'all' || (pool !== null && a.pools.includes(pool)),
  );
  if (advertisements.length === 0)
    return none(`no L2Advertisement announces ${pool ? `pool ${pool}` : 'this address'}`);
  if (inputs.members.length === 0) return none('this speaker hears no peers: it announces nothing');

  const placed = new Map<string, { member: Member; on: AnnounceOn }>();
  for (const member of inputs.members) {
    const node = inputs.nodes.get(member.node);
    if (!node || node.excluded) continue;
    const on = announceOn(node, member, advertisements);
    if (on) placed.set(member.node, { member, on });
  }
  if (placed.size === 0) return none('no alive speaker runs on a node an L2Advertisement selects');

  let candidates = [...placed.keys()];
  for (const service of services) {
    if (!service.localTraffic) continue;
    // kube-proxy sends Local traffic to ready endpoints, else to serving (terminating) ones
    const withReady = candidates.filter((n) => service.endpoints.ready.has(n));
    candidates = withReady.length > 0 ? withReady : candidates.filter((n) => service.endpoints.serving.has(n));
    if (candidates.length === 0) return none(`no announcing node has an endpoint of ${service.key} (Local traffic)`);
  }
  // a speaker that lost the apiserver gives way; when none reaches it (control plane down) they all stay
  const connected = candidates.filter((n) => placed.get(n)!.member.apiserver);
  const eligible = rankNodes(ip, connected.length > 0 ? connected : candidates);
  const holder = eligible[0]!;
  return { ip, services: keys, holder, eligible, announceOn: placed.get(holder)!.on };
}

/** Where a node announces under the advertisements that cover a VIP, or null when none selects it. */
function announceOn(node: ClusterNode, member: Member, advertisements: readonly Advertisement[]): AnnounceOn | null {
  let selected = false;
  let auto = false;
  const interfaces = new Set<string>();
  for (const ad of advertisements) {
    if (ad.nodeSelectors.length > 0 && !ad.nodeSelectors.some((s) => selectorMatches(s, node.labels))) continue;
    if (ad.interfaces.length === 0) {
      selected = true;
      auto = true;
      continue;
    }
    const present = ad.interfaces.filter((i) => member.interfaces.includes(i));
    if (present.length === 0) continue; // this node lacks the interface
    selected = true;
    for (const i of present) interfaces.add(i);
  }
  return selected ? { auto, interfaces: [...interfaces].sort() } : null;
}
