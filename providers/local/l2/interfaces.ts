/**
 * Which interfaces of this node a VIP is announced on. Named interfaces (an L2Advertisement's) are used as
 * they are; otherwise ("auto") the interface whose subnet holds the VIP, where clients look for it, or
 * failing that the one that carries the node's own address.
 */
import { readdirSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';
import type { AnnounceOn } from './election.ts';

/** An interface's addresses with their prefix: `10.0.0.5/24`. */
export type InterfaceAddresses = Readonly<Record<string, readonly string[]>>;

export function resolveInterfaces(
  ip: string,
  on: AnnounceOn,
  local: InterfaceAddresses,
  nodeAddresses: readonly string[],
): string[] {
  const names = new Set(on.interfaces.filter((name) => name in local));
  if (on.auto) for (const name of autoInterfaces(ip, local, nodeAddresses)) names.add(name);
  return [...names].sort();
}

export function autoInterfaces(ip: string, local: InterfaceAddresses, nodeAddresses: readonly string[]): string[] {
  const vip = parse(ip);
  if (!vip) return [];
  const onSubnet = Object.entries(local)
    .filter(([, cidrs]) => cidrs.some((cidr) => contains(cidr, vip)))
    .map(([name]) => name);
  if (onSubnet.length > 0) return onSubnet;
  const own = new Set(nodeAddresses.map((a) => parse(a)?.toNormalizedString()));
  return Object.entries(local)
    .filter(([, cidrs]) => cidrs.some((cidr) => own.has(parse(cidr.split('/')[0]!)?.toNormalizedString())))
    .map(([name]) => name);
}

/** This node's interfaces (loopback left out) with their addresses; interfaces without addresses listed empty. */
export function localInterfaces(): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  try {
    // /sys/class/net also lists interfaces without addresses (a VLAN that only carries VIPs)
    for (const name of readdirSync('/sys/class/net')) if (name !== 'lo') result[name] = [];
  } catch {
    /* no sysfs: the addressed interfaces below */
  }
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (name === 'lo') continue;
    result[name] = (addresses ?? []).filter((a) => !a.internal && a.cidr).map((a) => a.cidr!);
  }
  return result;
}

function parse(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    const address = ipaddr.parse(text);
    return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
      ? (address as ipaddr.IPv6).toIPv4Address()
      : address;
  } catch {
    return null;
  }
}

function contains(cidr: string, address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  try {
    const [network, bits] = ipaddr.parseCIDR(cidr);
    if (network.kind() !== address.kind()) return false;
    // a link-local or host route (/32, /128) holds nothing but itself
    return bits < (network.kind() === 'ipv4' ? 32 : 128) && address.match([network, bits]);
  } catch {
    return false;
  }
}
