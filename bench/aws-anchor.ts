/**
 * Workload 5 of the anchors benchmark (issue 12): ours (`lb-provisioner run --provider aws`) and
 * cloud-provider-aws's service controller in NLB mode, one after the other against the same moto server
 * (reset in between), the same Nodes and the same Services, each through a recording proxy that counts
 * every AWS call the same way. cloud-provider-aws runs at its shipped settings (no client-side AWS rate
 * limit, 1 service worker) and again with the proxy holding its calls to our provider's default rates
 * (equal client rates).
 *
 *   node bench/aws-anchor.ts [--quick] [--out <dir>]     SERVICES (100; 10 quick)  PORTS (2)
 *   node bench/aws-anchor.ts --render <aws.json> --out <dir>   the tables again from a run's results
 *
 * Per side: burst-create the Services (time until every one has its address), then add a Node (time
 * until the last mutating call), then restart the controller (a steady-state resync: everything exists).
 * Writes aws.json and aws.md into the output directory.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateTagsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { startControlPlane } from '../test/harness/controlplane.ts';
import { SERVICE_NODE_PORT_RANGE } from '../src/devcluster/components.ts';
import { clusterFixture, motoClients, startMoto, MOTO_REGION, type ClusterFixture } from '../test/harness/moto.ts';
import { PRODUCTION_MALLOC_ENV, PRODUCTION_NODE_OPTIONS } from '../src/cli/runtime-flags.ts';
import { startAwsProxy, type AwsCall, type AwsProxy } from './lib/aws-proxy.ts';
import { KubeHttp, inParallel } from './lib/kube-http.ts';
import { machine, now } from './lib/machine.ts';
import { markdownTable, seconds, verdict } from './lib/markdown.ts';
import { spawnProc, type Proc } from './lib/proc.ts';
import type { TargetRow } from './controllers/report.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, render: { type: 'string' } },
});
const QUICK = values.quick;
const RENDER = values.render ? (JSON.parse(readFileSync(values.render, 'utf8')) as RenderInput) : undefined;
const SERVICES = RENDER?.services ?? Number(process.env['SERVICES'] ?? (QUICK ? 10 : 100));
const PORTS = RENDER?.ports ?? Number(process.env['PORTS'] ?? 2);
const NODES = 6;
const CLUSTER = 'bench';
const QUIET_MS = 10_000;
const OUT =
  values.out ??
  fileURLToPath(new URL(`./results/${now().slice(0, 10)}-local${QUICK ? '-quick' : ''}/`, import.meta.url));
const BIN = fileURLToPath(new URL('../bin/lb-provisioner.js', import.meta.url));
const log = (line: string) => console.error(`bench: ${line}`);
const AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: MOTO_REGION,
  AWS_DEFAULT_REGION: MOTO_REGION,
  AWS_EC2_METADATA_DISABLED: 'true',
};

type SideId = 'ours' | 'cpa-shipped' | 'cpa-equal';
const SIDES: { id: SideId; label: string }[] = [
  { id: 'ours', label: 'ours (8 workers, our default AWS rates)' },
  { id: 'cpa-shipped', label: 'cloud-provider-aws (shipped: 1 worker, no AWS client rate limit)' },
  { id: 'cpa-equal', label: 'cloud-provider-aws at our AWS client rates (1 worker)' },
];

interface Phase {
  /** ms: create -> every address; node/resync -> last mutating call */
  ms: number;
  calls: number;
  mutating: number;
  byAction: Record<string, number>;
}

interface SideResult {
  side: SideId;
  addressed: number;
  create?: Phase;
  nodeAdded?: Phase;
  resync?: Phase;
  error?: string;
}

function phase(calls: AwsCall[], from: number, to: number, ms: number): Phase {
  const inWindow = calls.filter((c) => c.at >= from && c.at <= to);
  const byAction: Record<string, number> = {};
  for (const c of inWindow) byAction[`${c.api}:${c.action}`] = (byAction[`${c.api}:${c.action}`] ?? 0) + 1;
  return { ms, calls: inWindow.length, mutating: inWindow.filter((c) => c.mutating).length, byAction };
}

/** Waits until no call has arrived for QUIET_MS (after `from`); returns the time of the last call. */
async function quiet(proxy: AwsProxy, from: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const last = proxy.calls.at(-1)?.at ?? 0;
    if (last > from && performance.now() - last > QUIET_MS) return last;
    if (performance.now() > deadline) return NaN;
    await sleep(500);
  }
}

