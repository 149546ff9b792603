/**
 * What the fake ARM stores: load balancers (with their children), public IPs, network security groups,
 * and the virtual networks their references point at. Bodies are kept as ARM returns them (wire JSON
 * with the read-only fields ARM fills in: ids, etags, types, provisioning states, back-references,
 * allocated addresses). Every write issues a new ETag; a child write renews its parent's ETag, and a
 * child's ETag is its parent's, as in ARM.
 */
import { randomUUID } from 'node:crypto';
import ipaddr from 'ipaddr.js';

export type Json = Record<string, unknown>;

export interface Stored {
  id: string;
  type: string;
  body: Json;
  etag: string;
  /** a long-running operation on this resource is under way until then */
  busyUntil: number;
}

const props = (x: Json): Json => (x['properties'] ??= {}) as Json;
const list = (x: unknown): Json[] => (Array.isArray(x) ? (x as Json[]) : []);
const lower = (s: string) => s.toLowerCase();

export const LB_CHILDREN = [
  'frontendIPConfigurations',
  'backendAddressPools',
  'loadBalancingRules',
  'probes',
  'inboundNatRules',
  'outboundRules',
] as const;

export function newEtag(): string {
  return `W/"${randomUUID()}"`;
}

export class ArmState {
  readonly resources = new Map<string, Stored>();
  readonly subnets = new Map<string, { v4?: string; v6?: string }>();
  private nextPublic = { v4: 10, v6: 10 };

  get(id: string): Stored | undefined {
    return this.resources.get(lower(id));
  }

  byType(type: string): Stored[] {
    return [...this.resources.values()].filter((r) => r.type === type);
  }

  /** A subnet the fake knows (seeded: ARM's VNets are not what this fake is about). */
  addSubnet(id: string, v4?: string, v6?: string): void {
    this.subnets.set(lower(id), { ...(v4 ? { v4 } : {}), ...(v6 ? { v6 } : {}) });
  }

  /** Store a resource body as written; returns the stored record with a fresh ETag. */
  put(id: string, type: string, body: Json): Stored {
    const previous = this.get(id);
    const rec: Stored = { id, type, body, etag: newEtag(), busyUntil: previous?.busyUntil ?? 0 };
    this.resources.set(lower(id), rec);
    this.render(rec, previous);
    if (type === 'Microsoft.Network/loadBalancers') this.relinkPublicIps();
    return rec;
  }

  remove(id: string): void {
    const rec = this.get(id);
    this.resources.delete(lower(id));
    if (rec?.type === 'Microsoft.Network/loadBalancers') this.relinkPublicIps();
  }

  /** Someone else (the portal, another controller) edits a resource: new ETag, as ARM would. */
  mutate(id: string, edit: (body: Json) => void): void {
    const rec = this.get(id);
    if (!rec) throw new Error(`no resource ${id}`);
    edit(rec.body);
    this.put(rec.id, rec.type, rec.body);
  }

  /** The read-only fields ARM fills in. */
  private render(rec: Stored, previous: Stored | undefined): void {
    const b = rec.body;
    const parts = rec.id.split('/');
    b['id'] = rec.id;
    b['name'] = parts[parts.length - 1];
    b['type'] = rec.type;
    b['etag'] = rec.etag;
    const p = props(b);
    p['provisioningState'] = 'Succeeded';
    p['resourceGuid'] ??= (previous?.body['properties'] as Json | undefined)?.['resourceGuid'] ?? randomUUID();
    if (rec.type === 'Microsoft.Network/loadBalancers') this.renderLoadBalancer(rec, previous);
    if (rec.type === 'Microsoft.Network/publicIPAddresses') this.renderPublicIp(rec, previous);
    if (rec.type === 'Microsoft.Network/networkSecurityGroups')
      for (const r of list(p['securityRules'])) this.renderChild(rec, 'securityRules', r);
  }

  private renderChild(rec: Stored, collection: string, child: Json): void {
    child['id'] = `${rec.id}/${collection}/${String(child['name'])}`;
    child['etag'] = rec.etag;
    child['type'] = `${rec.type}/${collection}`;
    props(child)['provisioningState'] = 'Succeeded';
  }

  private renderLoadBalancer(rec: Stored, previous: Stored | undefined): void {
    const p = props(rec.body);
    for (const c of LB_CHILDREN) {
      p[c] ??= [];
      for (const child of list(p[c])) this.renderChild(rec, c, child);
    }
    const oldFrontends = new Map(
      list((previous?.body['properties'] as Json | undefined)?.['frontendIPConfigurations']).map((f) => [
        lower(String(f['name'])),
        f,
      ]),
    );
    for (const fe of list(p['frontendIPConfigurations'])) {
      const fp = props(fe);
      const subnet = (fp['subnet'] as Json | undefined)?.['id'] as string | undefined;
      if (subnet && fp['privateIPAllocationMethod'] !== 'Static') {
        const old = props(oldFrontends.get(lower(String(fe['name']))) ?? {});
        fp['privateIPAllocationMethod'] = 'Dynamic';
        fp['privateIPAddress'] =
          old['privateIPAddress'] ?? this.allocatePrivate(subnet, String(fp['privateIPAddressVersion'] ?? 'IPv4'));
      }
      const refs = list(p['loadBalancingRules'])
        .filter(
          (r) =>
            lower(String((props(r)['frontendIPConfiguration'] as Json | undefined)?.['id'] ?? '')) ===
            lower(String(fe['id'])),
        )
        .map((r) => ({ id: r['id'] }));
      if (refs.length) fp['loadBalancingRules'] = refs;
      else delete fp['loadBalancingRules'];
    }
  }

