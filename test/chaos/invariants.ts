/**
 * The invariants of issue 13, checked against what a user can see (Services, IPPools) and what the
 * provider holds (through a probe per provider). Each check that runs is counted; each failure is one line.
 */
import type * as k8s from '@kubernetes/client-node';
import ipaddr from 'ipaddr.js';
import type { AuditRequest } from '../../bench/lib/audit.ts';
import { OUR_FINALIZER, PROVIDER_ANNOTATION, READY_CONDITION, UPSTREAM_FINALIZER } from '../../src/model/names.ts';
import {
  AUTO_POOL,
  DRIVER_ANNOTATIONS,
  EXTRA_POOL,
  FIXED_POOL,
  FLAG_POOL,
  NAMESPACE,
  type ProviderName,
  type World,
} from './world.ts';

export interface CheckResult {
  passed: number;
  violations: string[];
}

export class Checks implements CheckResult {
  passed = 0;
  readonly violations: string[] = [];

  that(ok: boolean, violation: () => string): boolean {
    if (ok) this.passed++;
    else this.violations.push(violation());
    return ok;
  }
}

/** What one provider holds, compared with the owned Services it should hold exactly. */
export interface ProviderProbe {
  readonly name: ProviderName;
  check(world: World, owned: k8s.V1Service[], checks: Checks): Promise<void>;
}

export interface PoolObject {
  metadata?: { name?: string };
  spec?: { addresses?: string[] };
  status?: { used?: string };
}

export function inCidr(ip: string, cidr: string): boolean {
  try {
    const range = cidr.includes('/') ? cidr : `${cidr}/32`;
    return ipaddr.parse(ip).match(ipaddr.parseCIDR(range));
  } catch {
    return false;
  }
}

export function addressOf(svc: k8s.V1Service): string | undefined {
  const ingress = svc.status?.loadBalancer?.ingress ?? [];
  const a = ingress.map((i) => i.ip ?? i.hostname ?? '').filter(Boolean);
  return a.length ? a.sort().join(',') : undefined;
}

function isOurKey(key: string): boolean {
  return key.startsWith('lbprovisioner.io/') && !DRIVER_ANNOTATIONS.includes(key);
}

