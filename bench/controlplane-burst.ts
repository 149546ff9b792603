/**
 * Control-plane benchmark: burst-create 1000 LoadBalancer Services with 100 Nodes against a real
 * apiserver, the controller (`lb-provisioner run`, local provider, no data plane) in its own process
 * under its own ServiceAccount. Prints the time from the first create request to the last ingress,
 * per-Service latencies (client-side timestamps from a watch), the controller's API requests by verb
 * (from the apiserver's own counters, minus the benchmark's requests), and the controller's peak RSS.
 *
 *   npm run bench:controlplane            (SERVICES=1000 NODES=100 CONCURRENCY=32 to change the load)
 */
import * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type ControlPlane } from '../test/harness/controlplane.ts';
import { createNode, uniqueNamespace, waitFor } from '../test/harness/fixtures.ts';
import { withConnectionPool } from '../src/kube/client.ts';
import { ResilientInformer } from '../src/kube/informer.ts';
import { silentLogger } from '../src/log.ts';
import { deploymentMemoryLimitMiB, entering, withinMemoryLimit, type MemoryCgroup } from './lib/memory-cgroup.ts';
import { compiledBin } from './lib/compiled.ts';
import { PRODUCTION_MALLOC_ENV } from '../src/cli/runtime-flags.ts';

const SERVICES = Number(process.env['SERVICES'] ?? 1000);
const NODES = Number(process.env['NODES'] ?? 100);
const CONCURRENCY = Number(process.env['CONCURRENCY'] ?? 32);
const DEPLOY = fileURLToPath(new URL('../deploy/', import.meta.url));

type Counts = Map<string, number>;

