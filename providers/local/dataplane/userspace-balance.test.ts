import { describe, it, expect } from '@jest/globals';
import { plainAddress, proxyV2Header, RoundRobin, SourceRanges, targetsFor } from './userspace-balance.ts';

const targets = ['node1', 'node2', 'node3'].map((name, i) => ({ name, addresses: [`10.0.0.${11 + i}`] }));

describe('userspace proxy decisions', () => {
  it('round robin visits every target in turn', () => {
    const rr = new RoundRobin();
    expect(Array.from({ length: 6 }, () => rr.pick(targets)?.name)).toEqual([
      'node1',
      'node2',
      'node3',
      'node1',
      'node2',
      'node3',
    ]);
    expect(rr.pick([])).toBeUndefined();
  });

  it('source ranges admit only listed clients, v4-mapped included; empty admits everyone', () => {
    const r = new SourceRanges(['10.213.0.0/28', 'fd00:213::/64']);
    expect(r.allows('10.213.0.5')).toBe(true);
    expect(r.allows('::ffff:10.213.0.5')).toBe(true);
    expect(r.allows('10.213.0.20')).toBe(false);
    expect(r.allows('fd00:213::9')).toBe(true);
    expect(r.allows('fd00:214::9')).toBe(false);
    expect(new SourceRanges([]).allows('192.0.2.1')).toBe(true);
    expect(plainAddress('::ffff:1.2.3.4')).toBe('1.2.3.4');
  });

  it('picks only targets with an address in the VIP family', () => {
    const mixed = [...targets, { name: 'v6only', addresses: ['fd00::1'] }];
    expect(targetsFor('fd00:1::10', mixed).map((t) => t.name)).toEqual(['v6only']);
    expect(targetsFor('10.1.0.10', mixed)).toHaveLength(3);
  });

  it('writes a PROXY protocol v2 header for TCP over IPv4', () => {
    const h = proxyV2Header({
      protocol: 'TCP',
      source: '10.213.0.2',
      sourcePort: 40000,
      destination: '10.213.1.10',
      destinationPort: 80,
    });
    expect(h.subarray(0, 12).toString('hex')).toBe('0d0a0d0a000d0a515549540a');
    expect(h[12]).toBe(0x21);
    expect(h[13]).toBe(0x11);
    expect(h.readUInt16BE(14)).toBe(12);
    expect([...h.subarray(16, 20)]).toEqual([10, 213, 0, 2]);
    expect([...h.subarray(20, 24)]).toEqual([10, 213, 1, 10]);
    expect(h.readUInt16BE(24)).toBe(40000);
    expect(h.readUInt16BE(26)).toBe(80);
  });

  it('writes a PROXY protocol v2 header for UDP over IPv6', () => {
    const h = proxyV2Header({
      protocol: 'UDP',
      source: 'fd00:213::2',
      sourcePort: 5000,
      destination: 'fd00:213:1::10',
      destinationPort: 53,
    });
    expect(h[13]).toBe(0x22);
    expect(h.readUInt16BE(14)).toBe(36);
    expect(h.subarray(16, 32).toString('hex')).toBe('fd000213000000000000000000000002');
    expect(h.subarray(32, 48).toString('hex')).toBe('fd000213000100000000000000000010');
  });
});
