/**
 * AWS provider benchmark, against moto in one run (issue 4): ELBv2/EC2 calls per operation next to the
 * minimum the API allows, and the time for 100 Services to converge at the default client-side rates.
 *
 *   node bench/aws-calls.ts            (SERVICES=100 PORTS=2 CONCURRENCY=8 to change the load)
 *
 * Minimums, per Service (P ports, cluster-wide setup excluded: it is paid once per cluster), for the
 * benchmark's Services, which give no source ranges (their NLBs share the cluster's open frontend group):
 *   create   CreateLoadBalancer + P x (CreateTargetGroup + RegisterTargets + CreateListener) = 1 + 3P
 *            (whether the NLB and its target groups exist is known from one listing per 400 NLBs and one
 *            per 400 target groups, the cluster's VPC from the nodes' instances, and the shared security
 *            groups are made once: paid in the cluster setup; a Service with source ranges adds its own
 *            group and its rules, 2 more)
 *   recheck  at most one DescribeLoadBalancers while a new NLB provisions (the controller syncs it again
 *            until active; rechecks that come together share a call, 20 NLBs each)
 *   node add one RegisterTargets per target group = P (no reads: the target set is known)
 *   resync   0 mutating; reads to see every piece: NLB, listeners, target groups, frontend rules, and the
 *            targets of each group = 4 + P
 *   delete   1 describe (NLB + listeners by name) + DescribeListeners + P x DeleteTargetGroup
 *            + DeleteLoadBalancer = 3 + P (a Service with source ranges also deletes its own group: 4 + P)
 */
import { aLoadBalancer } from '../test/builders/load-balancer.ts';
import { AwsProvider } from '../providers/aws/provider.ts';
import { DEFAULT_LIMITS, LIMIT } from '../providers/aws/quotas.ts';
import { accountLimits, CallRecorder } from '../test/aws/sdk-middleware.ts';
import { DEFAULT_RATES } from '../providers/aws/throttle.ts';
import { clusterFixture, motoClients, startMoto } from '../test/harness/moto.ts';
import type { DesiredLoadBalancer } from '../src/model/desired.ts';

const SERVICES = Number(process.env['SERVICES'] ?? 100);
const PORTS = Number(process.env['PORTS'] ?? 2);
const CONCURRENCY = Number(process.env['CONCURRENCY'] ?? 8);
const CLUSTER = 'bench';
const signal = new AbortController().signal;

async function pool<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: size }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

