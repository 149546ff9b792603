/**
 * Every permission the controller uses, in one table: `lb-provisioner doctor` asks the apiserver about each
 * (SelfSubjectAccessReview), and a test checks that the ClusterRole and the leader-election Role in deploy/
 * grant exactly these, so the code, the check and the manifests cannot drift apart.
 */

export interface Permission {
  /** API group ('' for core) */
  group: string;
  resource: string;
  verb: string;
  /**
   * 'cluster': granted by the ClusterRole; 'lease': by the Role in the Lease's namespace (only the Lease
   * named by --leader-elect-name, create excepted); 'peer': by a Role in kube-system, only the cloud
   * controller manager's Lease (read to leave class-less Services to it while it runs)
   */
  scope: 'cluster' | 'lease' | 'peer';
  /** what the controller does with it, for doctor's message */
  why: string;
}

const rows = (
  group: string,
  resource: string,
  verbs: readonly string[],
  why: string,
  scope: Permission['scope'] = 'cluster',
): Permission[] => verbs.map((verb) => ({ group, resource, verb, scope, why }));

export const CONTROLLER_PERMISSIONS: readonly Permission[] = [
  ...rows('', 'services', ['get', 'list', 'watch', 'patch'], 'watch Services; patch the finalizer and annotations'),
  ...rows('', 'services/status', ['patch'], 'write status.loadBalancer and the Ready condition'),
  ...rows('', 'nodes', ['list', 'watch'], 'the load-balancer targets'),
  ...rows('', 'namespaces', ['get', 'list', 'watch'], 'namespace labels for pool selectors'),
  ...rows('', 'events', ['create'], 'Events on Services (never patched: repeats are dropped)'),
  ...rows('lbprovisioner.io', 'ippools', ['list', 'watch'], "the local provider's address pools"),
  ...rows('lbprovisioner.io', 'ippools/status', ['patch'], 'pool usage on IPPool objects'),
  ...rows('coordination.k8s.io', 'leases', ['get', 'update', 'create'], 'leader election', 'lease'),
  ...rows('coordination.k8s.io', 'leases', ['get'], 'see whether a cloud controller manager leads', 'peer'),
];

/** The namespace and object name of the peer check's Lease. */
export const PEER_LEASE = { namespace: 'kube-system', name: 'cloud-controller-manager' } as const;

/** "services/status patch" */
export function describePermission(p: Permission): string {
  return `${p.group ? `${p.resource}.${p.group}` : p.resource} ${p.verb}`;
}