function lastMutating(proxy: AwsProxy, from: number): number {
  return proxy.calls.filter((c) => c.at >= from && c.mutating).at(-1)?.at ?? NaN;
}

async function main(): Promise<void> {
  log('building cloud-provider-aws (first run: from the Go module proxy, many minutes)');
  const { stdout } = await run('bash', [fileURLToPath(new URL('./anchors/build-anchors.sh', import.meta.url)), 'aws'], {
    maxBuffer: 64 << 20,
  });
  const ccm = stdout.trim().split(' ')[1]!;
  const moto = await startMoto();
  const cp = await startControlPlane({ log });
  const dir = mkdtempSync(join(tmpdir(), 'lbp-bench-aws-'));
  const results: SideResult[] = [];
  try {
    const kubectl = async (...args: string[]) => {
      const r = await cp.kubectl(args);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    };
    await kubectl(
      'apply',
      '--server-side',
      '-f',
      fileURLToPath(new URL('../deploy/controller/rbac.yaml', import.meta.url)),
    );
    await kubectl('create', 'namespace', 'bench-system');
    await kubectl('-n', 'bench-system', 'create', 'serviceaccount', 'aws-cloud-controller-manager');
    await kubectl(
      'create',
      'clusterrolebinding',
      'bench-ccm',
      '--clusterrole=cluster-admin',
      '--serviceaccount=bench-system:aws-cloud-controller-manager',
    );
    const api = KubeHttp.fromKubeconfig(cp.adminKubeconfigPath, { userAgent: 'bench', connections: 32 });
    const oursKubeconfig = await cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner');
    const ccmKubeconfig = await cp.serviceAccountKubeconfig('bench-system', 'aws-cloud-controller-manager');

    const only = process.env['ONLY']?.split(',');
    for (const side of SIDES.filter((s) => !only || only.includes(s.id))) {
      log(`${side.id}: fresh moto, ${NODES} nodes, ${SERVICES} Services x ${PORTS} ports`);
      const result: SideResult = { side: side.id, addressed: 0 };
      results.push(result);
      await moto.reset();
      const raw = motoClients(moto.endpoint);
      const fx = await clusterFixture(raw.ec2, CLUSTER, NODES + 1);
      // cloud-provider-aws only sees instances with the cluster tag (ours maps them by providerID)
      await raw.ec2.send(
        new CreateTagsCommand({
          Resources: fx.instances.map((i) => i.id),
          Tags: [{ Key: `kubernetes.io/cluster/${CLUSTER}`, Value: 'owned' }],
        }),
      );
      await routePublicSubnets(raw.ec2, fx);
      await resetNodes(api, fx, NODES);
      const proxy = await startAwsProxy(moto.endpoint);
      proxy.throttle(side.id === 'cpa-equal');
      const start = async (): Promise<Proc> =>
        side.id === 'ours'
          ? startOurs(proxy.endpoint, oursKubeconfig)
          : startCcm(ccm, dir, fx, proxy.endpoint, ccmKubeconfig);
      const ns = `aws-${side.id}`;
      await api.json('POST', '/api/v1/namespaces', { metadata: { name: ns } });
      let proc: Proc | undefined;
      try {
        proc = await start();
        // create
        const addressed = new Map<string, number>();
        const watch = await api.listWatch<{
          metadata?: { name?: string };
          status?: { loadBalancer?: { ingress?: unknown[] } };
        }>(`/api/v1/namespaces/${ns}/services`, (e) => {
          const name = e.object.metadata?.name ?? '';
          if (e.type !== 'DELETED' && !addressed.has(name) && (e.object.status?.loadBalancer?.ingress?.length ?? 0) > 0)
            addressed.set(name, performance.now());
        });
        const t0 = performance.now();
        await inParallel(
          Array.from({ length: SERVICES }, (_, i) => `svc-${i}`),
          32,
          (name) =>
            api
              .json('POST', `/api/v1/namespaces/${ns}/services`, {
                metadata: { name, annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' } },
                spec: {
                  type: 'LoadBalancer',
                  selector: { app: name },
                  ports: Array.from({ length: PORTS }, (_, p) => ({ name: `p${p}`, port: 80 + p, protocol: 'TCP' })),
                },
              })
              .then(() => undefined),
        );
        const deadline = t0 + 120_000 + SERVICES * 6_000;
        while (addressed.size < SERVICES && performance.now() < deadline) await sleep(200);
        watch.stop();
        result.addressed = addressed.size;
        const converged = addressed.size === SERVICES ? Math.max(...addressed.values()) - t0 : NaN;
        const createEnd = await quiet(proxy, t0, 300_000);
        result.create = phase(proxy.calls, t0, createEnd, converged);
        log(
          `${side.id}: ${addressed.size}/${SERVICES} addressed in ${seconds(converged)}; ${result.create.calls} calls, ${result.create.mutating} mutating`,
        );
        if (addressed.size < SERVICES)
          throw new Error(`only ${addressed.size} of ${SERVICES} Services got an address\n${proc.tail()}`);
        // a node added
        const t1 = performance.now();
        const extra = fx.nodes(1, NODES)[0]!;
        await createNode(api, extra.name, extra.providerID!, extra.zone!, extra.addresses[0]!);
        const nodeEnd = await quiet(proxy, t1, 600_000);
        result.nodeAdded = phase(proxy.calls, t1, nodeEnd, lastMutating(proxy, t1) - t1);
        log(
          `${side.id}: node added: ${result.nodeAdded.calls} calls, ${result.nodeAdded.mutating} mutating, last one after ${seconds(result.nodeAdded.ms)}`,
        );
        // steady-state resync: a restart re-ensures every Service on both sides
        await proc.stop();
        const t2 = performance.now();
        proc = await start();
        const resyncEnd = await quiet(proxy, t2, 600_000);
        result.resync = phase(proxy.calls, t2, resyncEnd, resyncEnd - t2);
        log(`${side.id}: resync after restart: ${result.resync.calls} calls, ${result.resync.mutating} mutating`);
      } catch (err) {
        const message = String(err instanceof Error ? err.message : err);
        log(`${side.id}: ${message}`);
        result.error = oneLine(message);
      } finally {
        await proc?.stop();
        await proxy.close();
        await emptyNamespace(api, ns);
      }
    }
    await api.close();
  } finally {
    await cp.stop();
    await moto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  write(results);
}

/** Public subnets route to an internet gateway, as a real cluster's do: cloud-provider-aws checks. */
async function routePublicSubnets(ec2: EC2Client, fx: ClusterFixture): Promise<void> {
  const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
  await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: fx.vpcId }));
  const rt = (await ec2.send(new CreateRouteTableCommand({ VpcId: fx.vpcId }))).RouteTable!.RouteTableId!;
  await ec2.send(new CreateRouteCommand({ RouteTableId: rt, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
  for (const subnet of fx.publicSubnets)
    await ec2.send(new AssociateRouteTableCommand({ RouteTableId: rt, SubnetId: subnet }));
}

async function resetNodes(api: KubeHttp, fx: ClusterFixture, n: number): Promise<void> {
  const { body } = await api.json<{ items: { metadata: { name: string } }[] }>('GET', '/api/v1/nodes');
  for (const node of body.items)
    await api.json('DELETE', `/api/v1/nodes/${node.metadata.name}`, undefined, { allow: [404] });
  for (const node of fx.nodes(n)) await createNode(api, node.name, node.providerID!, node.zone!, node.addresses[0]!);
}

async function createNode(api: KubeHttp, name: string, providerID: string, zone: string, ip: string): Promise<void> {
  await api.json('POST', '/api/v1/nodes', {
    metadata: { name, labels: { 'topology.kubernetes.io/zone': zone } },
    spec: { providerID },
  });
  const at = new Date().toISOString();
  await api.json(
    'PATCH',
    `/api/v1/nodes/${name}/status`,
    {
      status: {
        addresses: [
          { type: 'Hostname', address: name },
          { type: 'InternalIP', address: ip },
        ],
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'bench',
            lastHeartbeatTime: at,
            lastTransitionTime: at,
          },
        ],
      },
    },
    { contentType: 'application/merge-patch+json' },
  );
}