/** Invariants 1 (the Service side), 3 and 4; the provider side of 1 and 2 through the probes. */
export async function checkState(
  world: World,
  services: k8s.V1Service[],
  pools: PoolObject[],
  probes: ProviderProbe[],
): Promise<Checks> {
  const c = new Checks();
  const byName = new Map(services.map((s) => [s.metadata!.name!, s]));
  const owned = new Map<ProviderName, k8s.V1Service[]>();

  for (const name of world.deleted) {
    const svc = byName.get(name);
    c.that(
      !svc || world.services.has(name),
      () => `4: deleted Service ${name} is still there (finalizers ${JSON.stringify(svc?.metadata?.finalizers)})`,
    );
  }
  for (const [name, rec] of world.services) {
    const svc = byName.get(name);
    if (!c.that(svc !== undefined, () => `${name}: missing from the apiserver`)) continue;
    const s = svc!;
    const ann = s.metadata?.annotations ?? {};
    const fins = s.metadata?.finalizers ?? [];
    const ready = s.status?.conditions?.find((x) => x.type === READY_CONDITION);
    const owner = world.ownerOf(rec.spec);
    const addr = addressOf(s);
    if (!owner) {
      c.that(
        !fins.includes(OUR_FINALIZER) && !fins.includes(UPSTREAM_FINALIZER),
        () => `4: ${name} (not ours: ${rec.spec.type}/${rec.spec.cls}) keeps our finalizer ${JSON.stringify(fins)}`,
      );
      const left = Object.keys(ann).filter(isOurKey);
      c.that(left.length === 0, () => `4: ${name} (not ours) keeps our annotations ${JSON.stringify(left)}`);
      c.that(addr === undefined, () => `4: ${name} (not ours) keeps the address ${addr}`);
      c.that(ready === undefined, () => `4: ${name} (not ours) keeps our condition ${JSON.stringify(ready)}`);
      continue;
    }
    owned.set(owner, [...(owned.get(owner) ?? []), s]);
    const fin = rec.spec.cls === 'none' ? UPSTREAM_FINALIZER : OUR_FINALIZER;
    c.that(fins.includes(fin), () => `1: ${name} (${owner}) lacks the finalizer ${fin}: ${JSON.stringify(fins)}`);
    c.that(
      ann[PROVIDER_ANNOTATION] === owner,
      () => `1: ${name} records provider ${ann[PROVIDER_ANNOTATION]}, expected ${owner}`,
    );
    c.that(
      ready?.status === 'True',
      () => `1: ${name} (${owner}) condition ${ready?.status}/${ready?.reason}: ${ready?.message}`,
    );
    if (!c.that(addr !== undefined, () => `1: ${name} (${owner}) has no address`)) continue;
    if (owner === 'local') {
      const ip = addr!;
      c.that(
        ann['lbprovisioner.io/allocated-ips'] === ip,
        () => `1: ${name} address ${ip} but allocated-ips annotation ${ann['lbprovisioner.io/allocated-ips']}`,
      );
      if (rec.spec.fixedIP) {
        c.that(ip === rec.spec.fixedIP, () => `1: ${name} asked for ${rec.spec.fixedIP}, holds ${ip}`);
      } else {
        // an address of a pool edited away stays with its Service (Allocator.setPools: allocations in pools
        // that disappear keep working), so the whole extra range counts
        const auto = [...AUTO_POOL.addresses, FLAG_POOL, ...EXTRA_POOL.wide];
        c.that(
          auto.some((cidr) => inCidr(ip, cidr)),
          () => `1: ${name} holds ${ip}, in none of the auto-assigned pools ${auto.join(' ')}`,
        );
      }
    }
    if (rec.address !== undefined && !rec.addressMayChange) {
      c.that(
        addr === rec.address,
        () => `3: ${name} address changed ${rec.address} -> ${addr} though its spec did not ask`,
      );
    }
  }

  // 3: no address held twice
  const holders = new Map<string, string[]>();
  for (const s of services) {
    for (const i of s.status?.loadBalancer?.ingress ?? []) {
      const a = i.ip ?? i.hostname;
      if (a) holders.set(a, [...(holders.get(a) ?? []), s.metadata!.name!]);
    }
  }
  for (const [a, names] of holders) c.that(names.length === 1, () => `3: ${a} is held by ${names.join(', ')}`);

  // 2 (local): pool status counts what the owned Services hold, nothing more
  const localIPs = (owned.get('local') ?? []).map(addressOf).filter((a): a is string => !!a);
  for (const p of pools) {
    const name = p.metadata?.name ?? '';
    const cidrs = p.spec?.addresses ?? [];
    const holding = localIPs.filter((ip) => cidrs.some((cidr) => inCidr(ip, cidr))).length;
    c.that(
      p.status?.used === String(holding),
      () => `2: IPPool ${name} says used=${p.status?.used}, the Services hold ${holding} of its addresses`,
    );
  }
  if (world.o.providers.includes('local')) {
    const names = pools.map((p) => p.metadata?.name);
    c.that(
      names.includes(AUTO_POOL.name) && names.includes(FIXED_POOL.name),
      () => `2: IPPools missing: ${JSON.stringify(names)}`,
    );
  }

  for (const probe of probes) await probe.check(world, owned.get(probe.name) ?? [], c);
  return c;
}

function clientHadGone(r: AuditRequest): boolean {
  return r.code === 504 && /context canceled/.test(r.message ?? '');
}

/** Invariant 5 (apiserver side) and the Secret rule, from the audit log of the controller's user. */
export function checkApiserverBudget(
  requests: readonly AuditRequest[],
  opsPerService: Map<string, number>,
  faults: number,
  quiet: { from: number; to: number },
): Checks {
  const c = new Checks();
  const secrets = requests.filter((r) => r.resource.startsWith('secrets'));
  c.that(
    secrets.length === 0,
    () =>
      `security: the controller touched Secrets: ${secrets.map((r) => `${r.verb} ${r.namespace}/${r.name}`).join(', ')}`,
  );
  const writes = requests.filter(
    (r) => r.namespace === NAMESPACE && /^services/.test(r.resource) && /^(patch|update|create)$/.test(r.verb),
  );
  const per = new Map<string, number>();
  for (const w of writes) per.set(w.name ?? '', (per.get(w.name ?? '') ?? 0) + 1);
  for (const [name, n] of per) {
    // a metadata patch and a status patch per change, a few more around a fault
    const bound = 4 * ((opsPerService.get(name) ?? 1) + 1) + 3 * faults;
    c.that(n <= bound, () => `5: ${n} Service writes to ${name} (bound ${bound}): a hot loop`);
  }
  // A write whose client had gone before the apiserver got it was never carried out: a replica that died
  // during a partition leaves its last request in the kernel's send queue, and TCP delivers it after the
  // heal (the apiserver answers 504 "context canceled"). Not the controller writing while nothing changes.
  const late = writes.filter((w) => w.receivedMs >= quiet.from && w.receivedMs <= quiet.to && !clientHadGone(w));
  c.that(
    late.length === 0,
    () =>
      `5: ${late.length} Service writes after convergence with nothing changing: ${late
        .slice(0, 5)
        .map((w) => `${w.verb} ${w.resource} ${w.name}`)
        .join(', ')}`,
  );
  return c;
}
