/**
 * Which nodes receive load-balancer traffic. Readiness and draining are left to health checks
 * (KEP-3458: a stable node set), so only these facts move a node in or out.
 */
import type { NodeObject } from './objects.ts';
import type { TargetNode } from './desired.ts';
import { EXCLUDE_FROM_LB_LABEL, TO_BE_DELETED_TAINT } from './names.ts';

export interface NodeSelection {
  /** cloud providers map nodes to instances through spec.providerID: nodes without one can't be targets */
  requireProviderID: boolean;
}

export function isExcluded(node: NodeObject): boolean {
  return node.metadata?.labels?.[EXCLUDE_FROM_LB_LABEL] !== undefined;
}

export function isBeingDeleted(node: NodeObject): boolean {
  return node.metadata?.deletionTimestamp !== undefined && node.metadata.deletionTimestamp !== null;
}

export function isTaintedForDeletion(node: NodeObject): boolean {
  return node.spec?.taints?.some((t) => t.key === TO_BE_DELETED_TAINT) ?? false;
}

/** Nodes that a load balancer should target (upstream's predicates, minus readiness). */
export function eligibleNodes(nodes: readonly NodeObject[], selection: NodeSelection): NodeObject[] {
  return nodes.filter(
    (n) =>
      !isExcluded(n) &&
      !isBeingDeleted(n) &&
      !isTaintedForDeletion(n) &&
      (!selection.requireProviderID || Boolean(n.spec?.providerID)),
  );
}

/** Nodes left out only because they have no providerID: reported in an Event, never dropped silently. */
export function nodesWithoutProviderID(nodes: readonly NodeObject[]): string[] {
  return nodes
    .filter((n) => !isExcluded(n) && !isBeingDeleted(n) && !n.spec?.providerID)
    .map((n) => n.metadata?.name ?? '')
    .sort();
}

function nodeAddresses(node: NodeObject): string[] {
  const addrs = node.status?.addresses ?? [];
  const internal = addrs.filter((a) => a.type === 'InternalIP').map((a) => a.address);
  const chosen = internal.length > 0 ? internal : addrs.filter((a) => a.type === 'ExternalIP').map((a) => a.address);
  // the first address of each family
  const v4 = chosen.find((a) => !a.includes(':'));
  const v6 = chosen.find((a) => a.includes(':'));
  return [v4, v6].filter((a): a is string => a !== undefined);
}

export function targetOf(node: NodeObject): TargetNode {
  const labels = node.metadata?.labels ?? {};
  const zone = labels['topology.kubernetes.io/zone'];
  const target: TargetNode = { name: node.metadata?.name ?? '', addresses: nodeAddresses(node), labels };
  if (node.spec?.providerID) target.providerID = node.spec.providerID;
  if (zone) target.zone = zone;
  return target;
}

export function targetsOf(nodes: readonly NodeObject[], selection: NodeSelection): TargetNode[] {
  return eligibleNodes(nodes, selection)
    .map(targetOf)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A fingerprint of what a target set means to a load balancer; equal fingerprints need no update. */
export function targetsFingerprint(targets: readonly TargetNode[]): string {
  return targets.map((t) => `${t.name}|${t.addresses.join(',')}|${t.providerID ?? ''}|${t.zone ?? ''}`).join(';');
}
