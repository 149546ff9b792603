/**
 * Proxy data plane benchmark (issue 3): wrk from a client namespace through a VIP to backends in three node
 * namespaces, for (a) the client straight to node1's NodePort (the limit), (b) our nftables back end,
 * (c) our userspace back end, (d) HAProxy (mode tcp, round robin, one thread), with as many userspace workers
 * as HAProxy threads. Each proxy runs in a load-balancer namespace of its own, all of them at once, so every
 * path crosses the same number of hops and the paths can be measured in alternation: a round measures every
 * path once (in an order that rotates from round to round), ratios are taken within a round, and the
 * median over the rounds is reported with its range. Noise on this shared machine moves whole rounds, so
 * the in-round ratios are far steadier than paths measured minutes apart.
 *
 * Pinning (default; BENCH_PIN=0 turns it off): the client and the load balancers' processes on CPU 0, the
 * nodes' backends on CPU 1, as if the nodes were machines of their own. Left to the scheduler, the five busy
 * processes of a run trade places on the two cores, and which path wins depends on how they land.
 *
 * Prints req/s on kept-alive connections, new connections per second (Connection: close), added p99 under
 * an open-loop load (vegeta at a fixed rate), 60 s of connection churn through the userspace proxy, and
 * node-failure detection time.
 *
 *   sudo npm run bench:proxy   (BENCH_ROUNDS=5 BENCH_SECONDS=3 BENCH_CONNECTIONS=50 BENCH_RATE=2000
 *                               BENCH_CHURN_SECONDS=60 BENCH_PIN_CLIENT=0 BENCH_PIN_LB=0 BENCH_PIN_NODES=1)
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { aLoadBalancer } from '../test/builders/proxied-load-balancer.ts';
import type { ProxyServiceStatus } from '../providers/local/dataplane/proxy-dataplane.ts';
import { Topology } from '../test/netns/topology.ts';

const run = promisify(execFile);
const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const ROUNDS = env('BENCH_ROUNDS', 5);
const SECONDS = env('BENCH_SECONDS', 3);
const CONNS = env('BENCH_CONNECTIONS', 50);
const RATE = env('BENCH_RATE', 2000);
const CHURN_SECONDS = env('BENCH_CHURN_SECONDS', 60);
const NODES = ['node1', 'node2', 'node3'];
/** cpu lists for `taskset`: the client (wrk, vegeta), the load balancers' processes, the nodes' backends */
const PIN =
  process.env.BENCH_PIN === '0'
    ? undefined
    : {
        client: process.env.BENCH_PIN_CLIENT ?? '0',
        lb: process.env.BENCH_PIN_LB ?? '0',
        nodes: process.env.BENCH_PIN_NODES ?? '1',
      };
const clientCmd = (cmd: string, args: string[]): [string, string[]] =>
  PIN ? ['taskset', ['-c', PIN.client, cmd, ...args]] : [cmd, args];
const BIN = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lb-provisioner', 'bin');

interface WrkResult {
  rps: number;
  errors: number;
}

interface OpenLoop {
  p50ms: number;
  p99ms: number;
  success: number;
}

interface Path {
  label: string;
  url: string;
  keepAlive: WrkResult[];
  newConns: WrkResult[];
  open: OpenLoop[];
}

