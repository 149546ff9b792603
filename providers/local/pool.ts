/**
 * Pool definitions from their two sources: IPPool objects (lbprovisioner.io/v1alpha1, cluster-scoped) and
 * `--pool CIDR[,CIDR...]` flags. Validated here, at the parse boundary; the allocator gets clean data.
 */
import * as z from '../../src/config/zod.ts';
import type { PoolDefinition } from './ipam/definitions.ts';
import { parseAddressRange } from './ipam/range.ts';
import { quoteValue } from '../../src/model/parse.ts';

export const IPPOOL_GROUP = 'lbprovisioner.io';
export const IPPOOL_VERSION = 'v1alpha1';
export const IPPOOL_KIND = 'IPPool';
export const IPPOOL_PLURAL = 'ippools';

/** A pool that cannot be used, naming the pool and the value at fault. Compare by name. */
export class InvalidPoolError extends Error {
  readonly pool: string;
  /** where in the object: `spec.addresses[1]`, or the flag */
  readonly field: string;
  /** what is wrong, without the pool and field (a --pool flag's message names only the flag) */
  readonly detail: string;
  constructor(pool: string, field: string, message: string) {
    super(`pool "${pool}": ${field}: ${message}`);
    this.name = 'InvalidPoolError';
    this.pool = pool;
    this.field = field;
    this.detail = message;
  }
}

export type PoolParse = { ok: true; pool: PoolDefinition } | { ok: false; error: InvalidPoolError };

/** metav1.LabelSelector, validated as the apiserver would (also read by the L2 speaker's advertisements). */
export const labelSelector = z.object({
  matchLabels: z.optional(z.record(z.string(), z.string())),
  matchExpressions: z.optional(
    z.array(
      z
        .object({
          key: z.string().check(z.minLength(1)),
          operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
          values: z.optional(z.array(z.string())),
        })
        .check(
          z.refine((r) => (r.operator === 'In' || r.operator === 'NotIn') === (r.values ?? []).length > 0, {
            message: 'In and NotIn need values; Exists and DoesNotExist take none',
          }),
        ),
    ),
  ),
});

const ipPoolSpec = z.object({
  addresses: z.array(z.string()).check(z.minLength(1, { message: 'at least one CIDR or range is required' })),
  autoAssign: z.optional(z.boolean()),
  avoidBuggyIPs: z.optional(z.boolean()),
  priority: z.optional(z.number().check(z.int())),
  serviceAllocation: z.optional(
    z.object({
      namespaces: z.optional(z.array(z.string())),
      namespaceSelectors: z.optional(z.array(labelSelector)),
      serviceSelectors: z.optional(z.array(labelSelector)),
    }),
  ),
});

const ipPoolObject = z.object({
  metadata: z.object({ name: z.string().check(z.minLength(1)) }),
  spec: ipPoolSpec,
});

/** Parses an IPPool object as read from the apiserver (unknown: it has not been validated here yet). */
export function poolFromObject(object: unknown): PoolParse {
  const parsed = ipPoolObject.safeParse(object);
  const name = nameOf(object);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue ? fieldPath(issue.path) : 'spec';
    return { ok: false, error: new InvalidPoolError(name, field, issue?.message ?? 'invalid') };
  }
  const { spec } = parsed.data;
  const bad = badAddresses(spec.addresses);
  if (bad.length === 1)
    return {
      ok: false,
      error: new InvalidPoolError(name, `spec.addresses[${bad[0]!.index}]`, notARange(bad[0]!.value)),
    };
  // every bad entry at once: a user fixing them one condition at a time would need a round trip per entry
  if (bad.length > 1) {
    const entries = bad.map((b) => `[${b.index}] "${b.value}"`).join(', ');
    const detail = `${entries} are not CIDRs (10.0.0.0/24), ranges (10.0.0.10-10.0.0.20) or IP addresses`;
    return { ok: false, error: new InvalidPoolError(name, 'spec.addresses', detail) };
  }
  const pool: PoolDefinition = { name, addresses: spec.addresses.map((a) => a.trim()) };
  if (spec.autoAssign !== undefined) pool.autoAssign = spec.autoAssign;
  if (spec.avoidBuggyIPs !== undefined) pool.avoidBuggyIPs = spec.avoidBuggyIPs;
  if (spec.priority !== undefined) pool.priority = spec.priority;
  if (spec.serviceAllocation !== undefined) pool.serviceAllocation = stripUndefined(spec.serviceAllocation);
  return { ok: true, pool };
}

/** The name a `--pool` flag's pool gets: flag-1, flag-2... in the order given. */
export function flagPoolName(index: number): string {
  return `flag-${index + 1}`;
}

/**
 * `--pool 10.0.0.0/24,fd00::/120 --pool 192.168.1.240-192.168.1.250`: each flag is one pool (several
 * CIDRs in one flag make one dual-stack pool), auto-assigned, no restrictions.
 */
export function poolsFromFlags(values: readonly string[]): { pools: PoolDefinition[]; errors: InvalidPoolError[] } {
  const pools: PoolDefinition[] = [];
  const errors: InvalidPoolError[] = [];
  values.forEach((value, index) => {
    const name = flagPoolName(index);
    const addresses = value
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '');
    if (addresses.length === 0) {
      errors.push(new InvalidPoolError(name, '--pool', 'expected CIDR[,CIDR...], got an empty value'));
      return;
    }
    const bad = firstBadAddress(addresses);
    if (bad) errors.push(new InvalidPoolError(name, '--pool', notARange(bad.value)));
    else pools.push({ name, addresses });
  });
  return { pools, errors };
}

/** `--pool: "10.0.0.300/24" is not a CIDR ...`: a flag's errors name the flag once, not the pool it would make. */
export function poolFlagErrors(errors: readonly InvalidPoolError[]): string[] {
  return errors.map((e) => `--pool: ${e.detail}`);
}

function firstBadAddress(addresses: string[]): { index: number; value: string } | undefined {
  return badAddresses(addresses)[0];
}

function badAddresses(addresses: string[]): { index: number; value: string }[] {
  return addresses.flatMap((value, index) => (parseAddressRange(value) === null ? [{ index, value }] : []));
}

function notARange(value: string): string {
  return `${quoteValue(value)} is not a CIDR (10.0.0.0/24), a range (10.0.0.10-10.0.0.20) or an IP address`;
}

/** The error for an address entry that does not parse. */
export function invalidPoolAddress(pool: string, field: string, value: string): InvalidPoolError {
  return new InvalidPoolError(pool, field, notARange(value));
}

function nameOf(object: unknown): string {
  if (typeof object !== 'object' || object === null) return '(unnamed)';
  const metadata = (object as { metadata?: { name?: unknown } }).metadata;
  return typeof metadata?.name === 'string' && metadata.name !== '' ? metadata.name : '(unnamed)';
}

/** A zod issue path as a field: `spec.addresses[1]`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return (
    path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('') ||
    'spec'
  );
}

/** zod leaves optional keys present as undefined; the definition type has them absent. */
function stripUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
