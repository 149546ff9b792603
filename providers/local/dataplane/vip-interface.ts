/**
 * The interface that carries the VIPs (`lbp0` by default). We create it, so every global address on it is
 * ours and a re-sync can remove what is not desired; an interface of that name that we did not create
 * (no owner alias) is refused. A `dummy` link where the kernel has the driver, else a bridge with no ports
 * (both just hold local addresses; the host answers ARP/NDP for them on its real interfaces). With `lo`
 * (userspace back end in dev) we only touch addresses we added: they carry a label (IPv4) or are tracked.
 * An interface another lb-provisioner left (a killed instance, or one with another cluster name) is taken
 * over only when the caller proved its owner gone: no other lb-provisioner holds a host lock here.
 */
import { mustRun, runCommand } from './command.ts';
import { familyOf, silentLogger } from './types.ts';
import type { DataplaneLogger } from './types.ts';

export interface VipInterfaceOptions {
  name?: string;
  ownerTag?: string;
  /** run `ip -n <netns>`: manage another network namespace (tests) */
  netns?: string;
  logger?: DataplaneLogger;
}

/** `owner=lb-provisioner` or `owner=lb-provisioner/<cluster>`: made by some lb-provisioner instance. */
export const OUR_OWNER_TAG = /^owner=lb-provisioner(\/|$)/;

export class InterfaceNotOwnedError extends Error {
  constructor(name: string, alias: string | undefined) {
    super(
      OUR_OWNER_TAG.test(alias ?? '')
        ? `interface ${name} was made by another lb-provisioner (alias ${JSON.stringify(alias)}) that may still run on this host; stop it, or remove the leftover with \`lb-provisioner cleanup --vip-interface ${name}\` (or \`ip link del ${name}\`)`
        : `interface ${name} exists and is not ours (alias ${JSON.stringify(alias ?? '')}); choose another --vip-interface`,
    );
    this.name = 'InterfaceNotOwnedError';
  }
}

interface AddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  scope: string;
  label?: string;
}

interface LinkInfo {
  ifname: string;
  ifalias?: string;
  addr_info?: AddrInfo[];
}

const LO_LABEL = 'lo:lbp';

export class VipInterface {
  readonly name: string;
  readonly #alias: string;
  readonly #log: DataplaneLogger;
  readonly #ns: string[];
  /** IPv6 addresses we put on lo (they can't carry a label) */
  readonly #loV6 = new Set<string>();

  constructor(options: VipInterfaceOptions = {}) {
    this.name = options.name ?? 'lbp0';
    this.#alias = `owner=${options.ownerTag ?? 'lb-provisioner'}`;
    this.#log = options.logger ?? silentLogger;
    this.#ns = options.netns === undefined ? [] : ['-n', options.netns];
  }

  /** 'none': someone else puts the VIPs on the host; we touch nothing */
  get isUnmanaged(): boolean {
    return this.name === 'none';
  }

  get isLoopback(): boolean {
    return this.name === 'lo';
  }