async function emptyNamespace(api: KubeHttp, ns: string): Promise<void> {
  const { body } = await api.json<{ items: { metadata: { name: string; finalizers?: string[] } }[] }>(
    'GET',
    `/api/v1/namespaces/${ns}/services`,
  );
  await inParallel(body.items, 16, async (svc) => {
    const path = `/api/v1/namespaces/${ns}/services/${svc.metadata.name}`;
    if (svc.metadata.finalizers?.length)
      await api.json(
        'PATCH',
        path,
        { metadata: { finalizers: null } },
        { contentType: 'application/merge-patch+json', allow: [404] },
      );
    await api.json('DELETE', path, undefined, { allow: [404] });
  });
}

async function startOurs(endpoint: string, kubeconfig: string): Promise<Proc> {
  const proc = spawnProc(
    process.execPath,
    [
      BIN,
      'run',
      '--kubeconfig',
      kubeconfig,
      '--provider',
      'aws',
      '--aws-endpoint',
      endpoint,
      '--aws-region',
      MOTO_REGION,
      '--cluster-name',
      CLUSTER,
      '--node-port-range',
      SERVICE_NODE_PORT_RANGE,
      '--metrics-bind-address',
      '0',
      '--log-level',
      'warn',
    ],
    {
      name: 'ours',
      env: { ...process.env, ...AWS_ENV, ...PRODUCTION_MALLOC_ENV, NODE_OPTIONS: PRODUCTION_NODE_OPTIONS },
      onLine: (l) => log(`ours: ${l}`),
    },
  );
  await sleep(1000);
  return proc;
}

