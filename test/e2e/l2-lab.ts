/**
 * The L2 lab, shared by the e2e suite and bench/l2-failover.ts: three "nodes" and a client in network
 * namespaces on one bridge (a shared L2 segment), a real kube-apiserver reachable from the namespaces through
 * the harness's bridge address, the controller (`run --provider local --dataplane l2`) in the root namespace,
 * a speaker process (`lb-provisioner speaker`) in each node namespace under its own ServiceAccount
 * (deploy/speaker/rbac.yaml), and in each node a stand-in for kube-proxy: an nftables rule that takes
 * VIP:80 to a local backend on 8080 answering with the node's name.
 */
import * as k8s from '@kubernetes/client-node';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Topology } from '../netns/topology.ts';
import type { RpcClient } from '../netns/rpc.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { createNode, waitFor } from '../harness/fixtures.ts';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = `${REPO}bin/lb-provisioner.js`;
const DEPLOY = `${REPO}deploy/`;
export const NODES = ['node1', 'node2', 'node3'] as const;
export type NodeName = (typeof NODES)[number];
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export interface LabOptions {
  /** third octet of 10.213.N.0/24: unique per suite, so runs side by side do not collide */
  subnet: number;
  /** extra speaker flags (heartbeat timing) */
  speakerArgs?: string[];
  /** log lines of every process, for failures */
  keepLogs?: number;
}

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
}

export class L2Lab {
  readonly topo: Topology;
  readonly cp: ControlPlane;
  readonly admin: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly client: RpcClient;
  readonly backends = new Map<NodeName, RpcClient>();
  readonly speakers = new Map<NodeName, Proc>();
  readonly logs: string[] = [];
  readonly #opts: LabOptions;
  readonly #macs = new Map<string, NodeName>();
  readonly #children: ChildProcess[] = [];
  #speakerKubeconfig = '';

  private constructor(opts: LabOptions, topo: Topology, cp: ControlPlane, client: RpcClient) {
    this.#opts = opts;
    this.topo = topo;
    this.cp = cp;
    this.admin = cp.kubeConfig();
    this.core = this.admin.makeApiClient(k8s.CoreV1Api);
    this.custom = this.admin.makeApiClient(k8s.CustomObjectsApi);
    this.client = client;
  }

  /** The pool: .192-.223 of the bridge subnet, and the same hosts in its IPv6 /64: on the clients' link. */
  static pool(subnet: number): { v4: string; v6: string } {
    return { v4: `10.213.${subnet}.192/27`, v6: `fd00:213:${subnet}::c0/123` };
  }

  static async start(opts: LabOptions): Promise<L2Lab> {
    const hosts: Record<string, number> = { client: 2, node1: 11, node2: 12, node3: 13 };
    const topo = await Topology.create({ hosts, subnet: opts.subnet, hostLink: true });
    let cp: ControlPlane | undefined;
    try {
      cp = await startControlPlane({ bridgeAddress: `10.213.${opts.subnet}.1` });
      const lab = new L2Lab(opts, topo, cp, topo.agent('client'));
      await lab.#setUp();
      return lab;
    } catch (err) {
      await topo.destroy().catch(() => {});
      await cp?.stop().catch(() => {});
      throw err;
    }
  }

