/**
 * Integration-test plumbing: a real control plane with our RBAC and CRDs applied, a controller running
 * in-process under its own ServiceAccount (the ClusterRole from deploy/, not admin), and small helpers
 * to read what a user would see (status, conditions, Events).
 */
import * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { waitFor } from '../harness/fixtures.ts';
import { ServiceController, type ControllerOptions } from '../../src/controller/controller.ts';
import { silentLogger, createLogger } from '../../src/log.ts';
import type { LoadBalancerProvider } from '../../src/provider.ts';
import { READY_CONDITION } from '../../src/model/names.ts';

export const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/lb-provisioner.js', import.meta.url));

/** `lb-provisioner run` as its own process: its output so far, its exit, and a SIGTERM that waits for it. */
export interface RunProcess {
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

export function startRun(...args: string[]): RunProcess {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    output: () => output,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface Cluster {
  cp: ControlPlane;
  admin: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  /** kubeconfig path of the controller's ServiceAccount */
  controllerKubeconfig: string;
  controllerKubeConfig(): k8s.KubeConfig;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  const cp = await startControlPlane();
  try {
    const crds = (await readdir(`${DEPLOY}crds`))
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .map((f) => `${DEPLOY}crds/${f}`);
    for (const file of [...crds, `${DEPLOY}controller/rbac.yaml`]) {
      const r = await cp.kubectl(['apply', '--server-side', '-f', file]);
      if (r.code !== 0) throw new Error(`kubectl apply ${file}: ${r.stderr}`);
    }
    if (crds.length)
      await cp.kubectl(['wait', '--for=condition=Established', '--timeout=30s', ...crds.flatMap((f) => ['-f', f])]);
    const controllerKubeconfig = await cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner');
    const admin = cp.kubeConfig();
    return {
      cp,
      admin,
      core: admin.makeApiClient(k8s.CoreV1Api),
      controllerKubeconfig,
      controllerKubeConfig: () => {
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(controllerKubeconfig);
        return kc;
      },
      stop: () => cp.stop(),
    };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}

export type TestControllerOptions = Partial<Omit<ControllerOptions, 'providers' | 'kubeConfig'>> & {
  providers: LoadBalancerProvider[];
};

/** A controller under the lb-provisioner ServiceAccount, fast retries, no drift pass unless asked. */
export async function startController(cluster: Cluster, options: TestControllerOptions): Promise<ServiceController> {
  const controller = new ServiceController({
    kubeConfig: cluster.controllerKubeConfig(),
    clusterName: 'it',
    classOnly: false,
    defaultProvider: options.providers[0]?.name,
    workers: 4,
    resyncPeriodMs: 0,
    nodeSyncDelayMs: 100,
    queueBaseDelayMs: 200,
    queueMaxDelayMs: 2000,
    log: process.env['LBP_TEST_LOG'] ? createLogger('debug') : silentLogger(),
    ...options,
  });
  await controller.start();
  return controller;
}

export async function readService(
  cluster: Cluster,
  namespace: string,
  name: string,
): Promise<k8s.V1Service | undefined> {
  try {
    return await cluster.core.readNamespacedService({ name, namespace });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export function readyOf(svc: k8s.V1Service | undefined): k8s.V1Condition | undefined {
  return svc?.status?.conditions?.find((c) => c.type === READY_CONDITION);
}

/** Wait until the Service satisfies `check`; returns it. */
export async function waitForService(
  cluster: Cluster,
  namespace: string,
  name: string,
  check: (svc: k8s.V1Service) => boolean,
  message: string,
  timeoutMs = 15_000,
): Promise<k8s.V1Service> {
  return waitFor(
    async () => {
      const svc = await readService(cluster, namespace, name);
      return svc && check(svc) ? svc : undefined;
    },
    { message, timeoutMs },
  ) as Promise<k8s.V1Service>;
}

export async function waitForGone(
  cluster: Cluster,
  namespace: string,
  name: string,
  timeoutMs = 15_000,
): Promise<void> {
  await waitFor(async () => ((await readService(cluster, namespace, name)) === undefined ? true : undefined), {
    message: `${namespace}/${name} to be gone`,
    timeoutMs,
  });
}

export async function eventsOf(cluster: Cluster, namespace: string, name: string): Promise<k8s.CoreV1Event[]> {
  const list = await cluster.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items;
}

export async function waitForEvent(
  cluster: Cluster,
  namespace: string,
  name: string,
  reason: string,
  timeoutMs = 15_000,
): Promise<k8s.CoreV1Event> {
  return waitFor(async () => (await eventsOf(cluster, namespace, name)).find((e) => e.reason === reason), {
    message: `an Event ${reason} on ${namespace}/${name}`,
    timeoutMs,
  }) as Promise<k8s.CoreV1Event>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many ensure syncs the controller has finished (its reconcile duration histogram's count). */
export async function ensuresRecorded(controller: ServiceController): Promise<number> {
  const metric = await controller.metrics.reconcileDuration.get();
  return metric.values
    .filter((v) => v.metricName?.endsWith('_count') && v.labels.operation === 'ensure')
    .reduce((n, v) => n + v.value, 0);
}

/**
 * The barrier before a "nothing happened" check: wait until the controller's cache holds the object at
 * `resourceVersion` (its handlers have run for that event), then until it is idle (what they queued is
 * done). After it, a check that nothing happened cannot pass merely because the controller has not reacted yet.
 */
export async function observedBy(
  controller: ServiceController,
  kind: 'Service' | 'Node',
  key: string,
  resourceVersion: string | undefined,
): Promise<void> {
  if (resourceVersion === undefined) throw new Error(`no resourceVersion for ${kind} ${key}`);
  await waitFor(() => controller.hasObserved(kind, key, resourceVersion) || undefined, {
    message: `the controller to observe ${kind} ${key} at resourceVersion ${resourceVersion}`,
    timeoutMs: 15_000,
  });
  await controller.idle();
}

/** Delete a Service and wait until the controller has let it go (finalizer removed). */
export async function deleteService(cluster: Cluster, namespace: string, name: string): Promise<void> {
  try {
    await cluster.core.deleteNamespacedService({ name, namespace });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
  await waitForGone(cluster, namespace, name);
}
