/**
 * Azure benchmark: 200 LoadBalancer Services created at once, the controller (`lb-provisioner run
 * --provider azure`) in its own process against a real apiserver and the fake ARM with fixed latencies:
 * every PUT and DELETE answers after PUT_MS, and every long-running operation takes LRO_MS (Azure's
 * ~20 s, scaled down by a constant, like the PUT's 200 ms is not). Prints load-balancer PUTs and the
 * batch coalescing achieved, the time until every Service has an address against the target of ten PUT
 * round trips, and the writes of a drift pass at steady state (target: none). Then, in the same run,
 * one-Service-at-a-time reconciliation (`--workers 1`: every Service waits for the previous one's
 * writes, as cloud-provider-azure's one shared load balancer does) on SERIAL Services, for contrast.
 *
 *   npm run bench:azure        (SERVICES=200 SERIAL=20 WORKERS=64 PUT_MS=200 LRO_MS=200 to change the load)
 */
import { aService } from '../test/builders/service.ts';
import { createNode, uniqueNamespace, waitFor } from '../test/harness/fixtures.ts';
import { ownedBy } from '../test/azure-fake/inventory.ts';
import { startFakeArmWorld, type FakeArmWorld } from '../test/azure-fake/world.ts';
import { startAzureController, type ControllerProcess } from '../test/integration/azure-controller.ts';
import { startCluster, type Cluster } from '../test/integration/support.ts';

const SERVICES = Number(process.env['SERVICES'] ?? 200);
const SERIAL = Number(process.env['SERIAL'] ?? 20);
const PUT_MS = Number(process.env['PUT_MS'] ?? 200);
const LRO_MS = Number(process.env['LRO_MS'] ?? 200);
const READ_MS = Number(process.env['READ_MS'] ?? 20);
const CONCURRENCY = 32;
const WORKERS = Number(process.env['WORKERS'] ?? 64);
const RESYNC_S = 20;
const LB_PATH = /loadBalancers\/[^/]+$/;
const log = (line: string) => console.error(`bench: ${line}`);

interface Burst {
  services: number;
  seconds: number;
  lbPuts: number;
  nsgPuts: number;
  pipPuts: number;
  poolPuts: number;
  p50: number;
  p99: number;
  /** Services per load-balancer PUT: the growth of the frontend count from one accepted PUT to the next */
  batches: number[];
  /** seconds after the first create: the first and last public-IP PUT (when the controller began each Service's Azure work) */
  pipFirst: number;
  pipLast: number;
  /** seconds after the first create: the controller's first request to ARM */
  firstArm: number;
}

async function burst(cluster: Cluster, world: FakeArmWorld, ns: string, count: number, prefix: string): Promise<Burst> {
  const since = Date.now();
  const created = new Map<string, number>();
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const queue = [...names];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        created.set(name, Date.now());
        await cluster.core.createNamespacedService({
          namespace: ns,
          body: aService(name, ns).withPorts(80).manifest(),
        });
      }
    }),
  );
  const addressed = new Map<string, number>();
  await waitFor(
    async () => {
      const list = await cluster.core.listNamespacedService({ namespace: ns });
      for (const s of list.items)
        if (s.status?.loadBalancer?.ingress?.[0]?.ip && !addressed.has(s.metadata!.name!))
          addressed.set(s.metadata!.name!, Date.now());
      return names.every((n) => addressed.has(n));
    },
    { message: `${count} Services to get addresses`, timeoutMs: 30 * 60_000, intervalMs: 50 },
  );
  const writes = world.fake.writes().filter((c) => c.at >= since && c.method === 'PUT');
  const sizes = writes.filter((c) => LB_PATH.test(c.path) && c.frontends !== undefined).map((c) => c.frontends!);
  const batches = sizes.map((n, i) => n - (i === 0 ? 0 : sizes[i - 1]!)).filter((d) => d > 0);
  const pipTimes = writes.filter((c) => /publicIPAddresses/.test(c.path)).map((c) => c.at);
  const latencies = names.map((n) => (addressed.get(n)! - created.get(n)!) / 1000).sort((a, b) => a - b);
  return {
    services: count,
    seconds: (Math.max(...addressed.values()) - since) / 1000,
    lbPuts: writes.filter((c) => LB_PATH.test(c.path)).length,
    nsgPuts: writes.filter((c) => /networkSecurityGroups/.test(c.path)).length,
    pipPuts: writes.filter((c) => /publicIPAddresses/.test(c.path)).length,
    poolPuts: writes.filter((c) => /backendAddressPools/.test(c.path)).length,
    p50: latencies[Math.floor(latencies.length / 2)]!,
    p99: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!,
    batches,
    firstArm: ((world.fake.calls.find((c) => c.at >= since)?.at ?? NaN) - since) / 1000,
    pipFirst: (Math.min(...pipTimes) - since) / 1000,
    pipLast: (Math.max(...pipTimes) - since) / 1000,
  };
}

