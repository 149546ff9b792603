/**
 * Issue 3 end to end, with real packets: the whole product. A real kube-apiserver (reachable from the test
 * namespaces through the harness's bridge address), the controller CLI with the local provider in proxy mode
 * (nftables) running in the lb namespace, three Nodes whose InternalIPs are node namespaces serving the
 * Service's NodePorts and kube-proxy's /healthz on 10256, and clients sending TCP and UDP to the VIP.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { readdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { netnsSupport, Topology } from '../netns/topology.ts';
import type { RpcClient } from '../netns/rpc.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { createNode, uniqueNamespace, waitFor } from '../harness/fixtures.ts';

const support = netnsSupport();
if (!support.ok) console.warn(`skipping controller proxy e2e: ${support.reason}`);
const suite = support.ok ? describe : describe.skip;

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = `${REPO}bin/lb-provisioner.js`;
const DEPLOY = `${REPO}deploy/`;
/** 10.213.SUBNET.0/24 is the bridge; the host (root namespace) is .1 on it, where the apiserver forwarder listens */
const SUBNET = 23;
/** the pool lives off the bridge: the client and the outside client route it via the lb host */
const POOL_NET = '10.213.123.0/24';
const POOL = '10.213.123.8/29';
const NODES = ['node1', 'node2', 'node3'] as const;
const METRICS_PORT = 19464;
const UPSTREAM_FINALIZER = 'service.kubernetes.io/load-balancer-cleanup';

interface GetResult {
  ok: boolean;
  body: string;
}
const nodeOf = (r: GetResult): string => (r.ok ? (JSON.parse(r.body) as { node: string }).node : `error:${r.body}`);

interface Controller {
  child: ChildProcess;
  exited: Promise<void>;
}

// 3x the 2 s the design promises: a loose bound for a shared, loaded 2-core machine (failover time is a
// benchmark's figure, not a unit test's)
const FAILOVER_BOUND_MS = 6_000;

