/**
 * The Azure provider end to end: `lb-provisioner run --provider azure` as its own process, under the
 * controller's ServiceAccount, against a real kube-apiserver and the fake ARM over HTTPS, with
 * credentials from the environment through the fake authority. Every check reads what a user sees (the
 * Service, its Events) or what exists in the fake ARM (its store and call log), never provider state.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { AZURE_ANNOTATION as A } from '../../providers/azure/annotations.ts';
import { aService } from '../builders/service.ts';
import { createNode, uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import { ownedBy } from '../azure-fake/inventory.ts';
import type { Json } from '../azure-fake/state.ts';
import { RG, startFakeArmWorld, type FakeArmWorld } from '../azure-fake/world.ts';
import { startAzureController, type ControllerProcess } from './azure-controller.ts';
import { deleteService, eventsOf, readService, readyOf, startCluster, type Cluster } from './support.ts';

const CLUSTER = 'azure-it';
const LB_PUT = /loadBalancers\/[^/]+$/;
/** the fake answers in milliseconds; these cover the controller's queue, retries and two busy cores */
const WAIT_MS = 30_000;
const props = (x: Json | undefined): Json => (x?.['properties'] as Json | undefined) ?? {};
const list = (x: unknown): Json[] => (Array.isArray(x) ? (x as Json[]) : []);

