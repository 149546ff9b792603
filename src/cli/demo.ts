/**
 * `npm run demo`: the main job on an embedded control plane. Starts a dev kube-apiserver + etcd, three
 * Nodes, the controller with the local provider and a pool, two sample LoadBalancer Services, prints
 * their addresses, then stays up (Ctrl-C cleans everything up) so you can `kubectl get svc` and add your
 * own Services.
 */
import * as k8s from '@kubernetes/client-node';
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlPlane } from '../../test/harness/controlplane.ts';
import { createNode, waitFor } from '../../test/harness/fixtures.ts';
import { ServiceController } from '../controller/controller.ts';
import { withConnectionPool } from '../kube/client.ts';
import { createLogger } from '../log.ts';
import { createLocalProvider } from '../../providers/local/index.ts';
import { applyCrds, untilStopRequested } from './dev-cluster.ts';

export interface DemoOptions {
  kubeconfigOut: string;
  pool?: string;
}

const RBAC = fileURLToPath(new URL('../../deploy/rbac.yaml', import.meta.url));
const NAMESPACE = 'demo';
const NODES = ['node-a', 'node-b', 'node-c'];

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
        { name: 'https', port: 443 },
      ],
    },
  },
  {
    metadata: { name: 'dns', namespace: NAMESPACE, annotations: { 'lbprovisioner.io/ips': '127.0.100.53' } },
    spec: {
      type: 'LoadBalancer',
      selector: { app: 'dns' },
      ports: [
        { name: 'dns-udp', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ],
    },
  },
];

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('   ')).join('\n');
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  step(
    'starting a dev control plane (kube-apiserver + etcd; the first run builds them from the Go module proxy, which takes a few minutes)',
  );
  const cp = await startControlPlane({ log: (line) => step(line) });
  const stop = untilStopRequested();
  let controller: ServiceController | undefined;
  try {
    const kubeconfig = resolve(opts.kubeconfigOut);
    await mkdir(dirname(kubeconfig), { recursive: true });
    await copyFile(cp.adminKubeconfigPath, kubeconfig);
    await chmod(kubeconfig, 0o600);
    await applyCrds(cp, step);
    const rbac = await cp.kubectl(['apply', '--server-side', '-f', RBAC]);
    if (rbac.code !== 0) throw new Error(`kubectl apply -f ${RBAC}: ${rbac.stderr}`);
    const admin = withConnectionPool(cp.kubeConfig());
    const core = admin.makeApiClient(k8s.CoreV1Api);

    step(`registering ${NODES.length} Nodes`);
    for (const [i, name] of NODES.entries()) await createNode(admin, { name, internalIP: `127.0.1.${i + 1}` });

    const pool = opts.pool ?? '127.0.100.10-127.0.100.250';
    step(`starting the controller: local provider, pool ${pool}, under its own ServiceAccount`);
    const controllerKc = new k8s.KubeConfig();
    controllerKc.loadFromFile(await cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner'));
    const log = createLogger(process.env['LBP_LOG_LEVEL'] ?? 'warn');
    const provider = await createLocalProvider({ clusterName: 'demo', pools: [pool], dataplane: 'none', log });
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
    const ready = await waitFor(
      async () => {
        const list = await core.listNamespacedService({ namespace: NAMESPACE });
        return list.items.every((s) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0) ? list.items : undefined;
      },
      { message: 'the sample Services to get addresses', timeoutMs: 30_000 },
    );
    const rows = [['NAME', 'EXTERNAL-IP', 'IP-MODE', 'PORTS']];
    for (const s of ready ?? []) {
      const ingress = s.status!.loadBalancer!.ingress!;
      rows.push([
        `${NAMESPACE}/${s.metadata!.name!}`,
        ingress.map((i) => i.ip ?? i.hostname).join(','),
        ingress.map((i) => i.ipMode ?? '').join(','),
        (s.spec!.ports ?? []).map((p) => `${p.port}:${p.nodePort}/${p.protocol}`).join(','),
      ]);
    }
    process.stdout.write(`\n${table(rows)}\n\n`);
    step(`up. kubeconfig: ${kubeconfig}`);
    step(`try: kubectl --kubeconfig ${kubeconfig} get svc -A   (add your own type: LoadBalancer Services)`);
    step('Ctrl-C stops everything and cleans up');
    await stop.promise;
    step('stopping');
  } finally {
    stop.dispose();
    await controller?.stop();
    await cp.stop();
  }
}
