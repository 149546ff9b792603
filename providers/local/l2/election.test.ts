import { describe, expect, it } from '@jest/globals';
import type { Advertisement } from './advertisement.ts';
import { electAnnouncers, rankNodes, type AnnouncedService, type ClusterNode, type Member } from './election.ts';

// builders: a small cluster the stories below change one thing at a time
const NODES = ['node1', 'node2', 'node3'];

function cluster(labels: Record<string, Record<string, string>> = {}, excluded: string[] = []) {
  return new Map<string, ClusterNode>(
    NODES.map((name) => [name, { name, labels: labels[name] ?? {}, excluded: excluded.includes(name) }]),
  );
}

function members(names = NODES, patch: Partial<Member> & { node?: string } = {}): Member[] {
  return names.map((node) => ({
    node,
    apiserver: true,
    interfaces: ['eth0'],
    ...(patch.node === node || patch.node === undefined ? patch : {}),
  }));
}

function everywhere(patch: Partial<Advertisement> = {}): Advertisement {
  return { name: 'all', pools: 'all', nodeSelectors: [], interfaces: [], ...patch };
}

function aService(key: string, ip: string, patch: Partial<AnnouncedService> = {}): AnnouncedService {
  return {
    key,
    addresses: [{ ip, pool: 'lab' }],
    localTraffic: false,
    endpoints: { ready: new Set(), serving: new Set() },
    ...patch,
  };
}

const VIP = '192.0.2.10';

describe('who announces a VIP', () => {
  it('every speaker names the same announcer: the first node in the hash order of node and VIP', () => {
    const order = rankNodes(VIP, NODES);
    const decision = electAnnouncers({
      services: [aService('shop/web', VIP)],
      nodes: cluster(),
      advertisements: [everywhere()],
      members: members(),
    }).get(VIP)!;
    expect(decision.holder).toBe(order[0]);
    expect(decision.eligible).toEqual(order);
    // the input order does not matter: a speaker that lists its peers differently agrees
    expect(rankNodes(VIP, [...NODES].reverse())).toEqual(order);
  });

  it('when the holder dies, the next node in the same order takes over, and other VIPs stay where they were', () => {
    const vips = Array.from({ length: 40 }, (_, i) => `192.0.2.${i + 1}`);
    const services = vips.map((ip, i) => aService(`shop/s${i}`, ip));
    const before = electAnnouncers({ services, nodes: cluster(), advertisements: [everywhere()], members: members() });
    const dead = before.get(VIP)!.holder!;
    const after = electAnnouncers({
      services,
      nodes: cluster(),
      advertisements: [everywhere()],
      members: members(NODES.filter((n) => n !== dead)),
    });
    for (const ip of vips) {
      const was = before.get(ip)!;
      const now = after.get(ip)!;
      if (was.holder === dead) expect(now.holder).toBe(was.eligible[1]);
      else expect(now.holder).toBe(was.holder);
    }
    // and the VIPs spread: every node holds some of the 40
    expect(new Set(vips.map((ip) => before.get(ip)!.holder)).size).toBe(3);
  });

  it('a node excluded by label never announces, though its speaker is alive', () => {
    const vips = Array.from({ length: 30 }, (_, i) => `198.51.100.${i + 1}`);
    const decisions = electAnnouncers({
      services: vips.map((ip, i) => aService(`shop/s${i}`, ip)),
      nodes: cluster({}, ['node2']),
      advertisements: [everywhere()],
      members: members(),
    });
    const holders = vips.map((ip) => decisions.get(ip)!.holder);
    expect(holders).not.toContain('node2');
    expect(holders.filter((h) => h !== null)).toHaveLength(30);
  });

  it('a speaker that hears no peers (cut off) announces nothing', () => {
    const decision = electAnnouncers({
      services: [aService('shop/web', VIP)],
      nodes: cluster(),
      advertisements: [everywhere()],
      members: [],
    }).get(VIP)!;
    expect(decision.holder).toBeNull();
    expect(decision.why).toMatch(/hears no peers/);
  });
});

