/**
 * One contiguous block of a pool: a CIDR (`10.0.0.0/24`, `fd00::/64`), a range (`10.0.0.10-10.0.0.20`)
 * or a single address. Sizes are bigints: an IPv6 /64 has 2^64 addresses.
 */
import { ADDRESS_BITS, isBuggyAddress, parseAddress } from './address.ts';
import type { Address, IpFamily } from './address.ts';

export interface AddressRange {
  family: IpFamily;
  first: bigint;
  last: bigint;
  /** as the user wrote it, for messages */
  text: string;
}

/** Parses a CIDR, an `a-b` range or a single address; null when the text is none of these. */
export function parseAddressRange(text: string): AddressRange | null {
  const trimmed = text.trim();
  if (trimmed.includes('/')) return parseCidr(trimmed);
  if (trimmed.includes('-')) {
    const [from, to, ...rest] = trimmed.split('-');
    if (from === undefined || to === undefined || rest.length > 0) return null;
    const first = parseAddress(from);
    const last = parseAddress(to);
    if (!first || !last || first.family !== last.family || first.value > last.value) return null;
    return {
      family: first.family,
      first: first.value,
      last: last.value,
      text: trimmed,
    };
  }
  const single = parseAddress(trimmed);
  return single
    ? {
        family: single.family,
        first: single.value,
        last: single.value,
        text: trimmed,
      }
    : null;
}

function parseCidr(text: string): AddressRange | null {
  const [ip, bitsText, ...rest] = text.split('/');
  if (ip === undefined || bitsText === undefined || rest.length > 0 || !/^\d{1,3}$/.test(bitsText)) return null;
  const base = parseAddress(ip);
  if (!base) return null;
  const width = ADDRESS_BITS[base.family];
  const prefix = Number(bitsText);
  if (prefix > width) return null;
  const hostBits = BigInt(width - prefix);
  // host bits set (10.0.0.5/24) are masked off, as net.ParseCIDR does
  const first = (base.value >> hostBits) << hostBits;
  return {
    family: base.family,
    first,
    last: first + (1n << hostBits) - 1n,
    text,
  };
}

export function rangeContains(range: AddressRange, address: Address): boolean {
  return range.family === address.family && address.value >= range.first && address.value <= range.last;
}

/** Number of usable addresses, without the .0/.255 ones when they are avoided. */
export function rangeSize(range: AddressRange, avoidBuggyIPs: boolean): bigint {
  const total = range.last - range.first + 1n;
  if (!avoidBuggyIPs || range.family !== 'IPv4') return total;
  return total - countEndingIn(range, 0n) - countEndingIn(range, 255n);
}

/** How many addresses of the range have `octet` as their last byte, by arithmetic, not by walking. */
function countEndingIn(range: AddressRange, octet: bigint): bigint {
  const upTo = (n: bigint): bigint => (n < octet ? 0n : (n - octet) / 256n + 1n);
  return upTo(range.last) - (range.first === 0n ? 0n : upTo(range.first - 1n));
}

/**
 * The first address at or after `from` that `isTaken` does not claim. Steps over taken addresses one by
 * one, so the cost is the number of taken addresses skipped, never the size of the range.
 */
export function firstFreeInRange(
  range: AddressRange,
  from: bigint,
  avoidBuggyIPs: boolean,
  isTaken: (address: Address) => boolean,
): Address | null {
  for (let value = from < range.first ? range.first : from; value <= range.last; value++) {
    const address: Address = { family: range.family, value };
    if (avoidBuggyIPs && isBuggyAddress(address)) continue;
    if (!isTaken(address)) return address;
  }
  return null;
}
