/**
 * Which nodes receive load-balancer traffic. Readiness, cordoning and the cluster autoscaler's deletion
 * taint are left to health checks (KEP-3458: a stable node set; kube-proxy's /healthz fails on nodes
 * tainted for deletion), so only the facts in `nodeFacts` move a node in or out or change its target, and
 * the node fingerprint reads exactly those: a node event that changes none of them syncs nothing, and one
 * that changes any of them reaches every load balancer at once.
 */
import type { NodeObject } from './objects.ts';
import type { TargetNode } from './desired.ts';
import { EXCLUDE_FROM_LB_LABEL } from './names.ts';
import { fingerprint } from './stable-json.ts';

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

/** Nodes that a load balancer should target (upstream's predicates, minus readiness). */
export function eligibleNodes(nodes: readonly NodeObject[], selection: NodeSelection): NodeObject[] {
  return nodes.filter(
    (n) => !isExcluded(n) && !isBeingDeleted(n) && (!selection.requireProviderID || Boolean(n.spec?.providerID)),
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
  return fingerprint(targets);
}

/**
 * Everything about a node that the target computation reads (eligibility and the target itself), as one
 * string: two versions of a node with the same fingerprint give every load balancer the same targets.
 */
export function nodeFingerprint(node: NodeObject): string {
  return fingerprint([isExcluded(node), isBeingDeleted(node), targetOf(node)]);
}
