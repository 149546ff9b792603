/**
 * L2Advertisement objects (lbprovisioner.io/v1alpha1, cluster-scoped): which pools the L2 speakers announce,
 * from which nodes, on which interfaces. Parsed here, at the boundary: a bad object becomes an error naming
 * the field (shown in its Valid condition) and announces nothing; it never reaches the election.
 */
import * as z from '../../../src/config/zod.ts';
import type { LabelSelector } from '../ipam/selector.ts';
import { fieldPath, labelSelector } from '../pool.ts';

export const L2_GROUP = 'lbprovisioner.io';
export const L2_VERSION = 'v1alpha1';
export const L2ADVERTISEMENT_PLURAL = 'l2advertisements';

export interface Advertisement {
  name: string;
  /** pool names (IPPool objects, or flag-N for --pool flags), or every pool */
  pools: readonly string[] | 'all';
  /** a node is selected when one of these matches; none: every node */
  nodeSelectors: readonly LabelSelector[];
  /** announce on these interfaces (a node without any of them does not announce); none: the VIP's subnet */
  interfaces: readonly string[];
}

export type AdvertisementParse =
  { ok: true; advertisement: Advertisement } | { ok: false; name: string; message: string };

/** Linux interface names: 1-15 characters, no slash, colon or white space, not . or .. */
const interfaceName = z.string().check(
  z.regex(/^[^\s/:]{1,15}$/, { message: 'not an interface name (1-15 characters, no "/", ":" or spaces)' }),
  z.refine((n) => n !== '.' && n !== '..', { message: 'not an interface name' }),
);

/** Label keys: an optional DNS-subdomain prefix and a name, as the apiserver accepts them. */
const labelKey =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const nodeSelector = labelSelector.check(
  z.superRefine((selector, ctx) => {
    const keys = [
      ...Object.keys(selector.matchLabels ?? {}).map((k) => ({ k, path: ['matchLabels', k] })),
      ...(selector.matchExpressions ?? []).map((e, i) => ({ k: e.key, path: ['matchExpressions', i, 'key'] })),
    ];
    for (const { k, path } of keys)
      if (!labelKey.test(k)) ctx.addIssue({ code: 'custom', path, message: `"${k}" is not a valid label key` });
  }),
);

const spec = z.optional(
  z.object({
    ipPools: z.optional(z.array(z.string().check(z.minLength(1, { message: 'a pool name must not be empty' })))),
    nodeSelectors: z.optional(z.array(nodeSelector)),
    interfaces: z.optional(z.array(interfaceName)),
  }),
);

const object = z.object({ metadata: z.object({ name: z.string().check(z.minLength(1)) }), spec });

/** Parses an L2Advertisement as read from the apiserver (unknown: the CRD schema is only a first filter). */
export function advertisementFromObject(input: unknown): AdvertisementParse {
  const name = nameOf(input);
  const parsed = object.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue ? fieldPath(issue.path) : 'spec';
    return { ok: false, name, message: `${field}: ${issue?.message ?? 'invalid'}` };
  }
  const s = parsed.data.spec ?? {};
  const pools = s.ipPools ?? [];
  return {
    ok: true,
    advertisement: {
      name,
      pools: pools.length === 0 ? 'all' : [...new Set(pools)],
      nodeSelectors: (s.nodeSelectors ?? []).map(stripUndefined),
      interfaces: [...new Set(s.interfaces ?? [])],
    },
  };
}

function nameOf(input: unknown): string {
  const name = (input as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  return typeof name === 'string' && name !== '' ? name : '(unnamed)';
}

function stripUndefined(selector: LabelSelector): LabelSelector {
  return JSON.parse(JSON.stringify(selector)) as LabelSelector;
}
