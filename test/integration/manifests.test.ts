/**
 * deploy/ against the real dev apiserver: every overlay applies (server-side dry run: admission, schemas,
 * the priority class, RBAC objects), each carries what the README promises for its provider, and the IPPool
 * CRD's schema refuses what is structurally wrong. What the schema can't see (an address entry that doesn't
 * parse) the controller reports in the pool's Valid condition: rbac-usage.test.ts checks that with the
 * controller running.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { uniqueNamespace } from '../harness/fixtures.ts';
import { DEPLOY } from './support.ts';

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}
interface Container {
  args: string[];
  envFrom?: { configMapRef?: { name: string; optional?: boolean }; secretRef?: { name: string; optional?: boolean } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown>;
}
interface PodSpec {
  serviceAccountName: string;
  priorityClassName?: string;
  tolerations?: { key: string; operator: string; effect: string }[];
  securityContext: Record<string, unknown>;
  containers: Container[];
}

const OVERLAYS = ['local', 'kind', 'aws', 'azure'] as const;
type Overlay = (typeof OVERLAYS)[number];

describe('deploy/ on the real apiserver', () => {
  let cp: ControlPlane;
  const rendered = new Map<string, Manifest[]>();

  async function render(dir: string): Promise<Manifest[]> {
    const cached = rendered.get(dir);
    if (cached) return cached;
    const r = await cp.kubectl(['kustomize', `${DEPLOY}${dir}`]);
    if (r.code !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr}`);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest);
    rendered.set(dir, docs);
    return docs;
  }
  const find = (docs: Manifest[], kind: string, name: string): Manifest | undefined =>
    docs.find((d) => d.kind === kind && d.metadata.name === name);
  const podSpec = (docs: Manifest[]): PodSpec =>
    (find(docs, 'Deployment', 'lb-provisioner') as unknown as { spec: { template: { spec: PodSpec } } }).spec.template
      .spec;
  const rulesOf = (docs: Manifest[], name: string): Rule[] =>
    (find(docs, 'ClusterRole', name) as unknown as { rules: Rule[] }).rules;

  async function dryRun(args: string[], input?: string) {
    return cp.kubectl(['apply', '--dry-run=server', ...args], input === undefined ? {} : { input });
  }

  beforeAll(async () => {
    cp = await startControlPlane();
    // the CRDs for real first: a dry run of an IPPool or L2Advertisement needs its CRD served
    // (client-side apply and --save-config, as a user's first install would, so the dry runs below warn of nothing)
    const crds = await cp.kubectl(['apply', '-k', `${DEPLOY}crds`]);
    if (crds.code !== 0) throw new Error(`apply -k deploy/crds: ${crds.stderr}`);
    const established = await cp.kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd', '--all']);
    if (established.code !== 0) throw new Error(`CRDs not Established: ${established.stderr}`);
    // a dry run creates nothing, so the namespaced objects need their namespace to exist already
    await cp.kubectl(['create', '--save-config', 'namespace', 'lb-provisioner']);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it.each(['overlays/local', 'overlays/kind', 'overlays/aws', 'overlays/azure', '', 'speaker'])(
    'kubectl apply -k deploy/%s --dry-run=server is accepted',
    async (dir) => {
      const r = await dryRun(['-k', `${DEPLOY}${dir}`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(
        dir === 'speaker' ? 'daemonset.apps/lb-provisioner-speaker' : 'deployment.apps/lb-provisioner created',
      );
    },
  );

  it('the dry run does check: a Deployment with a wrong type, or a selector its pods do not match, is refused', async () => {
    const deployment = find(await render('overlays/local'), 'Deployment', 'lb-provisioner')!;
    const wrongType = structuredClone(deployment) as unknown as { spec: { replicas: unknown } };
    wrongType.spec.replicas = 'two';
    const r1 = await dryRun(['-f', '-'], JSON.stringify(wrongType));
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toMatch(/replicas/);
    const mismatch = structuredClone(deployment) as unknown as { spec: { selector: unknown } };
    mismatch.spec.selector = { matchLabels: { app: 'something-else' } };
    const r2 = await dryRun(['-f', '-'], JSON.stringify(mismatch));
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain('`selector` does not match template `labels`');
  });

  it.each(OVERLAYS)('overlays/%s: the controller Deployment as the README promises', async (overlay: Overlay) => {
    const docs = await render(`overlays/${overlay}`);
    const deployment = find(docs, 'Deployment', 'lb-provisioner') as unknown as {
      spec: { replicas: number; template: { metadata: { labels: Record<string, string> } } };
    };
    expect(deployment.spec.replicas).toBe(2);
    const pod = podSpec(docs);
    expect(pod.serviceAccountName).toBe('lb-provisioner');
    expect(pod.priorityClassName).toBe('system-cluster-critical');
    expect(pod.tolerations).toContainEqual({
      key: 'node-role.kubernetes.io/control-plane',
      operator: 'Exists',
      effect: 'NoSchedule',
    });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    const [c] = pod.containers;
    expect(c!.args[0]).toBe('run');
    expect(c!.args).toContain(`--provider=${overlay === 'kind' ? 'local' : overlay}`);
    // leader election stays on (two replicas), metrics and probes on the named port
    expect(c!.args.join(' ')).not.toContain('--no-leader-elect');
    expect(c!.args).toContain('--metrics-bind-address=0.0.0.0:8080');
    expect(c!.ports).toContainEqual(expect.objectContaining({ name: 'metrics', containerPort: 8080 }));
    expect(c!.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c!.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(Object.keys(c!.resources.requests).sort()).toEqual(['cpu', 'memory']);
    expect(c!.resources.limits['memory']).toBeDefined();
    expect(c!.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(find(docs, 'PodDisruptionBudget', 'lb-provisioner')).toMatchObject({ spec: { minAvailable: 1 } });
    const metrics = find(docs, 'Service', 'lb-provisioner-metrics') as unknown as {
      spec: { selector: Record<string, string>; ports: unknown[] };
    };
    expect(metrics.spec.ports).toEqual([{ name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' }]);
    expect(Object.keys(metrics.spec.selector).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(metrics.spec.selector))
      expect(deployment.spec.template.metadata.labels[k]).toBe(v);
    // no credentials in the repository, no wildcard in any role
    expect(docs.filter((d) => d.kind === 'Secret')).toEqual([]);
    for (const role of docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role'))
      for (const rule of (role as unknown as { rules: Rule[] }).rules)
        expect([...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs]).not.toContain('*');
  });

  it('local and kind run the L2 data plane with the speakers (their own ServiceAccount and role); kind adds a pool', async () => {
    for (const overlay of ['local', 'kind']) {
      const docs = await render(`overlays/${overlay}`);
      expect(podSpec(docs).containers[0]!.args).toContain('--dataplane=l2');
      const speaker = find(docs, 'DaemonSet', 'lb-provisioner-speaker') as unknown as {
        spec: { template: { spec: PodSpec } };
      };
      expect(speaker.spec.template.spec.serviceAccountName).toBe('lb-provisioner-speaker');
      expect(rulesOf(docs, 'lb-provisioner-speaker').length).toBeGreaterThan(0);
      expect(find(docs, 'CustomResourceDefinition', 'ippools.lbprovisioner.io')).toBeDefined();
    }
    expect(find(await render('overlays/kind'), 'IPPool', 'kind')).toMatchObject({
      spec: { addresses: ['172.18.255.200-172.18.255.250'] },
    });
  });

  it.each(['aws', 'azure'])(
    'overlays/%s: no pool CRD or pool rules, credentials only from an optional Secret or workload identity',
    async (overlay) => {
      const docs = await render(`overlays/${overlay}`);
      expect(docs.filter((d) => d.kind === 'CustomResourceDefinition' || d.kind === 'DaemonSet')).toEqual([]);
      // the cloud role is the controller's role minus the lbprovisioner.io rules, nothing else
      const base = rulesOf(await render('controller'), 'lb-provisioner');
      const withoutPools = base.filter((r) => !(r.apiGroups ?? []).includes('lbprovisioner.io'));
      expect(withoutPools.length).toBeLessThan(base.length);
      expect(rulesOf(docs, 'lb-provisioner')).toEqual(withoutPools);
      expect(podSpec(docs).containers[0]!.envFrom).toEqual([
        { configMapRef: { name: 'lb-provisioner-config', optional: true } },
        { secretRef: { name: 'lb-provisioner-credentials', optional: true } },
      ]);
      if (overlay === 'azure') {
        const d = find(docs, 'Deployment', 'lb-provisioner') as unknown as {
          spec: { template: { metadata: { labels: Record<string, string> } } };
        };
        expect(d.spec.template.metadata.labels['azure.workload.identity/use']).toBe('true');
      }
    },
  );

  describe('the IPPool schema refuses what is structurally wrong', () => {
    const ipPool = (spec: unknown, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        apiVersion: 'lbprovisioner.io/v1alpha1',
        kind: 'IPPool',
        metadata: { name: 'p' },
        ...(spec === undefined ? {} : { spec }),
        ...extra,
      });

    it('accepts a well-formed pool (so the refusals below are about their one fault)', async () => {
      const r = await dryRun(
        ['-f', '-'],
        ipPool({
          addresses: ['10.0.0.0/24', 'fd00::/120', '192.168.1.240-192.168.1.250'],
          autoAssign: false,
          priority: 10,
          serviceAllocation: {
            serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] }],
          },
        }),
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    });

    it.each([
      ['no spec', undefined, /spec: Required value/],
      ['no addresses', { priority: 1 }, /spec.addresses: Required value/],
      ['addresses empty', { addresses: [] }, /spec.addresses: Invalid value.*at least 1 items/],
      [
        'addresses a string',
        { addresses: '10.0.0.0/24' },
        /spec.addresses: Invalid value: "string": .*must be of type array/,
      ],
      ['an address not a string', { addresses: [10] }, /spec.addresses\[0\]: Invalid value: "integer"/],
      ['an empty address', { addresses: [''] }, /spec.addresses\[0\]: Invalid value: "".*at least 1 chars/],
      ['priority a string', { addresses: ['10.0.0.0/24'], priority: 'high' }, /spec.priority: Invalid value: "string"/],
      [
        'autoAssign a string',
        { addresses: ['10.0.0.0/24'], autoAssign: 'yes' },
        /spec.autoAssign: Invalid value: "string"/,
      ],
      [
        'an operator outside the enum',
        {
          addresses: ['10.0.0.0/24'],
          serviceAllocation: { namespaceSelectors: [{ matchExpressions: [{ key: 'a', operator: 'Contains' }] }] },
        },
        /operator: Unsupported value: "Contains": supported values: "In", "NotIn", "Exists", "DoesNotExist"/,
      ],
      [
        'a selector expression without a key',
        {
          addresses: ['10.0.0.0/24'],
          serviceAllocation: { serviceSelectors: [{ matchExpressions: [{ operator: 'Exists' }] }] },
        },
        /matchExpressions\[0\].key: Required value/,
      ],
    ])('%s', async (_what, spec, message) => {
      const r = await dryRun(['-f', '-'], ipPool(spec));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
    });
  });

  describe("README's Uninstall commands, on a real apiserver", () => {
    let core: k8s.CoreV1Api;
    let ns: string;
    const FOREIGN = 'example.com/keep-me';
    beforeAll(async () => {
      core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
      ns = await uniqueNamespace(cp.kubeConfig(), 'uninstall');
      for (const [name, finalizers] of [
        ['classless', ['service.kubernetes.io/load-balancer-cleanup', FOREIGN]],
        ['ours', [FOREIGN, 'lbprovisioner.io/load-balancer-cleanup']],
      ] as const)
        await core.createNamespacedService({
          namespace: ns,
          body: {
            metadata: { name, finalizers: [...finalizers] },
            spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
          },
        });
    });

    it('the listing shows every LoadBalancer Service with its finalizers', async () => {
      const jsonpath = /kubectl get svc -A -o jsonpath='([^']+)'/.exec(README)?.[1];
      expect(jsonpath).toBeDefined();
      const r = await cp.kubectl(['get', 'svc', '-A', '-o', `jsonpath=${jsonpath!}`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`${ns}/classless ["service.kubernetes.io/load-balancer-cleanup","${FOREIGN}"]`);
      expect(r.stdout).toContain(`${ns}/ours ["${FOREIGN}","lbprovisioner.io/load-balancer-cleanup"]`);
      expect(r.stdout).not.toContain('default/kubernetes');
    });

    it('the finalizer patch releases ours and keeps every other finalizer', async () => {
      const patch = /--type=strategic \\\n\s+-p '([^']+)'/.exec(README)?.[1];
      expect(patch).toBeDefined();
      for (const name of ['classless', 'ours']) {
        const r = await cp.kubectl(['-n', ns, 'patch', 'service', name, '--type=strategic', '-p', patch!]);
        expect(r.stderr).toBe('');
        expect((await core.readNamespacedService({ name, namespace: ns })).metadata?.finalizers).toEqual([FOREIGN]);
      }
    });
  });
});