/** apiserver_request_total summed by verb/resource/subresource (read with kubectl get --raw). */
async function requestCounts(cp: ControlPlane): Promise<Counts> {
  const { stdout: text } = await cp.kubectl(['get', '--raw', '/metrics']);
  const counts: Counts = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const key = `${labels['verb']} ${labels['resource']}${labels['subresource'] ? `/${labels['subresource']}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

/** user + system CPU seconds of a process */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const log = (line: string) => console.error(`bench: ${line}`);
  log('starting the control plane (first run builds it from the Go module proxy)');
  const cp = await startControlPlane({ log });
  let controller: ReturnType<typeof spawn> | undefined;
  let cgroup: MemoryCgroup | undefined;
  try {
    for (const file of [`${DEPLOY}crds/ippool.yaml`, `${DEPLOY}controller/rbac.yaml`]) {
      const r = await cp.kubectl(['apply', '--server-side', '-f', file]);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=30s', '-f', `${DEPLOY}crds/ippool.yaml`]);
    const kc = withConnectionPool(cp.kubeConfig());
    const core = kc.makeApiClient(k8s.CoreV1Api);
    log(`creating ${NODES} nodes`);
    for (let i = 0; i < NODES; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, NODES - i) }, (_, j) =>
          createNode(kc, {
            name: `node-${i + j}`,
            internalIP: `10.200.${Math.floor((i + j) / 250)}.${((i + j) % 250) + 1}`,
          }),
        ),
      );
    }
    const ns = await uniqueNamespace(kc, 'bench');
    const saKubeconfig = await cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner');
    // within the Deployment's memory limit, which sizes the heap (src/cli/runtime-flags.ts)
    const limit = withinMemoryLimit(`lbp-controlplane-burst-${process.pid}`, deploymentMemoryLimitMiB());
    cgroup = limit.cgroup;
    const enter = cgroup ? entering(cgroup.procs) : [];
    controller = spawn(
      enter[0] ?? process.execPath,
      [
        ...enter.slice(1),
        ...(cgroup ? [process.execPath] : []),
        // as its image runs it: compiled to JavaScript
        compiledBin(),
        'run',
        '--kubeconfig',
        saKubeconfig,
        '--provider',
        'local',
        '--pool',
        '10.64.0.0/16',
        '--cluster-name',
        'bench',
        '--metrics-bind-address',
        '0',
        '--log-level',
        'warn',
      ],
      // the flags the controller ships with (Dockerfile, Deployment); CONTROLLER_NODE_OPTIONS to experiment
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: {
          ...process.env,
          ...PRODUCTION_MALLOC_ENV,
          NODE_OPTIONS: process.env['CONTROLLER_NODE_OPTIONS'] ?? limit.nodeOptions,
        },
      },
    );
    const pid = controller.pid!;
    // wait until the controller leads (its Lease names it)
    const coord = kc.makeApiClient(k8s.CoordinationV1Api);
    await waitFor(
      async () =>
        (await coord.readNamespacedLease({ name: 'lb-provisioner', namespace: 'lb-provisioner' })).spec?.holderIdentity,
      {
        message: 'the controller to lead',
        timeoutMs: 30_000,
      },
    );

    const created = new Map<string, number>();
    const addressed = new Map<string, number>();
    let resolveAll: () => void = () => {};
    const allAddressed = new Promise<void>((resolve) => (resolveAll = resolve));
    const seen = (obj: k8s.V1Service) => {
      const name = obj.metadata?.name ?? '';
      if (!addressed.has(name) && (obj.status?.loadBalancer?.ingress?.length ?? 0) > 0) {
        addressed.set(name, performance.now());
        if (addressed.size === SERVICES) resolveAll();
      }
    };
    // an informer that survives watch errors, so a dropped watch can't lose the finish line
    const informer = new ResilientInformer<k8s.V1Service>(
      kc,
      `/api/v1/namespaces/${ns}/services`,
      { onAdd: seen, onUpdate: seen },
      { name: 'bench', log: silentLogger() },
    );
    await informer.start();
    await new Promise((r) => setTimeout(r, 500));
    const before = await requestCounts(cp);
    const idleRssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
    const cpuBefore = cpuSeconds(pid);
    log(`burst-creating ${SERVICES} Services (${CONCURRENCY} at a time)`);
    const start = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < SERVICES; i = next++) {
          const name = `svc-${i}`;
          created.set(name, performance.now());
          await core.createNamespacedService({
            namespace: ns,
            body: {
              metadata: { name, namespace: ns },
              spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] },
            },
          });
        }
      }),
    );
    const createsDone = performance.now();
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => {
        void core.listNamespacedService({ namespace: ns }).then((l) => {
          const listed = l.items.filter((s) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0).length;
          reject(
            new Error(`only ${addressed.size} of ${SERVICES} addressed after 120 s (a fresh LIST shows ${listed})`),
          );
        });
      }, 120_000),
    );
    await Promise.race([allAddressed, timeout]);
    await informer.stop();
    const end = Math.max(...addressed.values());
    await new Promise((r) => setTimeout(r, 2000)); // let trailing Events and pool status land
    const after = await requestCounts(cp);
    const cpu = cpuSeconds(pid) - cpuBefore;
    const reasons = new Map<string, number>();
    for (const e of (await core.listNamespacedEvent({ namespace: ns })).items) {
      reasons.set(e.reason ?? '', (reasons.get(e.reason ?? '') ?? 0) + 1);
    }
    const rssKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

    const latencies = [...addressed].map(([n, t]) => t - (created.get(n) ?? t)).sort((a, b) => a - b);
    const delta = [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, v]) => v > 0);
    // the benchmark's own requests, and what the apiserver does for itself (ClusterIP allocation)
    const own = (k: string, v: number) =>
      k === 'POST services'
        ? SERVICES
        : k === 'WATCH services'
          ? 1
          : k === 'POST ipaddresses' || k.includes('openapi')
            ? v
            : 0;
    const controllerRequests = delta
      .map(([k, v]) => [k, v - own(k, v)] as const)
      .filter(([, v]) => v > 0)
      .sort();
    const count = (k: string) => controllerRequests.find(([key]) => key === k)?.[1] ?? 0;

    console.log(
      `\ncontrol-plane burst: ${SERVICES} Services, ${NODES} Nodes, local provider (no data plane), 1 controller process`,
    );
    console.log(`  first create -> last ingress : ${((end - start) / 1000).toFixed(2)} s   (target < 10 s)`);
    // the floor of this run: no controller addresses a Service before the apiserver has taken its create
    console.log(
      `  first create -> last create  : ${((createsDone - start) / 1000).toFixed(2)} s   (the benchmark's own creates)`,
    );
    console.log(
      `  per-Service latency          : p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms`,
    );
    console.log(
      `  Service writes per Service   : ${((count('PATCH services') + count('PATCH services/status') + count('PUT services') + count('PUT services/status')) / SERVICES).toFixed(2)} (metadata ${count('PATCH services')}, status ${count('PATCH services/status')}; target exactly 2)`,
    );
    console.log(`  Events written               : ${count('POST events')}`);
    console.log(`  Events by reason             : ${[...reasons].map(([r, n]) => `${r} ${n}`).join(', ')}`);
    console.log(`  controller requests by verb  :`);
    for (const [k, v] of controllerRequests) console.log(`    ${k.padEnd(32)} ${v}`);
    console.log(
      `  controller peak RSS          : ${(rssKiB / 1024).toFixed(0)} MB   (target < 200 MB; ${(idleRssKiB / 1024).toFixed(0)} MB before the burst)`,
    );
    console.log(`  controller CPU during burst  : ${cpu.toFixed(2)} s`);
  } finally {
    if (controller && controller.exitCode === null) {
      const exited = new Promise((resolve) => controller!.once('exit', resolve));
      controller.kill('SIGTERM');
      await exited;
    }
    cgroup?.remove();
    await cp.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
