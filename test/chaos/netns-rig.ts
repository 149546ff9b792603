/**
 * The local provider's side of the soak with `--dataplane proxy` (nftables) in network namespaces, built
 * with test/netns: the replicas run in an `lb` host namespace and program it for real; six node
 * namespaces carry the addresses the soak's Nodes have and serve NodePorts and kube-proxy's /healthz like
 * the e2e suite's stand-ins; a client namespace sends real packets to the VIPs. The probe reads the lb
 * host (nftables JSON, the VIP interface), not provider code. Its own fault: a network partition of the lb
 * host from the apiserver (an nftables drop rule in the lb namespace), healed after a few seconds.
 */
import * as k8s from '@kubernetes/client-node';
import { netnsSupport, Topology } from '../netns/topology.ts';
import type { RpcClient } from '../netns/rpc.ts';
import { READY_CONDITION } from '../../src/model/names.ts';
import type { ChaosCluster } from './cluster.ts';
import { addressOf, type Checks, type ProviderProbe } from './invariants.ts';
import type { Rng } from './rng.ts';
import type { ProviderRig } from './soak.ts';
import type { World } from './world.ts';

/** 10.213.SUBNET.0/24: the lab's bridge; the host (root namespace) is .1 on it, where the apiserver also serves */
const SUBNET = 31;
const NODES = 6;
const VIP_INTERFACE = 'lbp0';
const TABLE = 'lbprovisioner';
const PARTITION_TABLE = 'chaos_partition';
/** a conntrack mark bit apart from the data plane's masquerade bit (0x400000) */
const CUT_MARK = '0x01000000';
/** groups no one else uses: the replicas' sockets carry them, so nftables can tell the leader's from the standby's */
const REPLICA_GID_BASE = 64_201;
/** the soak's pools (world.ts) live off the bridge: the client routes them via the lb host */
const POOL_ROUTES = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'];
/** the soak's Node addresses (world.ts: 10.0.10{0,1,2}.x): on the node namespaces, on-link from the lb host */
const NODE_NET = '10.0.100.0/22';
const KUBE_PROXY_HEALTH_PORT = 10256;

/** nftables JSON (`nft -j list table`), only the parts the probe reads */
interface NftObject {
  set?: { name: string; elem?: unknown[] };
  rule?: { chain: string; comment?: string; expr: unknown[] };
}

/** every value under `key` anywhere in a JSON value (goto targets, dnat targets) */
function collect(value: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(value)) for (const v of value) collect(v, key, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === key) out.push(v);
      collect(v, key, out);
    }
  }
  return out;
}

/** What the lb host forwards, read from our nftables table: per Service port, its VIPs and targets. */
export interface ForwardingView {
  vips: string[];
  /** "ns/name TCP/80" -> { rule text, targets "addr:port" } */
  ports: Map<string, { match: string; targets: string[] }>;
}

export function forwardingView(nftJson: string): ForwardingView {
  const objects = (JSON.parse(nftJson) as { nftables: NftObject[] }).nftables;
  const rules = objects.flatMap((o) => (o.rule ? [o.rule] : []));
  const vips = objects
    .flatMap((o) => (o.set && /^vips_v[46]$/.test(o.set.name) ? (o.set.elem ?? []) : []))
    .map((e) => String(e));
  const chainRules = (chain: string) => rules.filter((r) => r.chain === chain);
  const targetsOf = (chain: string, seen = new Set<string>()): string[] => {
    if (seen.has(chain)) return [];
    seen.add(chain);
    return chainRules(chain).flatMap((r) => [
      ...collect(r.expr, 'dnat').map((d) => {
        const { addr, port } = d as { addr?: string; port?: number };
        return `${addr}:${port}`;
      }),
      ...collect(r.expr, 'goto').flatMap((g) => targetsOf((g as { target: string }).target, seen)),
    ]);
  };
  const ports = new Map<string, { match: string; targets: string[] }>();
  for (const r of chainRules('services')) {
    const targets = collect(r.expr, 'goto').flatMap((g) => targetsOf((g as { target: string }).target));
    ports.set(r.comment ?? '(no comment)', { match: JSON.stringify(r.expr), targets: targets.sort() });
  }
  return { vips: vips.sort(), ports };
}

class ProxyDataplaneProbe implements ProviderProbe {
  readonly name = 'local' as const;
  private readonly topo: Topology;
  private readonly client: RpcClient;
  private readonly nodes: RpcClient[];
  /** "tcp:port" / "udp:port" served by every node stand-in so far */
  private readonly served = new Set<string>();

  constructor(topo: Topology, client: RpcClient, nodes: RpcClient[]) {
    this.topo = topo;
    this.client = client;
    this.nodes = nodes;
  }

  /** kube-proxy stand-ins: every node serves every NodePort and health-check port an owned Service uses */
  private async serve(owned: k8s.V1Service[]): Promise<void> {
    const want: string[] = [];
    for (const s of owned) {
      for (const p of s.spec?.ports ?? [])
        if (p.nodePort) want.push(`${p.protocol === 'UDP' ? 'udp' : 'tcp'}:${p.nodePort}`);
      if (s.spec?.healthCheckNodePort) want.push(`tcp:${s.spec.healthCheckNodePort}`);
    }
    for (const key of want) {
      if (this.served.has(key)) continue;
      this.served.add(key);
      const [proto, port] = key.split(':');
      await Promise.all(this.nodes.map((n) => n.call(proto === 'udp' ? 'udp' : 'http', { port: Number(port) })));
    }
  }

