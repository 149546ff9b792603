// How etcd and kube-apiserver are started for tests, and how we know they are ready.
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ControlPlaneCerts } from './certs.ts';
import { spawnChild, type Child } from './children.ts';
import { freePort } from './ports.ts';

export const LOOPBACK = '127.0.0.1';
/** Dual stack, and room for 10,000 Services (the default /24 runs out at 254). */
export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16,fd00:10:96::/108';
/** Wide enough for benchmarks (the default range has 2,768 ports). */
export const SERVICE_NODE_PORT_RANGE = '20000-59999';
const READY_TIMEOUT_MS = 60_000;
const PORT_ATTEMPTS = 3;

export interface Etcd {
  child: Child;
  url: string;
}

/** etcd on loopback, data on tmpfs without fsync: durability means nothing for a test cluster. */
export async function startEtcd(binDir: string, dataRoot: string): Promise<Etcd> {
  for (let attempt = 1; ; attempt++) {
    const client = await freePort(LOOPBACK);
    let peer = await freePort(LOOPBACK);
    while (peer === client) peer = await freePort(LOOPBACK);
    const url = `http://${LOOPBACK}:${client}`;
    const peerUrl = `http://${LOOPBACK}:${peer}`;
    const child = spawnChild(
      join(binDir, 'etcd'),
      [
        '--name=default',
        `--data-dir=${join(dataRoot, `etcd-${attempt}`)}`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        '--unsafe-no-fsync',
        // a single member elects itself after one election timeout: keep it short (default 1 s)
        '--heartbeat-interval=20',
        '--election-timeout=200',
        '--log-level=warn',
      ],
      { name: 'etcd' },
    );
    try {
      await waitReady(child, () => etcdHealthy(url));
      return { child, url };
    } catch (err) {
      await child.stop();
      if (attempt < PORT_ATTEMPTS && portTaken(child)) continue;
      throw err;
    }
  }
}

export interface ApiserverConfig {
  binDir: string;
  certDir: string;
  certs: ControlPlaneCerts;
  etcdUrl: string;
  port: number;
  /** appended to the harness's flags */
  extraArgs?: readonly string[];
}

/** Starts kube-apiserver on 127.0.0.1:port and waits for /readyz and the default namespace. */
export async function startApiserver(config: ApiserverConfig): Promise<Child> {
  const child = spawnChild(join(config.binDir, 'kube-apiserver'), apiserverArgs(config), { name: 'kube-apiserver' });
  try {
    await waitReady(child, () => apiserverReady(config));
    return child;
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** Starts kube-apiserver on a fresh random port, retrying when another process took the port first. */
export async function startApiserverOnFreePort(
  config: Omit<ApiserverConfig, 'port'>,
): Promise<{ child: Child; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(LOOPBACK);
    try {
      return { child: await startApiserver({ ...config, port }), port };
    } catch (err) {
      if (attempt < PORT_ATTEMPTS && (err as Partial<ComponentStartError>).portTaken === true) continue;
      throw err;
    }
  }
}

function apiserverArgs(c: ApiserverConfig): string[] {
  return [
    `--bind-address=${LOOPBACK}`,
    `--advertise-address=${LOOPBACK}`,
    `--secure-port=${c.port}`,
    `--cert-dir=${c.certDir}`,
    `--tls-cert-file=${c.certs.servingCert}`,
    `--tls-private-key-file=${c.certs.servingKey}`,
    `--client-ca-file=${c.certs.caCert}`,
    `--etcd-servers=${c.etcdUrl}`,
    '--authorization-mode=RBAC',
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    `--service-node-port-range=${SERVICE_NODE_PORT_RANGE}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${c.certs.saPub}`,
    `--service-account-signing-key-file=${c.certs.saKey}`,
    '--allow-privileged=true',
    // No controller-manager creates the `default` ServiceAccount; without this, Pod objects are refused.
    '--disable-admission-plugins=ServiceAccount',
    // The `kubernetes` Service would get a loopback endpoint, which validation rejects (log noise).
    '--endpoint-reconciler-type=none',
    // Plain max-in-flight limits: less background work on a 2-core machine, no queuing in benchmarks.
    '--enable-priority-and-fairness=false',
    '--profiling=false',
    ...(c.extraArgs ?? []),
  ];
}

export class ComponentStartError extends Error {
  readonly portTaken: boolean;
  constructor(message: string, portTaken: boolean) {
    super(message);
    this.name = 'ComponentStartError';
    this.portTaken = portTaken;
  }
}

const portTaken = (child: Child): boolean => /address already in use/i.test(child.outputTail());

async function waitReady(child: Child, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!child.isRunning()) {
      const exit = await child.exited;
      throw new ComponentStartError(
        `${child.name} exited (code ${exit.code}, signal ${exit.signal}) before it was ready:\n${lastLines(child)}`,
        portTaken(child),
      );
    }
    if (await probe()) return;
    await sleep(100);
  }
  throw new ComponentStartError(
    `${child.name} was not ready after ${READY_TIMEOUT_MS / 1000}s:\n${lastLines(child)}`,
    false,
  );
}

function lastLines(child: Child, n = 25): string {
  return child.outputTail().trimEnd().split('\n').slice(-n).join('\n');
}

async function etcdHealthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: unknown };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

async function apiserverReady(c: ApiserverConfig): Promise<boolean> {
  // readyz alone does not promise the default namespace: the bootstrap controller creates it after.
  return (await adminGet(c, '/readyz')) === 200 && (await adminGet(c, '/api/v1/namespaces/default')) === 200;
}

/** GET as the admin identity; the status code, or 0 when the server did not answer. */
export function adminGet(c: Pick<ApiserverConfig, 'certs' | 'port'>, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: LOOPBACK,
        port: c.port,
        path,
        method: 'GET',
        ca: c.certs.caPem,
        cert: c.certs.adminCertPem,
        key: c.certs.adminKeyPem,
        agent: false,
        timeout: 2000,
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', () => resolve(0));
      },
    );
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}
