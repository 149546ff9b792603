/**
 * The controller's roles in deploy/ are exactly what it uses. `lb-provisioner run` runs as its own process
 * under the ServiceAccount and roles of deploy/ while the test walks every path (Services created, updated,
 * refused and deleted, Nodes coming and going, pools good and bad, namespace labels, Events, the leader
 * Lease taken and released), and the apiserver's audit log says which requests it made. The test fails when
 * a request was forbidden (the code needs a verb the role lacks) or when a granted verb was never used.
 * The same walk runs with the fake provider under the cloud overlays' role (no pool rules).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { readFileSync, rmSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { auditLogFor, auditRequests, type AuditRequest } from '../../bench/lib/audit.ts';
import { aService } from '../builders/service.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { createNode, deleteNode, uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import { DEPLOY, startRun } from './support.ts';

const NAMESPACE = 'lb-provisioner';
const userOf = (sa: string) => `system:serviceaccount:${NAMESPACE}:${sa}`;

/** Granted by the apiserver's own bootstrap roles to every authenticated user (system:basic-user). */
const EVERY_USER = new Set(['create authorization.k8s.io/selfsubjectaccessreviews']);

/**
 * Grants no walk here can reach, each with the path that uses it. Keep this list short: every entry is a
 * verb this test cannot prove is needed.
 */
const UNREACHED: Record<string, string> = {
  // the orphan sweep reads a Service live before deleting a load balancer whose Service the cache lacks or
  // does not give to that provider; a cached Service that recorded one of our running providers is always
  // cleaned up or ensured by that provider (src/model/ownership.ts decide), so only a race between the
  // informer and the sweep gets there
  'get /services': 'src/controller/controller.ts readLive (orphan sweep)',
};

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}
interface Grant {
  key: string; // "verb group/resource[/subresource]"
  namespace?: string;
  names?: string[];
}
interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
}

function grantsOf(roles: Manifest[]): Grant[] {
  return roles.flatMap((role) =>
    (role.rules ?? []).flatMap((rule) =>
      (rule.apiGroups ?? []).flatMap((group) =>
        (rule.resources ?? []).flatMap((resource) =>
          rule.verbs.map((verb) => ({
            key: `${verb} ${group}/${resource}`,
            ...(role.kind === 'Role' ? { namespace: role.metadata.namespace! } : {}),
            ...(rule.resourceNames ? { names: rule.resourceNames } : {}),
          })),
        ),
      ),
    ),
  );
}

/** "leases.coordination.k8s.io" -> "create coordination.k8s.io/leases"; "services/status" -> "patch /services/status" */
function keyOf(r: AuditRequest): string {
  const [base, sub] = r.resource.split('/');
  const dot = base!.indexOf('.');
  const resource = dot < 0 ? base! : base!.slice(0, dot);
  const group = dot < 0 ? '' : base!.slice(dot + 1);
  return `${r.verb} ${group}/${resource}${sub ? `/${sub}` : ''}`;
}

const covers = (g: Grant, r: AuditRequest): boolean =>
  g.key === keyOf(r) &&
  (g.namespace === undefined || g.namespace === r.namespace) &&
  (g.names === undefined || (r.name !== undefined && g.names.includes(r.name)));

interface Usage {
  forbidden: string[];
  notFromOurRoles: string[];
  unused: string[];
  used: string[];
}

function compare(requests: AuditRequest[], grants: Grant[]): Usage {
  const describe = (r: AuditRequest) => `${keyOf(r)} ${r.namespace ?? ''}/${r.name ?? ''}`;
  const resourceRequests = requests.filter((r) => !r.resource.startsWith('/'));
  const allowed = resourceRequests.filter((r) => r.code !== 403);
  return {
    forbidden: [...new Set(requests.filter((r) => r.code === 403).map(describe))].sort(),
    notFromOurRoles: [
      ...new Set(allowed.filter((r) => !EVERY_USER.has(keyOf(r)) && !grants.some((g) => covers(g, r))).map(describe)),
    ].sort(),
    unused: [
      ...new Set(
        grants
          .filter((g) => !(g.key in UNREACHED) && !allowed.some((r) => covers(g, r)))
          .map((g) => `${g.key}${g.namespace ? ` in ${g.namespace}` : ''}${g.names ? ` ${g.names.join(',')}` : ''}`),
      ),
    ].sort(),
    used: [...new Set(allowed.map(keyOf))].sort(),
  };
}