async function wrk(topo: Topology, url: string, close: boolean, seconds = SECONDS): Promise<WrkResult> {
  const args = ['-t1', `-c${CONNS}`, `-d${seconds}s`, ...(close ? ['-H', 'Connection: close'] : []), url];
  const out = await topo.exec('client', ...clientCmd('wrk', args));
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const socket = (/Socket errors: (.*)/.exec(out)?.[1] ?? '')
    .split(',')
    .reduce((n, p) => n + Number(/\d+/.exec(p)?.[0] ?? 0), 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { rps, errors: socket + non2xx };
}

/** vegeta from the Go module proxy, built once into a cache outside the repository. */
async function vegeta(): Promise<string> {
  const bin = join(BIN, 'vegeta');
  if (!existsSync(bin)) {
    process.stderr.write('building vegeta (go install github.com/tsenart/vegeta/v12@v12.12.0)...\n');
    await run('go', ['install', 'github.com/tsenart/vegeta/v12@v12.12.0'], { env: { ...process.env, GOBIN: BIN } });
  }
  return bin;
}

/** Open-loop latency at a fixed request rate on kept-alive connections. */
async function openLoop(topo: Topology, bin: string, url: string): Promise<OpenLoop> {
  const out = await topo.exec(
    'client',
    ...clientCmd('sh', [
      '-c',
      `echo "GET ${url}" | ${bin} attack -rate=${RATE} -duration=${SECONDS}s -keepalive=true | ${bin} report -type=json`,
    ]),
  );
  const r = JSON.parse(out) as { latencies: { '50th': number; '99th': number }; success: number };
  return { p50ms: r.latencies['50th'] / 1e6, p99ms: r.latencies['99th'] / 1e6, success: r.success };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Per-round ratios of a path to the reference path, as "median (min-max)". */
function ratios(of: number[], to: number[]): string {
  const rs = of.map((v, i) => (to[i]! > 0 ? v / to[i]! : 0));
  return `${median(rs).toFixed(2)} (${Math.min(...rs).toFixed(2)}-${Math.max(...rs).toFixed(2)})`;
}

async function startHaproxy(topo: Topology, vip: string): Promise<() => void> {
  const cfg = `/tmp/lbp-bench-haproxy-${process.pid}.cfg`;
  writeFileSync(
    cfg,
    [
      'global',
      '  nbthread 1',
      '  maxconn 8000',
      'defaults',
      '  mode tcp',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend f',
      `  bind ${vip}:80`,
      '  default_backend b',
      'backend b',
      '  balance roundrobin',
      ...NODES.map((n) => `  server ${n} ${topo.addr4(n)}:30080`),
    ].join('\n') + '\n',
  );
  await topo.exec('lbh', 'ip', ['addr', 'add', `${vip}/32`, 'dev', 'lo']);
  const haproxy = spawn('ip', ['netns', 'exec', topo.ns('lbh'), 'haproxy', '-db', '-f', cfg], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let haproxyErr = '';
  haproxy.stderr.setEncoding('utf8').on('data', (d: string) => (haproxyErr += d));
  for (let i = 0; ; i++) {
    const up = await topo.exec('lbh', 'ss', ['-Hltn', 'sport = :80']).then((out) => out.trim() !== '');
    if (up) break;
    if (haproxy.exitCode !== null || i === 50) throw new Error(`haproxy did not start: ${haproxyErr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return () => {
    haproxy.kill('SIGKILL');
    rmSync(cfg, { force: true });
  };
}

async function main(): Promise<void> {
  // one load-balancer namespace per proxy, each owning a VIP range the client routes through it
  const topo = await Topology.create({
    hosts: { client: 2, lb: 10, lbu: 14, lbh: 15, node1: 11, node2: 12, node3: 13 },
    routes: [
      { to: '10.213.1.0/24', via: 'lb' },
      { to: '10.213.2.0/24', via: 'lbu' },
      { to: '10.213.3.0/24', via: 'lbh' },
    ],
  });
  const path = (label: string, url: string): Path => ({ label, url, keepAlive: [], newConns: [], open: [] });
  const direct = path('direct (node1 NodePort)', `http://${topo.addr4('node1')}:30080/`);
  const userspace = path('userspace (1 worker)', 'http://10.213.2.10/');
  const haproxy = path('HAProxy (1 thread, mode tcp)', 'http://10.213.3.10/');
  const paths = [direct, path('nftables', 'http://10.213.1.10/'), userspace, haproxy];
  let churn: WrkResult | undefined;
  /** the direct path's new connections right after the churn, the churn's reference */
  let directAfterChurn: WrkResult | undefined;
  let detectionMs: number | undefined;
  let flow: string | undefined;
  let stopHaproxy = (): void => {};
  try {
    const targets = NODES.map((n) => ({ name: n, addresses: [topo.addr4(n)] }));
    // wrk closes first through a proxy (the FIN comes after the data), so its own ports pile up in TIME_WAIT
    // and the *client* runs out of ephemeral ports within seconds, whatever the proxy (HAProxy too); let the
    // client reuse them, as a real crowd of clients with many addresses effectively does
    await topo.exec('client', 'sysctl', ['-w', 'net.ipv4.tcp_tw_reuse=1']);
    for (const n of [...NODES, 'client']) {
      // conntrack on every path, so the direct path pays for it too
      await topo.exec(n, 'nft', [
        'add table inet bench; add chain inet bench c { type filter hook prerouting priority 0; }; add rule inet bench c ct state new accept',
      ]);
    }
    const nodes = NODES.map((n) => topo.agent(n));
    for (const a of nodes) {
      await a.call('http', { port: 30080 });
      await a.call('http', { port: 10256 });
    }
    const lbAgent = (host: string): ReturnType<Topology['spawnScript']> =>
      topo.spawnScript(host, new URL('../test/netns/dataplane-agent.ts', import.meta.url).pathname);
    const lb = aLoadBalancer({ targets });
    const nft = lbAgent('lb');
    await nft.call('start', { options: { backend: 'nftables' } });
    await nft.call('ensure', { key: 'default/bench', vips: ['10.213.1.10'], lb });
    flow = await topo
      .exec('lb', 'nft', [
        'add',
        'flowtable',
        'inet',
        'lbprovisioner',
        'ft',
        '{ hook ingress priority 0; devices = { eth0 }; }',
      ])
      .then(
        () => 'flowtable available (not used)',
        () => 'no flowtable on this kernel: plain DNAT path',
      );
    const us = lbAgent('lbu');
    await us.call('start', { options: { backend: 'userspace', workers: 1 } });
    await us.call('ensure', { key: 'default/bench', vips: ['10.213.2.10'], lb });
    stopHaproxy = await startHaproxy(topo, '10.213.3.10');

    if (PIN) {
      for (const [hosts, cpus] of [
        [NODES, PIN.nodes],
        [['lb', 'lbu', 'lbh'], PIN.lb],
      ] as const) {
        for (const h of hosts) {
          const pids = (await run('ip', ['netns', 'pids', topo.ns(h)])).stdout.split(/\s+/).filter(Boolean);
          for (const pid of pids) await run('taskset', ['-a', '-p', '-c', cpus, pid]);
        }
      }
    }
    const bin = await vegeta();
    for (const p of paths) await wrk(topo, p.url, false, 1); // warm-up: JIT, ARP, conntrack

    for (let round = 0; round < ROUNDS; round++) {
      process.stderr.write(`round ${round + 1}/${ROUNDS}...\n`);
      const order = paths.map((_, i) => paths[(i + round) % paths.length]!);
      // open loop first: the latency measure is the most sensitive to what a saturating run leaves behind
      for (const p of order) p.open.push(await openLoop(topo, bin, p.url));
      for (const p of order) p.keepAlive.push(await wrk(topo, p.url, false));
      for (const p of order) p.newConns.push(await wrk(topo, p.url, true));
    }

    if (CHURN_SECONDS > 0) {
      // sustained connection churn: the naive proxy ran out of ephemeral ports here
      process.stderr.write(`userspace churn for ${CHURN_SECONDS}s...\n`);
      churn = await wrk(topo, userspace.url, true, CHURN_SECONDS);
      directAfterChurn = await wrk(topo, direct.url, true);
    }

    // node-failure detection: kill node3's health endpoint, time until it leaves the nftables rotation
    await nodes[2]!.call('close', { protocol: 'tcp', port: 10256 });
    const t0 = Date.now();
    while ((await nft.call<ProxyServiceStatus>('status', { key: 'default/bench' })).healthyTargets.includes('node3')) {
      await new Promise((r) => setTimeout(r, 10));
    }
    detectionMs = Date.now() - t0;
    for (const dp of [nft, us]) {
      await dp.call('remove', { key: 'default/bench' });
      await dp.call('close');
      await dp.stop();
    }
  } finally {
    stopHaproxy();
    await topo.destroy();
  }

  console.log(
    `\nproxy data plane benchmark: ${ROUNDS} rounds of wrk -t1 -c${CONNS} -d${SECONDS}s per path and mode, paths in rotating order;`,
  );
  console.log(
    `vegeta -rate=${RATE} -duration=${SECONDS}s (open loop, keep-alive); Node.js backends in 3 node namespaces; nftables: ${flow ?? '?'}`,
  );
  console.log('ratios are per round, shown as median (min-max)\n');
  console.log(
    '| path | keep-alive req/s | x direct | new conn/s | x direct | open-loop p99 ms | added p99 ms | errors |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  const rps = (rs: WrkResult[]): number[] => rs.map((r) => r.rps);
  for (const p of paths) {
    const errors = [...p.keepAlive, ...p.newConns].reduce((n, r) => n + r.errors, 0);
    const p99 = p.open.map((o) => o.p99ms);
    const added = p99.map((v, i) => v - direct.open[i]!.p99ms);
    const failed = p.open.filter((o) => o.success < 1).length;
    const cells = [
      p.label,
      median(rps(p.keepAlive)).toFixed(0),
      ratios(rps(p.keepAlive), rps(direct.keepAlive)),
      median(rps(p.newConns)).toFixed(0),
      ratios(rps(p.newConns), rps(direct.newConns)),
      median(p99).toFixed(2),
      `${median(added).toFixed(2)} (${Math.min(...added).toFixed(2)}-${Math.max(...added).toFixed(2)})`,
      `${errors}${failed > 0 ? ` (${failed} open-loop runs below 100% success)` : ''}`,
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
  console.log(
    `\nuserspace / HAProxy: keep-alive ${ratios(rps(userspace.keepAlive), rps(haproxy.keepAlive))}, new connections ${ratios(rps(userspace.newConns), rps(haproxy.newConns))}`,
  );
  if (churn && directAfterChurn) {
    console.log(
      `userspace churn ${CHURN_SECONDS}s: ${churn.rps.toFixed(0)} conn/s = ${(churn.rps / directAfterChurn.rps).toFixed(2)}x direct (measured right after), ${churn.errors} errors`,
    );
  }
  console.log(`unhealthy node out of rotation after ${detectionMs ?? '?'} ms (target <= 2000 ms)`);
}

await main();