async function startCcm(
  bin: string,
  dir: string,
  fx: ClusterFixture,
  endpoint: string,
  kubeconfig: string,
): Promise<Proc> {
  const config = join(dir, 'cloud.conf');
  const override = (n: number, service: string) =>
    [
      `[ServiceOverride "${n}"]`,
      `Service = ${service}`,
      `Region = ${MOTO_REGION}`,
      `URL = ${endpoint}`,
      `SigningRegion = ${MOTO_REGION}`,
    ].join('\n');
  writeFileSync(
    config,
    [
      '[Global]',
      `Region = ${MOTO_REGION}`,
      `VPC = ${fx.vpcId}`,
      `SubnetID = ${fx.internalSubnets[0]}`,
      `KubernetesClusterID = ${CLUSTER}`,
      override(1, 'EC2'),
      override(2, 'Elastic Load Balancing'),
      override(3, 'Elastic Load Balancing v2'),
      '',
    ].join('\n'),
  );
  const proc = spawnProc(
    bin,
    [
      '--cloud-provider=aws',
      `--cloud-config=${config}`,
      '--controllers=service',
      `--kubeconfig=${kubeconfig}`,
      `--cluster-name=${CLUSTER}`,
      '--leader-elect=false',
      '--use-service-account-credentials=false',
      '--configure-cloud-routes=false',
      '--secure-port=0',
      '--v=1',
    ],
    {
      name: 'cloud-provider-aws',
      env: { ...process.env, ...AWS_ENV },
      onLine: (l) => {
        if (process.env['BENCH_VERBOSE'] || /^[EF]\d{4}/.test(l)) log(`cloud-provider-aws: ${l}`);
      },
    },
  );
  // caches synced; one that exits at once (a bad flag, a config it refuses) is an error
  if (!(await Promise.race([proc.exited.then(() => false), sleep(3000).then(() => true)])))
    throw new Error(`cloud-provider-aws exited:\n${proc.tail()}`);
  return proc;
}

/**
 * An error for the report, in one line: its first line, and the AWS error codes in the controller's last
 * lines that follow it, most frequent first (why it stopped converging). The log has the lines themselves.
 */