  private nextPublicV4(): string {
    const n = this.nextPublic.v4++;
    return `198.${18 + ((n >> 16) & 1)}.${(n >> 8) & 255}.${n & 255}`;
  }

  private nextPublicV6(): string {
    return `2001:db8:ac::${(this.nextPublic.v6++).toString(16)}`;
  }

  private renderPublicIp(rec: Stored, previous: Stored | undefined): void {
    const p = props(rec.body);
    const old = (previous?.body['properties'] as Json | undefined) ?? {};
    const v6 = p['publicIPAddressVersion'] === 'IPv6';
    p['publicIPAllocationMethod'] ??= 'Static';
    p['publicIPAddressVersion'] ??= 'IPv4';
    // ranges nothing ever routes to (IPv4: the benchmarking 198.18.0.0/15, which no test's pool uses, so an
    // address here never meets a local-provider address in the same cluster); never handed out twice
    p['ipAddress'] = old['ipAddress'] ?? (v6 ? this.nextPublicV6() : this.nextPublicV4());
    if (old['ipConfiguration']) p['ipConfiguration'] = old['ipConfiguration'];
    const dns = p['dnsSettings'] as Json | undefined;
    if (dns?.['domainNameLabel'])
      dns['fqdn'] = `${String(dns['domainNameLabel'])}.${String(rec.body['location'])}.cloudapp.azure.com`;
  }

  /** Back-references: a public IP knows the frontend that holds it. */
  private relinkPublicIps(): void {
    const holders = new Map<string, string>();
    for (const lb of this.byType('Microsoft.Network/loadBalancers'))
      for (const fe of list(props(lb.body)['frontendIPConfigurations'])) {
        const pip = (props(fe)['publicIPAddress'] as Json | undefined)?.['id'];
        if (typeof pip === 'string') holders.set(lower(pip), String(fe['id']));
      }
    for (const pip of this.byType('Microsoft.Network/publicIPAddresses')) {
      const holder = holders.get(lower(pip.id));
      const p = props(pip.body);
      if (holder) p['ipConfiguration'] = { id: holder };
      else delete p['ipConfiguration'];
    }
  }

  /** The lowest free address of the subnet (Azure keeps the first four). */
  private allocatePrivate(subnetId: string, version: string): string | undefined {
    const subnet = this.subnets.get(lower(subnetId));
    const cidr = version === 'IPv6' ? subnet?.v6 : subnet?.v4;
    if (!cidr) return undefined;
    const used = new Set<string>();
    for (const lb of this.byType('Microsoft.Network/loadBalancers'))
      for (const fe of list(props(lb.body)['frontendIPConfigurations'])) {
        const a = props(fe)['privateIPAddress'];
        if (typeof a === 'string') used.add(a);
      }
    const [base, bits] = ipaddr.parseCIDR(cidr);
    const bytes = base.toByteArray();
    for (let i = 4; i < Math.min(2 ** (bytes.length * 8 - bits), 65536); i++) {
      const b = [...bytes];
      let carry = i;
      for (let k = b.length - 1; k >= 0 && carry > 0; k--) {
        const sum = b[k]! + (carry & 0xff);
        b[k] = sum & 0xff;
        carry = (carry >> 8) + (sum >> 8);
      }
      const text = ipaddr.fromByteArray(b).toString();
      if (!used.has(text)) return text;
    }
    return undefined;
  }

  /** Whether a private address lies in a subnet and is free (Static frontends). */
  privateAddressProblem(subnetId: string, address: string, frontendId: string): string | undefined {
    const subnet = this.subnets.get(lower(subnetId));
    let inside = false;
    try {
      const addr = ipaddr.parse(address);
      for (const cidr of [subnet?.v4, subnet?.v6]) {
        if (!cidr) continue;
        const range = ipaddr.parseCIDR(cidr);
        if (addr.kind() === range[0].kind() && addr.match(range)) inside = true;
      }
    } catch {
      return `${address} is not an IP address`;
    }
    if (!inside) return `${address} is not in subnet ${subnetId}`;
    for (const lb of this.byType('Microsoft.Network/loadBalancers'))
      for (const fe of list(props(lb.body)['frontendIPConfigurations']))
        if (props(fe)['privateIPAddress'] === address && lower(String(fe['id'])) !== lower(frontendId))
          return `${address} is already used by ${String(fe['id'])}`;
    return undefined;
  }
}
