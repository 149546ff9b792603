/**
 * The target sets of the current nodes, computed once per node-set version and shared by every load
 * balancer (1000 Services don't hold 1000 copies), and which node events may move them.
 */
import type { TargetNode } from '../model/desired.ts';
import type { NodeObject } from '../model/objects.ts';
import { nodesWithoutProviderID, targetsFingerprint, targetsOf } from '../model/nodes.ts';
import { relevantNode } from './fingerprints.ts';

export interface TargetSet {
  targets: TargetNode[];
  fingerprint: string;
  /** nodes left out only for lack of a providerID (where that is required), comma-joined */
  missing: string;
}

export class TargetSets {
  private readonly nodes: () => readonly NodeObject[];
  private readonly seen = new Map<string, string>();
  /** bumped on every node event (taints included: eligibility reads them when the set is computed) */
  private version = 0;
  private readonly cache = new Map<boolean, TargetSet & { version: number }>();

  constructor(nodes: () => readonly NodeObject[]) {
    this.nodes = nodes;
  }

  /** Record a node event; true when it may move a target set (a taint or readiness alone does not). */
  noteNode(node: NodeObject, deleted: boolean): boolean {
    this.version++;
    const name = node.metadata?.name ?? '';
    if (deleted) return this.seen.delete(name) || true;
    const fp = relevantNode(node);
    if (this.seen.get(name) === fp) return false;
    this.seen.set(name, fp);
    return true;
  }

  for(requireProviderID: boolean): TargetSet {
    const cached = this.cache.get(requireProviderID);
    if (cached && cached.version === this.version) return cached;
    const targets = targetsOf(this.nodes(), { requireProviderID });
    const missing = requireProviderID ? nodesWithoutProviderID(this.nodes()).join(',') : '';
    const entry = { version: this.version, targets, fingerprint: targetsFingerprint(targets), missing };
    this.cache.set(requireProviderID, entry);
    return entry;
  }
}