describe('externalTrafficPolicy: Local', () => {
  const local = (ready: string[], serving: string[] = []) =>
    aService('shop/web', VIP, { localTraffic: true, endpoints: { ready: new Set(ready), serving: new Set(serving) } });
  const elect = (service: AnnouncedService) =>
    electAnnouncers({ services: [service], nodes: cluster(), advertisements: [everywhere()], members: members() }).get(
      VIP,
    )!;

  it('only a node with a ready endpoint announces, and the VIP follows the endpoint when it moves', () => {
    const first = NODES.find((n) => n !== rankNodes(VIP, NODES)[0])!; // not the node Cluster traffic would pick
    expect(elect(local([first])).holder).toBe(first);
    const second = NODES.find((n) => n !== first)!;
    expect(elect(local([second])).holder).toBe(second);
  });

  it('with no ready endpoint anywhere, a node whose terminating endpoint still serves announces (kube-proxy falls back to it)', () => {
    expect(elect(local([], ['node3'])).holder).toBe('node3');
  });

  it('with no endpoint at all, nobody announces and the decision says why', () => {
    const decision = elect(local([]));
    expect(decision.holder).toBeNull();
    expect(decision.why).toBe('no announcing node has an endpoint of shop/web (Local traffic)');
  });
});

describe('L2Advertisements', () => {
  const decide = (advertisements: Advertisement[], patch: { labels?: Record<string, Record<string, string>> } = {}) =>
    electAnnouncers({
      services: [aService('shop/web', VIP)],
      nodes: cluster(patch.labels),
      advertisements,
      members: [
        { node: 'node1', apiserver: true, interfaces: ['eth0'] },
        { node: 'node2', apiserver: true, interfaces: ['eth0', 'vlan20'] },
        { node: 'node3', apiserver: true, interfaces: ['eth0', 'vlan20'] },
      ],
    }).get(VIP)!;

  it('a pool no advertisement names is not announced at all', () => {
    const decision = decide([everywhere({ pools: ['other'] })]);
    expect(decision.holder).toBeNull();
    expect(decision.why).toBe('no L2Advertisement announces pool lab');
  });

  it('node selectors pick the nodes that may announce', () => {
    const decision = decide([everywhere({ nodeSelectors: [{ matchLabels: { edge: 'true' } }] })], {
      labels: { node3: { edge: 'true' } },
    });
    expect(decision.eligible).toEqual(['node3']);
  });

  it('named interfaces: a node without any of them does not announce, the others announce on them', () => {
    const decision = decide([everywhere({ interfaces: ['vlan20'] })]);
    expect(decision.eligible).not.toContain('node1');
    expect(decision.announceOn).toEqual({ auto: false, interfaces: ['vlan20'] });
  });

  it('no interfaces named: the holder announces on the VIP subnet (auto)', () => {
    expect(decide([everywhere()]).announceOn).toEqual({ auto: true, interfaces: [] });
  });
});

describe('a speaker that lost the apiserver', () => {
  it('gives its VIPs to a peer that still reaches it', () => {
    const holder = rankNodes(VIP, NODES)[0]!;
    const decision = electAnnouncers({
      services: [aService('shop/web', VIP)],
      nodes: cluster(),
      advertisements: [everywhere()],
      members: members(NODES, { node: holder, apiserver: false }),
    }).get(VIP)!;
    expect(decision.holder).not.toBe(holder);
    expect(decision.holder).not.toBeNull();
  });

  it('when no speaker reaches it (the control plane is down), they keep announcing as before', () => {
    const decision = electAnnouncers({
      services: [aService('shop/web', VIP)],
      nodes: cluster(),
      advertisements: [everywhere()],
      members: members(NODES, { apiserver: false }),
    }).get(VIP)!;
    expect(decision.holder).toBe(rankNodes(VIP, NODES)[0]);
  });
});

describe('a shared VIP', () => {
  it('is one decision naming both Services', () => {
    const decisions = electAnnouncers({
      services: [aService('shop/web', VIP), aService('shop/api', VIP)],
      nodes: cluster(),
      advertisements: [everywhere()],
      members: members(),
    });
    expect([...decisions.keys()]).toEqual([VIP]);
    expect(decisions.get(VIP)!.services).toEqual(['shop/api', 'shop/web']);
  });
});