function oneLine(message: string): string {
  const [first, ...rest] = message.split('\n');
  const counts = new Map<string, number>();
  for (const m of rest.join('\n').matchAll(/api error (\w+):/g)) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  if (counts.size === 0) return first!;
  const top = [...counts].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} (${n})`);
  return `${first}; AWS errors in its last lines: ${top.join(', ')}`;
}

/** when and where the results were measured: now, or as recorded in the results being rendered again */
function write(results: SideResult[], measured = { at: now(), on: machine() }): void {
  const get = (id: SideId) => results.find((r) => r.side === id);
  const per = (p: Phase | undefined, f: (p: Phase) => number) => (p ? (f(p) / SERVICES).toFixed(2) : 'n/a');
  const rows = SIDES.map((s) => {
    const r = get(s.id);
    return [
      s.label,
      r ? `${r.addressed}/${SERVICES}` : '',
      seconds(r?.create?.ms),
      per(r?.create, (p) => p.calls),
      per(r?.create, (p) => p.mutating),
      r?.nodeAdded ? `${r.nodeAdded.calls} (${r.nodeAdded.mutating} mutating)` : 'n/a',
      seconds(r?.nodeAdded?.ms),
      per(r?.resync, (p) => p.calls),
      per(r?.resync, (p) => p.mutating),
    ];
  });
  const mix = (p: Phase | undefined) =>
    p
      ? Object.entries(p.byAction)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')
      : '';
  const mixRows = SIDES.flatMap((s) => {
    const r = get(s.id);
    return [
      [s.label, 'create', mix(r?.create)],
      [s.label, 'node added', mix(r?.nodeAdded)],
      [s.label, 'resync', mix(r?.resync)],
    ];
  });
  const ours = get('ours');
  const shipped = get('cpa-shipped');
  const equal = get('cpa-equal');
  const ratio = (a?: number, b?: number) => (a !== undefined && b ? a / b : NaN);
  const createRatio = ratio(ours?.create?.calls, shipped?.create?.calls);
  const timeRatio = ratio(ours?.create?.ms, equal?.create?.ms);
  const targets: TargetRow[] = [
    {
      target: "AWS: ours <= 0.5x cloud-provider-aws's calls per Service on create",
      result:
        shipped && shipped.addressed !== SERVICES
          ? `not comparable: cloud-provider-aws built ${shipped.addressed} of ${SERVICES} (ours ${per(ours?.create, (p) => p.calls)} per Service, it ${per(shipped.create, (p) => p.calls)} while retrying)`
          : `${per(ours?.create, (p) => p.calls)} vs ${per(shipped?.create, (p) => p.calls)} = ${createRatio.toFixed(2)}`,
      // calls per Service are only comparable once every Service is built: a side that stopped converging
      // spends its calls retrying
      met: Number.isFinite(createRatio) && shipped?.addressed === SERVICES ? createRatio <= 0.5 : undefined,
    },
    {
      target: 'AWS: 0 mutating calls at steady state (resync)',
      result: ours?.resync
        ? `${ours.resync.mutating} (cloud-provider-aws: ${shipped?.resync?.mutating ?? 'n/a'})`
        : 'n/a',
      met: ours?.resync ? ours.resync.mutating === 0 : undefined,
    },
    {
      target: `AWS: converge ${SERVICES} Services in <= 1.0x cloud-provider-aws's time at equal client rates`,
      result:
        equal && equal.addressed !== SERVICES
          ? `ours ${seconds(ours?.create?.ms)}; cloud-provider-aws never converged (${equal.addressed} of ${SERVICES} at equal rates, ${shipped?.addressed ?? '?'} shipped)`
          : `${seconds(ours?.create?.ms)} vs ${seconds(equal?.create?.ms)} = ${timeRatio.toFixed(2)} (shipped, no rate limit: ${seconds(shipped?.create?.ms)})`,
      met: Number.isFinite(timeRatio) ? timeRatio <= 1 : undefined,
    },
  ];
  const md = [
    `### Workload 5: AWS, ${SERVICES} Services x ${PORTS} ports on moto`,
    '',
    `Each side alone against a fresh moto with ${NODES} instances as Nodes; every AWS call counted by the same recording proxy. "Node added": a 7th Node (its last mutating call). "Resync": the controller restarted with everything in place (both re-ensure every Service at start).`,
    '',
    markdownTable(
      [
        'controller',
        'addressed',
        'create: time to converge',
        'create: calls / Service',
        'create: mutating / Service',
        'node added: calls',
        'node added: last mutating call',
        'resync: calls / Service',
        'resync: mutating / Service',
      ],
      rows,
    ),
    '',
    'Calls by operation:',
    '',
    markdownTable(['controller', 'phase', 'calls (api:operation count)'], mixRows),
    '',
    markdownTable(
      ['target', 'result', 'met'],
      targets.map((t) => [t.target, t.result, verdict(t.met)]),
    ),
    '',
    ...results.filter((r) => r.error).map((r) => `- ${r.side}: error: ${r.error}`),
    `Measured ${measured.at} on ${measured.on}.`,
    '',
  ].join('\n');
  mkdirSync(OUT, { recursive: true });
  writeFileSync(
    join(OUT, 'aws.json'),
    JSON.stringify({ services: SERVICES, ports: PORTS, measured, results, targets }, null, 1) + '\n',
  );
  writeFileSync(join(OUT, 'aws.md'), md);
  console.log(md);
}

interface RenderInput {
  services: number;
  ports: number;
  /** absent in results from before it was recorded */
  measured?: { at: string; on: string };
  results: SideResult[];
}

if (RENDER) write(RENDER.results, RENDER.measured ?? { at: 'at a time not recorded', on: 'a machine not recorded' });
else await main();