  async #setUp(): Promise<void> {
    await run('bash', [`${REPO}providers/local/l2/native/build.sh`]);
    const crds = (await readdir(`${DEPLOY}crds`))
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .map((f) => `${DEPLOY}crds/${f}`);
    for (const file of [...crds, `${DEPLOY}controller/rbac.yaml`, `${DEPLOY}speaker/rbac.yaml`]) {
      const r = await this.cp.kubectl(['apply', '--server-side', '-f', file]);
      if (r.code !== 0) throw new Error(`kubectl apply ${file}: ${r.stderr}`);
    }
    const established = await this.cp.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      ...crds.flatMap((f) => ['-f', f]),
    ]);
    if (established.code !== 0) throw new Error(`CRDs not established: ${established.stderr}`);
    // the shipped DaemonSet and L2Advertisement must be what this apiserver accepts
    for (const file of ['daemonset.yaml', 'l2advertisement.yaml']) {
      const r = await this.cp.kubectl(['apply', '--dry-run=server', '-f', `${DEPLOY}speaker/${file}`]);
      if (r.code !== 0) throw new Error(`deploy/speaker/${file} is refused: ${r.stderr}`);
    }
    if (!this.cp.bridgeUrl) throw new Error('the control plane has no bridge URL');
    this.#speakerKubeconfig = await this.cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner-speaker', {
      server: this.cp.bridgeUrl,
    });
    const pool = L2Lab.pool(this.#opts.subnet);
    await this.custom.createClusterCustomObject({
      group: 'lbprovisioner.io',
      version: 'v1alpha1',
      plural: 'ippools',
      body: {
        apiVersion: 'lbprovisioner.io/v1alpha1',
        kind: 'IPPool',
        metadata: { name: 'lab' },
        spec: { addresses: [pool.v4, pool.v6] },
      },
    });
    await this.setAdvertisement('everywhere', { ipPools: ['lab'] });
    for (const node of NODES) {
      await createNode(this.admin, {
        name: node,
        internalIP: this.topo.addr4(node),
        internalIPv6: this.topo.addr6(node),
      });
      const link = JSON.parse(await this.topo.exec(node, 'ip', ['-j', 'link', 'show', 'eth0'])) as {
        address: string;
      }[];
      this.#macs.set(link[0]!.address.toLowerCase(), node);
      // kube-proxy's stand-in: VIP:80 (any pool address) to the local backend on 8080
      const rules = [
        'table inet kube-proxy-standin {',
        '  chain prerouting {',
        '    type nat hook prerouting priority dstnat;',
        `    ip daddr ${pool.v4} tcp dport 80 redirect to :8080`,
        `    ip6 daddr ${pool.v6} tcp dport 80 redirect to :8080`,
        '  }',
        '}',
      ].join('\n');
      await this.topo.exec(node, 'sh', ['-c', `printf '%s\\n' '${rules}' | nft -f -`]);
      const backend = this.topo.agent(node);
      await backend.call('http', { port: 8080 });
      this.backends.set(node, backend);
    }
    await this.#startController();
    for (const node of NODES) this.startSpeaker(node);
  }

  async #startController(): Promise<Proc> {
    const kubeconfig = await this.cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner');
    const args = [BIN, 'run', '--kubeconfig', kubeconfig, '--provider', 'local', '--dataplane', 'l2'];
    args.push('--cluster-name', 'l2lab', '--no-leader-elect', '--metrics-bind-address', '0', '--log-level', 'info');
    return this.#spawn('controller', process.execPath, args);
  }

  /** The speakers' identity (their ServiceAccount token), for checking what it may and may not do. */
  speakerKubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(this.#speakerKubeconfig);
    return kc;
  }

  startSpeaker(node: NodeName): void {
    const args = [BIN, 'speaker', '--kubeconfig', this.#speakerKubeconfig, '--node-name', node];
    args.push('--metrics-bind-address', '127.0.0.1:7473', '--log-level', 'info', ...(this.#opts.speakerArgs ?? []));
    this.speakers.set(node, this.#spawn(node, 'ip', ['netns', 'exec', this.topo.ns(node), process.execPath, ...args]));
  }

  /** SIGKILL (a crash) or SIGTERM (a clean stop); resolves once the process is gone. */
  async stopSpeaker(node: NodeName, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const proc = this.speakers.get(node);
    this.speakers.delete(node);
    if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.child.kill(signal);
    await proc.exited;
  }

  /** `ip netns exec` execs the command: the child is the speaker itself, so a signal reaches it directly. */
  #spawn(name: string, cmd: string, args: string[]): Proc {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO });
    const keep = (line: string): void => {
      this.logs.push(`${name}: ${line}`);
      if (this.logs.length > (this.#opts.keepLogs ?? 4000)) this.logs.splice(0, 1000);
    };
    createInterface({ input: proc.stdout! }).on('line', keep);
    createInterface({ input: proc.stderr! }).on('line', (l) => keep(`stderr: ${l}`));
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    this.#children.push(proc);
    return { child: proc, exited };
  }

  async setAdvertisement(name: string, spec: Record<string, unknown>): Promise<void> {
    const body = { apiVersion: 'lbprovisioner.io/v1alpha1', kind: 'L2Advertisement', metadata: { name }, spec };
    await this.custom.patchClusterCustomObject(
      {
        group: 'lbprovisioner.io',
        version: 'v1alpha1',
        plural: 'l2advertisements',
        name,
        body,
        fieldManager: 'l2lab',
        force: true,
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
    );
  }

  async labelNode(node: NodeName, labels: Record<string, string | null>): Promise<void> {
    await this.core.patchNode({ name: node, body: { metadata: { labels } } }, MERGE);
  }

  /** Creates a LoadBalancer Service (port 80) and waits for its addresses. */
  async createService(
    namespace: string,
    name: string,
    opts: { ips?: string[]; local?: boolean; family?: 'IPv4' | 'IPv6' } = {},
  ): Promise<string[]> {
    await this.core.createNamespacedService({
      namespace,
      body: {
        metadata: { name, ...(opts.ips ? { annotations: { 'lbprovisioner.io/ips': opts.ips.join(',') } } : {}) },
        spec: {
          type: 'LoadBalancer',
          ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
          ...(opts.local ? { externalTrafficPolicy: 'Local' } : {}),
          ...(opts.family ? { ipFamilyPolicy: 'SingleStack', ipFamilies: [opts.family] } : {}),
        },
      },
    });
    const svc = await this.until(async () => {
      const s = await this.core.readNamespacedService({ name, namespace });
      return s.status?.loadBalancer?.ingress?.length ? s : undefined;
    }, `${namespace}/${name} to get an address`);
    return svc.status!.loadBalancer!.ingress!.map((i) => i.ip!);
  }

  /** Replaces the Service's EndpointSlice: one ready endpoint per node given. */
  async setEndpoints(namespace: string, service: string, nodes: readonly NodeName[]): Promise<void> {
    const discovery = this.admin.makeApiClient(k8s.DiscoveryV1Api);
    const name = `${service}-lab`;
    await discovery.deleteNamespacedEndpointSlice({ name, namespace }).catch(() => {});
    await discovery.createNamespacedEndpointSlice({
      namespace,
      body: {
        metadata: { name, labels: { 'kubernetes.io/service-name': service } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: nodes.map((node) => ({
          addresses: [this.topo.addr4(node)],
          nodeName: node,
          conditions: { ready: true },
        })),
      },
    });
  }

  /**
   * Cuts (or heals) a node's link at the switch: its bridge port stops forwarding while both ends keep
   * carrier, as a dead switch port or a partition does (the node is not told).
   */
  async setLink(node: NodeName, up: boolean): Promise<void> {
    const [eth0] = JSON.parse(await this.topo.exec(node, 'ip', ['-j', 'link', 'show', 'eth0'])) as {
      link_index: number;
    }[];
    const sw = this.topo.ns('sw');
    const ports = JSON.parse((await run('ip', ['-n', sw, '-j', 'link', 'show'])).stdout) as {
      ifindex: number;
      ifname: string;
    }[];
    const port = ports.find((p) => p.ifindex === eth0!.link_index)?.ifname;
    if (!port) throw new Error(`no switch port for ${node}`);
    // bridge port states: 0 disabled (forwards nothing), 3 forwarding
    await run('bridge', ['-n', sw, 'link', 'set', 'dev', port, 'state', up ? '3' : '0']);
  }

  /** A speaker's metric, read inside its node (the backend agent lives there). */
  async speakerMetric(node: NodeName, name: string): Promise<number | undefined> {
    const [r] = await this.backends.get(node)!.call<{ ok: boolean; body: string }[]>('get', {
      url: 'http://127.0.0.1:7473/metrics',
      count: 1,
      timeoutMs: 1000,
    });
    if (!r?.ok) return undefined;
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(r.body);
    return m ? Number(m[1]) : undefined;
  }

  /** The node whose MAC answered, by node name (or the MAC when it is no node's). */
  nodeOfMac(mac: string): string {
    return this.#macs.get(mac.toLowerCase()) ?? mac;
  }

  /**
   * Who answers ARP (IPv4) or neighbour solicitations (IPv6) for the VIP, seen by a capture on the client:
   * tcpdump records every reply to broadcast requests (arping -b) or a multicast solicitation (ndisc6).
   */
  async responders(vip: string): Promise<string[]> {
    const v6 = vip.includes(':');
    const filter = v6 ? 'icmp6 and ip6[40] == 136' : 'arp';
    const capture = this.topo.spawn('client', 'tcpdump', ['-i', 'eth0', '-n', '-e', '-l', '-U', filter]);
    const lines: string[] = [];
    createInterface({ input: capture.stdout! }).on('line', (l) => lines.push(l));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('tcpdump did not start')), 5000);
      createInterface({ input: capture.stderr! }).on('line', (l) => {
        if (l.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    try {
      if (v6)
        await this.topo.exec('client', 'ndisc6', ['-m', '-n', '-r', '2', '-w', '600', vip, 'eth0']).catch(() => '');
      else await this.topo.exec('client', 'arping', ['-b', '-c', '2', '-w', '2', '-I', 'eth0', vip]).catch(() => '');
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      capture.kill('SIGINT');
    }
    const macs = new Set<string>();
    for (const line of lines) {
      const src = /^\S+ ([0-9a-f:]{17}) >/.exec(line)?.[1];
      const answers = v6 ? line.includes(`neighbor advertisement, tgt is ${vip}`) : line.includes(`Reply ${vip} is-at`);
      if (src && answers) macs.add(src);
    }
    return [...macs].map((m) => this.nodeOfMac(m)).sort();
  }

  /** One HTTP request from the client to VIP:80 (a new connection): the node that served it, or `error: ...`. */
  async ask(vip: string, timeoutMs = 1000): Promise<string> {
    const url = vip.includes(':') ? `http://[${vip}]/` : `http://${vip}/`;
    const [r] = await this.client.call<{ ok: boolean; body: string }[]>('get', { url, count: 1, timeoutMs });
    return r?.ok ? (JSON.parse(r.body) as { node: string }).node : `error: ${r?.body}`;
  }

  /** The L2Announcement the speakers wrote for a VIP, or undefined. */
  async announcement(
    vip: string,
  ): Promise<{ node: string; interfaces?: string[]; services?: string[]; message?: string } | undefined> {
    const name = `${vip.includes(':') ? 'ipv6' : 'ipv4'}-${vip.replace(/[.:]/g, '-')}`;
    try {
      const o = (await this.custom.getClusterCustomObject({
        group: 'lbprovisioner.io',
        version: 'v1alpha1',
        plural: 'l2announcements',
        name,
      })) as {
        status?: { node: string };
      };
      return o.status;
    } catch {
      return undefined;
    }
  }

  async until<T>(fn: () => T | Promise<T>, message: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
    try {
      return await waitFor(fn, { message, timeoutMs, intervalMs: 50 });
    } catch (err) {
      throw new Error(`${(err as Error).message}\nlast log lines:\n${this.logs.slice(-60).join('\n')}`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    for (const node of [...this.speakers.keys()]) await this.stopSpeaker(node, 'SIGKILL').catch(() => {});
    for (const c of this.#children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await this.topo.destroy().catch((err: unknown) => console.warn(`topology cleanup: ${String(err)}`));
    await this.cp.stop().catch((err: unknown) => console.warn(`control plane cleanup: ${String(err)}`));
  }
}
