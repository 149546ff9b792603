/**
 * The benchmark's cluster: the test control plane with an audit log, our CRDs and RBAC, MetalLB's CRDs and
 * an IPAddressPool, one ServiceAccount per anchor, the Nodes, and the benchmark's own lean client.
 */
import { execFile } from 'node:child_process';
import { rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startControlPlane, type ControlPlane } from '../../test/harness/controlplane.ts';
import { AuditLog, auditLogFor } from '../lib/audit.ts';
import { KubeHttp, inParallel } from '../lib/kube-http.ts';
import { parsePromText, type Sample } from '../lib/prom-text.ts';
import type { Identities } from './contenders.ts';

const run = promisify(execFile);
const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const ANCHORS = fileURLToPath(new URL('../anchors/', import.meta.url));
const ADMIN_USER = 'lb-provisioner-admin';
export const METALLB_POD = 'metallb-controller';

export interface Cluster {
  cp: ControlPlane;
  api: KubeHttp;
  audit: AuditLog;
  kubeconfigs: Identities;
  metallbNamespace: string;
  apiserverMetrics(): Promise<Sample[]>;
  createNode(name: string, ip: string): Promise<void>;
  deleteNode(name: string): Promise<void>;
  /** removes every Service of a namespace, finalizers first (no controller runs then) */
  emptyNamespace(ns: string): Promise<void>;
  stop(): Promise<void>;
}

/** the benchmark's own requests (admin) and the apiserver's are left out; everything else at Metadata */
const AUDIT_RULES = [
  { level: 'None', users: [ADMIN_USER, 'system:apiserver'] },
  { level: 'None', nonResourceURLs: ['/healthz*', '/readyz*', '/livez*', '/metrics'] },
  { level: 'Metadata' },
];

function anchorVersion(name: string): string {
  const env = readFileSync(join(ANCHORS, 'versions.env'), 'utf8');
  const v = new RegExp(`^${name}=(\\S+)`, 'm').exec(env)?.[1];
  if (!v) throw new Error(`bench/anchors/versions.env: no ${name}`);
  return v;
}

/** MetalLB's CRDs, from the module the anchor was built from (in the Go module cache). */
async function metallbCrdDir(): Promise<string> {
  const { stdout } = await run('go', ['env', 'GOMODCACHE']);
  return join(stdout.trim(), `go.universe.tf/metallb@${anchorVersion('METALLB_VERSION')}`, 'config/crd/bases');
}

export async function startCluster(o: { nodes: number; pool: string; log: (l: string) => void }): Promise<Cluster> {
  const audit = auditLogFor('lbp-bench-audit-', AUDIT_RULES);
  const cp = await startControlPlane({ log: o.log, extraApiserverArgs: audit.apiserverArgs });
  try {
    const kubectl = async (...args: string[]) => {
      const r = await cp.kubectl(args);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const metallbNamespace = 'metallb-system';
    const api = KubeHttp.fromKubeconfig(cp.adminKubeconfigPath, { userAgent: 'bench', connections: 32 });
    await kubectl('apply', '--server-side', '-f', `${DEPLOY}crds/ippool.yaml`, '-f', `${DEPLOY}controller/rbac.yaml`);
    await kubectl('apply', '--server-side', '-f', await metallbCrdDir());
    await kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all');
    await kubectl('create', 'namespace', 'bench-system');
    await kubectl('create', 'namespace', metallbNamespace);
    for (const sa of ['upstream-service-controller', 'metallb-controller', 'floor-client']) {
      await kubectl('-n', 'bench-system', 'create', 'serviceaccount', sa);
      await kubectl(
        'create',
        'clusterrolebinding',
        `bench-${sa}`,
        '--clusterrole=cluster-admin',
        `--serviceaccount=bench-system:${sa}`,
      );
    }
    await api.json('POST', `/apis/metallb.io/v1beta1/namespaces/${metallbNamespace}/ipaddresspools`, {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: 'bench', namespace: metallbNamespace },
      spec: { addresses: [o.pool] },
    });
    // MetalLB's controller reads its own Pod at start (owner references); no kubelet runs it here
    await api.json('POST', `/api/v1/namespaces/${metallbNamespace}/pods`, {
      metadata: { name: METALLB_POD, namespace: metallbNamespace },
      spec: { containers: [{ name: 'controller', image: 'quay.io/metallb/controller' }] },
    });
    const kubeconfigs: Identities = {
      ours: await cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner'),
      upstream: await cp.serviceAccountKubeconfig('bench-system', 'upstream-service-controller'),
      metallb: await cp.serviceAccountKubeconfig('bench-system', 'metallb-controller'),
      floor: await cp.serviceAccountKubeconfig('bench-system', 'floor-client'),
    };
    const cluster: Cluster = {
      cp,
      api,
      audit: new AuditLog(audit.path),
      kubeconfigs,
      metallbNamespace,
      async apiserverMetrics() {
        const { stdout } = await cp.kubectl(['get', '--raw', '/metrics']);
        return parsePromText(stdout);
      },
      async createNode(name, ip) {
        // the object and, as a kubelet would, its status (addresses, Ready) in a second write
        await api.json('POST', '/api/v1/nodes', { metadata: { name } });
        const now = new Date().toISOString();
        await api.json(
          'PATCH',
          `/api/v1/nodes/${name}/status`,
          {
            status: {
              addresses: [
                { type: 'Hostname', address: name },
                { type: 'InternalIP', address: ip },
              ],
              conditions: [
                {
                  type: 'Ready',
                  status: 'True',
                  reason: 'KubeletReady',
                  message: 'bench',
                  lastHeartbeatTime: now,
                  lastTransitionTime: now,
                },
              ],
            },
          },
          { contentType: 'application/merge-patch+json' },
        );
      },
      async deleteNode(name) {
        await api.json('DELETE', `/api/v1/nodes/${name}`, undefined, { allow: [404] });
      },
      async emptyNamespace(ns) {
        const { body } = await api.json<{ items: { metadata: { name: string; finalizers?: string[] } }[] }>(
          'GET',
          `/api/v1/namespaces/${ns}/services`,
        );
        await inParallel(body.items, 32, async (svc) => {
          const path = `/api/v1/namespaces/${ns}/services/${svc.metadata.name}`;
          if (svc.metadata.finalizers?.length)
            await api.json(
              'PATCH',
              path,
              { metadata: { finalizers: null } },
              { contentType: 'application/merge-patch+json', allow: [404] },
            );
          await api.json('DELETE', path, undefined, { allow: [404] });
        });
      },
      async stop() {
        await api.close();
        await cp.stop();
        rmSync(audit.dir, { recursive: true, force: true });
      },
    };
    o.log(`creating ${o.nodes} nodes`);
    await inParallel(
      Array.from({ length: o.nodes }, (_, i) => i),
      16,
      (i) => cluster.createNode(`node-${i}`, `10.200.${Math.floor(i / 250)}.${(i % 250) + 1}`),
    );
    return cluster;
  } catch (err) {
    await cp.stop();
    rmSync(audit.dir, { recursive: true, force: true });
    throw err;
  }
}
