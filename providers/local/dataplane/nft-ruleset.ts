/**
 * Renders the nftables transaction that makes our table match the desired state. Pure: the back end runs
 * the text with `nft -f` as one atomic transaction.
 *
 * Shape (after kube-proxy's nftables mode): a `services` chain dispatches VIP:port to one chain per
 * Service port and family, which picks an endpoint chain with `numgen random` (even spread) after the
 * ClientIP affinity sets (dynamic, with the Service's timeout); an endpoint chain marks the packet for
 * masquerade and DNATs to the node's NodePort. DNAT only runs on a connection's first packet, so replacing
 * rules never moves an established connection; the transaction flushes and refills chains instead of
 * deleting the table so affinity sets of endpoints that stay keep their entries.
 */
import { createHash } from 'node:crypto';
import { addressIn, familyOf } from './types.ts';
import type { ProxyPort, ProxyService } from './types.ts';

export interface NftOptions {
  family: 'inet';
  table: string;
  /** written in the table comment; a table without it is not ours */
  ownerTag: string;
  /** packet mark bit that asks nat_postrouting to masquerade */
  masqueradeMark: number;
}

export const defaultNftOptions: NftOptions = {
  family: 'inet',
  table: 'lbprovisioner',
  ownerTag: 'lb-provisioner',
  masqueradeMark: 0x400000,
};

/** What already exists in our table (from `nft -t list table`). */
export interface NftExisting {
  chains: string[];
  sets: string[];
}

export function ownerComment(opts: NftOptions): string {
  return `owner=${opts.ownerTag}`;
}

const BASE_CHAINS: Record<string, string> = {
  // before DNAT (dstnat is -100), so ranges apply to the client's own address
  filter_prerouting: 'type filter hook prerouting priority -110; policy accept;',
  filter_input: 'type filter hook input priority 0; policy accept;',
  nat_prerouting: 'type nat hook prerouting priority -100; policy accept;',
  // the host itself reaching a VIP (the demo, 127.x targets)
  nat_output: 'type nat hook output priority -100; policy accept;',
  nat_postrouting: 'type nat hook postrouting priority 100; policy accept;',
};

/** A short stable id for a Service key: chain names must be identifiers and stay short. */
export function serviceId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 10);
}

function addrId(address: string): string {
  return createHash('sha256').update(address).digest('hex').slice(0, 8);
}

