/**
 * `lb-provisioner doctor`, `plan` and `status` as their own processes against the real dev apiserver, as
 * an operator runs them: doctor's table and exit code (all OK, a missing permission, kube-proxy IPVS
 * without strictARP under the L2 data plane, a competing controller), plan's verdict for each Service
 * (create, update with the diff, delete, nothing) while writing nothing, and status's rows.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../harness/fixtures.ts';
import { aService } from '../builders/service.ts';
import { startCluster, type Cluster } from './support.ts';

const BIN = fileURLToPath(new URL('../../bin/lb-provisioner.js', import.meta.url));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Ran> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

interface Check {
  check: string;
  result: 'OK' | 'WARN' | 'FAIL';
  detail: string;
  fix?: string;
}
interface DoctorJson {
  ok: boolean;
  counts: { OK: number; WARN: number; FAIL: number };
  checks: Check[];
}

const checkNamed = (report: DoctorJson, name: string): Check => {
  const found = report.checks.find((c) => c.check === name);
  if (!found) throw new Error(`no check ${name} in ${JSON.stringify(report.checks.map((c) => c.check))}`);
  return found;
};

describe('lb-provisioner doctor, plan and status', () => {
  let cluster: Cluster;
  let admin: string;

  beforeAll(async () => {
    cluster = await startCluster();
    admin = cluster.cp.adminKubeconfigPath;
    // an Established CRD can still answer 404 for a moment: wait until IPPools can be listed
    const custom = cluster.admin.makeApiClient(k8s.CustomObjectsApi);
    await waitFor(
      async () => {
        try {
          await custom.listClusterCustomObject({ group: 'lbprovisioner.io', version: 'v1alpha1', plural: 'ippools' });
          return true;
        } catch {
          return undefined;
        }
      },
      { message: 'IPPools listable', timeoutMs: 30_000 },
    );
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  describe('doctor', () => {
    const local = ['--provider', 'local', '--pool', '192.0.2.0/28'];

    it('all OK with admin credentials: exit 0, a table of OK rows', async () => {
      const json = await cli('doctor', '--kubeconfig', admin, ...local, '-o', 'json');
      expect(json.code).toBe(0);
      const report = JSON.parse(json.stdout) as DoctorJson;
      expect(report.ok).toBe(true);
      expect(report.checks.filter((c) => c.result !== 'OK')).toEqual([]);
      expect(report.counts).toEqual({ OK: report.checks.length, WARN: 0, FAIL: 0 });
      for (const name of [
        'kubeconfig',
        'apiserver',
        'permissions',
        'local: address pools',
        'other controller: MetalLB',
      ])
        expect(checkNamed(report, name).result).toBe('OK');
      expect(checkNamed(report, 'apiserver').detail).toMatch(/^v1\.\d+\.\d+/);
      expect(checkNamed(report, 'local: address pools').detail).toBe('1 --pool pool(s), 0 IPPool object(s)');

      const table = await cli('doctor', '--kubeconfig', admin, ...local);
      expect(table.code).toBe(0);
      expect(table.stdout.split('\n')[0]).toMatch(/^RESULT\s+CHECK\s+DETAIL$/);
      expect(table.stdout).toMatch(/\n\d+ OK, 0 WARN, 0 FAIL\n$/);
    }, 60_000);

    it("under the controller's ServiceAccount: every permission of the table is granted by deploy/; what it may not read is a WARN", async () => {
      const r = await cli('doctor', '--kubeconfig', cluster.controllerKubeconfig, ...local, '-o', 'json');
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout) as DoctorJson;
      expect(checkNamed(report, 'permissions')).toMatchObject({ result: 'OK' });
      expect(checkNamed(report, 'permissions').detail).toContain('system:serviceaccount:lb-provisioner:lb-provisioner');
      const metallb = checkNamed(report, 'other controller: MetalLB');
      expect(metallb.result).toBe('WARN');
      expect(metallb.detail).toMatch(/^could not check \(forbidden: /);
      expect(report.counts.FAIL).toBe(0);
    }, 60_000);

    it('a ServiceAccount without services/status patch: FAIL naming it, exit 1', async () => {
      const rbac = cluster.admin.makeApiClient(k8s.RbacAuthorizationV1Api);
      const role = await rbac.readClusterRole({ name: 'lb-provisioner' });
      const rules = (role.rules ?? []).filter((r) => !(r.resources ?? []).includes('services/status'));
      await rbac.createClusterRole({ body: { metadata: { name: 'no-status' }, rules } });
      await cluster.core.createNamespacedServiceAccount({
        namespace: 'default',
        body: { metadata: { name: 'no-status' } },
      });
      await rbac.createClusterRoleBinding({
        body: {
          metadata: { name: 'no-status' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'no-status' },
          subjects: [{ kind: 'ServiceAccount', name: 'no-status', namespace: 'default' }],
        },
      });
      const kubeconfig = await cluster.cp.serviceAccountKubeconfig('default', 'no-status');
      const r = await cli('doctor', '--kubeconfig', kubeconfig, ...local, '--no-leader-elect');
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(
        /^FAIL\s+permissions\s+user system:serviceaccount:default:no-status may not: services\/status patch \(write status/m,
      );
      expect(r.stdout).toContain('fix: run doctor with the controller');
      expect(r.stderr).toBe('lb-provisioner: doctor: 1 check(s) failed: permissions\n');
    }, 60_000);

    it('kube-proxy in IPVS mode without strictARP: FAIL under --dataplane l2 (exit 1), WARN otherwise (exit 0)', async () => {
      await cluster.core.createNamespacedConfigMap({
        namespace: 'kube-system',
        body: {
          metadata: { name: 'kube-proxy' },
          data: {
            'config.conf':
              'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: false\n',
          },
        },
      });
      try {
        const l2 = await cli('doctor', '--kubeconfig', admin, ...local, '--dataplane', 'l2', '-o', 'json');
        expect(l2.code).toBe(1);
        const failedCheck = checkNamed(JSON.parse(l2.stdout) as DoctorJson, 'kube-proxy strictARP');
        expect(failedCheck.result).toBe('FAIL');
        expect(failedCheck.fix).toContain('strictARP: true');
        expect(l2.stderr).toContain('doctor: 1 check(s) failed: kube-proxy strictARP');

        const proxy = await cli('doctor', '--kubeconfig', admin, ...local, '-o', 'json');
        expect(proxy.code).toBe(0);
        expect(checkNamed(JSON.parse(proxy.stdout) as DoctorJson, 'kube-proxy strictARP').result).toBe('WARN');

        await cluster.core.patchNamespacedConfigMap(
          {
            namespace: 'kube-system',
            name: 'kube-proxy',
            body: { data: { 'config.conf': 'mode: ipvs\nipvs:\n  strictARP: true\n' } },
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        );
        const fixed = await cli('doctor', '--kubeconfig', admin, ...local, '--dataplane', 'l2', '-o', 'json');
        expect(checkNamed(JSON.parse(fixed.stdout) as DoctorJson, 'kube-proxy strictARP').result).toBe('OK');
        expect(fixed.code).toBe(0);
      } finally {
        await cluster.core.deleteNamespacedConfigMap({ namespace: 'kube-system', name: 'kube-proxy' });
      }
    }, 60_000);

    it('no pool at all (no --pool, no IPPool): FAIL, exit 1', async () => {
      const r = await cli('doctor', '--kubeconfig', admin, '--provider', 'local', '-o', 'json');
      expect(r.code).toBe(1);
      expect(checkNamed(JSON.parse(r.stdout) as DoctorJson, 'local: address pools')).toMatchObject({
        result: 'FAIL',
        detail: 'no usable address pool',
      });
    }, 60_000);

    it('a MetalLB controller and the AWS webhook already in the cluster: a WARN each, naming them', async () => {
      const apps = cluster.admin.makeApiClient(k8s.AppsV1Api);
      const admission = cluster.admin.makeApiClient(k8s.AdmissionregistrationV1Api);
      await cluster.core.createNamespace({ body: { metadata: { name: 'metallb-system' } } });
      const labels = { app: 'metallb' };
      await apps.createNamespacedDeployment({
        namespace: 'metallb-system',
        body: {
          metadata: { name: 'metallb-controller' },
          spec: {
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: { containers: [{ name: 'c', image: 'quay.io/metallb/controller' }] },
            },
          },
        },
      });
      await admission.createMutatingWebhookConfiguration({
        body: {
          metadata: { name: 'aws-load-balancer-webhook' },
          webhooks: [
            {
              name: 'mservice.elbv2.k8s.aws',
              admissionReviewVersions: ['v1'],
              sideEffects: 'None',
              failurePolicy: 'Ignore',
              clientConfig: { service: { namespace: 'kube-system', name: 'aws-load-balancer-webhook-service' } },
              rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['services'] }],
              objectSelector: { matchLabels: { 'never-matches': 'x' } },
            },
          ],
        },
      });
      try {
        const r = await cli('doctor', '--kubeconfig', admin, ...local, '-o', 'json');
        expect(r.code).toBe(0);
        const report = JSON.parse(r.stdout) as DoctorJson;
        const metallb = checkNamed(report, 'other controller: MetalLB');
        expect(metallb.result).toBe('WARN');
        expect(metallb.detail).toContain('Deployment metallb-system/metallb-controller');
        expect(metallb.fix).toContain('--class-only');
        const webhook = checkNamed(report, 'other controller: aws-load-balancer-controller webhook');
        expect(webhook.result).toBe('WARN');
        expect(webhook.detail).toContain('service.k8s.aws/nlb');
        expect(report.counts.WARN).toBe(2);
      } finally {
        await apps.deleteNamespacedDeployment({ namespace: 'metallb-system', name: 'metallb-controller' });
        await admission.deleteMutatingWebhookConfiguration({ name: 'aws-load-balancer-webhook' });
      }
    }, 60_000);
  });

  describe('plan and status, after a controller (fake and local providers) has synced and stopped', () => {
    const ns = 'ops';
    const flags = ['--provider', 'fake,local', '--pool', '192.0.2.64/28'];
    const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
    const read = (name: string) => cluster.core.readNamespacedService({ name, namespace: ns });

    beforeAll(async () => {
      await cluster.core.createNamespace({ body: { metadata: { name: ns } } });
      const controller = spawn(
        process.execPath,
        [
          BIN,
          'run',
          '--kubeconfig',
          cluster.controllerKubeconfig,
          ...flags,
          '--no-leader-elect',
          '--metrics-bind-address',
          '0',
        ],
        { stdio: 'ignore' },
      );
      const exited = new Promise((r) => controller.once('exit', r));
      try {
        for (const name of ['same', 'changed', 'doomed', 'deleted'])
          await cluster.core.createNamespacedService({
            namespace: ns,
            body: aService(name, ns).withPorts(80).manifest(),
          });
        await cluster.core.createNamespacedService({
          namespace: ns,
          body: aService('on-local', ns).withPorts(80).withClass('lbprovisioner.io/local').manifest(),
        });
        // the fake cloud refuses SCTP: a Service in error
        await cluster.core.createNamespacedService({
          namespace: ns,
          body: aService('refused', ns).withPorts([5000, 'SCTP']).manifest(),
        });
        for (const name of ['same', 'changed', 'doomed', 'deleted', 'on-local'])
          await waitFor(async () => (await read(name)).status?.loadBalancer?.ingress?.[0]?.ip, {
            message: `an address for ${name}`,
            timeoutMs: 30_000,
          });
        await waitFor(
          async () =>
            (await read('refused')).status?.conditions?.find((c) => c.type === 'lbprovisioner.io/LoadBalancerReady')
              ?.status === 'False' || undefined,
          { message: 'refused has a False condition', timeoutMs: 30_000 },
        );
      } finally {
        controller.kill('SIGTERM');
        await exited;
      }
      // what changes while no controller runs
      await cluster.core.patchNamespacedService(
        {
          name: 'changed',
          namespace: ns,
          body: {
            spec: {
              ports: [
                { name: 'p80', port: 80 },
                { name: 'p81', port: 81 },
              ],
            },
          },
        },
        strategic,
      );
      await cluster.core.patchNamespacedService(
        { name: 'doomed', namespace: ns, body: { spec: { type: 'ClusterIP' } } },
        strategic,
      );
      await cluster.core.deleteNamespacedService({ name: 'deleted', namespace: ns });
      await cluster.core.createNamespacedService({
        namespace: ns,
        body: aService('fresh', ns).withPorts(8080).manifest(),
      });
      // Warning Events: one on `changed` after it became ready (its last error), one on `same` from before
      // it became ready (resolved since: not shown)
      const warn = async (name: string, reason: string, at: string) => {
        const svc = await read(name);
        await cluster.core.createNamespacedEvent({
          namespace: ns,
          body: {
            metadata: { name: `${name}.${reason.toLowerCase()}`, namespace: ns },
            involvedObject: { kind: 'Service', apiVersion: 'v1', namespace: ns, name, uid: svc.metadata?.uid ?? '' },
            type: 'Warning',
            reason,
            message: `${reason} happened`,
            firstTimestamp: new Date(at),
            lastTimestamp: new Date(at),
            source: { component: 'lb-provisioner' },
          },
        });
      };
      await warn('changed', 'SyncLoadBalancerFailed', new Date(Date.now() + 60_000).toISOString());
      await warn('same', 'OldTrouble', '2000-01-01T00:00:00Z');
    }, 120_000);

    interface PlanJson {
      services: {
        service: string;
        provider: string;
        action: string;
        steps: { action: string; resource: string; name: string; detail?: string }[];
        message?: string;
      }[];
    }

    it('plan says create, update with the diff, delete and nothing, and writes nothing', async () => {
      const services = async () =>
        Object.fromEntries(
          (await cluster.core.listNamespacedService({ namespace: ns })).items.map((s) => [
            s.metadata?.name,
            s.metadata?.resourceVersion,
          ]),
        );
      const events = async () => (await cluster.core.listNamespacedEvent({ namespace: ns })).items.length;
      const before = { services: await services(), events: await events() };

      const r = await cli('plan', '--kubeconfig', admin, ...flags, '-o', 'json');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const plan = JSON.parse(r.stdout) as PlanJson;
      const entry = (name: string) => plan.services.find((e) => e.service === `${ns}/${name}`);
      expect(entry('fresh')).toMatchObject({ provider: 'fake', action: 'create' });
      expect(entry('fresh')?.steps[0]?.detail).toMatch(/^ports 8080\/TCP -> nodePort \d+/);
      expect(entry('changed')).toMatchObject({
        action: 'update',
        steps: [{ action: 'create', resource: 'Port', name: '81/TCP' }],
      });
      expect(entry('same')).toMatchObject({ action: 'nothing', steps: [] });
      expect(entry('on-local')).toMatchObject({ provider: 'local', action: 'nothing' });
      expect(entry('doomed')).toMatchObject({ action: 'delete', message: 'the Service is now type ClusterIP' });
      expect(entry('deleted')).toMatchObject({ action: 'delete', message: 'the Service is being deleted' });
      expect(entry('deleted')?.steps.map((s) => s.resource)).toEqual(['LoadBalancer', 'Finalizer']);
      expect(entry('refused')).toMatchObject({ action: 'create' });

      const table = await cli('plan', '--kubeconfig', admin, ...flags);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^ops\/changed\s+fake\s+update/m);
      expect(table.stdout).toMatch(/\n2 to create, 1 to update, 2 to delete, 2 unchanged, 0 in error\n$/);

      expect(await services()).toEqual(before.services);
      expect(await events()).toBe(before.events);
    }, 60_000);

    interface StatusJson {
      services: {
        service: string;
        class: string;
        provider: string;
        addresses: string[];
        ready: string;
        reason: string;
        targets: unknown;
        lastError?: string;
      }[];
    }

    it('status lists every owned Service with its address, provider, condition and last error', async () => {
      const r = await cli('status', '--kubeconfig', admin, ...flags, '-o', 'json');
      expect(r.code).toBe(0);
      const rows = (JSON.parse(r.stdout) as StatusJson).services;
      const row = (name: string) => rows.find((x) => x.service === `${ns}/${name}`);
      expect(row('same')).toMatchObject({ provider: 'fake', class: '', ready: 'True', targets: 'n/a' });
      expect(row('same')?.addresses).toEqual([(await read('same')).status?.loadBalancer?.ingress?.[0]?.ip]);
      expect(row('same')?.lastError).toBeUndefined();
      expect(row('changed')?.lastError).toBe('SyncLoadBalancerFailed: SyncLoadBalancerFailed happened');
      expect(row('on-local')).toMatchObject({ provider: 'local', class: 'lbprovisioner.io/local', ready: 'True' });
      expect(row('on-local')?.addresses[0]).toMatch(/^192\.0\.2\.(6[4-9]|7\d)$/);
      expect(row('refused')).toMatchObject({ provider: 'fake', ready: 'False', addresses: [] });
      expect(row('refused')?.lastError).toContain('SCTP');
      expect(row('fresh')).toMatchObject({ ready: 'Unknown', addresses: [] });

      const table = await cli('status', '--kubeconfig', admin, ...flags);
      expect(table.code).toBe(0);
      expect(table.stdout.split('\n')[0]).toMatch(
        /^SERVICE\s+CLASS\s+PROVIDER\s+ADDRESS\s+READY\s+TARGETS\s+LAST ERROR$/,
      );
      expect(table.stdout).toMatch(/^ops\/refused\s+\(none\)\s+fake\s+<pending>\s+False \(\w+\)\s+n\/a\s+\w+: .*SCTP/m);
    }, 60_000);
  });
});
