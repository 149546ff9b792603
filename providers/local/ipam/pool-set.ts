/** Pool definitions compiled for lookups: ranges parsed once, sizes counted once, auto-assign order fixed. */
import { isBuggyAddress } from './address.ts';
import type { Address, IpFamily } from './address.ts';
import type { AllocationRequest, PoolDefinition } from './definitions.ts';
import { ipamError } from './errors.ts';
import type { IpamError } from './errors.ts';
import { parseAddressRange, rangeContains, rangeSize } from './range.ts';
import type { AddressRange } from './range.ts';
import { selectorMatches } from './selector.ts';

export interface Pool {
  definition: PoolDefinition;
  name: string;
  ranges: AddressRange[];
  autoAssign: boolean;
  avoidBuggyIPs: boolean;
  families: IpFamily[];
  size: bigint;
}

export interface CompiledPools {
  byName: Map<string, Pool>;
  /** every pool in allocation order: priority (unset last), then name */
  ordered: Pool[];
  /** definitions rejected, with why; their pools are absent */
  errors: IpamError[];
}

/** Definitions in the order they were made: a pool that overlaps an earlier one is the one refused. */
export function compilePools(definitions: PoolDefinition[]): CompiledPools {
  const errors: IpamError[] = [];
  const byName = new Map<string, Pool>();
  for (const definition of definitions) {
    const pool = compilePool(definition);
    if ('kind' in pool) {
      errors.push(pool);
      continue;
    }
    const overlap = overlapWith(pool, [...byName.values()]);
    if (overlap) errors.push(overlap);
    else byName.set(pool.name, pool);
  }
  const ordered = [...byName.values()].sort(byPriorityThenName);
  return { byName, ordered, errors };
}

function overlapWith(pool: Pool, accepted: Pool[]): IpamError | null {
  for (const range of pool.ranges)
    for (const other of accepted)
      for (const taken of other.ranges)
        if (range.family === taken.family && range.first <= taken.last && taken.first <= range.last)
          return ipamError.poolOverlap(pool.name, range.text, other.name, taken.text);
  return null;
}

/** A pool with one bad entry is rejected whole: half a pool would hand out addresses the user didn't mean. */
function compilePool(definition: PoolDefinition): Pool | IpamError {
  const ranges: AddressRange[] = [];
  for (const text of definition.addresses) {
    const range = parseAddressRange(text);
    if (!range) return ipamError.invalidPoolAddress(definition.name, text);
    ranges.push(range);
  }
  const avoidBuggyIPs = definition.avoidBuggyIPs ?? false;
  const families = (['IPv4', 'IPv6'] as const).filter((family) => ranges.some((r) => r.family === family));
  const size = ranges.reduce((sum, range) => sum + rangeSize(range, avoidBuggyIPs), 0n);
  return {
    definition,
    name: definition.name,
    ranges,
    autoAssign: definition.autoAssign ?? true,
    avoidBuggyIPs,
    families,
    size,
  };
}

function byPriorityThenName(a: Pool, b: Pool): number {
  const pa = a.definition.priority ?? Number.POSITIVE_INFINITY;
  const pb = b.definition.priority ?? Number.POSITIVE_INFINITY;
  if (pa !== pb) return pa < pb ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Avoided .0/.255 addresses are not part of the pool at all, as in MetalLB. */
export function poolContains(pool: Pool, address: Address): boolean {
  if (pool.avoidBuggyIPs && isBuggyAddress(address)) return false;
  return pool.ranges.some((range) => rangeContains(range, address));
}

/** Why the pool's serviceAllocation excludes this Service, or null when it serves it. */
export function whyPoolRefuses(pool: Pool, request: AllocationRequest): string | null {
  const allocation = pool.definition.serviceAllocation;
  if (!allocation) return null;
  const namespaces = allocation.namespaces ?? [];
  const namespaceSelectors = allocation.namespaceSelectors ?? [];
  const restrictsNamespaces = namespaces.length > 0 || namespaceSelectors.length > 0;
  if (
    restrictsNamespaces &&
    !namespaces.includes(request.namespace) &&
    !namespaceSelectors.some((selector) => selectorMatches(selector, request.namespaceLabels))
  ) {
    return `namespace "${request.namespace}" is not among its namespaces or namespaceSelectors`;
  }
  const serviceSelectors = allocation.serviceSelectors ?? [];
  if (serviceSelectors.length > 0 && !serviceSelectors.some((s) => selectorMatches(s, request.serviceLabels))) {
    return 'the Service labels match none of its serviceSelectors';
  }
  return null;
}