const l4 = (p: ProxyPort): string => p.protocol.toLowerCase();
const ipKw = (family: 4 | 6): string => (family === 4 ? 'ip' : 'ip6');
const setOf = (items: string[]): string => `{ ${items.join(', ')} }`;
const hostPort = (address: string, port: number): string =>
  familyOf(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
const quote = (s: string): string => `"${s.replace(/["\\]/g, '')}"`;

interface Rendered {
  chains: Map<string, string[]>;
  /** set name -> definition */
  sets: Map<string, string>;
}

function renderService(svc: ProxyService, opts: NftOptions, out: Rendered): void {
  const id = serviceId(svc.key);
  const mark = `0x${opts.masqueradeMark.toString(16)}`;
  for (const family of [4, 6] as const) {
    const vips = svc.vips.filter((v) => familyOf(v) === family);
    if (vips.length === 0) continue;
    const ip = ipKw(family);
    const ranges = svc.sourceRanges.filter((r) => familyOf(r) === family);
    for (const port of svc.ports) {
      const proto = l4(port);
      const match = `${ip} daddr ${setOf(vips)} ${proto} dport ${port.port}`;
      if (svc.sourceRanges.length > 0) {
        // a family with no allowed range is closed entirely
        const allowed = ranges.length > 0 ? ` ${ip} saddr != ${setOf(ranges)}` : '';
        out.chains.get('filter_prerouting')!.push(`${match}${allowed} drop comment ${quote(`${svc.key} ranges`)}`);
      }
      const endpoints = port.targets.flatMap((t) => {
        const a = addressIn(t, family);
        return a === undefined ? [] : [{ name: t.name, address: a }];
      });
      if (endpoints.length === 0) continue; // no DNAT: filter_input rejects, the port is closed
      const svcChain = `svc_${id}_${proto}${port.port}_v${family}`;
      out.chains
        .get('services')!
        .push(`${match} goto ${svcChain} comment ${quote(`${svc.key} ${port.protocol}/${port.port}`)}`);
      const body: string[] = [];
      const epChains: string[] = [];
      for (const ep of endpoints) {
        const epChain = `ep_${id}_${proto}${port.port}_${addrId(ep.address)}`;
        epChains.push(epChain);
        // the packet mark asks for masquerade; the conntrack mark lets a restart find our UDP flows
        const rules = [`meta l4proto ${proto} meta mark set meta mark | ${mark} ct mark set ct mark | ${mark}`];
        if (svc.affinity.type === 'ClientIP') {
          const set = `aff_${id}_${proto}${port.port}_${addrId(ep.address)}_t${svc.affinity.timeoutSeconds}`;
          out.sets.set(
            set,
            `type ${family === 4 ? 'ipv4_addr' : 'ipv6_addr'}; flags dynamic,timeout; timeout ${svc.affinity.timeoutSeconds}s;`,
          );
          body.push(`${ip} saddr @${set} goto ${epChain}`);
          rules.push(`update @${set} { ${ip} saddr }`);
        }
        rules.push(`dnat ${ip} to ${hostPort(ep.address, port.nodePort)}`);
        out.chains.set(epChain, [`${rules.join(' ')} comment ${quote(ep.name)}`]);
      }
      const verdicts = epChains.map((c, i) => `${i} : goto ${c}`).join(', ');
      body.push(`numgen random mod ${epChains.length} vmap { ${verdicts} }`);
      out.chains.set(svcChain, body);
    }
  }
}

/** The full transaction text. */
export function renderNftTransaction(services: ProxyService[], existing: NftExisting, opts: NftOptions): string {
  const out: Rendered = { chains: new Map(), sets: new Map() };
  for (const name of [...Object.keys(BASE_CHAINS), 'services']) out.chains.set(name, []);
  const sorted = [...services].sort((a, b) => a.key.localeCompare(b.key));
  for (const svc of sorted) renderService(svc, opts, out);

  const vips = { 4: new Set<string>(), 6: new Set<string>() };
  for (const svc of sorted) for (const v of svc.vips) vips[familyOf(v)].add(v);
  const t = `${opts.family} ${opts.table}`;
  const mark = `0x${opts.masqueradeMark.toString(16)}`;

  // VIP traffic that was not DNATed (closed port, port we don't serve) must not reach the host's own sockets
  const input = out.chains.get('filter_input')!;
  input.push(
    // CVE-2020-8558: route_localnet lets outside packets reach 127/8; only our own DNAT may do that
    'iifname != "lo" ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct status & dnat == 0 drop',
    'ip daddr @vips_v4 ct status & dnat == 0 meta l4proto tcp reject with tcp reset',
    'ip daddr @vips_v4 ct status & dnat == 0 meta l4proto udp reject',
    'ip6 daddr @vips_v6 ct status & dnat == 0 meta l4proto tcp reject with tcp reset',
    'ip6 daddr @vips_v6 ct status & dnat == 0 meta l4proto udp reject',
  );
  out.chains.get('nat_prerouting')!.push('jump services');
  out.chains.get('nat_output')!.push('jump services');
  out.chains.get('nat_postrouting')!.push(`meta mark & ${mark} == ${mark} masquerade`);
  out.sets.set('vips_v4', 'type ipv4_addr;');
  out.sets.set('vips_v6', 'type ipv6_addr;');

  const lines: string[] = [`add table ${t} { comment ${quote(ownerComment(opts))}; }`];
  for (const [name, def] of out.sets) lines.push(`add set ${t} ${name} { ${def} }`);
  lines.push(`flush set ${t} vips_v4`, `flush set ${t} vips_v6`);
  if (vips[4].size > 0) lines.push(`add element ${t} vips_v4 ${setOf([...vips[4]].sort())}`);
  if (vips[6].size > 0) lines.push(`add element ${t} vips_v6 ${setOf([...vips[6]].sort())}`);
  // a base chain costs every packet a hook call even when empty: the range filter exists only while in use
  if (out.chains.get('filter_prerouting')!.length === 0) out.chains.delete('filter_prerouting');
  for (const name of out.chains.keys()) {
    const base = BASE_CHAINS[name];
    lines.push(base === undefined ? `add chain ${t} ${name}` : `add chain ${t} ${name} { ${base} }`);
  }
  const allChains = new Set([...out.chains.keys(), ...existing.chains]);
  for (const name of allChains) lines.push(`flush chain ${t} ${name}`);
  // removing rules that jump to a chain happens in the same transaction, so stale chains can go now
  for (const name of existing.chains) if (!out.chains.has(name)) lines.push(`delete chain ${t} ${name}`);
  for (const name of existing.sets) if (!out.sets.has(name)) lines.push(`delete set ${t} ${name}`);
  for (const [name, rules] of out.chains) for (const r of rules) lines.push(`add rule ${t} ${name} ${r}`);
  return `${lines.join('\n')}\n`;
}

/** Reads chain and set names and the table comment from `nft -t list table` text. */
export function parseNftListing(text: string): NftExisting & { comment: string | undefined } {
  const chains: string[] = [];
  const sets: string[] = [];
  let comment: string | undefined;
  let depth = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (depth === 1) {
      const m = /^(chain|set|map) (\S+) \{/.exec(line);
      if (m?.[1] === 'chain') chains.push(m[2]!);
      else if (m !== null) sets.push(m[2]!);
      const c = /^comment "(.*)"$/.exec(line);
      if (c !== null) comment = c[1];
    }
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
  }
  return { chains, sets, comment };
}
