// `lb-provisioner dev-cluster`: a dev control plane in the foreground, for the demo and for trying
// the controller by hand (the tests start the same one).
import { chmod, copyFile, mkdir, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type ControlPlane } from '../devcluster/controlplane.ts';
import { controlPlaneFailure } from './exit-errors.ts';

export interface DevClusterOptions {
  kubeconfigOut: string;
  /** progress lines (a cold build of the control plane takes many minutes) */
  log: (line: string) => void;
  /** the single "ready" line; stdout by default, so scripts can wait for it */
  ready?: (line: string) => void;
  /** stops the cluster like SIGINT/SIGTERM do */
  signal?: AbortSignal;
}

const CRD_DIR = fileURLToPath(new URL('../../deploy/crds/', import.meta.url));

export async function runDevCluster(opts: DevClusterOptions): Promise<void> {
  const ready = opts.ready ?? ((line: string) => process.stdout.write(`${line}\n`));
  // Until the control plane is up, SIGINT/SIGTERM reach only the harness, which kills what it
  // started and lets the process die: an interrupted cold build ends at once.
  const cp = await startControlPlane({ log: opts.log }).catch((err: unknown) => {
    throw controlPlaneFailure(err);
  });
  const stopRequested = untilStopRequested(opts.signal);
  try {
    const kubeconfigOut = resolve(opts.kubeconfigOut);
    await mkdir(dirname(kubeconfigOut), { recursive: true });
    await copyFile(cp.adminKubeconfigPath, kubeconfigOut);
    await chmod(kubeconfigOut, 0o600);
    await applyCrds(cp, opts.log);
    // kubectl: the one built with the control plane (a fresh machine may have none)
    ready(`dev cluster ready: kubeconfig=${kubeconfigOut} apiserver=${cp.url} kubectl=${join(cp.binDir, 'kubectl')}`);
    // nothing of deploy/ is applied but the CRDs: `run` creates its Lease namespace with these admin credentials
    opts.log(`try: ${tryRun(kubeconfigOut)}`);
    await stopRequested.promise;
    opts.log('dev cluster: stopping');
  } finally {
    stopRequested.dispose();
    await cp.stop();
  }
}

/** A kubectl command that works on a fresh machine, which has none: the kubectl built with the control plane. */
export function tryKubectl(binDir: string, kubeconfig: string): string {
  return `${join(binDir, 'kubectl')} --kubeconfig ${kubeconfig} get svc -A`;
}

/** The controller on this cluster, as a new user would start it (the README's command). */
export function tryRun(kubeconfig: string): string {
  return `npx lb-provisioner run --kubeconfig ${kubeconfig} --provider local --pool 198.51.100.0/28`;
}

export async function applyCrds(cp: ControlPlane, log: (line: string) => void): Promise<void> {
  let files: string[];
  try {
    files = (await readdir(CRD_DIR)).filter((f) => /\.ya?ml$/.test(f) && !/^kustomization\./.test(f)).sort();
  } catch {
    return; // no deploy/crds yet
  }
  for (const file of files) {
    const path = join(CRD_DIR, file);
    log(`dev cluster: applying ${path}`);
    const applied = await cp.kubectl(['apply', '--server-side', '-f', path]);
    if (applied.code !== 0) throw new Error(`kubectl apply -f ${path} failed: ${applied.stderr.trim()}`);
  }
  if (files.length === 0) return;
  // Resources of a CRD are served only once it is Established; the demo creates pools right after.
  const args = [
    'wait',
    '--for=condition=Established',
    '--timeout=30s',
    ...files.flatMap((f) => ['-f', join(CRD_DIR, f)]),
  ];
  const established = await cp.kubectl(args);
  if (established.code !== 0)
    throw new Error(`CRDs from ${CRD_DIR} did not become Established: ${established.stderr.trim()}`);
}

/**
 * Resolves on SIGINT, SIGTERM or the abort signal. Listening on the signals also tells the harness
 * not to kill everything itself: we stop the control plane in order.
 */
export function untilStopRequested(signal?: AbortSignal): { promise: Promise<void>; dispose: () => void } {
  let dispose = (): void => {};
  const promise = new Promise<void>((resolvePromise) => {
    const stop = (): void => {
      dispose();
      resolvePromise();
    };
    dispose = () => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
  });
  return { promise, dispose };
}
