import { describe, it, expect } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { defaultNftOptions, parseNftListing, renderNftTransaction, serviceId } from './nft-ruleset.ts';
import type { ProxyService } from './types.ts';

const nodes = [
  { name: 'node1', addresses: ['10.0.0.11', 'fd00::11'] },
  { name: 'node2', addresses: ['10.0.0.12'] },
];

function aService(over: Partial<ProxyService> = {}): ProxyService {
  return {
    key: 'default/web',
    vips: ['10.1.0.10'],
    ports: [{ protocol: 'TCP', port: 80, nodePort: 30080, targets: nodes }],
    sourceRanges: [],
    affinity: { type: 'None', timeoutSeconds: 10800 },
    proxyProtocol: false,
    ...over,
  };
}

const render = (svcs: ProxyService[], chains: string[] = [], sets: string[] = []): string =>
  renderNftTransaction(svcs, { chains, sets }, defaultNftOptions);

describe('nftables ruleset', () => {
  it('spreads a port evenly over its targets with numgen and DNATs to each NodePort', () => {
    const text = render([aService()]);
    const id = serviceId('default/web');
    expect(text).toContain(`ip daddr { 10.1.0.10 } tcp dport 80 goto svc_${id}_tcp80_v4`);
    expect(text).toMatch(/numgen random mod 2 vmap \{ 0 : goto ep_\w+, 1 : goto ep_\w+ \}/);
    expect(text).toContain('dnat ip to 10.0.0.11:30080');
    expect(text).toContain('dnat ip to 10.0.0.12:30080');
    expect(text).toContain('meta mark & 0x400000 == 0x400000 masquerade');
  });

  it('uses only targets with an address in the VIP family (IPv6 VIP)', () => {
    const text = render([aService({ vips: ['fd00:1::10'] })]);
    expect(text).toContain('dnat ip6 to [fd00::11]:30080');
    expect(text).not.toContain('10.0.0.12');
    expect(text).toContain('numgen random mod 1');
  });

  it('enforces source ranges for TCP and UDP before DNAT, closing a family with no range', () => {
    const svc = aService({
      vips: ['10.1.0.10', 'fd00:1::10'],
      sourceRanges: ['10.2.0.0/16'],
      ports: [
        { protocol: 'TCP', port: 80, nodePort: 30080, targets: nodes },
        { protocol: 'UDP', port: 53, nodePort: 30053, targets: nodes },
      ],
    });
    const text = render([svc]);
    expect(text).toContain(
      'add rule inet lbprovisioner filter_prerouting ip daddr { 10.1.0.10 } tcp dport 80 ip saddr != { 10.2.0.0/16 } drop',
    );
    expect(text).toContain('filter_prerouting ip daddr { 10.1.0.10 } udp dport 53 ip saddr != { 10.2.0.0/16 } drop');
    expect(text).toContain('filter_prerouting ip6 daddr { fd00:1::10 } udp dport 53 drop');
  });

  it('hooks the range filter into prerouting only while a Service has source ranges', () => {
    expect(render([aService({})])).not.toContain('filter_prerouting');
    const ranged = aService({ sourceRanges: ['10.2.0.0/16'] });
    expect(render([ranged])).toContain('add chain inet lbprovisioner filter_prerouting { type filter hook prerouting');
    // the ranges went: the existing base chain is flushed and deleted in the same transaction
    const text = render([aService({})], ['filter_prerouting']);
    expect(text).toContain('flush chain inet lbprovisioner filter_prerouting');
    expect(text).toContain('delete chain inet lbprovisioner filter_prerouting');
  });

  it('keeps ClientIP affinity in a dynamic set per endpoint with the Service timeout', () => {
    const text = render([aService({ affinity: { type: 'ClientIP', timeoutSeconds: 60 } })]);
    expect(text).toMatch(
      /add set inet lbprovisioner aff_\w+_t60 \{ type ipv4_addr; flags dynamic,timeout; timeout 60s; \}/,
    );
    expect(text).toMatch(/ip saddr @aff_\w+ goto ep_/);
    expect(text).toMatch(/update @aff_\w+ \{ ip saddr \}/);
  });

  it('renders no DNAT for a port without targets (closed), and rejects VIP traffic not DNATed', () => {
    const text = render([aService({ ports: [{ protocol: 'TCP', port: 80, nodePort: 30080, targets: [] }] })]);
    expect(text).not.toContain('goto svc_');
    expect(text).toContain('ip daddr @vips_v4 ct status & dnat == 0 meta l4proto tcp reject with tcp reset');
    expect(text).toContain('add element inet lbprovisioner vips_v4 { 10.1.0.10 }');
  });

  it('flushes what exists and deletes chains and sets no longer desired, in the same transaction', () => {
    const text = render([], ['services', 'svc_old_tcp80_v4'], ['aff_old', 'vips_v4']);
    expect(text).toContain('flush chain inet lbprovisioner svc_old_tcp80_v4');
    expect(text).toContain('delete chain inet lbprovisioner svc_old_tcp80_v4');
    expect(text).toContain('delete set inet lbprovisioner aff_old');
    expect(text).not.toContain('delete set inet lbprovisioner vips_v4');
    expect(text.indexOf('delete chain')).toBeLessThan(text.indexOf('add rule'));
  });

  it('carries the owner tag in the table comment and reads it back from a listing', () => {
    expect(render([])).toContain('add table inet lbprovisioner { comment "owner=lb-provisioner"; }');
    const listing = parseNftListing(
      'table inet lbprovisioner {\n\tcomment "owner=lb-provisioner"\n\tset vips_v4 {\n\t\ttype ipv4_addr\n\t}\n\tchain services {\n\t\tip daddr 1.2.3.4 tcp dport 80 goto x\n\t}\n}\n',
    );
    expect(listing).toEqual({ chains: ['services'], sets: ['vips_v4'], comment: 'owner=lb-provisioner' });
  });

  const root = process.getuid?.() === 0;
  (root ? it : it.skip)('is accepted by the kernel (nft -c in a scratch network namespace)', () => {
    const ns = `lbpt${process.pid}-nftc`; // the netns helper removes it if we crash
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const svc = aService({
        vips: ['10.1.0.10', 'fd00:1::10'],
        sourceRanges: ['10.2.0.0/16', 'fd00:2::/64'],
        affinity: { type: 'ClientIP', timeoutSeconds: 30 },
        ports: [
          { protocol: 'TCP', port: 80, nodePort: 30080, targets: nodes },
          { protocol: 'UDP', port: 53, nodePort: 30053, targets: nodes },
        ],
      });
      const text = render([svc]);
      execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: text });
      // applying the same state again over what exists is valid too (idempotent)
      const listing = parseNftListing(
        execFileSync('ip', ['netns', 'exec', ns, 'nft', '-t', 'list', 'table', 'inet', 'lbprovisioner']).toString(),
      );
      execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], {
        input: renderNftTransaction([], listing, defaultNftOptions),
      });
      const after = parseNftListing(
        execFileSync('ip', ['netns', 'exec', ns, 'nft', '-t', 'list', 'table', 'inet', 'lbprovisioner']).toString(),
      );
      expect(after.chains.filter((c) => c.startsWith('svc_') || c.startsWith('ep_'))).toEqual([]);
      expect(after.sets.sort()).toEqual(['vips_v4', 'vips_v6']);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
