/**
 * Pure decisions of the userspace proxy: which target a new connection goes to, who may connect, and the
 * PROXY protocol v2 header (ClientIP affinity: userspace-affinity.ts). Kept free of sockets so they are tested alone.
 */
import { BlockList, isIPv6 } from 'node:net';
import { addressIn, familyOf } from './types.ts';
import type { ProxyTarget } from './types.ts';

/** "::ffff:10.0.0.1" -> "10.0.0.1": dual-stack sockets report IPv4 clients this way. */
export function plainAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}

/** Per listener round robin; `offset` spreads the start so workers don't all begin with the same target. */
export class RoundRobin {
  #next: number;
  constructor(offset = 0) {
    this.#next = offset;
  }
  pick<T>(items: readonly T[]): T | undefined {
    if (items.length === 0) return undefined;
    const item = items[this.#next % items.length];
    this.#next = (this.#next + 1) % 1_000_000_007;
    return item;
  }
}

/** Targets that have an address in the family of the VIP the client reached. */
export function targetsFor<T extends ProxyTarget>(vip: string, targets: readonly T[]): T[] {
  const fam = familyOf(vip);
  return targets.filter((t) => addressIn(t, fam) !== undefined);
}

/** loadBalancerSourceRanges as a matcher; an empty list admits everyone. */
export class SourceRanges {
  readonly #list = new BlockList();
  readonly #open: boolean;
  constructor(cidrs: readonly string[]) {
    this.#open = cidrs.length === 0;
    for (const cidr of cidrs) {
      const [addr, bits] = cidr.split('/') as [string, string | undefined];
      const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
      this.#list.addSubnet(addr, bits === undefined ? (type === 'ipv6' ? 128 : 32) : Number(bits), type);
    }
  }
  /** no range given: every client is allowed, and its address is not needed */
  get open(): boolean {
    return this.#open;
  }
  allows(address: string): boolean {
    if (this.#open) return true;
    const a = plainAddress(address);
    return this.#list.check(a, isIPv6(a) ? 'ipv6' : 'ipv4');
  }
}

const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function addressBytes(address: string): Buffer {
  if (!isIPv6(address)) return Buffer.from(address.split('.').map(Number));
  const [head = '', tail = ''] = address.split('::');
  const parts = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const h = parts(head);
  const t = parts(tail);
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(parseInt(g, 16), i * 2));
  return buf;
}

export interface ProxyHeaderAddresses {
  protocol: 'TCP' | 'UDP';
  source: string;
  sourcePort: number;
  destination: string;
  destinationPort: number;
}

/** The PROXY protocol v2 header (haproxy.org/download/2.9/doc/proxy-protocol.txt) for a proxied connection. */
export function proxyV2Header(a: ProxyHeaderAddresses): Buffer {
  const src = plainAddress(a.source);
  const dst = plainAddress(a.destination);
  const v6 = isIPv6(src) || isIPv6(dst);
  // a mixed pair can't be expressed; send the v4 pair as v4-mapped v6
  const s = v6 && !isIPv6(src) ? `::ffff:${src}` : src;
  const d = v6 && !isIPv6(dst) ? `::ffff:${dst}` : dst;
  const sb =
    v6 && !isIPv6(src)
      ? Buffer.concat([Buffer.alloc(10), Buffer.from([0xff, 0xff]), addressBytes(src)])
      : addressBytes(s);
  const db =
    v6 && !isIPv6(dst)
      ? Buffer.concat([Buffer.alloc(10), Buffer.from([0xff, 0xff]), addressBytes(dst)])
      : addressBytes(d);
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(a.sourcePort, 0);
  ports.writeUInt16BE(a.destinationPort, 2);
  const body = Buffer.concat([sb, db, ports]);
  const head = Buffer.alloc(4);
  head[0] = 0x21; // version 2, PROXY command
  head[1] = (v6 ? 0x20 : 0x10) | (a.protocol === 'TCP' ? 0x01 : 0x02);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, head, body]);
}