describe('Azure provider through the controller process (real apiserver, fake ARM)', () => {
  let cluster: Cluster | undefined;
  let world: FakeArmWorld | undefined;
  let controller: ControllerProcess | undefined;
  let ns = '';

  const kube = () => cluster!;
  const fake = () => world!.fake;
  const lbBody = (internal = false) =>
    fake().state.get(fake().id(RG, 'loadBalancers', `${CLUSTER}-lbp${internal ? '-internal' : ''}`))?.body;
  const rulesOf = (uid: string, internal = false) =>
    list(props(lbBody(internal))['loadBalancingRules'])
      .filter((r) => String(r['name']).startsWith(`lbp-${uid}`))
      .map((r) => props(r));
  const probesOf = (uid: string, internal = false) =>
    list(props(lbBody(internal))['probes'])
      .filter((r) => String(r['name']).startsWith(`lbp-${uid}`))
      .map((r) => props(r));
  const poolIps = () =>
    list(props(list(props(lbBody())['backendAddressPools'])[0])['loadBalancerBackendAddresses'])
      .map((a) => props(a)['ipAddress'])
      .sort();

  const create = async (svc: k8s.V1Service): Promise<void> => {
    svc.metadata!.namespace = ns;
    await kube().core.createNamespacedService({ namespace: ns, body: svc });
  };
  const ipOf = (s: k8s.V1Service | undefined) => s?.status?.loadBalancer?.ingress?.[0]?.ip;
  /** the Service once it has an address and a True condition */
  const waitReady = (name: string): Promise<k8s.V1Service> =>
    waitFor(
      async () => {
        const svc = await readService(kube(), ns, name);
        return svc && ipOf(svc) && readyOf(svc)?.status === 'True' ? svc : undefined;
      },
      {
        message: `${ns}/${name} to have an address\ncontroller log:\n${controller?.tail()}`,
        timeoutMs: WAIT_MS,
        intervalMs: 200,
      },
    );
  const nodePort = (svc: k8s.V1Service, port: number, protocol = 'TCP') =>
    svc.spec!.ports!.find((p) => p.port === port && (p.protocol ?? 'TCP') === protocol)!.nodePort!;

  beforeAll(async () => {
    [cluster, world] = await Promise.all([
      startCluster(),
      startFakeArmWorld({ latency: { writeMs: 20, operationMs: 100 } }),
    ]);
    for (const [i, name] of ['node-a', 'node-b'].entries())
      await createNode(kube().admin, { name, internalIP: `10.240.1.${10 + i}` });
    ns = await uniqueNamespace(kube().admin, 'azure');
    controller = await startAzureController(world, kube().controllerKubeconfig, { cluster: CLUSTER, workers: 64 });
  }, 180_000);

  afterAll(async () => {
    await controller?.stop();
    await Promise.all([cluster?.stop(), world?.stop()]);
  }, 60_000);

  it('gives public and internal Services their addresses, a rule and probe per port and protocol on the NodePorts', async () => {
    await create(aService('web').withPorts(80, [53, 'UDP']).manifest());
    await create(
      aService('private')
        .withPorts(443)
        .withAnnotations({ [A.internal]: 'true' })
        .manifest(),
    );
    const [web, priv] = [await waitReady('web'), await waitReady('private')];
    const pip = ownedBy(fake(), CLUSTER).publicIps.find(
      (p) => (p['tags'] as Record<string, string>)['lbprovisioner.io/service-uid'] === web.metadata!.uid,
    )!;
    expect(web.status!.loadBalancer!.ingress).toEqual([{ ip: props(pip)['ipAddress'], ipMode: 'VIP' }]);
    expect(ipOf(priv)).toMatch(/^10\.240\.\d+\.\d+$/);
    expect(
      rulesOf(web.metadata!.uid!).map((r) => [
        r['protocol'],
        r['frontendPort'],
        r['backendPort'],
        r['enableFloatingIP'],
      ]),
    ).toEqual([
      ['Tcp', 80, nodePort(web, 80), false],
      ['Udp', 53, nodePort(web, 53, 'UDP'), false],
    ]);
    expect(rulesOf(priv.metadata!.uid!, true).map((r) => r['backendPort'])).toEqual([nodePort(priv, 443)]);
    expect(poolIps()).toEqual(['10.240.1.10', '10.240.1.11']);
    expect(fake().unknownProperties).toEqual([]);
  });

  it('probes kube-proxy for Cluster and the healthCheckNodePort for Local, UDP included', async () => {
    await create(aService('local').withPorts([5353, 'UDP']).local().manifest());
    const local = await waitReady('local');
    const web = (await readService(kube(), ns, 'web'))!;
    expect(probesOf(web.metadata!.uid!).map((p) => [p['protocol'], p['port'], p['requestPath']])).toEqual([
      ['Http', 10256, '/healthz'],
      ['Http', 10256, '/healthz'],
    ]);
    expect(probesOf(local.metadata!.uid!).map((p) => [p['protocol'], p['port'], p['requestPath']])).toEqual([
      ['Http', local.spec!.healthCheckNodePort, '/healthz'],
    ]);
  });

  it('admits only the source ranges in the NSG', async () => {
    await create(
      aService('ranged')
        .withPorts(8443)
        .with((s) => (s.spec!.loadBalancerSourceRanges = ['203.0.113.0/24', '198.51.100.0/25']))
        .manifest(),
    );
    const svc = await waitReady('ranged');
    const rules = ownedBy(fake(), CLUSTER)
      .securityRules.filter((r) => String(r['name']).includes(svc.metadata!.uid!))
      .map((r) => props(r));
    expect(rules.map((r) => [r['sourceAddressPrefixes'], r['destinationPortRange'], r['access']])).toEqual([
      [['198.51.100.0/25', '203.0.113.0/24'], String(nodePort(svc, 8443)), 'Allow'],
    ]);
  });

  it('follows node churn through the backend-pool API alone', async () => {
    const since = Date.now();
    await createNode(kube().admin, { name: 'node-c', internalIP: '10.240.1.12' });
    await waitFor(() => poolIps().length === 3, { message: 'the pool to take node-c', timeoutMs: WAIT_MS });
    const writes = fake()
      .writes()
      .filter((c) => c.at >= since);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((c) => /backendAddressPools\//.test(c.path))).toBe(true);
  });

  it('creates 50 Services at once with a few coalesced load-balancer PUTs, losing none', async () => {
    const since = Date.now();
    const names = Array.from({ length: 50 }, (_, i) => `burst-${i}`);
    await Promise.all(names.map((n) => create(aService(n).withPorts(80).manifest())));
    const ready = await Promise.all(names.map((n) => waitReady(n)));
    expect(new Set(ready.map(ipOf)).size).toBe(50);
    const puts = fake()
      .writes(LB_PUT)
      .filter((c) => c.at >= since && c.method === 'PUT');
    // one Service at a time would be 50; the writer batches whatever waits while a PUT is under way, and
    // Services reach it spread over the controller's own work: at least two to a PUT
    expect(puts.length).toBeLessThanOrEqual(25);
    expect(list(props(lbBody())['frontendIPConfigurations']).length).toBeGreaterThanOrEqual(53);
  });

  it('one Service ARM refuses among 50: the other 49 converge, the one gets a Warning and a condition', async () => {
    const names = Array.from({ length: 49 }, (_, i) => `ilb-${i}`);
    const internal = { [A.internal]: 'true' };
    await Promise.all([
      ...names.map((n) => create(aService(n).withPorts(80).withAnnotations(internal).manifest())),
      // an address no subnet holds: nothing but ARM can tell, so it rides in the coalesced PUT
      create(
        aService('ilb-bad')
          .withPorts(80)
          .withAnnotations({ ...internal, [A.ipv4]: '192.0.2.9' })
          .manifest(),
      ),
    ]);
    const ready = await Promise.all(names.map((n) => waitReady(n)));
    expect(ready.every((s) => /^10\.240\./.test(ipOf(s) ?? ''))).toBe(true);
    const bad = await waitFor(
      async () => {
        const s = await readService(kube(), ns, 'ilb-bad');
        return readyOf(s)?.status === 'False' && readyOf(s)?.reason === 'InvalidSpec' ? s : undefined;
      },
      { message: 'ilb-bad to carry an InvalidSpec condition', timeoutMs: WAIT_MS },
    );
    expect(readyOf(bad)!.message).toMatch(/192\.0\.2\.9/);
    expect(
      (await eventsOf(kube(), ns, 'ilb-bad')).some((e) => e.type === 'Warning' && e.reason === 'InvalidSpec'),
    ).toBe(true);
    // a Service ARM refuses is a change still pending: a restart would try it again (once)
    await deleteService(kube(), ns, 'ilb-bad');
  });

  it('wins a 412 race with an outside writer and keeps what it wrote', async () => {
    const lbId = fake().id(RG, 'loadBalancers', `${CLUSTER}-lbp`);
    fake().inject({
      method: 'PUT',
      path: LB_PUT,
      before: () => fake().state.mutate(lbId, (b) => ((b['tags'] as Record<string, string>)['outside'] = 'portal')),
    });
    const since = Date.now();
    await create(aService('race').withPorts(80).manifest());
    await waitReady('race');
    const puts = fake()
      .writes(LB_PUT)
      .filter((c) => c.at >= since && c.method === 'PUT');
    expect(puts.map((c) => c.status)).toEqual([412, 200]);
    expect((lbBody()!['tags'] as Record<string, string>)['outside']).toBe('portal');
  });

  it('a 429 pauses every write until its Retry-After', async () => {
    fake().inject({ method: 'PUT', path: LB_PUT, status: 429, code: 'TooManyRequests', retryAfterSeconds: 2 });
    const since = Date.now();
    await Promise.all(['throttled-a', 'throttled-b'].map((n) => create(aService(n).withPorts(80).manifest())));
    await Promise.all(['throttled-a', 'throttled-b'].map((n) => waitReady(n)));
    const writes = fake()
      .writes()
      .filter((c) => c.at >= since);
    const throttled = writes.find((c) => c.status === 429)!;
    const later = writes.filter((c) => c.at > throttled.at);
    expect(later.length).toBeGreaterThan(0);
    for (const w of later) expect(w.at - throttled.at).toBeGreaterThanOrEqual(1900);
  });

  it('keeps a public IP the user brought, and a shared one while another Service uses it', async () => {
    const byoId = fake().id(RG, 'publicIPAddresses', 'byo-ip');
    fake().state.put(byoId, 'Microsoft.Network/publicIPAddresses', {
      location: fake().location,
      sku: { name: 'Standard' },
      properties: { publicIPAllocationMethod: 'Static' },
    });
    await create(
      aService('byo')
        .withPorts(80)
        .withAnnotations({ [A.pipName]: 'byo-ip' })
        .manifest(),
    );
    expect(ipOf(await waitReady('byo'))).toBe(props(fake().state.get(byoId)!.body)['ipAddress']);
    await deleteService(kube(), ns, 'byo');
    expect(fake().state.get(byoId)).toBeDefined();

    const owner = await waitReady('web');
    await create(
      aService('sharer')
        .withPorts(8080)
        .with((s) => (s.spec!.loadBalancerIP = ipOf(owner)))
        .manifest(),
    );
    expect(ipOf(await waitReady('sharer'))).toBe(ipOf(owner));
    await deleteService(kube(), ns, 'web');
    const pipsOfWeb = () =>
      ownedBy(fake(), CLUSTER).publicIps.filter(
        (p) => (p['tags'] as Record<string, string>)['lbprovisioner.io/service-uid'] === owner.metadata!.uid,
      );
    expect(pipsOfWeb()).toHaveLength(1);
    expect(ipOf(await readService(kube(), ns, 'sharer'))).toBe(ipOf(owner));
  });

  it('finishes an interrupted delete', async () => {
    await create(aService('interrupted').withPorts(80).manifest());
    await waitReady('interrupted');
    fake().inject({ method: 'DELETE', path: /publicIPAddresses/, status: 500, code: 'InternalServerError' });
    await kube().core.deleteNamespacedService({ name: 'interrupted', namespace: ns });
    await waitFor(async () => (await readService(kube(), ns, 'interrupted')) === undefined, {
      message: 'interrupted to be gone',
      timeoutMs: WAIT_MS,
    });
    expect((await eventsOf(kube(), ns, 'interrupted')).some((e) => e.type === 'Warning')).toBe(true);
  });

  it('after a restart with nothing changed, writes nothing', async () => {
    await controller!.stop();
    const before = fake().writes().length;
    const reads = fake().calls.length;
    controller = await startAzureController(world!, kube().controllerKubeconfig, { cluster: CLUSTER, workers: 64 });
    // every Service is synced once at start: wait until the reads stop, then count the writes
    let last = -1;
    await waitFor(
      () => {
        const now = fake().calls.length;
        const settled = now === last && now > reads;
        last = now;
        return settled;
      },
      { message: 'the restarted controller to sync every Service', timeoutMs: WAIT_MS, intervalMs: 1500 },
    );
    expect(
      fake()
        .writes()
        .slice(before)
        .map((c) => `${c.method} ${c.path} ${c.status} ${c.error ?? ''}`),
    ).toEqual([]);
  });

  it('leaves nothing owned after every Service is deleted', async () => {
    const all = await kube().core.listNamespacedService({ namespace: ns });
    await Promise.all(
      all.items.map((s) => kube().core.deleteNamespacedService({ name: s.metadata!.name!, namespace: ns })),
    );
    await waitFor(async () => (await kube().core.listNamespacedService({ namespace: ns })).items.length === 0, {
      message: `every Service to be let go\ncontroller log:\n${controller?.tail()}`,
      timeoutMs: 60_000,
    });
    await waitFor(() => ownedBy(fake(), CLUSTER).total === 0, {
      message: `nothing owned left: ${JSON.stringify(ownedBy(fake(), CLUSTER).total)}`,
      timeoutMs: WAIT_MS,
    });
    expect(controller!.logs.join('\n')).not.toContain('not-a-real-secret');
  });
});
