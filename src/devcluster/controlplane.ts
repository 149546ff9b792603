// A real kube-apiserver + etcd for `lb-provisioner dev-cluster`, the demo, and the tests.
import * as k8s from '@kubernetes/client-node';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCerts } from './certs.ts';
import { onProcessExit, runChild, type Child } from './children.ts';
import { LOOPBACK, startApiserver, startApiserverOnFreePort, startEtcd, type Etcd } from './components.ts';
import { startForwarder, type Forwarder } from './forwarder.ts';
import { writeKubeconfig } from './kubeconfig.ts';

export { SERVICE_CLUSTER_IP_RANGE, SERVICE_NODE_PORT_RANGE } from './components.ts';

export interface StartOptions {
  /**
   * An address of a bridge the test made: the apiserver is also reachable at
   * https://<bridgeAddress>:<port> (a forwarder; the address is in the serving certificate).
   */
  bridgeAddress?: string;
  /** Progress lines (a cold build takes many minutes). Nothing is printed without it. */
  log?: (line: string) => void;
  /** More kube-apiserver flags, after the launcher's own (e.g. an audit log for benchmarks). */
  extraApiserverArgs?: readonly string[];
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  /** https://<bridgeAddress>:<port>, when a bridge address was given */
  readonly bridgeUrl?: string;
  /** temp dir with certificates and kubeconfigs (removed by stop) */
  readonly dir: string;
  /** kube-apiserver, kubectl and etcd */
  readonly binDir: string;
  /** CA of the serving certificate, PEM */
  readonly caPem: string;
  /** kubeconfig of an admin identity (O=system:masters), certificates inline */
  readonly adminKubeconfigPath: string;
  kubeConfig(): k8s.KubeConfig;
  kubectl(args: readonly string[], opts?: { input?: string }): Promise<KubectlResult>;
  /**
   * Writes a kubeconfig that authenticates as an existing ServiceAccount with a bound token
   * (TokenRequest API), so code under test runs with that account's RBAC, not as admin.
   * Returns its path. `server` defaults to `url` (pass `bridgeUrl` for a network namespace).
   */
  serviceAccountKubeconfig(namespace: string, name: string, opts?: { server?: string }): Promise<string>;
  /** Stops only the apiserver (SIGTERM; `graceful: false` kills it). etcd and its data stay. */
  stopApiserver(opts?: { graceful?: boolean }): Promise<void>;
  /** Starts the apiserver again on the same port and etcd, and waits until it is ready. */
  startApiserver(): Promise<void>;
  /** Kills everything and removes the temp dirs. Idempotent. */
  stop(): Promise<void>;
}

const BUILD_SCRIPT = fileURLToPath(new URL('./build-control-plane.sh', import.meta.url));
const DIR_PREFIX = 'lbp-cp-';
const TOKEN_SECONDS = 6 * 3600;
const APISERVER_STOP_GRACE_MS = 15_000;

/** The build script's exit 3: Go is missing or the Go module proxy is unreachable (the user can fix both). */
export class ControlPlaneBuildError extends Error {
  readonly needsGo: boolean;
  constructor(message: string, code: number) {
    super(message);
    this.name = 'ControlPlaneBuildError';
    this.needsGo = code === 3;
  }
}

/** Builds (or finds in the cache) kube-apiserver, kubectl and etcd; returns their directory. */
export async function buildControlPlane(log: (line: string) => void = () => {}): Promise<string> {
  const result = await runChild('bash', [BUILD_SCRIPT], { name: 'build-control-plane', onStderrLine: log });
  const binDir = result.stdout.trim().split('\n').pop() ?? '';
  if (result.code !== 0 || !binDir) {
    const why = result.stderr.trim().split('\n').slice(-15).join('\n');
    throw new ControlPlaneBuildError(
      `building the dev control plane failed (exit ${result.code}): ${why}`,
      result.code,
    );
  }
  return binDir;
}