  async #show(): Promise<LinkInfo | undefined> {
    // `ip addr` omits the alias and `ip link` the addresses: ask both
    const [link, addr] = await Promise.all([
      runCommand('ip', [...this.#ns, '-j', 'link', 'show', 'dev', this.name]),
      runCommand('ip', [...this.#ns, '-j', 'addr', 'show', 'dev', this.name]),
    ]);
    if (link.code !== 0 || addr.code !== 0) return undefined;
    const l = (JSON.parse(link.stdout) as LinkInfo[])[0];
    const a = (JSON.parse(addr.stdout) as LinkInfo[])[0];
    return l && { ...l, addr_info: a?.addr_info ?? [] };
  }

  /**
   * Creates the interface (or adopts ours), up. With `takeOver` (the caller proved no other lb-provisioner
   * runs here) one that another lb-provisioner left is ours too; its stale addresses go with the next sync.
   */
  async ensure(options: { takeOver?: boolean } = {}): Promise<void> {
    if (this.isLoopback || this.isUnmanaged) return;
    const link = await this.#show();
    if (link !== undefined) {
      if (link.ifalias !== this.#alias) {
        if (!options.takeOver || !OUR_OWNER_TAG.test(link.ifalias ?? ''))
          throw new InterfaceNotOwnedError(this.name, link.ifalias);
        await mustRun('ip', [...this.#ns, 'link', 'set', this.name, 'alias', this.#alias]);
        this.#log.info(
          { iface: this.name, previousOwner: link.ifalias },
          'took over the VIP interface a stopped lb-provisioner left',
        );
      }
    } else {
      const dummy = await runCommand('ip', [...this.#ns, 'link', 'add', this.name, 'type', 'dummy']);
      if (dummy.code !== 0) {
        this.#log.info(
          { iface: this.name, reason: dummy.stderr.trim() },
          'no dummy driver; using a bridge with no ports',
        );
        await mustRun('ip', [...this.#ns, 'link', 'add', this.name, 'type', 'bridge']);
      }
      await mustRun('ip', [...this.#ns, 'link', 'set', this.name, 'alias', this.#alias]);
    }
    await mustRun('ip', [...this.#ns, 'link', 'set', this.name, 'up']);
  }

  /** Makes the VIPs on the interface exactly `vips` (ours only on lo). */
  async sync(vips: string[]): Promise<void> {
    if (this.isUnmanaged) return;
    const link = await this.#show();
    const present = new Map<string, AddrInfo>();
    for (const a of link?.addr_info ?? []) if (a.scope === 'global' || a.scope === 'host') present.set(a.local, a);
    const want = new Set(vips.filter((v) => !(this.isLoopback && v.startsWith('127.'))));
    for (const [addr, info] of present) {
      if (want.has(addr)) continue;
      if (this.isLoopback && info.label !== LO_LABEL && !this.#loV6.has(addr)) continue;
      if (!this.isLoopback && info.scope !== 'global') continue;
      await mustRun('ip', [...this.#ns, 'addr', 'del', `${addr}/${info.prefixlen}`, 'dev', this.name]);
      this.#loV6.delete(addr);
      this.#log.info({ vip: addr, iface: this.name }, 'removed VIP');
    }
    for (const addr of want) {
      if (present.has(addr)) continue;
      const v6 = familyOf(addr) === 6;
      const args = ['addr', 'add', `${addr}/${v6 ? 128 : 32}`, 'dev', this.name];
      if (v6) args.push('nodad');
      else if (this.isLoopback) args.push('label', LO_LABEL);
      await mustRun('ip', [...this.#ns, ...args]);
      if (v6 && this.isLoopback) this.#loV6.add(addr);
      this.#log.info({ vip: addr, iface: this.name }, 'added VIP');
    }
  }

  /**
   * What a stopped instance left (`lb-provisioner cleanup`): the interface when some lb-provisioner made
   * it, or on lo the addresses carrying our label. Returns what was removed.
   */
  async removeLeftovers(): Promise<string[]> {
    if (this.isUnmanaged) return [];
    const link = await this.#show();
    if (link === undefined) return [];
    if (this.isLoopback) {
      const ours = (link.addr_info ?? []).filter((a) => a.label === LO_LABEL);
      for (const a of ours) await mustRun('ip', [...this.#ns, 'addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', 'lo']);
      return ours.map((a) => `address ${a.local} on lo`);
    }
    if (!OUR_OWNER_TAG.test(link.ifalias ?? '')) throw new InterfaceNotOwnedError(this.name, link.ifalias);
    await mustRun('ip', [...this.#ns, 'link', 'del', this.name]);
    return [`interface ${this.name} (${link.ifalias ?? ''})`];
  }

  /** Removes the interface (or our addresses on lo). */
  async destroy(): Promise<void> {
    if (this.isUnmanaged) return;
    if (this.isLoopback) {
      await this.sync([]);
      return;
    }
    const link = await this.#show();
    if (link === undefined) return;
    if (link.ifalias !== this.#alias) throw new InterfaceNotOwnedError(this.name, link.ifalias);
    await mustRun('ip', [...this.#ns, 'link', 'del', this.name]);
  }
}