describe('the controller uses exactly the roles of deploy/ (audit log of a real apiserver)', () => {
  let cp: ControlPlane;
  let dir: string;
  let auditPath: string;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;

  async function kubectl(...args: string[]): Promise<string> {
    const r = await cp.kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }
  async function render(path: string): Promise<Manifest[]> {
    return parseAllDocuments(await kubectl('kustomize', `${DEPLOY}${path}`)).map((d) => d.toJS() as Manifest);
  }
  const controllerRoles = (docs: Manifest[]) =>
    docs.filter(
      (d) =>
        (d.kind === 'ClusterRole' || d.kind === 'Role') &&
        d.metadata.name.startsWith('lb-provisioner') &&
        !d.metadata.name.startsWith('lb-provisioner-speaker'),
    );
  const requestsOf = (user: string) =>
    auditRequests(readFileSync(auditPath, 'utf8').split('\n')).filter((r) => r.user === user);

  const run = (kubeconfig: string, args: string[]) =>
    startRun('--kubeconfig', kubeconfig, '--metrics-bind-address', '0', ...args);

  const ipsOf = (s: k8s.V1Service | undefined) =>
    (s?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '');
  async function waitForIngress(ns: string, name: string): Promise<string[]> {
    return waitFor(
      async () => {
        const ips = ipsOf(await core.readNamespacedService({ name, namespace: ns }));
        return ips.length ? ips : undefined;
      },
      { message: `an address for ${ns}/${name}`, timeoutMs: 30_000 },
    );
  }
  async function waitForGone(ns: string, name: string): Promise<void> {
    await waitFor(
      async () =>
        (await core.listNamespacedService({ namespace: ns })).items.some((s) => s.metadata?.name === name)
          ? undefined
          : true,
      { message: `${ns}/${name} to be released and gone`, timeoutMs: 30_000 },
    );
  }

  /** Every path a controller walks, as a user and the cluster would make it walk them. */
  async function walk(ns: string, badAnnotationReason: string, suffix: string): Promise<void> {
    await createNode(cp.kubeConfig(), { name: `node-a-${suffix}`, internalIP: '10.9.0.1' });
    await core.createNamespacedService({ namespace: ns, body: aService('web', ns).withPorts(80).manifest() });
    await waitForIngress(ns, 'web');
    // a refused Service: a Warning Event and a False condition
    await core.createNamespacedService({
      namespace: ns,
      body: aService('bad', ns)
        .withPorts(80)
        .withAnnotations({ 'lbprovisioner.io/health-check-interval': 'often' })
        .manifest(),
    });
    await waitFor(
      async () =>
        (await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=bad' })).items.find(
          (e) => e.reason === badAnnotationReason,
        ),
      { message: `a ${badAnnotationReason} Event on ${ns}/bad`, timeoutMs: 30_000 },
    );
    // an update, node churn, then every Service deleted (the finalizer comes off)
    await core.patchNamespacedService(
      { name: 'web', namespace: ns, body: { spec: { ports: [{ name: 'tcp-443', port: 443, protocol: 'TCP' }] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    await createNode(cp.kubeConfig(), { name: `node-b-${suffix}`, internalIP: '10.9.0.2' });
    await deleteNode(cp.kubeConfig(), `node-a-${suffix}`);
    for (const name of ['web', 'bad']) {
      await core.deleteNamespacedService({ name, namespace: ns });
      await waitForGone(ns, name);
    }
    await deleteNode(cp.kubeConfig(), `node-b-${suffix}`);
  }

  beforeAll(async () => {
    const audit = auditLogFor('lbp-rbac-audit-', [
      { level: 'Metadata', userGroups: [`system:serviceaccounts:${NAMESPACE}`] },
      { level: 'None' },
    ]);
    dir = audit.dir;
    auditPath = audit.path;
    cp = await startControlPlane({ extraApiserverArgs: audit.apiserverArgs });
    core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
    custom = cp.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
    // deploy/ for real: the namespace, CRDs, ServiceAccount, roles (and a Deployment nothing runs here)
    await kubectl('apply', '--server-side', '-k', DEPLOY);
    await kubectl('wait', '--for=condition=Established', '--timeout=30s', 'crd', '--all');
  });
  afterAll(async () => {
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('local provider under deploy/controller: nothing forbidden, every grant used; a bad pool entry is named in Valid', async () => {
    const ns = await uniqueNamespace(cp.kubeConfig(), 'rbac');
    await core.patchNamespace(
      { name: ns, body: { metadata: { labels: { team: 'web' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const ippool = (name: string, spec: unknown) =>
      custom.createClusterCustomObject({
        group: 'lbprovisioner.io',
        version: 'v1alpha1',
        plural: 'ippools',
        body: { apiVersion: 'lbprovisioner.io/v1alpha1', kind: 'IPPool', metadata: { name }, spec },
      });
    await ippool('main', {
      addresses: ['192.0.2.0/28'],
      serviceAllocation: { namespaceSelectors: [{ matchLabels: { team: 'web' } }] },
    });
    await ippool('broken', { addresses: ['10.0.0.0/33', '10.0.1.0/24', '10.0.2.300'] });

    const p = run(await cp.serviceAccountKubeconfig(NAMESPACE, 'lb-provisioner'), ['--provider', 'local']);
    try {
      // what the schema can't catch: the pool's Valid condition names every bad entry
      const valid = await waitFor(
        async () => {
          const o = (await custom.getClusterCustomObject({
            group: 'lbprovisioner.io',
            version: 'v1alpha1',
            plural: 'ippools',
            name: 'broken',
          })) as { status?: { conditions?: { type: string; status: string; message: string }[] } };
          return o.status?.conditions?.find((c) => c.type === 'Valid');
        },
        { message: 'a Valid condition on the broken pool', timeoutMs: 30_000 },
      );
      expect(valid).toMatchObject({ status: 'False' });
      expect(valid.message).toContain('spec.addresses: [0] "10.0.0.0/33", [2] "10.0.2.300" are not CIDRs');
      expect(valid.message).not.toContain('10.0.1.0/24');
      await walk(ns, 'InvalidAnnotation', 'local');
    } finally {
      expect(await p.stop()).toBe(0);
    }

    const usage = compare(requestsOf(userOf('lb-provisioner')), grantsOf(controllerRoles(await render('controller'))));
    expect(usage.forbidden).toEqual([]);
    expect(usage.notFromOurRoles).toEqual([]);
    expect(usage.unused).toEqual([]);
    // the walk did reach the paths the grants are for (a sanity check on the audit log itself)
    expect(usage.used).toEqual(
      expect.arrayContaining([
        'create /events',
        'create coordination.k8s.io/leases',
        'update coordination.k8s.io/leases',
        'patch /services/status',
        'patch lbprovisioner.io/ippools/status',
        'watch /nodes',
      ]),
    );
  }, 180_000);

  it('fake provider under the cloud overlays role (aws, azure): nothing forbidden, every grant used', async () => {
    const aws = await render('overlays/aws');
    const azure = await render('overlays/azure');
    const roles = controllerRoles(aws);
    expect(controllerRoles(azure)).toEqual(roles);
    // the cloud role for a ServiceAccount of its own, beside the local one
    const sa = 'lb-provisioner-cloud';
    await kubectl('-n', NAMESPACE, 'create', 'serviceaccount', sa);
    const renamed = roles.map((r) => ({ ...r, metadata: { ...r.metadata, name: `${r.metadata.name}-cloud` } }));
    const bindings = renamed.map((r) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: r.kind === 'Role' ? 'RoleBinding' : 'ClusterRoleBinding',
      metadata: { name: r.metadata.name, ...(r.metadata.namespace ? { namespace: r.metadata.namespace } : {}) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: r.kind, name: r.metadata.name },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: NAMESPACE }],
    }));
    const applied = await cp.kubectl(['apply', '--server-side', '-f', '-'], {
      input: [...renamed, ...bindings].map((o) => JSON.stringify(o)).join('\n'),
    });
    expect(applied.stderr).toBe('');

    const ns = await uniqueNamespace(cp.kubeConfig(), 'rbac-cloud');
    // the Lease of deploy/, gone again so this run creates it too (the first test released it on its way out)
    await cp.kubectl(['-n', NAMESPACE, 'delete', 'lease', 'lb-provisioner', '--ignore-not-found']);
    const p = run(await cp.serviceAccountKubeconfig(NAMESPACE, sa), ['--provider', 'fake']);
    try {
      await walk(ns, 'InvalidAnnotation', 'cloud');
    } finally {
      expect(await p.stop()).toBe(0);
    }
    const usage = compare(requestsOf(userOf(sa)), grantsOf(renamed));
    expect(usage.forbidden).toEqual([]);
    expect(usage.notFromOurRoles).toEqual([]);
    expect(usage.unused).toEqual([]);
  }, 180_000);
});