  async check(world: World, owned: k8s.V1Service[], c: Checks): Promise<void> {
    await this.serve(owned);
    const eligible = world.eligibleNodes();
    const eligibleIPs = new Set(eligible.map((n) => n.ip));
    const eligibleAgents = new Set(eligible.map((n) => `node${n.instance}`));
    const byVip = new Map(owned.flatMap((s) => (addressOf(s) ? [[addressOf(s)!, s] as const] : [])));

    // 2: every VIP on the interface and in the table belongs to an owned Service holding that address
    const onInterface = (
      JSON.parse(await this.topo.exec('lb', 'ip', ['-j', 'addr', 'show', 'dev', VIP_INTERFACE]).catch(() => '[]')) as {
        addr_info?: { local: string; scope?: string }[];
      }[]
    ).flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => a.local));
    const view = forwardingView(
      await this.topo.exec('lb', 'nft', ['-j', 'list', 'table', 'inet', TABLE]).catch(() => '{"nftables":[]}'),
    );
    for (const [where, list] of [
      [VIP_INTERFACE, onInterface],
      [`nftables set vips`, view.vips],
    ] as const) {
      for (const vip of list)
        c.that(byVip.has(vip), () => `2: ${vip} on the lb host (${where}) belongs to no owned local Service`);
      for (const vip of byVip.keys())
        c.that(list.includes(vip), () => `1: ${byVip.get(vip)!.metadata!.name} address ${vip} missing from ${where}`);
    }

    // 1 + 2: the forwarding rules are exactly the owned Services' ports, to the eligible nodes' NodePorts
    const want = new Map<string, { vip: string; targets: string[] }>();
    for (const s of owned) {
      const vip = addressOf(s);
      if (!vip) continue;
      for (const p of s.spec?.ports ?? []) {
        want.set(`${s.metadata!.namespace}/${s.metadata!.name} ${p.protocol}/${p.port}`, {
          vip,
          targets: [...eligibleIPs].map((ip) => `${ip}:${p.nodePort}`).sort(),
        });
      }
    }
    for (const [key, have] of view.ports) {
      const w = want.get(key);
      if (!c.that(w !== undefined, () => `2: nftables forwards ${key}, which no owned local Service has`)) continue;
      c.that(have.match.includes(`"${w!.vip}"`), () => `1: nftables rule for ${key} does not match its VIP ${w!.vip}`);
      c.that(
        JSON.stringify(have.targets) === JSON.stringify(w!.targets),
        () => `1: ${key} forwards to ${have.targets.join(' ') || 'nothing'}, eligible ${w!.targets.join(' ')}`,
      );
    }
    for (const [key, w] of want) {
      // a port with no eligible node has no rule on purpose: the port is closed
      if (w.targets.length) c.that(view.ports.has(key), () => `1: nftables has no rule for ${key}`);
    }

    // the stand-ins serve every health-check port, so the data plane must see healthy nodes, not fail open
    // (and must have said so on the Service: a write that comes later would land while nothing changes)
    if (eligible.length > 0) {
      for (const s of owned) {
        const ready = s.status?.conditions?.find((x) => x.type === READY_CONDITION);
        c.that(
          !ready?.message?.includes('fail open'),
          () => `1: ${s.metadata!.name} fails open though its nodes answer their health checks: ${ready?.message}`,
        );
      }
    }

    // positive: real packets from the client to every owned port reach an eligible node (or, with none, nothing)
    const probes = owned.filter(addressOf).flatMap((s) =>
      (s.spec?.ports ?? []).map(async (p) => {
        const vip = addressOf(s)!;
        const what = `${s.metadata!.name} ${vip}:${p.port}/${p.protocol}`;
        const reply =
          p.protocol === 'UDP'
            ? ((await this.client.call<(string | null)[]>('udpAsk', { host: vip, port: p.port, timeoutMs: 1000 }))[0] ??
              undefined)
            : await this.client
                .call<{ ok: boolean; body: string }[]>('get', { url: `http://${vip}:${p.port}/`, timeoutMs: 1000 })
                .then(([r]) => (r?.ok ? (JSON.parse(r.body) as { node: string }).node : undefined));
        const node = reply?.split(' ')[0];
        if (eligible.length === 0)
          c.that(node === undefined, () => `1: ${what} answered by ${node} though no node is eligible`);
        else
          c.that(
            node !== undefined && eligibleAgents.has(node),
            () => `1: ${what} from the client: ${node ? `reached ${node}, not an eligible node` : 'no answer'}`,
          );
      }),
    );
    await Promise.all(probes);
  }
}

/**
 * The lab lives from before the control plane starts (the apiserver serves on its host address, which
 * must be in the serving certificate) until the soak ends.
 */
