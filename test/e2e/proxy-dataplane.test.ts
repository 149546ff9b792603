/**
 * Issue 3 at the data-plane level, with real packets: a client, a client outside the source ranges, the
 * load balancer and three nodes in network namespaces on one bridge. The ProxyDataplane runs in the lb
 * namespace; nodes run backends on their NodePorts and /healthz on 10256; clients send TCP and UDP to VIPs.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { netnsSupport, Topology } from '../netns/topology.ts';
import type { RpcClient } from '../netns/rpc.ts';
import { aLoadBalancer } from '../builders/proxied-load-balancer.ts';
import type { LbBuilderInput } from '../builders/proxied-load-balancer.ts';
import type { ProxyServiceStatus } from '../../providers/local/dataplane/proxy-dataplane.ts';

const support = netnsSupport();
if (!support.ok) console.warn(`skipping proxy data plane e2e: ${support.reason}`);
const suite = support.ok ? describe : describe.skip;

const NODES = ['node1', 'node2', 'node3'] as const;
const VIP = (n: number): string => `10.213.1.${n}`;
const VIP6 = (n: number): string => `fd00:213:1::${n}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface GetResult {
  ok: boolean;
  body: string;
}
const nodeOf = (r: GetResult): string => (r.ok ? (JSON.parse(r.body) as { node: string }).node : `error:${r.body}`);

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
  return Date.now() - start;
}

// 3x the 2 s the design promises: a loose bound for a shared, loaded 2-core machine (failover time is a
// benchmark's figure, not a unit test's)
const FAILOVER_BOUND_MS = 6_000;

suite.each(['nftables', 'userspace'] as const)('proxy data plane (%s back end)', (backend) => {
  let topo: Topology;
  let lb: RpcClient;
  let client: RpcClient;
  let outside: RpcClient;
  const node: Record<string, RpcClient> = {};
  const targets = NODES.map((n, i) => ({
    name: n,
    addresses: [`10.213.0.${11 + i}`, `fd00:213:0::${(11 + i).toString(16)}`],
  }));
  const services: Record<string, { vips: string[]; input: LbBuilderInput }> = {};

  const ensure = (key: string, vips: string[], input: LbBuilderInput): Promise<ProxyServiceStatus> => {
    services[key] = { vips, input };
    return lb.call('ensure', { key, vips, lb: aLoadBalancer({ targets, ...input }) });
  };
  const status = (key: string): Promise<ProxyServiceStatus> => lb.call('status', { key });
  const get = (from: RpcClient, url: string, count = 1, concurrency = 1): Promise<GetResult[]> =>
    from.call('get', { url, count, concurrency, timeoutMs: 1500 });
  const startNode = async (n: string): Promise<void> => {
    await node[n]!.call('http', { port: 30080 });
    await node[n]!.call('http', { port: 30081 });
    await node[n]!.call('http', { port: 10256 });
    await node[n]!.call('http', { port: 32001 });
    await node[n]!.call('udp', { port: 30053 });
  };
  const killNode = async (n: string): Promise<void> => {
    for (const port of [30080, 30081, 10256, 32001]) await node[n]!.call('close', { protocol: 'tcp', port });
    await node[n]!.call('close', { protocol: 'udp', port: 30053 });
  };
  const startLb = async (initial = false): Promise<RpcClient> => {
    const c = topo.spawnScript('lb', new URL('../netns/dataplane-agent.ts', import.meta.url).pathname);
    const init = initial
      ? Object.entries(services).map(([key, s]) => ({ key, vips: s.vips, lb: aLoadBalancer({ targets, ...s.input }) }))
      : [];
    const r = await c.call<{ backend: string }>('start', {
      options: { backend, vipInterface: 'lbp0', workers: 2, localnetInterfaces: ['eth0'] },
      initial: init,
    });
    expect(r.backend).toBe(backend);
    return c;
  };

  beforeAll(async () => {
    topo = await Topology.create({
      hosts: { client: 2, lb: 10, node1: 11, node2: 12, node3: 13, outside: 100 },
      routes: [
        { to: '10.213.1.0/24', via: 'lb' },
        { to: 'fd00:213:1::/64', via: 'lb' },
      ],
    });
    client = topo.agent('client');
    outside = topo.agent('outside');
    for (const n of NODES) {
      node[n] = topo.agent(n);
      await startNode(n);
    }
    lb = await startLb();
  }, 30_000);

  afterAll(async () => {
    await lb?.call('close').catch(() => {});
    await topo?.destroy();
  }, 30_000);

  it('spreads new connections over every node, IPv4 and IPv6, TCP and UDP', async () => {
    const st = await ensure('default/web', [VIP(10), VIP6(10)], {
      ports: [
        { port: 80, nodePort: 30080 },
        { port: 53, nodePort: 30053, protocol: 'UDP' },
      ],
    });
    expect(st.healthyTargets).toEqual(['node1', 'node2', 'node3']);
    for (const url of [`http://${VIP(10)}/`, `http://[${VIP6(10)}]/`]) {
      // random spread: with 60 requests a node below 5 is a one-in-100,000 event, not noise
      const seen = (await get(client, url, 60, 3)).map(nodeOf);
      for (const n of NODES) expect(seen.filter((s) => s === n).length).toBeGreaterThanOrEqual(5);
    }
    const udpNodes = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const [reply] = await client.call<Array<string | null>>('udpAsk', { host: VIP(10), port: 53, count: 1 });
      udpNodes.add(String(reply).split(' ')[0]!);
    }
    expect([...udpNodes].sort()).toEqual(['node1', 'node2', 'node3']);
  });

  it('takes a killed node out (2 s by design) with no failed new connection after, moves its UDP flows, and takes it back', async () => {
    // a UDP flow (fixed source port) that node2 serves
    let port = 41000;
    for (; ; port++) {
      const [r] = await client.call<Array<string | null>>('udpAsk', { host: VIP(10), port: 53, sourcePort: port });
      if (r?.startsWith('node2')) break;
    }
    await killNode('node2');
    const killedAt = Date.now();
    await until(
      'node2 out of rotation',
      async () => !(await status('default/web')).healthyTargets.includes('node2'),
      FAILOVER_BOUND_MS + 5000,
    );
    expect(Date.now() - killedAt).toBeLessThanOrEqual(FAILOVER_BOUND_MS);
    const after = (await get(client, `http://${VIP(10)}/`, 30, 3)).map(nodeOf);
    expect(after.filter((n) => n !== 'node1' && n !== 'node3')).toEqual([]);
    const [moved] = await client.call<Array<string | null>>('udpAsk', {
      host: VIP(10),
      port: 53,
      sourcePort: port,
      timeoutMs: 1000,
    });
    expect(moved?.split(' ')[0] ?? null).toMatch(/^node[13]$/);
    const events = await lb.call<Array<{ kind: string; target?: string; healthy?: boolean }>>('events');
    expect(events).toContainEqual(expect.objectContaining({ kind: 'TargetHealth', target: 'node2', healthy: false }));

    await startNode('node2');
    await until('node2 back', async () => (await status('default/web')).healthyTargets.includes('node2'), 5000);
    const back = (await get(client, `http://${VIP(10)}/`, 30, 3)).map(nodeOf);
    expect(back).toContain('node2');
    expect(back.filter((n) => n.startsWith('error'))).toEqual([]);
  });

  it('sends externalTrafficPolicy: Local traffic only to nodes whose healthCheckNodePort passes', async () => {
    await node.node2!.call('setHealth', { port: 32001, status: 503 });
    try {
      const st = await ensure('default/local', [VIP(11)], {
        name: 'local',
        policy: 'Local',
        healthCheckNodePort: 32001,
      });
      expect(st.healthyTargets).toEqual(['node1', 'node3']);
      const seen = (await get(client, `http://${VIP(11)}/`, 20, 2)).map(nodeOf);
      expect(new Set(seen)).toEqual(new Set(['node1', 'node3']));
    } finally {
      await node.node2!.call('setHealth', { port: 32001, status: 200 });
    }
  });

  it('with no healthy node fails open by default and closed when annotated', async () => {
    // nothing answers on 32002: every node fails its check
    const open = await ensure('default/open', [VIP(15)], { name: 'open', policy: 'Local', healthCheckNodePort: 32002 });
    expect(open).toMatchObject({ failOpen: true, healthyTargets: [] });
    expect((await get(client, `http://${VIP(15)}/`, 6)).every((r) => r.ok)).toBe(true);
    const events = await lb.call<Array<{ kind: string; service?: string; active?: boolean }>>('events');
    expect(events).toContainEqual({ kind: 'FailOpen', service: 'default/open', active: true });
    const closed = await ensure('default/closed', [VIP(16)], {
      name: 'closed',
      policy: 'Local',
      healthCheckNodePort: 32002,
      annotations: { 'lbprovisioner.io/no-healthy-targets': 'closed' },
    });
    expect(closed).toMatchObject({
      failOpen: false,
      ports: [{ port: 80, protocol: 'TCP', error: 'NoHealthyTargets' }],
    });
    expect((await get(client, `http://${VIP(16)}/`, 2)).map((r) => r.body)).toEqual([
      expect.stringMatching(/ECONNREFUSED|ECONNRESET|socket hang up/),
      expect.stringMatching(/ECONNREFUSED|ECONNRESET|socket hang up/),
    ]);
    await lb.call('remove', { key: 'default/open' });
    await lb.call('remove', { key: 'default/closed' });
    delete services['default/open'];
    delete services['default/closed'];
  });

  it('forwards to loopback targets (127.x nodes, as in the demo) for outside clients and for the host itself', async () => {
    const host = topo.agent('lb', 'loop1');
    await host.call('http', { port: 30082 });
    await host.call('http', { port: 10256 });
    await ensure('default/loop', [VIP(17)], {
      name: 'loop',
      ports: [{ port: 80, nodePort: 30082 }],
      targets: [{ name: 'loop1', addresses: ['127.0.1.1'] }],
    });
    expect((await get(client, `http://${VIP(17)}/`, 3)).map(nodeOf)).toEqual(['loop1', 'loop1', 'loop1']);
    expect((await get(host, `http://${VIP(17)}/`, 2)).map(nodeOf)).toEqual(['loop1', 'loop1']);
    if (backend === 'nftables') {
      // route_localnet only where clients come in, never on every interface
      expect((await topo.exec('lb', 'sysctl', ['-n', 'net.ipv4.conf.eth0.route_localnet'])).trim()).toBe('1');
      expect((await topo.exec('lb', 'sysctl', ['-n', 'net.ipv4.conf.all.route_localnet'])).trim()).toBe('0');
    }
    await lb.call('remove', { key: 'default/loop' });
    delete services['default/loop'];
    await host.stop();
  });

  it('enforces loadBalancerSourceRanges for TCP and UDP', async () => {
    const ports: LbBuilderInput['ports'] = [
      { port: 80, nodePort: 30080 },
      { port: 53, nodePort: 30053, protocol: 'UDP' },
    ];
    // the positive control: without ranges the outside client reaches the VIP, over TCP and UDP, so its
    // refusal below is the ranges' doing and not a route it never had
    await ensure('default/ranged', [VIP(12)], { name: 'ranged', ports });
    expect((await get(outside, `http://${VIP(12)}/`, 3)).every((r) => r.ok)).toBe(true);
    expect((await outside.call<Array<string | null>>('udpAsk', { host: VIP(12), port: 53 }))[0]).toMatch(/^node/);

    await ensure('default/ranged', [VIP(12)], { name: 'ranged', sourceRanges: ['10.213.0.0/28'], ports });
    expect((await get(client, `http://${VIP(12)}/`, 3)).every((r) => r.ok)).toBe(true);
    expect((await client.call<Array<string | null>>('udpAsk', { host: VIP(12), port: 53 }))[0]).toMatch(/^node/);
    expect((await get(outside, `http://${VIP(12)}/`, 3)).some((r) => r.ok)).toBe(false);
    expect(await outside.call('udpAsk', { host: VIP(12), port: 53, count: 2 })).toEqual([null, null]);
  });

  it('keeps a client on one node with sessionAffinity: ClientIP', async () => {
    await ensure('default/sticky', [VIP(13)], { name: 'sticky', affinity: true });
    const seen = (await get(client, `http://${VIP(13)}/`, 20)).map(nodeOf);
    expect(new Set(seen).size).toBe(1);
    expect(seen[0]).toMatch(/^node/);
  });

  it('adds and removes a port live without dropping an established connection', async () => {
    const held = await client.call<{ id: number; body: string }>('hold', { url: `http://${VIP(10)}/` });
    const heldNode = nodeOf({ ok: true, body: held.body });
    const withPort = {
      ports: [
        { port: 80, nodePort: 30080 },
        { port: 53, nodePort: 30053, protocol: 'UDP' as const },
        { port: 8080, nodePort: 30081 },
      ],
    };
    await ensure('default/web', [VIP(10), VIP6(10)], withPort);
    expect((await get(client, `http://${VIP(10)}:8080/`, 3)).every((r) => r.ok)).toBe(true);
    await ensure('default/web', [VIP(10), VIP6(10)], { ports: withPort.ports.slice(0, 2) });
    expect((await get(client, `http://${VIP(10)}:8080/`, 2)).some((r) => r.ok)).toBe(false);
    const again = JSON.parse(await client.call<string>('heldGet', { id: held.id, url: `http://${VIP(10)}/` })) as {
      node: string;
      req: number;
    };
    expect(again).toMatchObject({ node: heldNode, req: 2 });
  });

  it('refuses a second instance, and a restarted instance rebuilds from desired state keeping connections', async () => {
    const second = topo.spawnScript('lb', new URL('../netns/dataplane-agent.ts', import.meta.url).pathname);
    await expect(second.call('start', { options: { backend, vipInterface: 'lbp0' } })).rejects.toThrow(
      /already runs on this host/,
    );
    await second.stop();

    const held = await client.call<{ id: number; body: string }>('hold', { url: `http://${VIP(10)}/` });
    const [flowReply] = await client.call<Array<string | null>>('udpAsk', {
      host: VIP(10),
      port: 53,
      sourcePort: 42000,
    });
    const flowNode = String(flowReply).split(' ')[0]!;
    await lb.kill(); // a crash: nothing cleaned up
    delete services['default/sticky']; // gone while we were down: its VIP and rules must not survive
    // the UDP flow's node left the cluster while we were down (it still answers: only we can move the flow)
    const web = services['default/web']!;
    web.input = { ...web.input, targets: targets.filter((t) => t.name !== flowNode) };
    lb = await startLb(true);
    const [movedReply] = await client.call<Array<string | null>>('udpAsk', {
      host: VIP(10),
      port: 53,
      sourcePort: 42000,
    });
    expect(movedReply?.split(' ')[0]).toMatch(/^node\d$/);
    expect(movedReply?.split(' ')[0]).not.toBe(flowNode);
    const addrs = await topo.exec('lb', 'ip', ['-o', 'addr', 'show', 'dev', 'lbp0']);
    expect(addrs).not.toContain(VIP(13));
    expect(addrs.match(new RegExp(`${VIP(10).replace(/\./g, '\\.')}/`, 'g'))).toHaveLength(1);
    const seen = (await get(client, `http://${VIP(10)}/`, 9, 3)).map(nodeOf);
    expect(seen.filter((n) => n.startsWith('error'))).toEqual([]);
    expect((await get(client, `http://${VIP(13)}/`, 1))[0]!.ok).toBe(false);
    if (backend === 'nftables') {
      // the kernel kept the connection's NAT binding across the restart
      const again = JSON.parse(await client.call<string>('heldGet', { id: held.id, url: `http://${VIP(10)}/` })) as {
        req: number;
      };
      expect(again.req).toBe(2);
      const table = await topo.exec('lb', 'nft', ['list', 'table', 'inet', 'lbprovisioner']);
      expect(table).not.toContain('default/sticky');
    }
  });

  // PROXY protocol is a userspace feature; the kernel path forwards packets untouched
  if (backend === 'userspace')
    it('sends a PROXY protocol v2 header with the client address when annotated', async () => {
      for (const n of NODES) await node[n]!.call('proxyv2', { port: 30090 }).catch(() => {});
      await ensure('default/pp', [VIP(14)], {
        name: 'pp',
        ports: [{ port: 81, nodePort: 30090 }],
        annotations: { 'lbprovisioner.io/proxy-protocol': 'v2' },
      });
      const r = await client.call<{ ok: boolean; body: string }>('tcp', { host: VIP(14), port: 81 });
      expect(r.body.trim()).toMatch(/^node[123] 10\.213\.0\.2$/);
    });

  if (backend === 'nftables')
    it('never touches an nftables table another program made', async () => {
      await topo.exec('lb', 'nft', ['add', 'table', 'inet', 'foreign']);
      const other = topo.spawnScript('lb', new URL('../netns/dataplane-agent.ts', import.meta.url).pathname);
      await expect(
        other.call('start', {
          options: { backend, nftTable: 'foreign', lockName: 'other-lock', vipInterface: 'lbp1' },
        }),
      ).rejects.toThrow(/table inet foreign exists and is not ours/);
      // auto: the real dry run fails, so it falls back to userspace and says why
      const started = await other.call<{ backend: string }>('start', {
        options: { backend: 'auto', nftTable: 'foreign', lockName: 'other-lock', vipInterface: 'lbp1', workers: 1 },
      });
      expect(started.backend).toBe('userspace');
      expect(await other.call<string[]>('logs')).toContainEqual(
        expect.stringMatching(/proxy back end: userspace \(nftables unavailable\).*not ours/),
      );
      await other.call('teardown');
      await other.stop();
      expect(await topo.exec('lb', 'nft', ['list', 'table', 'inet', 'foreign'])).toContain('table inet foreign');
    });

  it('removes a Service: its VIP and forwarding go', async () => {
    await lb.call('remove', { key: 'default/ranged' });
    const addrs = await topo.exec('lb', 'ip', ['-o', 'addr', 'show', 'dev', 'lbp0']);
    expect(addrs).not.toContain(VIP(12));
    expect((await get(client, `http://${VIP(12)}/`, 1))[0]!.ok).toBe(false);
  });

  it('teardown (uninstall) leaves nothing of ours on the host', async () => {
    await lb.call('teardown');
    expect(await topo.exec('lb', 'ip', ['-o', 'link', 'show'])).not.toContain('lbp0');
    expect(await topo.exec('lb', 'nft', ['list', 'tables'])).not.toContain('lbprovisioner');
  });
});
