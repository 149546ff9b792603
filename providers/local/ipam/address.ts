/**
 * IP addresses as numbers. The allocator works on bigints so IPv4 and IPv6 share one code path and a /64
 * is counted, compared and stepped through without ever being enumerated.
 */
import ipaddr from 'ipaddr.js';
import type { IpFamily } from '../../../src/model/desired.ts';

export type { IpFamily };

export interface Address {
  family: IpFamily;
  value: bigint;
}

export const ADDRESS_BITS: Record<IpFamily, number> = { IPv4: 32, IPv6: 128 };

/** Strict parse: four-part dotted IPv4 or IPv6 without a zone; null for anything else. */
export function parseAddress(text: string): Address | null {
  const trimmed = text.trim();
  if (ipaddr.IPv4.isValidFourPartDecimal(trimmed)) {
    const octets = ipaddr.IPv4.parse(trimmed).octets;
    return { family: 'IPv4', value: fromWords(octets, 8n) };
  }
  // a zone (fe80::1%eth0) names an interface, not an address a Service can own
  if (trimmed.includes('%') || !ipaddr.IPv6.isValid(trimmed)) return null;
  return {
    family: 'IPv6',
    value: fromWords(ipaddr.IPv6.parse(trimmed).parts, 16n),
  };
}

/** The canonical text: dotted quad, or RFC 5952 for IPv6 (what Kubernetes writes in status). */
export function formatAddress(address: Address): string {
  if (address.family === 'IPv4') return new ipaddr.IPv4(toWords(address.value, 4, 8n)).toString();
  return new ipaddr.IPv6(toWords(address.value, 8, 16n)).toRFC5952String();
}

/** Canonical text of an address given as text, or null when it is not one. */
export function canonicalAddress(text: string): string | null {
  const address = parseAddress(text);
  return address ? formatAddress(address) : null;
}

export function otherFamily(family: IpFamily): IpFamily {
  return family === 'IPv4' ? 'IPv6' : 'IPv4';
}

/**
 * IPv4 addresses ending in .0 or .255 confuse the smurf protection of some consumer routers, which drop
 * traffic to them (MetalLB's avoidBuggyIPs).
 */
export function isBuggyAddress(address: Address): boolean {
  if (address.family !== 'IPv4') return false;
  const last = address.value & 0xffn;
  return last === 0n || last === 0xffn;
}

function fromWords(words: number[], bits: bigint): bigint {
  let value = 0n;
  for (const word of words) value = (value << bits) | BigInt(word);
  return value;
}

function toWords(value: bigint, count: number, bits: bigint): number[] {
  const mask = (1n << bits) - 1n;
  const words: number[] = [];
  for (let i = count - 1; i >= 0; i--) words.push(Number((value >> (BigInt(i) * bits)) & mask));
  return words;
}
