/**
 * `lb-provisioner run` as its own process, as a new user meets it: a cluster where deploy/ was not applied,
 * credentials that can't do everything, an apiserver that isn't there. Every case either works or ends
 * within seconds in one line that names the fix; none waits forever while it reports ready.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { createServer } from 'node:net';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { freePort } from '../harness/ports.ts';
import { waitFor } from '../harness/fixtures.ts';
import { aService } from '../builders/service.ts';
import { DEPLOY, startRun as run, type RunProcess } from './support.ts';

/** Resolves with the exit code, or fails when the process is still running after timeoutMs. */
async function exitWithin(p: RunProcess, timeoutMs: number): Promise<number | null> {
  const timer = new Promise<'running'>((r) => setTimeout(() => r('running'), timeoutMs));
  const code = await Promise.race([p.exited, timer]);
  if (code === 'running') {
    await p.stop();
    throw new Error(`still running after ${timeoutMs} ms; output:\n${p.output()}`);
  }
  return code;
}

describe('lb-provisioner run on a cluster without deploy/', () => {
  let cp: ControlPlane;
  let core: k8s.CoreV1Api;
  let namespace = 0;

  beforeAll(async () => {
    cp = await startControlPlane();
    core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  async function serviceGetsAddress(name: string, timeoutMs = 20_000): Promise<string> {
    const ns = `run-${++namespace}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedService({ namespace: ns, body: aService(name, ns).withPorts(80).manifest() });
    return waitFor(
      async () => (await core.readNamespacedService({ name, namespace: ns })).status?.loadBalancer?.ingress?.[0]?.ip,
      { message: `an address for ${ns}/${name}`, timeoutMs },
    );
  }

  it('without the IPPool CRD serves the --pool pools, with a warning naming the CRD', async () => {
    const p = run(
      '--kubeconfig',
      cp.adminKubeconfigPath,
      '--provider',
      'local',
      '--pool',
      '192.0.2.0/28',
      '--no-leader-elect',
      '--metrics-bind-address',
      '0',
    );
    try {
      expect(await serviceGetsAddress('no-crd')).toMatch(/^192\.0\.2\./);
      expect(p.output()).toContain('IPPool objects are not used, only the --pool pools');
      expect(p.output()).toContain('the IPPool CRD ippools.lbprovisioner.io is not installed');
    } finally {
      expect(await p.stop()).toBe(0);
    }
  }, 60_000);

  it('without the CRD and without --pool, exits 2 naming both', async () => {
    const p = run('--kubeconfig', cp.adminKubeconfigPath, '--provider', 'local', '--no-leader-elect');
    expect(await exitWithin(p, 15_000)).toBe(2);
    expect(p.output()).toContain('--pool: no address pool: give --pool, or make IPPool objects usable');
  }, 30_000);

  it('creates the Lease namespace with admin credentials, and leads', async () => {
    const p = run(
      '--kubeconfig',
      cp.adminKubeconfigPath,
      '--provider',
      'local',
      '--pool',
      '192.0.2.16/28',
      '--leader-elect-namespace',
      'lease-here',
      '--metrics-bind-address',
      '0',
    );
    try {
      expect(await serviceGetsAddress('leads')).toMatch(/^192\.0\.2\./);
      expect((await core.readNamespace({ name: 'lease-here' })).metadata?.name).toBe('lease-here');
      expect(p.output()).toContain('created the namespace of the leader Lease');
    } finally {
      expect(await p.stop()).toBe(0);
    }
  }, 60_000);

  describe('under the ServiceAccount of deploy/controller/rbac.yaml', () => {
    let kubeconfig: string;
    beforeAll(async () => {
      const applied = await cp.kubectl(['apply', '--server-side', '-f', `${DEPLOY}controller/rbac.yaml`]);
      expect(applied.code).toBe(0);
      kubeconfig = await cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner');
    });

    it('a Lease namespace it may not create: exit 2 within seconds, one line naming the fixes', async () => {
      const started = Date.now();
      const p = run(
        '--kubeconfig',
        kubeconfig,
        '--provider',
        'local',
        '--pool',
        '192.0.2.32/28',
        '--leader-elect-namespace',
        'nowhere',
      );
      expect(await exitWithin(p, 15_000)).toBe(2);
      expect(Date.now() - started).toBeLessThan(10_000);
      const errors = p
        .output()
        .split('\n')
        .filter((l) => l.startsWith('lb-provisioner:'));
      expect(errors).toEqual([
        'lb-provisioner: the leader Lease\'s namespace "nowhere" does not exist and these credentials may not create it (namespaces is forbidden: User "system:serviceaccount:lb-provisioner:lb-provisioner" cannot create resource "namespaces" in API group "" at the cluster scope (403 Forbidden)); use --leader-elect-namespace <a namespace it may use>, --no-leader-elect, or kubectl apply -k deploy/',
      ]);
      expect(p.output()).not.toMatch(/HTTP-Code|\n\s+at /);
    }, 30_000);

    it('IPPools it may not read: the --pool pools serve, with a warning naming the CRD', async () => {
      // the controller's ClusterRole without the IPPool rules, for a ServiceAccount of its own
      const rbac = cp.kubeConfig().makeApiClient(k8s.RbacAuthorizationV1Api);
      const role = await rbac.readClusterRole({ name: 'lb-provisioner' });
      const rules = (role.rules ?? []).filter((r) => !(r.apiGroups ?? []).includes('lbprovisioner.io'));
      await rbac.createClusterRole({ body: { metadata: { name: 'no-pools' }, rules } });
      await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'no-pools' } } });
      await rbac.createClusterRoleBinding({
        body: {
          metadata: { name: 'no-pools' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'no-pools' },
          subjects: [{ kind: 'ServiceAccount', name: 'no-pools', namespace: 'default' }],
        },
      });
      const noPools = await cp.serviceAccountKubeconfig('default', 'no-pools');
      const p = run(
        '--kubeconfig',
        noPools,
        '--provider',
        'local',
        '--pool',
        '192.0.2.48/28',
        '--no-leader-elect',
        '--metrics-bind-address',
        '0',
      );
      try {
        expect(await serviceGetsAddress('forbidden-pools')).toMatch(/^192\.0\.2\./);
        expect(p.output()).toContain(
          'reading ippools.lbprovisioner.io is forbidden (ippools.lbprovisioner.io is forbidden: User',
        );
      } finally {
        expect(await p.stop()).toBe(0);
      }
    }, 60_000);

    it('a Lease it may not use: exit 2 naming what is missing', async () => {
      const p = run(
        '--kubeconfig',
        kubeconfig,
        '--provider',
        'local',
        '--pool',
        '192.0.2.32/28',
        '--leader-elect-namespace',
        'default',
      );
      expect(await exitWithin(p, 15_000)).toBe(2);
      expect(p.output()).toContain(
        'lb-provisioner: these credentials may not get, update, create the leader Lease default/lb-provisioner (leases.coordination.k8s.io)',
      );
    }, 30_000);
  });

  it('a taken --metrics-bind-address exits 2 naming the flag', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const p = run(
        '--kubeconfig',
        cp.adminKubeconfigPath,
        '--provider',
        'fake',
        '--metrics-bind-address',
        `127.0.0.1:${port}`,
      );
      expect(await exitWithin(p, 15_000)).toBe(2);
      expect(p.output()).toContain(`lb-provisioner: --metrics-bind-address 127.0.0.1:${port}: the address is in use`);
    } finally {
      taken.close();
    }
  }, 30_000);

  it('an apiserver that is not there at start: exit 1 after --apiserver-timeout', async () => {
    const port = await freePort('127.0.0.1');
    const kc = cp.kubeConfig();
    kc.clusters = [{ ...kc.getCurrentCluster()!, server: `https://127.0.0.1:${port}` }];
    const path = `${cp.dir}/nowhere.kubeconfig`;
    (await import('node:fs')).writeFileSync(path, kc.exportConfig());
    const p = run(
      '--kubeconfig',
      path,
      '--provider',
      'fake',
      '--metrics-bind-address',
      '0',
      '--apiserver-timeout',
      '2s',
    );
    expect(await exitWithin(p, 15_000)).toBe(1);
    expect(p.output()).toContain(
      `lb-provisioner: the apiserver https://127.0.0.1:${port} did not answer within 2s (cannot reach the apiserver: connect ECONNREFUSED 127.0.0.1:${port})`,
    );
  }, 30_000);

  // last: it stops the shared apiserver
  it('an apiserver that goes away for good: exit 1 after --apiserver-timeout, never 0', async () => {
    const p = run(
      '--kubeconfig',
      cp.adminKubeconfigPath,
      '--provider',
      'fake',
      '--no-leader-elect',
      '--metrics-bind-address',
      '0',
      '--apiserver-timeout',
      '3s',
    );
    try {
      await waitFor(() => p.output().includes('caches synced'), { message: 'caches to sync', timeoutMs: 20_000 });
      await cp.stopApiserver({ graceful: false });
      const stopped = Date.now();
      expect(await exitWithin(p, 20_000)).toBe(1);
      // measured from its last answer, which came at most one probe (3 s / 4) before the stop
      expect(Date.now() - stopped).toBeGreaterThanOrEqual(3000 - 750);
      expect(p.output()).toContain('the apiserver has not answered for --apiserver-timeout: exiting');
    } finally {
      await p.stop();
    }
  }, 60_000);
});