async function deleteAll(cluster: Cluster, ns: string): Promise<void> {
  const list = await cluster.core.listNamespacedService({ namespace: ns });
  await Promise.all(
    list.items.map((s) => cluster.core.deleteNamespacedService({ name: s.metadata!.name!, namespace: ns })),
  );
  await waitFor(async () => (await cluster.core.listNamespacedService({ namespace: ns })).items.length === 0, {
    message: 'every Service to be let go',
    timeoutMs: 30 * 60_000,
    intervalMs: 200,
  });
}

async function main(): Promise<void> {
  log(
    `starting the control plane and the fake ARM (PUT ${PUT_MS} ms, long-running operations ${LRO_MS} ms, reads ${READ_MS} ms)`,
  );
  const [cluster, world] = await Promise.all([
    startCluster(),
    startFakeArmWorld({ latency: { writeMs: PUT_MS, operationMs: LRO_MS, readMs: READ_MS } }),
  ]);
  let controller: ControllerProcess | undefined;
  try {
    for (let i = 0; i < 3; i++)
      await createNode(cluster.admin, { name: `node-${i}`, internalIP: `10.240.3.${10 + i}` });
    // one PUT round trip: the PUT's answer, then its long-running operation
    const roundTrip = (PUT_MS + LRO_MS) / 1000;

    log(`coalescing controller (--workers ${WORKERS}): ${SERVICES} Services at once`);
    controller = await startAzureController(world, cluster.controllerKubeconfig, {
      cluster: 'bench',
      workers: WORKERS,
      extraArgs: ['--resync-period', `${RESYNC_S}s`],
    });
    const ns = await uniqueNamespace(cluster.admin, 'bench');
    const fast = await burst(cluster, world, ns, SERVICES, 'svc');
    log(`steady state: counting writes over a drift pass (${RESYNC_S} s, jittered)`);
    const quietFrom = Date.now();
    await new Promise((r) => setTimeout(r, RESYNC_S * 1.25 * 1000));
    const steadyWrites = world.fake.writes().filter((c) => c.at >= quietFrom).length;
    const steadyReads = world.fake.calls.filter((c) => c.at >= quietFrom && c.method === 'GET').length;
    await deleteAll(cluster, ns);
    const leftover = ownedBy(world.fake, 'bench').total;
    await controller.stop();

    log(`serial controller (--workers 1): ${SERIAL} Services`);
    controller = await startAzureController(world, cluster.controllerKubeconfig, { cluster: 'serial', workers: 1 });
    const ns2 = await uniqueNamespace(cluster.admin, 'serial');
    const serial = await burst(cluster, world, ns2, SERIAL, 'one');
    await deleteAll(cluster, ns2);
    await controller.stop();
    controller = undefined;

    // the batch coalescing achieves under the PUT latency: the largest number of Services one PUT carried
    const batch = Math.max(...fast.batches);
    const row = (name: string, b: Burst) =>
      `| ${name} | ${b.services} | ${b.seconds.toFixed(1)} s | ${(b.seconds / roundTrip).toFixed(1)} | ${b.lbPuts} | ${(b.services / b.lbPuts).toFixed(1)} | ${b.nsgPuts} | ${b.pipPuts} | ${b.p50.toFixed(2)} / ${b.p99.toFixed(2)} s |`;
    console.log(`
| path | Services | first create -> last address | in PUT round trips (${roundTrip.toFixed(1)} s) | load-balancer PUTs | Services per PUT | NSG PUTs | public-IP PUTs | p50 / p99 |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${row(`coalescing (--workers ${WORKERS})`, fast)}
${row('one at a time (--workers 1)', serial)}

| target | result | met |
| --- | --- | --- |
| load-balancer PUTs <= ceil(${SERVICES} / batch) + 5 | ${fast.lbPuts} PUTs; batches ${fast.batches.join(', ')} (largest ${batch}: ceil + 5 = ${Math.ceil(SERVICES / batch) + 5}) | ${fast.lbPuts <= Math.ceil(SERVICES / batch) + 5 ? 'yes' : 'no'} |
| all ${SERVICES} addressed <= 10 PUT round trips (${(10 * roundTrip).toFixed(1)} s) | ${fast.seconds.toFixed(1)} s | ${fast.seconds <= 10 * roundTrip ? 'yes' : 'no'} |
| steady state: zero writes | ${steadyWrites} writes (${steadyReads} reads) over a drift pass | ${steadyWrites === 0 ? 'yes' : 'no'} |
| nothing owned after delete | ${leftover} resources | ${leftover === 0 ? 'yes' : 'no'} |

The controller's first ARM request came ${fast.firstArm.toFixed(1)} s after the first create; it began the Azure work of the ${SERVICES} Services (their public-IP PUTs) between ${fast.pipFirst.toFixed(1)} s and ${fast.pipLast.toFixed(1)} s after the first create; the last address came ${(fast.seconds - fast.pipLast).toFixed(1)} s (${((fast.seconds - fast.pipLast) / roundTrip).toFixed(1)} PUT round trips) after the last of them.
one at a time: ${(serial.seconds / serial.services).toFixed(2)} s per Service, so ${SERVICES} Services would take about ${((serial.seconds / serial.services) * SERVICES).toFixed(0)} s and ${SERVICES} load-balancer PUTs.`);
  } finally {
    await controller?.stop();
    await Promise.all([cluster.stop(), world.stop()]);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