const moto = await startMoto();
try {
  const raw = motoClients(moto.endpoint);
  const fx = await clusterFixture(raw.ec2, CLUSTER, 6);
  const clients = motoClients(moto.endpoint);
  const calls = new CallRecorder().attach(clients);
  // moto's fixed limits (20 NLBs) would stop 100 Services, and so would AWS's default of 50: the
  // benchmark's account has raised its NLB quota
  accountLimits(clients.elbv2, { ...DEFAULT_LIMITS, [LIMIT.loadBalancers]: Math.max(50, SERVICES * 2) });
  const provider = new AwsProvider({ clusterName: CLUSTER, clients }); // default rates, adoption and quota pre-check on
  const ports = Array.from({ length: PORTS }, (_, i) => 80 + i);
  const services: DesiredLoadBalancer[] = Array.from({ length: SERVICES }, (_, i) => {
    const lb = aLoadBalancer(`svc-${i}`, CLUSTER)
      .withPorts(...ports)
      .build();
    lb.targets = fx.nodes(5);
    return lb;
  });
  const rows: { operation: string; calls: number; mutating: number; minimum: number; ratio: string }[] = [];
  const row = (operation: string, n: number, minimum: number) => {
    const total = calls.calls.length / n;
    rows.push({
      operation,
      calls: +total.toFixed(2),
      mutating: +(calls.mutating().length / n).toFixed(2),
      minimum,
      ratio: minimum ? (total / minimum).toFixed(2) : total === 0 ? '0' : 'n/a',
    });
  };

  // the first Service pays the cluster's one-time setup (shared groups, node rule, subnet discovery, limits)
  calls.reset();
  await provider.ensure(services[0]!, signal);
  const setupCalls = calls.calls.map((c) => c.operation);

  calls.reset();
  const started = Date.now();
  await pool(services.slice(1), CONCURRENCY, async (lb) => void (await provider.ensure(lb, signal)));
  const convergeMs = Date.now() - started;
  row(`create (${PORTS} ports)`, SERVICES - 1, 1 + 3 * PORTS);
  const createMix = new Map<string, number>();
  for (const c of calls.calls) createMix.set(c.operation, (createMix.get(c.operation) ?? 0) + 1);

  // the controller's recheck of an NLB still provisioning, until AWS (here moto) says active
  calls.reset();
  let rechecks = 0;
  for (let pending = services; pending.length > 0 && rechecks < 5; rechecks++) {
    const still: typeof services = [];
    await pool(pending, CONCURRENCY, async (lb) => void (!(await provider.ensure(lb, signal)).ready && still.push(lb)));
    pending = still;
  }
  row(`provisioning recheck (${rechecks} round${rechecks === 1 ? '' : 's'})`, SERVICES, 1);

  calls.reset();
  const resyncStarted = Date.now();
  let changed = 0;
  await pool(
    services,
    CONCURRENCY,
    async (lb) => void (changed += (await provider.ensure(lb, signal)).changed ? 1 : 0),
  );
  const resyncMs = Date.now() - resyncStarted;
  row('steady-state resync', SERVICES, 4 + PORTS);
  const resyncMutating = calls.mutating().length;

  calls.reset();
  const nodeStarted = Date.now();
  await pool(services, CONCURRENCY, async (lb) => provider.updateTargets({ ...lb, targets: fx.nodes(6) }, signal));
  const nodeMs = Date.now() - nodeStarted;
  row('node added (per Service)', SERVICES, PORTS);
  const registers = calls.count('RegisterTargets');

  calls.reset();
  await pool(services, CONCURRENCY, async (lb) => provider.delete(lb.ref, signal));
  row('delete', SERVICES, 3 + PORTS);

  console.log(
    `AWS provider against moto: ${SERVICES} Services x ${PORTS} ports, ${CONCURRENCY} workers, default rates ${JSON.stringify(DEFAULT_RATES)}`,
  );
  console.log(`cluster setup (once, first Service): ${setupCalls.length} calls: ${setupCalls.join(' ')}`);
  console.table(rows);
  console.log(`create mix for ${SERVICES - 1} Services: ${[...createMix].map(([k, v]) => `${k}=${v}`).join(' ')}`);
  console.log(
    `time for ${SERVICES - 1} Services to converge: ${(convergeMs / 1000).toFixed(1)} s (the ELBv2 bucket's floor: ${(((SERVICES - 1) * (1 + 3 * PORTS) - DEFAULT_RATES.elbv2.burst) / DEFAULT_RATES.elbv2.qps).toFixed(1)} s for ${(SERVICES - 1) * (1 + 3 * PORTS)} ELBv2 calls at ${DEFAULT_RATES.elbv2.qps} qps, burst ${DEFAULT_RATES.elbv2.burst})`,
  );
  console.log(
    `steady-state resync of ${SERVICES}: ${(resyncMs / 1000).toFixed(1)} s, mutating calls ${resyncMutating}, changed ${changed}`,
  );
  console.log(
    `node added to ${SERVICES} Services: ${registers} RegisterTargets for ${SERVICES * PORTS} target groups in ${(nodeMs / 1000).toFixed(1)} s`,
  );
  console.log(
    JSON.stringify({
      bench: 'aws-calls',
      services: SERVICES,
      ports: PORTS,
      rows,
      convergeMs,
      resyncMs,
      resyncMutating,
      nodeMs,
      registers,
    }),
  );
  await provider.close();
} finally {
  await moto.stop();
}
