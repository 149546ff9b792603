/**
 * The Azure provider against the fake ARM (real SDK, real HTTPS): what a Service gets, what ARM sees,
 * and how writes behave under races, throttling and rejection. Assertions read the fake's store and call
 * log, not the provider's own view.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { aLoadBalancer } from '../../test/builders/load-balancer.ts';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { isProviderError } from '../../src/model/errors.ts';
import { startFakeArmWorld, NSG, RG, type FakeArmWorld } from '../../test/azure-fake/world.ts';
import { ownedBy } from '../../test/azure-fake/inventory.ts';
import type { Json } from '../../test/azure-fake/state.ts';
import { AZURE_ANNOTATION as A } from './annotations.ts';
import type { AzureProvider } from './provider.ts';

const signal = new AbortController().signal;
const props = (x: Json | undefined): Json => (x?.['properties'] as Json | undefined) ?? {};
const list = (x: unknown): Json[] => (Array.isArray(x) ? (x as Json[]) : []);
const LB_PUT = /loadBalancers\/[^/]+$/;

describe('Azure provider against the fake ARM', () => {
  let world: FakeArmWorld;
  let provider: AzureProvider;
  let cluster = '';
  let n = 0;

  beforeAll(async () => {
    world = await startFakeArmWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });
  beforeEach(() => {
    cluster = `c${++n}`;
    provider = world.newProvider(cluster);
    world.fake.faults.length = 0;
  });

  const fake = () => world.fake;
  const lbBody = (internal = false) =>
    fake().state.get(fake().id(RG, 'loadBalancers', `${cluster}-lbp${internal ? '-internal' : ''}`))?.body;
  const svc = (name: string, ...ports: (number | [number, 'TCP' | 'UDP'])[]): DesiredLoadBalancer =>
    aLoadBalancer(name, cluster)
      .withPorts(...(ports.length ? ports : [80]))
      .withTargets('n1', 'n2')
      .build();
  const lbPuts = (since: number) =>
    fake()
      .writes(LB_PUT)
      .filter((c) => c.at >= since && c.method === 'PUT');

  it('gives a public Service its own public IP, one rule and probe per port on its NodePort, and NSG rules', async () => {
    const lb = svc('web', 80, [53, 'UDP']);
    const status = await provider.ensure(lb, signal);
    const body = lbBody()!;
    const pip = fake().state.get(fake().id(RG, 'publicIPAddresses', `lbp-${lb.ref.uid}`))!.body;
    expect(status.ingress).toEqual([{ ip: props(pip)['ipAddress'], ipMode: 'VIP' }]);
    expect(body['tags']).toMatchObject({ 'k8s-azure-cluster-name': cluster, 'lbprovisioner.io/cluster': cluster });
    expect(pip['tags']).toMatchObject({
      'k8s-azure-service': 'default/web',
      'lbprovisioner.io/service-uid': lb.ref.uid,
    });
    const rules = list(props(body)['loadBalancingRules']).map((r) => props(r));
    expect(rules.map((r) => [r['protocol'], r['frontendPort'], r['backendPort'], r['enableFloatingIP']])).toEqual([
      ['Tcp', 80, lb.ports[0]!.nodePort, false],
      ['Udp', 53, lb.ports[1]!.nodePort, false],
    ]);
    // cloud-provider-azure's shared-probe default for Cluster: kube-proxy's /healthz, UDP included
    const probes = list(props(body)['probes']).map((p) => props(p));
    expect(probes.map((p) => [p['protocol'], p['port'], p['requestPath']])).toEqual([
      ['Http', 10256, '/healthz'],
      ['Http', 10256, '/healthz'],
    ]);
    const pool = list(props(body)['backendAddressPools'])[0]!;
    expect(list(props(pool)['loadBalancerBackendAddresses']).map((a) => props(a)['ipAddress'])).toEqual([
      '10.0.0.10',
      '10.0.0.11',
    ]);
    const nsgRules = ownedBy(fake(), cluster).securityRules.map((r) => props(r));
    expect(
      nsgRules.map((r) => [r['sourceAddressPrefix'], r['protocol'], r['destinationPortRange'], r['access']]),
    ).toEqual([
      ['Internet', 'Tcp', String(lb.ports[0]!.nodePort), 'Allow'],
      ['Internet', 'Udp', String(lb.ports[1]!.nodePort), 'Allow'],
    ]);
    expect(fake().unknownProperties).toEqual([]);
    // every write said what it expected to find
    const writes = fake().writes();
    expect(writes.length).toBeGreaterThan(0);
    for (const w of writes) expect(w.ifMatch ?? w.ifNoneMatch).toBeDefined();
    expect((await provider.ensure(lb, signal)).changed).toBe(false);
    await provider.delete(lb.ref, signal);
    expect(ownedBy(fake(), cluster).total).toBe(0);
  });

  it('puts an internal Service on a private address of the internal load balancer, static when asked', async () => {
    const dynamic = svc('int-a');
    dynamic.annotations = { [A.internal]: 'true' };
    const fixed = svc('int-b');
    fixed.annotations = { [A.internal]: 'true', [A.internalSubnet]: 'ilb', [A.ipv4]: '10.241.0.50' };
    const [a, b] = await Promise.all([provider.ensure(dynamic, signal), provider.ensure(fixed, signal)]);
    expect(a.ingress[0]!.ip).toMatch(/^10\.240\.0\.\d+$/);
    expect(b.ingress).toEqual([{ ip: '10.241.0.50', ipMode: 'VIP' }]);
    expect(lbBody()).toBeUndefined();
    expect(list(props(lbBody(true))['frontendIPConfigurations'])).toHaveLength(2);
    const rules = ownedBy(fake(), cluster).securityRules.map((r) => props(r)['sourceAddressPrefix']);
    expect(rules).toEqual(['VirtualNetwork', 'VirtualNetwork']);
    await provider.delete(dynamic.ref, signal);
    await provider.delete(fixed.ref, signal);
    expect(ownedBy(fake(), cluster).total).toBe(0);
  });

  it('admits only the source ranges and service tags asked for, and denies the rest when asked', async () => {
    const lb = svc('ranges');
    lb.sourceRanges = ['203.0.113.0/24'];
    lb.annotations = {
      [A.allowedIpRanges]: '198.51.100.0/24',
      [A.allowedServiceTags]: 'AzureFrontDoor.Backend',
      [A.denyAllExceptSourceRanges]: 'true',
    };
    await provider.ensure(lb, signal);
    const rules = ownedBy(fake(), cluster).securityRules.map((r) => props(r));
    expect(
      rules.map((r) => [r['access'], r['sourceAddressPrefix'] ?? r['sourceAddressPrefixes'], r['priority']]),
    ).toEqual([
      ['Allow', ['198.51.100.0/24', '203.0.113.0/24'], 500],
      ['Allow', 'AzureFrontDoor.Backend', 501],
      ['Deny', '*', 4096],
    ]);
    await provider.delete(lb.ref, signal);
  });

  it('coalesces the load-balancer writes of many Services created at once, and loses none', async () => {
    // a little latency, as in Azure, so that Services arrive while a write is under way
    Object.assign(fake().latency, { writeMs: 30, operationMs: 100 });
    const since = Date.now();
    const lbs = Array.from({ length: 30 }, (_, i) => svc(`burst-${i}`));
    const statuses = await Promise.all(lbs.map((lb) => provider.ensure(lb, signal)));
    Object.assign(fake().latency, { writeMs: 0, operationMs: 0 });
    expect(statuses.every((s) => s.ingress.length === 1)).toBe(true);
    expect(list(props(lbBody())['frontendIPConfigurations'])).toHaveLength(30);
    // the first PUT creates the load balancer while the rest wait: then one or two more
    expect(lbPuts(since).length).toBeLessThanOrEqual(4);
    expect(
      fake()
        .writes(/networkSecurityGroups/)
        .filter((c) => c.at >= since).length,
    ).toBeLessThanOrEqual(4);
    await Promise.all(lbs.map((lb) => provider.delete(lb.ref, signal)));
    expect(ownedBy(fake(), cluster).total).toBe(0);
  });

  it('one Service that ARM refuses never fails the others: the coalesced PUT is bisected', async () => {
    const good = Array.from({ length: 9 }, (_, i) => svc(`ok-${i}`));
    const bad = svc('bad');
    // an address outside every subnet: only ARM knows, so the coalesced PUT is rejected
    bad.annotations = { [A.internal]: 'true', [A.ipv4]: '192.0.2.7' };
    for (const g of good) g.annotations = { [A.internal]: 'true' };
    await provider.ensure(svc('first'), signal); // the public load balancer exists; the internal one is made in the burst
    const results = await Promise.allSettled([...good, bad].map((lb) => provider.ensure(lb, signal)));
    expect(results.slice(0, 9).every((r) => r.status === 'fulfilled')).toBe(true);
    const err = (results[9] as PromiseRejectedResult).reason as Error & { reason: string; terminal: boolean };
    expect(isProviderError(err)).toBe(true);
    expect(err.reason).toBe('InvalidSpec');
    expect(err.message).toMatch(/192\.0\.2\.7/);
    expect(list(props(lbBody(true))['frontendIPConfigurations'])).toHaveLength(9);
    expect(provider.writers.get(`${cluster}-lbp-internal`)!.stats.bisections).toBeGreaterThan(0);
  });

  it('a 412 from an outside writer means re-read, rebuild, write again, keeping what the other wrote', async () => {
    const first = svc('race-a');
    await provider.ensure(first, signal);
    const lbId = fake().id(RG, 'loadBalancers', `${cluster}-lbp`);
    // someone edits the load balancer between our read and our write: our PUT arrives stale
    fake().inject({
      method: 'PUT',
      path: LB_PUT,
      before: () =>
        fake().state.mutate(
          lbId,
          (b) => ((b['tags'] as Record<string, string>)['owner-note'] = 'edited in the portal'),
        ),
    });
    const since = Date.now();
    await provider.ensure(svc('race-b'), signal);
    const puts = lbPuts(since);
    expect(puts.map((c) => c.status)).toEqual([412, 200]);
    expect(puts[0]!.ifMatch).toBeDefined();
    expect((lbBody()!['tags'] as Record<string, string>)['owner-note']).toBe('edited in the portal');
    expect(list(props(lbBody())['frontendIPConfigurations'])).toHaveLength(2);
  });

  it('a 429 pauses every write of the subscription until its Retry-After has passed', async () => {
    await provider.ensure(svc('throttle-a'), signal);
    fake().inject({ method: 'PUT', path: LB_PUT, status: 429, code: 'TooManyRequests', retryAfterSeconds: 1 });
    const since = Date.now();
    await Promise.all([provider.ensure(svc('throttle-b'), signal), provider.ensure(svc('throttle-c'), signal)]);
    const writes = fake()
      .writes()
      .filter((c) => c.at >= since);
    const throttled = writes.find((c) => c.status === 429)!;
    const after = writes.filter((c) => c.at > throttled.at);
    expect(after.length).toBeGreaterThan(0);
    // nothing was written in the pause, not even another resource's write
    for (const w of after) expect(w.at - throttled.at).toBeGreaterThanOrEqual(950);
  });

  it('another operation in progress, or a superseded one, requeues with backoff', async () => {
    await provider.ensure(svc('busy-a'), signal);
    fake().inject({ method: 'PUT', path: LB_PUT, status: 409, code: 'AnotherOperationInProgress' });
    const busy = await provider.ensure(svc('busy-b'), signal).catch((e: unknown) => e);
    expect(busy).toMatchObject({ reason: 'AzureBusy', terminal: false });
    fake().inject({
      method: 'PUT',
      path: LB_PUT,
      operation: { status: 'Canceled', code: 'CanceledAndSupersededDueToAnotherOperation' },
    });
    const superseded = await provider.ensure(svc('busy-c'), signal).catch((e: unknown) => e);
    expect(superseded).toMatchObject({ terminal: false });
    expect(typeof (superseded as { delayMs?: number }).delayMs).toBe('number');
  });

  it('node churn goes through the backend-pool child API and never rewrites the load balancer', async () => {
    const lb = svc('churn');
    await provider.ensure(lb, signal);
    const since = Date.now();
    const grown = { ...lb, targets: aLoadBalancer('x').withTargets('n1', 'n2', 'n3').build().targets };
    await provider.updateTargets(grown, signal);
    const writes = fake()
      .writes()
      .filter((c) => c.at >= since);
    expect(writes.map((w) => [w.method, w.path.split('/').slice(-2).join('/')])).toEqual([
      ['PUT', `backendAddressPools/${cluster}-lbp`],
    ]);
    expect((await provider.ensure(grown, signal)).changed).toBe(false);
  });

  it('keeps a public IP the user brought, and a shared one while another Service uses it', async () => {
    const byoId = fake().id(RG, 'publicIPAddresses', `byo-${cluster}`);
    fake().state.put(byoId, 'Microsoft.Network/publicIPAddresses', {
      location: fake().location,
      sku: { name: 'Standard' },
      properties: { publicIPAllocationMethod: 'Static' },
    });
    const a = svc('byo-a', 80);
    a.annotations = { [A.pipName]: `byo-${cluster}` };
    const b = svc('byo-b', 443);
    b.annotations = { [A.pipName]: `byo-${cluster}` };
    const [sa, sb] = [await provider.ensure(a, signal), await provider.ensure(b, signal)];
    expect(sa.ingress).toEqual(sb.ingress);
    expect(list(props(lbBody())['frontendIPConfigurations'])).toHaveLength(1);
    await provider.delete(a.ref, signal);
    expect(list(props(lbBody())['frontendIPConfigurations'])).toHaveLength(1);
    await provider.delete(b.ref, signal);
    expect(fake().state.get(byoId)).toBeDefined();
    expect(lbBody()).toBeUndefined();

    // our own public IP, shared by a second Service through its address: kept until both are gone
    const owner = svc('shared-owner', 80);
    const ip = (await provider.ensure(owner, signal)).ingress[0]!.ip!;
    const sharer = svc('shared-user', 8080);
    sharer.requestedIPs = [ip];
    expect((await provider.ensure(sharer, signal)).ingress[0]!.ip).toBe(ip);
    await provider.delete(owner.ref, signal);
    expect(ownedBy(fake(), cluster).publicIps).toHaveLength(1);
    await provider.delete(sharer.ref, signal);
    // the last user let go: the owner's frontend and its public IP go with the sharer's removal
    expect(await provider.list(signal)).toEqual([]);
    expect(ownedBy(fake(), cluster).total).toBe(0);
  });

  it('an interrupted delete is finished by the next one, from the ref alone', async () => {
    const lb = svc('interrupted');
    await provider.ensure(lb, signal);
    fake().inject({ method: 'DELETE', path: /publicIPAddresses/, status: 500, code: 'InternalServerError' });
    await expect(provider.delete(lb.ref, signal)).rejects.toThrow(/public IP/);
    expect(ownedBy(fake(), cluster).publicIps).toHaveLength(1);
    const [ref] = await provider.list(signal);
    expect(ref).toEqual(lb.ref);
    await provider.delete(ref!, signal);
    expect(ownedBy(fake(), cluster).total).toBe(0);
  });

  it("never lists another cluster's resources", async () => {
    const other = world.newProvider(`${cluster}-other`);
    const theirs = aLoadBalancer('theirs', `${cluster}-other`).withPorts(80).withTargets('n1').build();
    await other.ensure(theirs, signal);
    const mine = svc('mine');
    await provider.ensure(mine, signal);
    expect((await provider.list(signal)).map((r) => r.uid)).toEqual([mine.ref.uid]);
    await other.delete(theirs.ref, signal);
    await provider.delete(mine.ref, signal);
  });

  it('refuses what Azure cannot do with a condition naming the annotation', async () => {
    const pls = svc('pls');
    pls.annotations = { 'service.beta.kubernetes.io/azure-pls-create': 'true' };
    await expect(provider.ensure(pls, signal)).rejects.toMatchObject({
      reason: 'InvalidSpec',
      message: expect.stringMatching(/azure-pls-create/),
    });
    const probe = svc('probe');
    // as the model reads them through AZURE_HEALTH_CHECK (src/model/health-check.ts)
    probe.annotations = { [A.probeInterval]: '50', [A.probeCount]: '3' };
    probe.healthCheck = { ...probe.healthCheck, intervalSeconds: 50, unhealthyThreshold: 3 };
    await expect(provider.ensure(probe, signal)).rejects.toMatchObject({
      reason: 'InvalidAnnotation',
      message: expect.stringMatching(/num-of-probe.*under 120/),
    });
    expect(fake().writes().length).toBeGreaterThan(0); // earlier tests wrote; this one must not have
    expect(ownedBy(fake(), cluster).total).toBe(0);
  });

  it('plan() prints what ensure would do and planDelete() what delete would remove, changing nothing', async () => {
    const lb = svc('planned', 80);
    const before = fake().writes().length;
    const steps = await provider.plan(lb, signal);
    expect(steps.map((s) => `${s.action} ${s.resource}`)).toEqual([
      'create PublicIPAddress',
      'create SecurityRule',
      'create LoadBalancer',
      'create FrontendIPConfiguration',
      'create LoadBalancingRule',
      'create Probe',
      'create BackendAddressPool',
    ]);
    expect(fake().writes().length).toBe(before);
    await provider.ensure(lb, signal);
    expect(await provider.plan(lb, signal)).toEqual([]);
    const removal = await provider.planDelete(lb.ref, signal);
    expect(removal.map((s) => `${s.action} ${s.resource}`)).toEqual(['delete LoadBalancer', 'delete SecurityRule']);
    await provider.delete(lb.ref, signal);
  });

  it('finds the NSG rules it needs in the shared NSG without colliding with rules it does not own', async () => {
    const nsgId = fake().id(RG, 'networkSecurityGroups', NSG);
    fake().state.mutate(nsgId, (b) => {
      (b['properties'] as Json)['securityRules'] = [
        {
          name: 'ssh',
          properties: {
            protocol: 'Tcp',
            sourceAddressPrefix: '*',
            sourcePortRange: '*',
            destinationAddressPrefix: '*',
            destinationPortRange: '22',
            access: 'Allow',
            direction: 'Inbound',
            priority: 500,
          },
        },
      ];
    });
    const lb = svc('prio');
    await provider.ensure(lb, signal);
    const ours = ownedBy(fake(), cluster).securityRules.map((r) => props(r)['priority']);
    expect(ours).toEqual([501]);
    await provider.delete(lb.ref, signal);
    expect(list(props(fake().state.get(nsgId)!.body)['securityRules']).map((r) => r['name'])).toEqual(['ssh']);
  });

  it('gives a dual-stack Service a frontend, rules and a public IP per family, on a pool per family', async () => {
    const lb = svc('dual', 80);
    lb.ipFamilies = ['IPv4', 'IPv6'];
    lb.ipFamilyPolicy = 'RequireDualStack';
    lb.targets = [{ name: 'n1', addresses: ['10.0.0.10', 'fd00:240::10'], labels: {} }];
    const status = await provider.ensure(lb, signal);
    expect(status.ingress.map((i) => i.ip)).toEqual([
      expect.stringMatching(/^198\.1[89]\./),
      expect.stringMatching(/^2001:db8:/),
    ]);
    const body = lbBody()!;
    expect(list(props(body)['frontendIPConfigurations']).map((f) => f['name'])).toEqual([
      `lbp-${lb.ref.uid}`,
      `lbp-${lb.ref.uid}-v6`,
    ]);
    expect(
      list(props(body)['loadBalancingRules']).map((r) =>
        String((props(r)['backendAddressPool'] as Json)['id'])
          .split('/')
          .pop(),
      ),
    ).toEqual([`${cluster}-lbp`, `${cluster}-lbp-ipv6`]);
    const pools = list(props(body)['backendAddressPools']).map((p) =>
      list(props(p)['loadBalancerBackendAddresses']).map((a) => props(a)['ipAddress']),
    );
    expect(pools).toEqual([['10.0.0.10'], ['fd00:240::10']]);
    expect(ownedBy(fake(), cluster).publicIps.map((p) => props(p)['publicIPAddressVersion'])).toEqual(['IPv4', 'IPv6']);
    await provider.delete(lb.ref, signal);
    expect(ownedBy(fake(), cluster).total).toBe(0);
  });

  it("checks Azure's limits before writing: 300 rules reach every node NIC", async () => {
    const big = aLoadBalancer('big', cluster)
      .withPorts(...Array.from({ length: 301 }, (_, i) => 1000 + i))
      .withTargets('n1')
      .build();
    const since = Date.now();
    await expect(provider.ensure(big, signal)).rejects.toMatchObject({
      reason: 'QuotaExceeded',
      message: expect.stringMatching(/300 rules per node NIC/),
    });
    expect(
      fake()
        .writes(LB_PUT)
        .filter((c) => c.at >= since),
    ).toEqual([]);
    await provider.delete(big.ref, signal);
    expect(ownedBy(fake(), cluster).total).toBe(0);
  });
});
