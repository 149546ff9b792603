/**
 * The soak's cluster: the test control plane with an audit log of the controller's own requests (writes
 * per Service, any Secret access), our CRDs and RBAC from deploy/ (found by what the files hold, wherever
 * deploy/ keeps them), and a kubeconfig of the controller's ServiceAccount.
 */
import * as k8s from '@kubernetes/client-node';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditLog, auditLogFor } from '../../bench/lib/audit.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
export const CONTROLLER_NAMESPACE = 'lb-provisioner';
export const CONTROLLER_SA = 'lb-provisioner';
export const CONTROLLER_USER = `system:serviceaccount:${CONTROLLER_NAMESPACE}:${CONTROLLER_SA}`;

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...yamlFiles(path));
    else if (/\.ya?ml$/.test(entry)) out.push(path);
  }
  return out.sort();
}

/** deploy/**: the CRDs, and the file with the controller's ClusterRole (deploy/rbac.yaml or deploy/controller/rbac.yaml). */
export function deployManifests(): { crds: string[]; rbac: string } {
  const files = yamlFiles(DEPLOY);
  const crds = files.filter((f) => /^kind:\s*CustomResourceDefinition\s*$/m.test(readFileSync(f, 'utf8')));
  const rbac = files.find(
    (f) =>
      /rbac\.ya?ml$/.test(f) &&
      /^kind:\s*ClusterRole\s*$/m.test(readFileSync(f, 'utf8')) &&
      new RegExp(`^\\s*name:\\s*${CONTROLLER_SA}\\s*$`, 'm').test(readFileSync(f, 'utf8')),
  );
  if (!rbac) throw new Error(`no rbac.yaml with the ClusterRole ${CONTROLLER_SA} under ${DEPLOY}`);
  if (!crds.some((f) => readFileSync(f, 'utf8').includes('ippools.lbprovisioner.io')))
    throw new Error(`no IPPool CRD under ${DEPLOY}`);
  return { crds, rbac };
}

export interface ChaosCluster {
  cp: ControlPlane;
  admin: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  audit: AuditLog;
  controllerKubeconfig: string;
  /** the bearer token in the controller's kubeconfig: a credential that must never be logged */
  controllerToken: string;
  rbacFile: string;
  /** stops the control plane; its audit log is removed unless kept (a failed run's report reads it) */
  stop(opts?: { keepAuditLog?: boolean }): Promise<void>;
}

/** `bridgeAddress`: the apiserver also serves there (in its certificate), for replicas in network namespaces */
export async function startChaosCluster(log: (line: string) => void, bridgeAddress?: string): Promise<ChaosCluster> {
  // only the controller's requests: the soak's own (admin) would drown them
  const audit = auditLogFor('lbp-chaos-audit-', [{ level: 'Metadata', users: [CONTROLLER_USER] }, { level: 'None' }]);
  const cp = await startControlPlane({
    log,
    extraApiserverArgs: audit.apiserverArgs,
    ...(bridgeAddress ? { bridgeAddress } : {}),
  });
  try {
    const { crds, rbac } = deployManifests();
    for (const file of [...crds, rbac]) {
      const r = await cp.kubectl(['apply', '--server-side', '-f', file]);
      if (r.code !== 0) throw new Error(`kubectl apply ${file}: ${r.stderr}`);
    }
    const waited = await cp.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      ...crds.flatMap((f) => ['-f', f]),
    ]);
    if (waited.code !== 0) throw new Error(`CRDs not established: ${waited.stderr}`);
    const controllerKubeconfig = await cp.serviceAccountKubeconfig(CONTROLLER_NAMESPACE, CONTROLLER_SA);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(controllerKubeconfig);
    const controllerToken = kc.getCurrentUser()?.token ?? '';
    if (controllerToken.length < 20) throw new Error('the controller kubeconfig carries no token');
    const admin = cp.kubeConfig();
    return {
      cp,
      admin,
      core: admin.makeApiClient(k8s.CoreV1Api),
      custom: admin.makeApiClient(k8s.CustomObjectsApi),
      audit: new AuditLog(audit.path),
      controllerKubeconfig,
      controllerToken,
      rbacFile: rbac,
      stop: async (opts) => {
        await cp.stop();
        if (!opts?.keepAuditLog) rmSync(audit.dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await cp.stop();
    rmSync(audit.dir, { recursive: true, force: true });
    throw err;
  }
}
