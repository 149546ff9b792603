/** What every reconcile step needs: the API, the cluster, the abort signal, and whether anything changed. */
import type { AwsApi } from './aws-api.ts';
import type { LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Logger } from 'pino';

export interface Ctx {
  api: AwsApi;
  clusterName: string;
  signal: AbortSignal;
  log: Logger;
  /** set by every mutating call, so ensure() can report changed: false at steady state */
  changed: boolean;
  /** warnings for the Ready condition (stable wording, no counts) */
  warnings: string[];
  caches: ProviderCaches;
  /** target groups this call created (or found by name), so a failure before they are attached leaks none */
  createdTargetGroups: string[];
  /** a drift pass: attributes and extra certificates are read back and repaired, not trusted to their tags */
  drift?: boolean;
}

const DISCOVERY_TTL_MS = 5 * 60_000;

/** Caches shared by every Service of one provider: discovery results change rarely, and reads cost budget. */
export class ProviderCaches {
  readonly subnets = new TtlCache<{ id: string; zone: string; vpcId: string }[]>(DISCOVERY_TTL_MS);
  readonly nodeGroups = new TtlCache<string[]>(DISCOVERY_TTL_MS);
  /** an allocation's address never changes */
  readonly eips = new Map<string, string>();
  /** shared backend security group id per VPC, and whether the node rule was checked */
  readonly backendGroup = new TtlCache<string>(DISCOVERY_TTL_MS);
  readonly nodeRules = new TtlCache<string>(DISCOVERY_TTL_MS);
  readonly limits = new TtlCache<Record<string, number>>(10 * 60_000);
  /** load-balancer name -> type, see lb-index.ts */
  readonly loadBalancerIndex = new TtlCache<Map<string, string>>(10 * 60_000);
  indexListing: Promise<LoadBalancer[]> | undefined;
}

/** A small TTL cache shared by all Services of one provider (discovery results rarely change). */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private readonly ttlMs: number;
  constructor(ttlMs: number) {
    this.ttlMs = ttlMs;
  }
  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.until < Date.now()) return undefined;
    return e.value;
  }
  set(key: string, value: V): V {
    this.entries.set(key, { value, until: Date.now() + this.ttlMs });
    return value;
  }
  delete(key: string): void {
    this.entries.delete(key);
  }
  clear(): void {
    this.entries.clear();
  }
}

/** Split a list into chunks of n (AWS batch limits: 20 ARNs per DescribeTags, 100 targets per call). */
export function chunks<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}
