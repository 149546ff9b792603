import { describe, expect, it } from '@jest/globals';
import { formatAddress, parseAddress } from './address.ts';
import { firstFreeInRange, parseAddressRange, rangeSize } from './range.ts';

const sizeOf = (text: string, avoidBuggyIPs = false): bigint | undefined => {
  const range = parseAddressRange(text);
  return range ? rangeSize(range, avoidBuggyIPs) : undefined;
};

describe('address ranges', () => {
  it.each([
    ['10.0.0.0/24', 256n],
    ['10.0.0.7/24', 256n],
    ['10.0.0.5/32', 1n],
    ['10.0.0.5', 1n],
    ['192.168.1.240-192.168.1.250', 11n],
    ['0.0.0.0/0', 2n ** 32n],
    ['fd00::/64', 2n ** 64n],
    ['::/0', 2n ** 128n],
    ['fd00::1-fd00::1:0', 65536n],
  ])('%s has %s addresses', (text, size) => {
    expect(sizeOf(text)).toBe(size);
  });

  it.each([
    ['10.0.0.0/24', 254n],
    ['10.0.0.0/16', 65536n - 512n],
    ['10.0.0.255-10.0.1.0', 0n],
    ['10.0.0.1-10.0.0.254', 254n],
    ['0.0.0.0/0', 2n ** 32n - 2n * 2n ** 24n],
    ['fd00::/120', 256n],
  ])('%s has %s addresses without .0 and .255', (text, size) => {
    expect(sizeOf(text, true)).toBe(size);
  });

  it.each([
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/-1',
    'fd00::/129',
    '10.0.0.2-10.0.0.1',
    '10.0.0.1-',
    'a-b-c',
    '',
    'fe80::1%eth0',
  ])('refuses %j', (text) => {
    expect(parseAddressRange(text)).toBeNull();
  });

  it('finds the first free address after a run of taken ones, at the far end of an IPv6 /64', () => {
    const range = parseAddressRange('fd00::/64');
    if (!range) throw new Error('unreachable');
    const from = range.last - 5n;
    const free = firstFreeInRange(range, from, false, (a) => a.value < range.last);
    expect(free && formatAddress(free)).toBe('fd00::ffff:ffff:ffff:ffff');
    expect(firstFreeInRange(range, range.last + 1n, false, () => false)).toBeNull();
  });

  it('formats IPv6 as Kubernetes writes it (RFC 5952)', () => {
    const address = parseAddress('2001:DB8:0:0:1:0:0:1');
    expect(address && formatAddress(address)).toBe('2001:db8::1:0:0:1');
  });
});