export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const started = performance.now();
  const binDir = await buildControlPlane(log);

  await sweepStaleDirs();
  const dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  const dataRoot = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  const removeDirs = (): void => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(dataRoot, { recursive: true, force: true });
  };
  const unregisterCleanup = onProcessExit(removeDirs);

  let etcd: Etcd | undefined;
  let apiserver: Child | undefined;
  let forwarder: Forwarder | undefined;
  const killAll = async (): Promise<void> => {
    await forwarder?.close();
    await apiserver?.stop();
    await etcd?.child.stop();
    unregisterCleanup();
    removeDirs();
  };

  try {
    const certs = await generateCerts(dir, opts.bridgeAddress ? [opts.bridgeAddress] : []);
    log('control plane: starting etcd');
    etcd = await startEtcd(binDir, dataRoot);
    log('control plane: starting kube-apiserver');
    const base = { binDir, certDir: dir, certs, etcdUrl: etcd.url, extraArgs: opts.extraApiserverArgs ?? [] };
    const first = await startApiserverOnFreePort(base);
    apiserver = first.child;
    const port = first.port;
    const url = `https://${LOOPBACK}:${port}`;
    let bridgeUrl: string | undefined;
    if (opts.bridgeAddress) {
      forwarder = await startForwarder(opts.bridgeAddress, port);
      bridgeUrl = `https://${formatHost(opts.bridgeAddress)}:${port}`;
    }
    const adminKubeconfigPath = await writeKubeconfig(join(dir, 'admin.kubeconfig'), {
      server: url,
      caPem: certs.caPem,
      userName: 'admin',
      credentials: { clientCertificatePem: certs.adminCertPem, clientKeyPem: certs.adminKeyPem },
    });
    log(`control plane: ready at ${url} in ${((performance.now() - started) / 1000).toFixed(1)}s`);

    let stopping: Promise<void> | undefined;
    let tokenFiles = 0;
    const controlPlane: ControlPlane = {
      url,
      ...(bridgeUrl ? { bridgeUrl } : {}),
      dir,
      binDir,
      caPem: certs.caPem,
      adminKubeconfigPath,
      kubeConfig() {
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(adminKubeconfigPath);
        return kc;
      },
      kubectl(args, kubectlOpts = {}) {
        return runChild(join(binDir, 'kubectl'), ['--kubeconfig', adminKubeconfigPath, ...args], {
          name: 'kubectl',
          ...(kubectlOpts.input === undefined ? {} : { stdin: kubectlOpts.input }),
        });
      },
      async serviceAccountKubeconfig(namespace, name, saOpts = {}) {
        const api = controlPlane.kubeConfig().makeApiClient(k8s.CoreV1Api);
        const tokenRequest = await api.createNamespacedServiceAccountToken({
          name,
          namespace,
          body: { spec: { audiences: [], expirationSeconds: TOKEN_SECONDS } },
        });
        const token = tokenRequest.status?.token;
        if (!token) throw new Error(`TokenRequest for ServiceAccount ${namespace}/${name} returned no token`);
        return writeKubeconfig(join(dir, `sa-${namespace}-${name}-${++tokenFiles}.kubeconfig`), {
          server: saOpts.server ?? url,
          caPem: certs.caPem,
          userName: `system:serviceaccount:${namespace}:${name}`,
          credentials: { token },
        });
      },
      async stopApiserver(stopOpts = {}) {
        await apiserver?.stop(stopOpts.graceful === false ? 0 : APISERVER_STOP_GRACE_MS);
      },
      async startApiserver() {
        if (stopping) throw new Error('the control plane was stopped');
        if (apiserver?.isRunning()) return;
        apiserver = await startApiserver({ ...base, port });
      },
      stop() {
        stopping ??= killAll();
        return stopping;
      },
    };
    return controlPlane;
  } catch (err) {
    await killAll();
    throw err;
  }
}

function formatHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** Removes dirs left by test processes that were SIGKILLed (they could not clean up). */
async function sweepStaleDirs(): Promise<void> {
  for (const root of new Set([tmpdir(), '/dev/shm'])) {
    let names: string[];
    try {
      names = await readdir(root);
    } catch {
      continue;
    }
    for (const name of names) {
      const pid = Number(/^lbp-cp-(\d+)-/.exec(name)?.[1]);
      if (pid && !processAlive(pid)) await rm(join(root, name), { recursive: true, force: true });
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