suite('controller + local provider + proxy data plane (nftables), real packets', () => {
  let topo: Topology | undefined;
  let cp: ControlPlane | undefined;
  let core: k8s.CoreV1Api;
  let controllerKubeconfig: string;
  let controller: Controller | undefined;
  const logs: string[] = [];
  let client: RpcClient;
  let outside: RpcClient;
  let lbHost: RpcClient;
  const node: Record<string, RpcClient> = {};
  let ns: string;
  const name = 'web';
  let vip: string;
  let tcpNodePort: number;
  let udpNodePort: number;

  const logTail = (): string => logs.slice(-40).join('\n');
  /** waitFor, with the controller's last log lines in the error */
  const until = async <T>(fn: () => T | Promise<T>, message: string, timeoutMs = 10_000): Promise<NonNullable<T>> => {
    try {
      return await waitFor(fn, { message, timeoutMs, intervalMs: 50 });
    } catch (err) {
      throw new Error(`${(err as Error).message}\ncontroller log (last lines):\n${logTail()}`, { cause: err });
    }
  };

  const startController = (): Controller => {
    if (topo === undefined) throw new Error('no topology');
    const child = topo.spawn(
      'lb',
      process.execPath,
      [
        BIN,
        'run',
        '--kubeconfig',
        controllerKubeconfig,
        '--provider',
        'local',
        '--pool',
        POOL,
        '--dataplane',
        'proxy',
        '--proxy-backend',
        'nftables',
        '--vip-interface',
        'lbp0',
        '--cluster-name',
        'e2e',
        // inside the lb namespace only: the test reads reconcile counts through an agent there
        '--metrics-bind-address',
        `127.0.0.1:${METRICS_PORT}`,
        // a restarted process keeps its identity (as a restarted container keeps its pod name), so it takes
        // its own lease back at once instead of waiting for it to expire
        '--leader-elect-identity',
        'e2e-lb-host',
        '--log-level',
        'debug',
      ],
      { cwd: REPO },
    );
    const keep = (line: string): void => {
      logs.push(line);
      if (logs.length > 2000) logs.splice(0, logs.length - 2000);
    };
    createInterface({ input: child.stdout! }).on('line', keep);
    createInterface({ input: child.stderr! }).on('line', (l) => keep(`stderr: ${l}`));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return { child, exited };
  };

  const killController = async (): Promise<void> => {
    const c = controller;
    controller = undefined;
    if (c === undefined || c.child.exitCode !== null || c.child.signalCode !== null) return;
    c.child.kill('SIGKILL');
    await c.exited;
  };

  const readSvc = (): Promise<k8s.V1Service> => core.readNamespacedService({ name, namespace: ns });
  const get = (from: RpcClient, url: string, count = 1, concurrency = 1, timeoutMs = 1500): Promise<GetResult[]> =>
    from.call('get', { url, count, concurrency, timeoutMs });
  const udpAsk = (from: RpcClient, opts: { count?: number; timeoutMs?: number } = {}): Promise<Array<string | null>> =>
    from.call('udpAsk', { host: vip, port: 53, ...opts });
  const url = (): string => `http://${vip}/`;
  /** successful syncs of the running controller (its /metrics, read inside the lb namespace) */
  const successfulSyncs = async (): Promise<number> => {
    const [r] = await get(lbHost, `http://127.0.0.1:${METRICS_PORT}/metrics`, 1, 1, 1000);
    if (!r?.ok) return -1;
    const m = /^lbprovisioner_reconcile_duration_seconds_count\{[^}]*outcome="success"[^}]*\} (\d+)/m.exec(r.body);
    return m ? Number(m[1]) : 0;
  };
  const vipsOnLb = async (): Promise<string> =>
    topo!.exec('lb', 'ip', ['-o', '-4', 'addr', 'show', 'dev', 'lbp0']).catch((err: unknown) => String(err));

  beforeAll(async () => {
    topo = await Topology.create({
      hosts: { client: 2, lb: 10, node1: 11, node2: 12, node3: 13, outside: 100 },
      subnet: SUBNET,
      hostLink: true,
      routes: [{ to: POOL_NET, via: 'lb' }],
    });
    // the host's leg on the bridge: the apiserver forwarder listens there
    cp = await startControlPlane({ bridgeAddress: `10.213.${SUBNET}.1` });
    const crds = (await readdir(`${DEPLOY}crds`))
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .map((f) => `${DEPLOY}crds/${f}`);
    for (const file of [...crds, `${DEPLOY}controller/rbac.yaml`]) {
      const r = await cp.kubectl(['apply', '--server-side', '-f', file]);
      if (r.code !== 0) throw new Error(`kubectl apply ${file}: ${r.stderr}`);
    }
    if (crds.length) {
      const r = await cp.kubectl([
        'wait',
        '--for=condition=Established',
        '--timeout=30s',
        ...crds.flatMap((f) => ['-f', f]),
      ]);
      if (r.code !== 0) throw new Error(`CRDs not established: ${r.stderr}`);
    }
    if (cp.bridgeUrl === undefined) throw new Error('the control plane has no bridge URL');
    controllerKubeconfig = await cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner', {
      server: cp.bridgeUrl,
    });
    const admin = cp.kubeConfig();
    core = admin.makeApiClient(k8s.CoreV1Api);
    for (const n of NODES) await createNode(admin, { name: n, internalIP: topo.addr4(n) });

    client = topo.agent('client');
    outside = topo.agent('outside');
    lbHost = topo.agent('lb', 'lb-host');
    for (const n of NODES) node[n] = topo.agent(n);

    ns = await uniqueNamespace(admin, 'e2e');
    const created = await core.createNamespacedService({
      namespace: ns,
      body: {
        metadata: { name },
        spec: {
          type: 'LoadBalancer',
          ports: [
            { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 },
            { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
          ],
        },
      },
    });
    const ports = created.spec?.ports ?? [];
    tcpNodePort = ports.find((p) => p.protocol === 'TCP')?.nodePort ?? 0;
    udpNodePort = ports.find((p) => p.protocol === 'UDP')?.nodePort ?? 0;
    if (!tcpNodePort || !udpNodePort) throw new Error(`the apiserver allocated no nodePorts: ${JSON.stringify(ports)}`);
    // kube-proxy stand-ins: the NodePorts the apiserver allocated, and /healthz on 10256
    for (const n of NODES) {
      await node[n]!.call('http', { port: tcpNodePort });
      await node[n]!.call('udp', { port: udpNodePort });
      await node[n]!.call('http', { port: 10256 });
    }

    controller = startController();
    const svc = await until(async () => {
      const s = await readSvc();
      return s.status?.loadBalancer?.ingress?.[0]?.ip ? s : undefined;
    }, 'the Service to get an ingress IP');
    vip = svc.status!.loadBalancer!.ingress![0]!.ip!;
  }, 90_000);

  afterAll(async () => {
    if (process.env['LBP_TEST_LOG']) console.log(logs.join('\n'));
    await killController().catch(() => {});
    await topo?.destroy().catch((err: unknown) => console.warn(`topology cleanup: ${String(err)}`));
    await cp?.stop().catch((err: unknown) => console.warn(`control plane cleanup: ${String(err)}`));
  }, 60_000);

  it('gives the Service a VIP from the pool with ipMode Proxy, a finalizer, and kernel forwarding', async () => {
    const svc = await readSvc();
    expect(svc.status?.loadBalancer?.ingress).toEqual([expect.objectContaining({ ip: vip, ipMode: 'Proxy' })]);
    expect(vip).toMatch(/^10\.213\.123\.(8|9|1[0-5])$/);
    expect(svc.metadata?.finalizers).toContain(UPSTREAM_FINALIZER);
    expect(await vipsOnLb()).toContain(`${vip}/32`);
    // the nftables back end forwards: our table in the lb namespace holds the Service
    const table = await topo!.exec('lb', 'nft', ['list', 'table', 'inet', 'lbprovisioner']);
    expect(table).toContain(`${ns}/${name}`);
    // --proxy-backend nftables was honoured as given, not picked by auto's dry run
    expect(logs.some((l) => l.includes('proxy back end: nftables (as configured)'))).toBe(true);
  });

  it('spreads TCP and UDP from the client over all three nodes', async () => {
    // random spread: with 60 requests a node below 5 is a one-in-100,000 event, not noise
    const seen = (await get(client, url(), 60, 3)).map(nodeOf);
    for (const n of NODES) expect(seen.filter((s) => s === n).length).toBeGreaterThanOrEqual(5);
    expect(seen.filter((s) => s.startsWith('error'))).toEqual([]);
    const udpNodes = new Set<string>();
    for (let i = 0; i < 30 && udpNodes.size < 3; i++) {
      // a new socket (source port) each time: a new flow
      const [reply] = await udpAsk(client, { timeoutMs: 1000 });
      udpNodes.add(String(reply).split(' ')[0]!);
    }
    expect([...udpNodes].sort()).toEqual([...NODES]);
  });

  it('takes a node whose backend and /healthz died out of rotation (2 s by design), with a TargetUnhealthy Event', async () => {
    expect((await get(client, url(), 9, 3)).filter((r) => !r.ok)).toEqual([]);
    await node.node2!.call('close', { protocol: 'tcp', port: tcpNodePort });
    await node.node2!.call('close', { protocol: 'udp', port: udpNodePort });
    await node.node2!.call('close', { protocol: 'tcp', port: 10256 });
    const killedAt = Date.now();
    // real requests, new connections: the last one that failed (or reached node2) started at `lastBad`
    let lastBad = -1;
    let good = 0;
    let sawFailure = false;
    while (good < 45) {
      const t = Date.now() - killedAt;
      if (t > FAILOVER_BOUND_MS + 6000) throw new Error(`node2 still in rotation ${t} ms after it died\n${logTail()}`);
      const batch = (await get(client, url(), 3, 3, 1000)).map(nodeOf);
      if (batch.some((n) => n !== 'node1' && n !== 'node3')) {
        lastBad = t;
        good = 0;
        sawFailure ||= batch.some((n) => n.startsWith('error'));
      } else {
        good += batch.length;
      }
    }
    // the probe was really dead for a while (requests to node2 were refused), and not for long
    expect(sawFailure).toBe(true);
    expect(lastBad).toBeLessThanOrEqual(FAILOVER_BOUND_MS);
    const event = await until(async () => {
      const list = await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` });
      return list.items.find((e) => e.reason === 'TargetUnhealthy' && e.message?.includes('node2'));
    }, 'a TargetUnhealthy Event for node2 on the Service');
    expect(event.type).toBe('Warning');
    expect(event.involvedObject.kind).toBe('Service');
  });

  it('with loadBalancerSourceRanges set to the client /32, the outside client gets nothing through (TCP and UDP)', async () => {
    // the positive control, TCP and UDP: before the ranges the outside client is served
    expect((await get(outside, url(), 2, 1, 1000)).every((r) => r.ok)).toBe(true);
    expect((await udpAsk(outside, { count: 1, timeoutMs: 1000 }))[0]).toMatch(/^node[13] /);
    await core.patchNamespacedService(
      { name, namespace: ns, body: { spec: { loadBalancerSourceRanges: [`${topo!.addr4('client')}/32`] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await until(async () => !(await get(outside, url(), 1, 1, 500))[0]!.ok, 'the outside client to be refused');
    const refused = await get(outside, url(), 3, 3, 700);
    expect(refused.filter((r) => r.ok)).toEqual([]);
    expect(await udpAsk(outside, { count: 2, timeoutMs: 500 })).toEqual([null, null]);
    const allowed = (await get(client, url(), 12, 3)).map(nodeOf);
    expect(allowed.filter((n) => n !== 'node1' && n !== 'node3')).toEqual([]);
    expect((await udpAsk(client, { count: 1, timeoutMs: 1000 }))[0]).toMatch(/^node[13] /);
  });

  it('survives a SIGKILLed controller: an established connection keeps working and the VIP and status stay', async () => {
    const held = await client.call<{ id: number; body: string }>('hold', { url: url() });
    const heldNode = nodeOf({ ok: true, body: held.body });
    expect(heldNode).toMatch(/^node[13]$/);
    const before = await readSvc();

    await killController();
    const heldGet = async (): Promise<{ node: string; req: number }> =>
      JSON.parse(await client.call<string>('heldGet', { id: held.id, url: url() })) as { node: string; req: number };
    // nothing is in charge now: the kernel keeps forwarding
    expect(await heldGet()).toMatchObject({ node: heldNode, req: 2 });
    expect(await vipsOnLb()).toContain(`${vip}/32`);

    controller = startController();
    await until(async () => (await successfulSyncs()) >= 1, 'the restarted controller to sync the Service', 15_000);
    expect(await heldGet()).toMatchObject({ node: heldNode, req: 3 });
    // the restart rebuilt our addresses: the VIP once, nothing else
    const addrs = await vipsOnLb();
    expect(addrs.match(/inet \S+/g)).toEqual([`inet ${vip}/32`]);
    const after = await readSvc();
    expect(after.status).toEqual(before.status);
    const seen = (await get(client, url(), 12, 3)).map(nodeOf);
    expect(seen.filter((n) => n !== 'node1' && n !== 'node3')).toEqual([]);
  });

  it('deleting the Service removes the VIP, its forwarding and the finalizer: nothing answers on the VIP', async () => {
    await core.deleteNamespacedService({ name, namespace: ns });
    await until(async () => {
      try {
        await readSvc();
        return false;
      } catch (err) {
        return (err as { code?: number }).code === 404;
      }
    }, 'the Service to be gone (finalizer removed)');
    await until(async () => !(await vipsOnLb()).includes(`${vip}/`), 'the VIP to leave lbp0', 5000);
    expect(await topo!.exec('lb', 'nft', ['list', 'table', 'inet', 'lbprovisioner'])).not.toContain(`${ns}/${name}`);
    // nothing answers on the VIP any more (here the lb host has no route for a freed pool address: no reply at all)
    const r = await get(client, url(), 3, 3, 700);
    expect(r.filter((x) => x.ok)).toEqual([]);
    expect(await udpAsk(client, { count: 1, timeoutMs: 500 })).toEqual([null]);
  });
});
