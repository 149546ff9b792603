/**
 * The kernel fast path: one nftables table of our own, rewritten atomically with `nft -f` on every apply.
 * Established connections keep their conntrack NAT binding, so a rule change never breaks them; UDP
 * "connections" are conntrack entries too, so entries toward a target that left are deleted, or the flow
 * would keep going to it.
 */
import { writeFile } from 'node:fs/promises';
import { mustRun, runCommand } from './command.ts';
import { defaultNftOptions, ownerComment, parseNftListing, renderNftTransaction } from './nft-ruleset.ts';
import type { NftExisting, NftOptions } from './nft-ruleset.ts';
import { addressIn, familyOf, silentLogger } from './types.ts';
import type { DataplaneLogger, ProxyBackend, ProxyService } from './types.ts';

export interface NftablesBackendOptions {
  nft?: Partial<NftOptions>;
  /** interfaces clients arrive on that may need route_localnet (only set when a target is in 127/8) */
  localnetInterfaces?: string[];
  logger?: DataplaneLogger;
}

/** The table exists but was not made by us (or by another owner tag). */
export class TableNotOwnedError extends Error {
  constructor(table: string, comment: string | undefined) {
    super(
      `nftables table ${table} exists and is not ours (comment ${JSON.stringify(comment ?? '')}); refusing to touch it`,
    );
    this.name = 'TableNotOwnedError';
  }
}

/** UDP flows by Service port: "vip|port" -> target addresses. */
type UdpFlows = Map<string, Set<string>>;

function udpFlows(services: ProxyService[]): UdpFlows {
  const flows: UdpFlows = new Map();
  for (const s of services) {
    for (const p of s.ports) {
      if (p.protocol !== 'UDP') continue;
      for (const vip of s.vips) {
        const addrs = new Set<string>();
        for (const t of p.targets) {
          const a = addressIn(t, familyOf(vip));
          if (a !== undefined) addrs.add(`${a}|${p.nodePort}`);
        }
        flows.set(`${vip}|${p.port}`, addrs);
      }
    }
  }
  return flows;
}

export class NftablesBackend implements ProxyBackend {
  readonly name = 'nftables' as const;
  readonly #opts: NftOptions;
  readonly #localnet: string[];
  readonly #log: DataplaneLogger;
  #flows: UdpFlows = new Map();
  #udpReconciled = false;
  #forwarding = { 4: false, 6: false };

  constructor(options: NftablesBackendOptions = {}) {
    this.#opts = { ...defaultNftOptions, ...options.nft };
    this.#localnet = options.localnetInterfaces ?? [];
    this.#log = options.logger ?? silentLogger;
  }

  get tableName(): string {
    return `${this.#opts.family} ${this.#opts.table}`;
  }

