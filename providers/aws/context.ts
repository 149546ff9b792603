/** What every read and write needs: the API, the cluster, the abort signal, and the provider's caches. */
import type { AwsApi } from './aws-api.ts';
import type { LoadBalancer, TargetGroup } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Logger } from 'pino';
import type { SubnetInfo } from './observed.ts';

export interface Ctx {
  api: AwsApi;
  clusterName: string;
  signal: AbortSignal;
  log: Logger;
  caches: ProviderCaches;
  /** a drift pass: attributes and extra certificates are read back and repaired, not trusted to their tags */
  drift?: boolean;
}

const DISCOVERY_TTL_MS = 5 * 60_000;
const INDEX_TTL_MS = 10 * 60_000;

/** Caches shared by every Service of one provider: discovery results change rarely, and reads cost budget. */
export class ProviderCaches {
  readonly subnets = new TtlCache<SubnetInfo[]>(DISCOVERY_TTL_MS);
  readonly nodeGroups = new TtlCache<string[]>(DISCOVERY_TTL_MS);
  /** an allocation's address never changes */
  readonly eips = new Map<string, string>();
  /** an instance never changes VPC ('' for an instance EC2 does not know) */
  readonly instanceVpcs = new Map<string, string>();
  /** shared backend security group id per VPC */
  readonly backendGroup = new TtlCache<string>(DISCOVERY_TTL_MS);
  /** the shared open frontend security group id per VPC */
  readonly openGroup = new TtlCache<string>(DISCOVERY_TTL_MS);
  /** node-rule checks found complete: key (node groups and rules) -> the backend group they admit */
  readonly nodeRules = new TtlCache<string>(DISCOVERY_TTL_MS);
  readonly limits = new TtlCache<Record<string, number>>(INDEX_TTL_MS);
  /** load-balancer name -> type, see lb-index.ts */
  readonly loadBalancerIndex = new TtlCache<Map<string, string>>(INDEX_TTL_MS);
  /** target-group name -> ARN, see lb-index.ts */
  readonly targetGroupIndex = new TtlCache<Map<string, string>>(INDEX_TTL_MS);
  indexListing: Promise<LoadBalancer[]> | undefined;
  targetGroupListing: Promise<TargetGroup[]> | undefined;
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
