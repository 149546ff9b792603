/**
 * The local provider's pools against a real apiserver: IPPool objects, requests in our, MetalLB's and
 * kube-vip's spellings, adoption, every bad-input case, exhaustion then release, and a restart that
 * changes nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { createLocalProvider } from '../../providers/local/index.ts';
import { aService } from '../builders/service.ts';
import { uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import { silentLogger } from '../../src/log.ts';
import type { ServiceController } from '../../src/controller/controller.ts';
import {
  deleteService,
  ensuresRecorded,
  eventsOf,
  readService,
  readyOf,
  startCluster,
  startController,
  waitForEvent,
  waitForService,
  type Cluster,
} from './support.ts';

const ipsOf = (s: k8s.V1Service | undefined) => (s?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip);
const hasIngress = (s: k8s.V1Service) => ipsOf(s).length > 0;
const group = { group: 'lbprovisioner.io', version: 'v1alpha1', plural: 'ippools' };

describe('local provider pools (real apiserver)', () => {
  let cluster: Cluster;
  let ns: string;
  let custom: k8s.CustomObjectsApi;
  let controller: ServiceController | undefined;

  async function startLocal(flagPools: string[] = []): Promise<ServiceController> {
    const provider = await createLocalProvider({
      clusterName: 'it',
      pools: flagPools,
      dataplane: 'none',
      log: silentLogger(),
    });
    controller = await startController(cluster, { providers: [provider] });
    return controller;
  }

  async function pool(name: string, spec: Record<string, unknown>): Promise<void> {
    await custom.createClusterCustomObject({
      ...group,
      body: { apiVersion: 'lbprovisioner.io/v1alpha1', kind: 'IPPool', metadata: { name }, spec },
    });
  }

  async function create(svc: k8s.V1Service): Promise<void> {
    await cluster.core.createNamespacedService({ namespace: ns, body: svc });
  }

  beforeAll(async () => {
    cluster = await startCluster();
    custom = cluster.admin.makeApiClient(k8s.CustomObjectsApi);
    ns = await uniqueNamespace(cluster.admin, 'pools');
    await pool('main', { addresses: ['192.0.2.0/28', 'fd00:192::/120'], priority: 10 });
    await pool('reserved', { addresses: ['198.51.100.0/30'], autoAssign: false });
    await pool('tiny', { addresses: ['203.0.113.9'], autoAssign: false });
    await pool('broken', { addresses: ['10.0.0.0/33'] });
  });
  afterEach(async () => {
    await controller?.stop();
    controller = undefined;
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('allocates from the IPPool, records the allocation on the Service, and shows pool usage', async () => {
    await startLocal();
    await create(aService('first', ns).withPorts(80).manifest());
    const svc = await waitForService(cluster, ns, 'first', hasIngress, 'an address');
    expect(ipsOf(svc)).toEqual(['192.0.2.0']);
    expect(svc.status!.loadBalancer!.ingress![0]!.ipMode).toBe('VIP');
    expect(svc.metadata!.annotations!['lbprovisioner.io/allocated-ips']).toBe('192.0.2.0');
    expect(svc.metadata!.annotations!['lbprovisioner.io/ip-allocated-from-pool']).toBe('main');
    const main = await waitFor(
      async () => {
        const p = (await custom.getClusterCustomObject({ ...group, name: 'main' })) as { status?: { used?: string } };
        return p.status?.used === '1' ? p : undefined;
      },
      { message: 'IPPool main to show 1 used', timeoutMs: 5000 },
    );
    expect(main).toMatchObject({ status: { used: '1', conditions: [{ type: 'Valid', status: 'True' }] } });
    const broken = (await custom.getClusterCustomObject({ ...group, name: 'broken' })) as {
      status?: { conditions?: { status: string; message: string }[] };
    };
    expect(broken.status?.conditions?.[0]).toMatchObject({
      status: 'False',
      message: expect.stringContaining('10.0.0.0/33'),
    });
    await deleteService(cluster, ns, 'first');
  });

  it('honours requests in every spelling: ours, spec.loadBalancerIP, MetalLB, kube-vip; and dual stack', async () => {
    await startLocal();
    await create(
      aService('ours', ns).withPorts(80).withAnnotations({ 'lbprovisioner.io/ips': '192.0.2.7' }).manifest(),
    );
    await create(
      aService('spec', ns)
        .withPorts(80)
        .with((s) => (s.spec!.loadBalancerIP = '192.0.2.8'))
        .manifest(),
    );
    await create(
      aService('metallb', ns)
        .withPorts(80)
        .withAnnotations({ 'metallb.io/loadBalancerIPs': '198.51.100.2' })
        .manifest(),
    );
    await create(
      aService('kubevip', ns).withPorts(80).withAnnotations({ 'kube-vip.io/loadbalancerIPs': '192.0.2.9' }).manifest(),
    );
    await create(
      aService('pooled', ns)
        .withPorts(80)
        .withAnnotations({ 'metallb.universe.tf/address-pool': 'reserved' })
        .manifest(),
    );
    await create(aService('dual', ns).withPorts(80).dualStack().manifest());
    const expectations: [string, (ips: (string | undefined)[]) => void][] = [
      ['ours', (ips) => expect(ips).toEqual(['192.0.2.7'])],
      ['spec', (ips) => expect(ips).toEqual(['192.0.2.8'])],
      ['metallb', (ips) => expect(ips).toEqual(['198.51.100.2'])],
      ['kubevip', (ips) => expect(ips).toEqual(['192.0.2.9'])],
      ['pooled', (ips) => expect(ips[0]).toMatch(/^198\.51\.100\./)],
      [
        'dual',
        (ips) => expect(ips).toEqual([expect.stringMatching(/^192\.0\.2\./), expect.stringMatching(/^fd00:192::/)]),
      ],
    ];
    for (const [name, check] of expectations)
      check(ipsOf(await waitForService(cluster, ns, name, hasIngress, `an address for ${name}`)));
    for (const [name] of expectations) await deleteService(cluster, ns, name);
  });

  it('adopts an address a Service already shows (moving from MetalLB) instead of reallocating it', async () => {
    await create(aService('moved', ns).withPorts(80).manifest());
    await cluster.core.patchNamespacedServiceStatus(
      {
        name: 'moved',
        namespace: ns,
        body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.12', ipMode: 'VIP' }] } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const c = await startLocal();
    const svc = await waitForService(
      cluster,
      ns,
      'moved',
      (s) => Boolean(s.metadata?.annotations?.['lbprovisioner.io/allocated-ips']),
      'the adoption to be recorded',
    );
    expect(ipsOf(svc)).toEqual(['192.0.2.12']);
    expect(svc.metadata!.annotations!['lbprovisioner.io/allocated-ips']).toBe('192.0.2.12');
    await c.idle();
    expect(c.writer.counts.status).toBe(1); // only the Ready condition: the address was already right
    await deleteService(cluster, ns, 'moved');
  });

  const badInputs: [string, Record<string, string> | ((s: k8s.V1Service) => void), string, RegExp][] = [
    [
      'not-an-ip',
      { 'lbprovisioner.io/ips': '192.0.2.300' },
      'InvalidAnnotation',
      /lbprovisioner\.io\/ips.*192\.0\.2\.300/,
    ],
    [
      'outside',
      { 'lbprovisioner.io/ips': '203.0.113.200' },
      'InvalidAnnotation',
      /203\.0\.113\.200 is not in any IP pool/,
    ],
    [
      'taken',
      { 'lbprovisioner.io/ips': '192.0.2.1' },
      'InvalidAnnotation',
      /192\.0\.2\.1.*(taken|used|held|allocated)/i,
    ],
    ['unknown-pool', { 'lbprovisioner.io/pool': 'nope' }, 'InvalidAnnotation', /nope/],
    ['wrong-family', { 'lbprovisioner.io/ips': 'fd00:192::5' }, 'InvalidAnnotation', /fd00:192::5/],
    ['broken-pool', { 'lbprovisioner.io/pool': 'broken' }, 'InvalidAnnotation', /broken/],
    [
      'bad-health',
      { 'lbprovisioner.io/health-check-interval': 'often' },
      'InvalidAnnotation',
      /health-check-interval.*"often" is not accepted; use an integer from 1 to 300/,
    ],
    ['two-v4', { 'lbprovisioner.io/ips': '192.0.2.4,192.0.2.5' }, 'InvalidAnnotation', /192\.0\.2\.4/],
  ];

  it('refuses every bad input with a Warning Event and a False condition naming the problem; the others go on', async () => {
    const c = await startLocal();
    await create(
      aService('holder', ns).withPorts(80).withAnnotations({ 'lbprovisioner.io/ips': '192.0.2.1' }).manifest(),
    );
    await waitForService(cluster, ns, 'holder', hasIngress, 'the holder to get 192.0.2.1');
    for (const [name, input] of badInputs) {
      const b = aService(name, ns).withPorts(80);
      if (typeof input === 'function') b.with(input);
      else b.withAnnotations(input);
      await create(b.manifest());
    }
    await create(aService('bystander', ns).withPorts(80).manifest());
    for (const [name, , reason, pattern] of badInputs) {
      const svc = await waitForService(
        cluster,
        ns,
        name,
        (s) => readyOf(s)?.status === 'False',
        `a False condition on ${name}`,
      );
      expect(readyOf(svc)).toMatchObject({ reason });
      expect(readyOf(svc)!.message).toMatch(pattern);
      expect(ipsOf(svc)).toEqual([]);
      const event = await waitForEvent(cluster, ns, name, reason);
      expect(event.type).toBe('Warning');
      expect(event.message).toBe(readyOf(svc)!.message);
    }
    expect(
      ipsOf(await waitForService(cluster, ns, 'bystander', hasIngress, 'the bystander to get an address')),
    ).toHaveLength(1);
    // terminal: no retry storm, no second Event for the same problem
    const writes = c.writer.counts.status;
    await new Promise((r) => setTimeout(r, 1500));
    expect(c.writer.counts.status).toBe(writes);
    for (const [name, , reason] of badInputs)
      expect((await eventsOf(cluster, ns, name)).filter((e) => e.reason === reason)).toHaveLength(1);
    // fixing the annotation fixes the Service
    await cluster.core.patchNamespacedService(
      {
        name: 'not-an-ip',
        namespace: ns,
        body: { metadata: { annotations: { 'lbprovisioner.io/ips': '192.0.2.3' } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const fixed = await waitForService(
      cluster,
      ns,
      'not-an-ip',
      (s) => readyOf(s)?.status === 'True',
      'the fixed Service to be ready',
    );
    expect(ipsOf(fixed)).toEqual(['192.0.2.3']);
    for (const name of ['holder', 'bystander', ...badInputs.map((b) => b[0])]) await deleteService(cluster, ns, name);
  });

  it('pool exhausted: the waiting Service says so, and gets the address as soon as it is freed', async () => {
    await startLocal();
    await create(aService('tiny-a', ns).withPorts(80).withAnnotations({ 'lbprovisioner.io/pool': 'tiny' }).manifest());
    expect(ipsOf(await waitForService(cluster, ns, 'tiny-a', hasIngress, 'tiny-a to get the only address'))).toEqual([
      '203.0.113.9',
    ]);
    await create(aService('tiny-b', ns).withPorts(80).withAnnotations({ 'lbprovisioner.io/pool': 'tiny' }).manifest());
    const waiting = await waitForService(
      cluster,
      ns,
      'tiny-b',
      (s) => readyOf(s)?.status === 'False',
      'tiny-b to report exhaustion',
    );
    expect(readyOf(waiting)).toMatchObject({ reason: 'PoolExhausted', message: expect.stringContaining('tiny') });
    expect((await waitForEvent(cluster, ns, 'tiny-b', 'PoolExhausted')).type).toBe('Warning');
    const freedAt = Date.now();
    await deleteService(cluster, ns, 'tiny-a');
    const served = await waitForService(cluster, ns, 'tiny-b', hasIngress, 'tiny-b to get the freed address', 5000);
    expect(ipsOf(served)).toEqual(['203.0.113.9']);
    expect(readyOf(served)?.status).toBe('True');
    expect(Date.now() - freedAt).toBeLessThan(5000);
    await deleteService(cluster, ns, 'tiny-b');
  });

  it('an address only shown in a Service status (moving from MetalLB) is reserved before anything new is allocated', async () => {
    await pool('single', { addresses: ['203.0.113.20'], autoAssign: false });
    const wants = { 'lbprovisioner.io/pool': 'single' };
    // the migrated Service: its address is only in its status, no record of ours yet; named to sort last, so
    // the newcomer would be synced first and take the address if restore did not reserve it
    await create(aService('z-migrated', ns).withPorts(80).withAnnotations(wants).manifest());
    await cluster.core.patchNamespacedServiceStatus(
      { name: 'z-migrated', namespace: ns, body: { status: { loadBalancer: { ingress: [{ ip: '203.0.113.20' }] } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await create(aService('a-newcomer', ns).withPorts(80).withAnnotations(wants).manifest());
    await startLocal();
    const migrated = await waitForService(
      cluster,
      ns,
      'z-migrated',
      (s) => readyOf(s)?.status === 'True',
      'the migrated Service to be adopted',
    );
    expect(ipsOf(migrated)).toEqual(['203.0.113.20']);
    expect(migrated.metadata!.annotations!['lbprovisioner.io/allocated-ips']).toBe('203.0.113.20');
    const newcomer = await waitForService(
      cluster,
      ns,
      'a-newcomer',
      (s) => readyOf(s)?.reason === 'PoolExhausted',
      'the newcomer to wait for an address',
    );
    expect(ipsOf(newcomer)).toEqual([]);
    await deleteService(cluster, ns, 'a-newcomer');
    await deleteService(cluster, ns, 'z-migrated');
  });

  it('a restart with 200 Services up makes zero Service writes and changes no address', async () => {
    await pool('bulk', { addresses: ['10.10.0.0/24'], autoAssign: false });
    const first = await startLocal();
    const names = Array.from({ length: 200 }, (_, i) => `bulk-${i}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(
        names
          .slice(i, i + 20)
          .map((n) =>
            create(aService(n, ns).withPorts(80).withAnnotations({ 'lbprovisioner.io/pool': 'bulk' }).manifest()),
          ),
      );
    }
    const before = await waitFor(
      async () => {
        const list = await cluster.core.listNamespacedService({ namespace: ns });
        const bulk = list.items.filter((s) => s.metadata!.name!.startsWith('bulk-'));
        return bulk.length === 200 && bulk.every(hasIngress)
          ? new Map(bulk.map((s) => [s.metadata!.name!, ipsOf(s)[0]]))
          : undefined;
      },
      { message: '200 Services to be addressed', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(new Set(before!.values()).size).toBe(200);
    await first.stop();
    controller = undefined;
    const second = await startLocal();
    // barrier: the new controller has synced every Service once (each gets an ensure on taking the lease)
    // and finished; only then does "it wrote nothing" mean something
    await waitFor(async () => ((await ensuresRecorded(second)) >= names.length ? true : undefined), {
      message: `the restarted controller to sync all ${names.length} Services`,
      timeoutMs: 60_000,
    });
    await second.idle();
    expect(second.writer.counts).toEqual({ metadata: 0, status: 0 });
    expect(second.events.written).toBe(0);
    for (const [name, ip] of before!) expect(ipsOf(await readService(cluster, ns, name))).toEqual([ip]);
    await Promise.all(names.map((n) => cluster.core.deleteNamespacedService({ name: n, namespace: ns })));
    await waitFor(
      async () => ((await cluster.core.listNamespacedService({ namespace: ns })).items.length === 0 ? true : undefined),
      {
        message: 'every Service to be cleaned up',
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    );
  }, 120_000);
});
