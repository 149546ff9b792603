/**
 * Tags of the NLB and its target groups: ownership (on adoption), aws-load-balancer-additional-resource-tags,
 * and our digests (attributes, extra certificates). Keys the annotation put there and no longer names are
 * removed first (RemoveTags, keeping us within the tag limit), then what is missing or different is added;
 * one call per 20 resources that need the same change. Tags set by hand stay (see additionalTagSet). The
 * digests are written last, after the changes they record. Pure.
 */
import { chunks } from './chunks.ts';
import type { Ref, Step } from './steps.ts';
import { digest, removableTags } from './tags.ts';

export interface TaggedResource {
  ref: Ref;
  /** the tags it carries now (for one created by this plan: those it is created with) */
  have: Record<string, string>;
  want: Record<string, string>;
}

const TAGS_PER_CALL = 20;

export function planTags(resources: TaggedResource[]): Step[] {
  const removals = new Map<string, { refs: Ref[]; keys: string[] }>();
  const additions = new Map<string, { refs: Ref[]; tags: Record<string, string> }>();
  for (const { ref, have, want } of resources) {
    const remove = removableTags(have, want).sort();
    if (remove.length > 0) {
      const key = remove.join('\n');
      const r = removals.get(key) ?? { refs: [], keys: remove };
      r.refs.push(ref);
      removals.set(key, r);
    }
    const missing = Object.fromEntries(Object.entries(want).filter(([k, v]) => have[k] !== v));
    if (Object.keys(missing).length === 0) continue;
    const key = digest(missing);
    const a = additions.get(key) ?? { refs: [], tags: missing };
    a.refs.push(ref);
    additions.set(key, a);
  }
  const steps: Step[] = [];
  for (const r of removals.values())
    for (const batch of chunks(r.refs, TAGS_PER_CALL)) steps.push({ op: 'RemoveTags', resources: batch, keys: r.keys });
  for (const a of additions.values())
    for (const batch of chunks(a.refs, TAGS_PER_CALL)) steps.push({ op: 'AddTags', resources: batch, tags: a.tags });
  return steps;
}
