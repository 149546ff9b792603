/**
 * Test hosts in network namespaces: every host gets its own namespace with `eth0` on one bridge, which lives
 * in a switch namespace of its own, so the machine's root namespace is untouched (unless `hostLink` asks for
 * a leg into it, e.g. for an apiserver listening on the host). Addresses come from a private range
 * (10.213.N.0/24, fd00:213:N::/64). Namespace names carry the creating PID: a later run removes whatever a
 * crashed run (dead PID) left.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';
import { RpcClient } from './rpc.ts';

const run = promisify(execFile);
const PREFIX = 'lbpt';

export interface TopologyOptions {
  /** host name -> last address octet/hextet, e.g. { client: 2, lb: 10 } */
  hosts: Record<string, number>;
  /** third octet of 10.213.N.0/24 (and N in fd00:213:N::/64): lets runs side by side differ on the host link */
  subnet?: number;
  /** a veth from the root namespace into the bridge with address .1 */
  hostLink?: boolean;
  /** routes added on every host: destination CIDR -> host name of the gateway */
  routes?: Array<{ to: string; via: string }>;
}

async function sh(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args)).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function deleteNamespace(ns: string): Promise<void> {
  // processes a test left inside would keep the namespace (and its addresses) alive
  const pids = (await sh('ip', ['netns', 'pids', ns]).catch(() => '')).split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await sh('ip', ['netns', 'del', ns]).catch(() => {});
}

/** Removes namespaces of earlier runs whose process is gone. */
export async function cleanupStaleNamespaces(): Promise<string[]> {
  const list = await sh('ip', ['netns', 'list']);
  const stale: string[] = [];
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m !== null && !pidAlive(Number(m[1]))) stale.push(name);
  }
  for (const ns of stale) await deleteNamespace(ns);
  return stale;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export class Topology {
  readonly subnet: number;
  readonly #hosts: Record<string, number>;
  readonly #id: string;
  readonly #agents: RpcClient[] = [];
  readonly #children: ChildProcess[] = [];
  readonly hostLink: string | undefined;

  private constructor(opts: TopologyOptions, id: string) {
    this.subnet = opts.subnet ?? 0;
    this.#hosts = opts.hosts;
    this.#id = id;
    this.hostLink = opts.hostLink ? `${id}h` : undefined;
  }

  static async create(opts: TopologyOptions): Promise<Topology> {
    await cleanupStaleNamespaces();
    const id = `${PREFIX}${process.pid}`;
    const t = new Topology(opts, id);
    try {
      await t.#build(opts);
    } catch (err) {
      await t.destroy();
      throw err;
    }
    return t;
  }

  ns(host: string): string {
    return `${this.#id}-${host}`;
  }

  addr4(host: string): string {
    return `10.213.${this.subnet}.${this.#octet(host)}`;
  }

  addr6(host: string): string {
    return `fd00:213:${this.subnet}::${this.#octet(host).toString(16)}`;
  }

  #octet(host: string): number {
    const o = this.#hosts[host];
    if (o === undefined) throw new Error(`no test host ${host}`);
    return o;
  }

  async #build(opts: TopologyOptions): Promise<void> {
    const sw = this.ns('sw');
    await sh('ip', ['netns', 'add', sw]);
    await sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    // the switch only switches: with br_netfilter (built into this kernel) every bridged frame would also run
    // the IP hooks and conntrack in the switch, a cost no real switch puts on the hosts' paths
    for (const key of ['iptables', 'ip6tables', 'arptables']) {
      await sh('ip', ['netns', 'exec', sw, 'sysctl', '-q', '-w', `net.bridge.bridge-nf-call-${key}=0`]).catch(() => {});
    }
    let i = 0;
    for (const host of Object.keys(opts.hosts)) {
      const ns = this.ns(host);
      await sh('ip', ['netns', 'add', ns]);
      const port = `p${i++}`;
      await sh('ip', ['-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await sh('ip', ['-n', sw, 'link', 'set', port, 'master', 'br0', 'up']);
      await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await sh('ip', ['-n', ns, 'addr', 'add', `${this.addr4(host)}/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', ns, 'addr', 'add', `${this.addr6(host)}/64`, 'dev', 'eth0', 'nodad']);
      await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    for (const host of Object.keys(opts.hosts)) {
      for (const r of opts.routes ?? []) {
        if (r.via === host) continue;
        const v6 = r.to.includes(':');
        await sh('ip', [
          '-n',
          this.ns(host),
          ...(v6 ? ['-6'] : []),
          'route',
          'add',
          r.to,
          'via',
          v6 ? this.addr6(r.via) : this.addr4(r.via),
        ]);
      }
    }
    if (this.hostLink !== undefined) {
      await sh('ip', ['link', 'add', this.hostLink, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', sw]);
      await sh('ip', ['-n', sw, 'link', 'set', 'uplink', 'master', 'br0', 'up']);
      await sh('ip', ['addr', 'add', `10.213.${this.subnet}.1/24`, 'dev', this.hostLink]);
      await sh('ip', ['link', 'set', this.hostLink, 'up']);
    }
  }

  /** Runs a command inside a host's namespace and returns its stdout. */
  exec(host: string, cmd: string, args: string[]): Promise<string> {
    return sh('ip', ['netns', 'exec', this.ns(host), cmd, ...args]);
  }

  /**
   * Starts any long-running command inside a host's namespace (a controller, an apiserver client, a tool);
   * it is killed by destroy().
   */
  spawn(host: string, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(host), cmd, ...args], { stdio: 'pipe', ...options });
    this.#children.push(child);
    return child;
  }

  /** Starts a Node script (TypeScript, run by type stripping) inside a host's namespace, speaking rpc.ts. */
  spawnScript(host: string, script: string, args: string[] = []): RpcClient {
    const c = new RpcClient('ip', ['netns', 'exec', this.ns(host), process.execPath, script, ...args]);
    this.#agents.push(c);
    return c;
  }

  /** The generic traffic agent (servers and clients) in a host. */
  agent(host: string, name = host): RpcClient {
    return this.spawnScript(host, new URL('./agent.ts', import.meta.url).pathname, [name]);
  }

  /** Tears everything down: processes first, then namespaces (veths and the bridge go with them). */
  async destroy(): Promise<void> {
    await Promise.all(this.#agents.map((a) => a.kill().catch(() => {})));
    for (const c of this.#children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const host of [...Object.keys(this.#hosts), 'sw']) await deleteNamespace(this.ns(host));
    if (this.hostLink !== undefined) await sh('ip', ['link', 'del', this.hostLink]).catch(() => {});
  }
}

/** Whether namespace tests can run here: only root is required (CI runs as root). */
export function netnsSupport(): { ok: boolean; reason: string } {
  if (!isRoot())
    return { ok: false, reason: 'needs root (CAP_SYS_ADMIN for ip netns, CAP_NET_ADMIN for nftables); run as root' };
  // as root the suite always runs: a missing tool or kernel feature must fail it, never skip it
  return { ok: true, reason: '' };
}
