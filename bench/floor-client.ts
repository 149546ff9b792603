/**
 * The floor of a burst: a client that makes only the two Service writes a controller must make per new
 * LoadBalancer Service (one metadata patch: finalizer + annotation; one status patch: the address), both
 * strategic merge patches as ours are, at a fixed concurrency, reacting to a list+watch of Services, with
 * the same injected "cloud" latency between them that the fake providers answer with. No cache, no model,
 * no Events. What a controller takes beyond this is its own cost. Run as its own process and identity, as
 * the controllers are:
 *
 *   node bench/floor-client.ts --kubeconfig <path> [--concurrency 8] [--latency-ms 50] [--pool 10.64.0.0/18]
 *
 * Prints "ready" once its watch is open, then one "done <ns>/<name>" per Service.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeHttp, type ObjectMeta } from './lib/kube-http.ts';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    'latency-ms': { type: 'string', default: '0' },
    pool: { type: 'string', default: '10.64.0.0/18' },
  },
});
if (!values.kubeconfig) throw new Error('--kubeconfig is required');
const concurrency = Number(values.concurrency);
const latencyMs = Number(values['latency-ms']);
const [base = '10.64.0.0'] = values.pool.split('/');
const baseInt = base.split('.').reduce((n, o) => n * 256 + Number(o), 0);
let nextHost = 1;
const nextIP = (): string => {
  const n = baseInt + nextHost++;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
};

interface Service extends ObjectMeta {
  spec?: { type?: string };
  status?: { loadBalancer?: { ingress?: unknown[] } };
}

const api = KubeHttp.fromKubeconfig(values.kubeconfig, {
  userAgent: 'bench-floor-client',
  connections: concurrency + 1,
});
const SMP = { contentType: 'application/strategic-merge-patch+json' };
const handled = new Set<string>();
const queue: Service[] = [];
const waiting: (() => void)[] = [];

async function work(): Promise<never> {
  for (;;) {
    const svc = queue.shift();
    if (!svc) {
      await new Promise<void>((resolve) => waiting.push(resolve));
      continue;
    }
    const { namespace = '', name = '' } = svc.metadata ?? {};
    const path = `/api/v1/namespaces/${namespace}/services/${name}`;
    try {
      await api.json(
        'PATCH',
        path,
        {
          metadata: {
            finalizers: ['service.kubernetes.io/load-balancer-cleanup'],
            annotations: { 'lbprovisioner.io/provider': 'floor' },
          },
        },
        SMP,
      );
      if (latencyMs > 0) await sleep(latencyMs);
      await api.json('PATCH', `${path}/status`, { status: { loadBalancer: { ingress: [{ ip: nextIP() }] } } }, SMP);
      process.stdout.write(`done ${namespace}/${name}\n`);
    } catch (err) {
      process.stderr.write(`floor: ${namespace}/${name}: ${String(err)}\n`);
      handled.delete(`${namespace}/${name}`);
    }
  }
}

await api.listWatch<Service>('/api/v1/services', (e) => {
  if (e.type === 'DELETED') return;
  const svc = e.object;
  const key = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
  if (svc.spec?.type !== 'LoadBalancer' || (svc.status?.loadBalancer?.ingress?.length ?? 0) > 0 || handled.has(key))
    return;
  handled.add(key);
  queue.push(svc);
  waiting.shift()?.();
});
process.stdout.write('ready\n');
for (let i = 0; i < concurrency; i++) void work();
process.on('SIGTERM', () => process.exit(0));
