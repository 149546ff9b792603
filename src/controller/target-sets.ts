/**
 * The target sets of the current nodes, computed once per node-set version and shared by every load
 * balancer (1000 Services don't hold 1000 copies), and which node events may move them.
 */
import type { TargetNode } from '../model/desired.ts';
import type { NodeObject } from '../model/objects.ts';
import { nodeFingerprint, nodesWithoutProviderID, targetsFingerprint, targetsOf } from '../model/nodes.ts';

export interface TargetSet {
  targets: TargetNode[];
  fingerprint: string;
  /** nodes left out only for lack of a providerID (where that is required), comma-joined */
  missing: string;
}

export class TargetSets {
  private readonly nodes: () => readonly NodeObject[];
  private readonly seen = new Map<string, string>();
  /** bumped whenever a node's fingerprint changes: the cached sets are computed again */
  private version = 0;
  private readonly cache = new Map<boolean, TargetSet & { version: number }>();

  constructor(nodes: () => readonly NodeObject[]) {
    this.nodes = nodes;
  }

  /**
   * Record a node event; true when it may move a target set. The fingerprint reads exactly what the target
   * computation reads (a taint, readiness or a heartbeat alone changes nothing).
   */
  noteNode(node: NodeObject, deleted: boolean): boolean {
    const name = node.metadata?.name ?? '';
    if (deleted) {
      this.seen.delete(name);
    } else {
      const fp = nodeFingerprint(node);
      if (this.seen.get(name) === fp) return false;
      this.seen.set(name, fp);
    }
    this.version++;
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