export class ProxyDataplaneLab {
  readonly bridgeAddress = `10.213.${SUBNET}.1`;
  private topo: Topology | undefined;

  static support(): { ok: boolean; reason: string } {
    return netnsSupport();
  }

  async build(): Promise<void> {
    const hosts: Record<string, number> = { client: 2, lb: 10 };
    for (let i = 0; i < NODES; i++) hosts[`node${i}`] = 20 + i;
    this.topo = await Topology.create({
      hosts,
      subnet: SUBNET,
      hostLink: true,
      routes: POOL_ROUTES.map((to) => ({ to, via: 'lb' })),
    });
    // node i answers on the address the soak gives the Node of instance i (world.ts), and speaks from it
    // (a UDP reply from another source address would miss the lb host's conntrack entry)
    for (let i = 0; i < NODES; i++) {
      const ip = `10.0.${100 + (i % 3)}.${10 + i}`;
      await this.topo.exec(`node${i}`, 'ip', ['addr', 'add', `${ip}/32`, 'dev', 'eth0']);
      await this.topo.exec(`node${i}`, 'ip', ['route', 'replace', `10.213.${SUBNET}.0/24`, 'dev', 'eth0', 'src', ip]);
    }
    await this.topo.exec('lb', 'ip', ['route', 'add', NODE_NET, 'dev', 'eth0']);
  }

  async destroy(): Promise<void> {
    await this.topo?.destroy();
    this.topo = undefined;
  }

  /** The rig: replicas in the lb namespace with the proxy data plane, the probe, the partition fault. */
  readonly rig = async (cluster: ChaosCluster, rng: Rng, log: (l: string) => void): Promise<ProviderRig> => {
    const topo = this.topo;
    if (!topo) throw new Error('the proxy data plane lab is not built');
    if (!cluster.cp.bridgeUrl) throw new Error('the control plane serves on no bridge address');
    const kubeconfig = await cluster.cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner', {
      server: cluster.cp.bridgeUrl,
    });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const token = kc.getCurrentUser()?.token ?? '';
    const client = topo.agent('client');
    const nodes = Array.from({ length: NODES }, (_, i) => topo.agent(`node${i}`));
    await Promise.all(nodes.map((n) => n.call('http', { port: KUBE_PROXY_HEALTH_PORT })));
    const apiPort = new URL(cluster.cp.bridgeUrl).port;
    const gids = new Map<string, string>();
    const gidOf = (identity: string): string => {
      if (!gids.has(identity)) gids.set(identity, String(REPLICA_GID_BASE + gids.size));
      return gids.get(identity)!;
    };
    const nft = (...args: string[]) => topo.exec('lb', 'nft', args);
    log(`chaos: proxy data plane lab: lb host ${topo.ns('lb')}, apiserver at ${cluster.cp.bridgeUrl}`);
    return {
      name: 'local',
      args: ['--dataplane', 'proxy', '--proxy-backend', 'nftables', '--vip-interface', VIP_INTERFACE],
      env: {},
      secrets: [token],
      kubeconfig,
      // each replica under a group of its own (uid 0 keeps its capabilities), so a partition can cut one off
      command: (identity) => [
        'ip',
        'netns',
        'exec',
        topo.ns('lb'),
        'setpriv',
        '--regid',
        gidOf(identity),
        '--keep-groups',
        '--',
      ],
      probe: new ProxyDataplaneProbe(topo, client, nodes),
      providerID: () => undefined,
      instances: NODES,
      faults: {
        // the leader's lease runs out under it while the standby beside it takes over (and must wait for the
        // data plane's host lock until the old leader steps down); with no leader, the whole lb host
        partition: async (note, leader) => {
          const ms = rng.int(2000, 8000);
          note(`FAULT partition: ${leader ?? 'the lb host'} cut off from the apiserver for ${ms} ms`);
          // the leader's packets out are dropped and mark their connection, whose packets in are then dropped too
          const who = leader ? ['meta', 'skgid', gidOf(leader)] : [];
          await nft('add', 'table', 'inet', PARTITION_TABLE);
          for (const [chain, hook, rule] of [
            [
              'out',
              'output',
              [
                ...who,
                'ip',
                'daddr',
                this.bridgeAddress,
                'tcp',
                'dport',
                apiPort,
                'ct',
                'mark',
                'set',
                'ct',
                'mark',
                '|',
                CUT_MARK,
              ],
            ],
            [
              'in',
              'input',
              ['ip', 'saddr', this.bridgeAddress, 'tcp', 'sport', apiPort, 'ct', 'mark', '&', CUT_MARK, '==', CUT_MARK],
            ],
          ] as const) {
            await nft('add', 'chain', 'inet', PARTITION_TABLE, chain, `{ type filter hook ${hook} priority 0; }`);
            await nft('add', 'rule', 'inet', PARTITION_TABLE, chain, ...rule, 'drop');
          }
          await new Promise((r) => setTimeout(r, ms));
          await nft('delete', 'table', 'inet', PARTITION_TABLE);
          note('partition healed');
        },
      },
      stop: async () => {
        await nft('delete', 'table', 'inet', PARTITION_TABLE).catch(() => {});
      },
    };
  };
}
