/**
 * `npm run demo`: the main job on an embedded control plane. Starts a dev kube-apiserver + etcd, three
 * Nodes on loopback addresses with stand-in kube-proxies, the controller with the local provider in proxy
 * mode (nftables as root, the userspace proxy otherwise), two sample LoadBalancer Services; prints their
 * addresses and a few requests through each VIP, then stays up (Ctrl-C cleans everything up) so you can
 * `kubectl get svc` and add your own Services.
 */
import * as k8s from '@kubernetes/client-node';
import { createSocket } from 'node:dgram';
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane } from '../devcluster/controlplane.ts';
import { createNode } from '../devcluster/nodes.ts';
import { ServiceController } from '../controller/controller.ts';
import { ResilientInformer } from '../kube/informer.ts';
import { withConnectionPool } from '../kube/client.ts';
import { createLogger } from '../log.ts';
import { createLocalProvider, type KubeLocalProvider } from '../../providers/local/index.ts';
import { RunFailure, UserFixableError, controlPlaneFailure } from './exit-errors.ts';
import { applyCrds, tryKubectl, untilStopRequested } from './dev-cluster.ts';
import { NodeStandIns } from './demo-nodes.ts';

export interface DemoOptions {
  kubeconfigOut: string;
  pool?: string;
}

const RBAC = fileURLToPath(new URL('../../deploy/controller/rbac.yaml', import.meta.url));
const NAMESPACE = 'demo';
const DEMO_INTERFACE = 'lbpdemo0';
const NODES = [
  { name: 'node-a', ip: '127.0.1.1' },
  { name: 'node-b', ip: '127.0.1.2' },
  { name: 'node-c', ip: '127.0.1.3' },
];

function step(line: string): void {
  process.stdout.write(`demo: ${line}\n`);
}

const samples: k8s.V1Service[] = [
  {
    metadata: { name: 'web', namespace: NAMESPACE },
    spec: {
      type: 'LoadBalancer',
      selector: { app: 'web' },
      ports: [
        { name: 'http', port: 80 },
        { name: 'alt', port: 8080 },
      ],
    },
  },
  {
    metadata: { name: 'dns', namespace: NAMESPACE, annotations: { 'lbprovisioner.io/ips': '127.0.100.53' } },
    spec: { type: 'LoadBalancer', selector: { app: 'dns' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] },
  },
];

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('   ')).join('\n');
}

function httpGet(ip: string, port: number): Promise<string> {
  return new Promise((done) => {
    const req = request({ host: ip, port, path: '/', agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => done(body.trim()));
    });
    req.on('error', (err) => done(`error: ${err.message}`));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

function udpAsk(ip: string, port: number): Promise<string> {
  return new Promise((done) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      done('no answer');
    }, 2000);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      done(msg.toString().trim());
    });
    socket.send('hello', port, ip);
  });
}