  /** What our table holds now; throws when the table is someone else's. */
  async existing(): Promise<NftExisting> {
    const r = await runCommand('nft', ['-t', 'list', 'table', this.#opts.family, this.#opts.table]);
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr)) return { chains: [], sets: [] };
      throw new Error(`nft list table ${this.tableName} failed: ${r.stderr.trim()}`);
    }
    const listing = parseNftListing(r.stdout);
    if (listing.comment !== ownerComment(this.#opts)) throw new TableNotOwnedError(this.tableName, listing.comment);
    return listing;
  }

  /** The transaction apply() would run, checked by the kernel without changing anything (`nft -c`). */
  async dryRun(services: ProxyService[]): Promise<void> {
    const text = renderNftTransaction(services, await this.existing(), this.#opts);
    await mustRun('nft', ['-c', '-f', '-'], text);
  }

  async apply(services: ProxyService[]): Promise<void> {
    await this.#enableForwarding(services);
    await this.#routeLocalnet(services);
    const text = renderNftTransaction(services, await this.existing(), this.#opts);
    await mustRun('nft', ['-f', '-'], text);
    const flows = udpFlows(services);
    await this.#flushStaleUdpAfterStart(flows);
    await this.#flushMovedUdp(flows);
  }

  /**
   * After a restart we don't know which targets the last instance used: flows it DNATed (our conntrack
   * mark) toward a target that is not desired now are deleted once, or they would keep going there.
   */
  async #flushStaleUdpAfterStart(next: UdpFlows): Promise<void> {
    if (this.#udpReconciled) return;
    this.#udpReconciled = true;
    const mark = `0x${this.#opts.masqueradeMark.toString(16)}`;
    for (const family of ['ipv4', 'ipv6']) {
      const list = await runCommand('conntrack', ['-L', '-f', family, '-p', 'udp', '--mark', `${mark}/${mark}`]);
      for (const line of list.stdout.split('\n')) {
        const m = /dst=(\S+) sport=\d+ dport=(\d+) .*?src=(\S+) dst=\S+ sport=(\d+)/.exec(line);
        if (m === null) continue;
        const [, vip, port, target, nodePort] = m as unknown as [string, string, string, string, string];
        if (next.get(`${vip}|${port}`)?.has(`${target}|${nodePort}`)) continue;
        const r = await runCommand('conntrack', udpFlowDeleteArgs(vip, port, target, nodePort));
        if (r.code > 1) this.#log.warn({ vip, port, target, stderr: r.stderr.trim() }, 'conntrack flush failed');
        else
          this.#log.info(
            { vip, port, target },
            'flushed a UDP flow a previous instance sent to a target no longer desired',
          );
      }
    }
  }

  async close(): Promise<void> {
    // rules stay: traffic keeps flowing while we restart, and the next instance rebuilds from desired state
  }

  /** Deletes our table (tests, `lb-provisioner doctor --clean`); never a table that isn't ours. */
  async destroy(): Promise<void> {
    const existing = await this.existing();
    if (existing.chains.length === 0 && existing.sets.length === 0) return;
    await mustRun('nft', ['delete', 'table', this.#opts.family, this.#opts.table]);
    this.#flows = new Map();
  }

  async #flushMovedUdp(next: UdpFlows): Promise<void> {
    const jobs: Promise<unknown>[] = [];
    for (const [key, before] of this.#flows) {
      const [vip, port] = key.split('|') as [string, string];
      const after = next.get(key) ?? new Set<string>();
      for (const target of before) {
        if (after.has(target)) continue;
        const [addr, nodePort] = target.split('|') as [string, string];
        // exit code 1 means "no entry matched": nothing to flush
        jobs.push(
          runCommand('conntrack', udpFlowDeleteArgs(vip, port, addr, nodePort)).then((r) => {
            if (r.code > 1)
              this.#log.warn({ vip, port, target: addr, stderr: r.stderr.trim() }, 'conntrack flush failed');
          }),
        );
      }
    }
    await Promise.all(jobs);
    this.#flows = next;
  }

  async #enableForwarding(services: ProxyService[]): Promise<void> {
    for (const fam of [4, 6] as const) {
      if (this.#forwarding[fam]) continue;
      if (!services.some((s) => s.vips.some((v) => familyOf(v) === fam))) continue;
      const path = fam === 4 ? '/proc/sys/net/ipv4/ip_forward' : '/proc/sys/net/ipv6/conf/all/forwarding';
      await writeFile(path, '1\n');
      this.#forwarding[fam] = true;
      this.#log.info({ path }, 'enabled IP forwarding for DNAT to nodes');
    }
  }

  async #routeLocalnet(services: ProxyService[]): Promise<void> {
    const loopbackTarget = services.some((s) =>
      s.ports.some((p) => p.targets.some((t) => t.addresses.some((a) => a.startsWith('127.')))),
    );
    if (!loopbackTarget) return;
    for (const iface of this.#localnet) {
      // only on the interfaces clients come in on; filter_input drops other 127/8 traffic (CVE-2020-8558)
      await writeFile(`/proc/sys/net/ipv4/conf/${iface}/route_localnet`, '1\n');
    }
  }
}

/** `conntrack -D` arguments for the UDP flows of VIP:port that a target (address:nodePort) answers. */
function udpFlowDeleteArgs(vip: string, port: string, target: string, nodePort: string): string[] {
  return [
    '-D',
    '-f',
    familyOf(vip) === 6 ? 'ipv6' : 'ipv4',
    '-p',
    'udp',
    '--orig-dst',
    vip,
    '--dport',
    port,
    '--reply-src',
    target,
    '--reply-port-src',
    nodePort,
  ];
}