/** The sample Services once every one is ready; throws naming those that are not after timeoutMs. */
async function samplesReady(core: k8s.CoreV1Api, timeoutMs: number): Promise<k8s.V1Service[]> {
  const deadline = Date.now() + timeoutMs;
  const isReady = (s: k8s.V1Service) =>
    s.status?.conditions?.some((c) => c.type === 'lbprovisioner.io/LoadBalancerReady' && c.status === 'True');
  for (;;) {
    const list = await core.listNamespacedService({ namespace: NAMESPACE });
    if (list.items.every(isReady)) return list.items;
    if (Date.now() > deadline) {
      const waiting = list.items.filter((s) => !isReady(s)).map((s) => s.metadata?.name);
      throw new RunFailure(`the sample Services ${waiting.join(', ')} were not ready after ${timeoutMs / 1000}s`);
    }
    await sleep(200);
  }
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  step(
    'starting a dev control plane (kube-apiserver + etcd; the first run builds them from the Go module proxy: a few minutes)',
  );
  const cp = await startControlPlane({ log: (line) => step(line) }).catch((err: unknown) => {
    throw controlPlaneFailure(err);
  });
  const stop = untilStopRequested();
  const root = process.getuid?.() === 0;
  const nodes = new NodeStandIns(NODES);
  let controller: ServiceController | undefined;
  let provider: KubeLocalProvider | undefined;
  let informer: ResilientInformer<k8s.V1Service> | undefined;
  let failure: unknown;
  try {
    const kubeconfig = resolve(opts.kubeconfigOut);
    await mkdir(dirname(kubeconfig), { recursive: true });
    await copyFile(cp.adminKubeconfigPath, kubeconfig);
    await chmod(kubeconfig, 0o600);
    await applyCrds(cp, step);
    const rbac = await cp.kubectl(['apply', '--server-side', '-f', RBAC]);
    if (rbac.code !== 0) throw new RunFailure(`kubectl apply -f ${RBAC}: ${rbac.stderr.trim()}`);
    const admin = withConnectionPool(cp.kubeConfig());
    const core = admin.makeApiClient(k8s.CoreV1Api);
    const log = createLogger(process.env['LBP_LOG_LEVEL'] ?? 'warn');

    step(
      `registering ${NODES.length} Nodes on loopback addresses, each with a stand-in kube-proxy (/healthz on 10256, its NodePorts answer with the node's name)`,
    );
    for (const n of NODES) await createNode(admin, { name: n.name, internalIP: n.ip });
    await nodes.start();
    // the stand-ins follow every Service's NodePorts, yours included
    informer = new ResilientInformer<k8s.V1Service>(
      admin,
      '/api/v1/services',
      {
        onAdd: () => void nodes.sync(informer?.list() ?? []),
        onUpdate: () => void nodes.sync(informer?.list() ?? []),
        onDelete: () => void nodes.sync(informer?.list() ?? []),
      },
      { name: 'demo-services', log },
    );
    await informer.start();

    const pool = opts.pool ?? '127.0.100.10-127.0.100.250';
    const backend = root ? 'auto' : 'userspace';
    step(
      `starting the controller under its own ServiceAccount: local provider, pool ${pool}, proxy data plane (${root ? 'nftables when it can be programmed' : 'userspace: not root'})`,
    );
    const controllerKc = new k8s.KubeConfig();
    controllerKc.loadFromFile(await cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner'));
    // an interface, table and host lock of its own: the demo runs beside a `run` on the same host, and a
    // leftover of a killed `run` (lbp0) is none of its business
    provider = await createLocalProvider({
      clusterName: 'demo',
      pools: [pool],
      dataplane: 'proxy',
      proxyBackend: backend,
      vipInterface: root ? DEMO_INTERFACE : 'lo',
      nftTable: 'lbprovisioner_demo',
      lockName: 'lb-provisioner-demo',
      log,
    });
    controller = new ServiceController({
      kubeConfig: controllerKc,
      clusterName: 'demo',
      providers: [provider],
      defaultProvider: 'local',
      classOnly: false,
      workers: 4,
      resyncPeriodMs: 10 * 60_000,
      log,
    });
    await controller.start();

    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    step(`creating ${samples.length} sample LoadBalancer Services in namespace ${NAMESPACE}`);
    for (const svc of samples) await core.createNamespacedService({ namespace: NAMESPACE, body: svc });
    const ready = await samplesReady(core, 30_000);
    const rows = [['NAME', 'EXTERNAL-IP', 'PORTS', 'BACKEND', 'HEALTHY TARGETS']];
    for (const s of ready) {
      const key = `${NAMESPACE}/${s.metadata!.name!}`;
      const status = provider.proxyStatus(key);
      rows.push([
        key,
        (s.status!.loadBalancer!.ingress ?? []).map((i) => `${i.ip} (${i.ipMode})`).join(','),
        (s.spec!.ports ?? []).map((p) => `${p.port}:${p.nodePort}/${p.protocol}`).join(','),
        status?.backend ?? '?',
        status?.healthyTargets.join(',') ?? '',
      ]);
    }
    process.stdout.write(`\n${table(rows)}\n\n`);
    for (const s of ready) {
      const ip = s.status!.loadBalancer!.ingress![0]!.ip!;
      const port = s.spec!.ports![0]!;
      const ask = port.protocol === 'UDP' ? () => udpAsk(ip, port.port) : () => httpGet(ip, port.port);
      const answers: string[] = [];
      for (let i = 0; i < 6; i++) answers.push(await ask());
      step(
        `6 ${port.protocol} requests to ${ip}:${port.port} (${s.metadata!.name}) were answered by: ${answers.join(', ')}`,
      );
    }
    // a fresh machine has no kubectl of its own: point at the one built with the control plane
    const kubectl = join(cp.binDir, 'kubectl');
    step(`up. kubeconfig: ${kubeconfig}   kubectl: ${kubectl}`);
    step(
      `try: ${tryKubectl(cp.binDir, kubeconfig)}   (add your own type: LoadBalancer Services; the stand-in nodes serve their NodePorts)`,
    );
    step('Ctrl-C stops everything and cleans up');
    await stop.promise;
    step('stopping and cleaning up');
  } catch (err) {
    failure = err;
  }
  stop.dispose();
  // every step runs whatever failed before, and no failure here hides the one that ended the demo
  const cleanup = await allSettled([
    () => informer?.stop(),
    () => controller?.stop(),
    () => provider?.teardown(),
    () => nodes.close(),
    () => cp.stop(),
  ]);
  for (const err of cleanup) step(`cleaning up: ${oneLine(err)}`);
  if (failure !== undefined) throw userFacing(failure);
  if (cleanup.length > 0)
    throw new RunFailure('the demo could not remove everything it made; `lb-provisioner cleanup` removes what is left');
}

async function allSettled(steps: (() => unknown)[]): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (const run of steps) {
    try {
      await run();
    } catch (err) {
      failures.push(err);
    }
  }
  return failures;
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

/** Conditions a user can fix end the demo with their message, not a stack trace. */
function userFacing(err: unknown): unknown {
  const name = (err as { name?: unknown } | undefined)?.name;
  if (name === 'HostLockedError' || name === 'InterfaceNotOwnedError' || name === 'TableNotOwnedError')
    return new UserFixableError((err as Error).message);
  if ((err as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE')
    return new UserFixableError(
      `${(err as Error).message}: the demo's stand-in nodes need 127.0.1.1-3:10256 and their NodePorts (is another demo running?)`,
    );
  return err;
}
