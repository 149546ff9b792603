/**
 * Proxy data plane benchmark (issues 3 and 12): wrk from a client namespace through a VIP to backends in three
 * node namespaces, for (a) the client straight to node1's NodePort (the limit), (b) the floor of our own
 * design: a minimal hand-written nftables ruleset that only DNATs to the NodePorts (round robin) and
 * masquerades, (c) our nftables back end, (d) our userspace back end with 1 and 2 workers, (e) HAProxy (mode
 * tcp, round robin) with 1 and 2 threads, (f) the floor of a proxy written for Node: the shortest correct relay
 * (bench/lib/node-relay.ts) with 1 and 2 threads, beside the userspace back end's 1 and 2 workers. Each proxy runs in a load-balancer namespace of its own, all of them at once, so every
 * path crosses the same number of hops and the paths can be measured in alternation: a round measures every
 * path once (in an order that rotates from round to round), ratios are taken within a round, and the
 * median over the rounds is reported with its range. Noise on this shared machine moves whole rounds, so
 * the in-round ratios are far steadier than paths measured minutes apart.
 *
 * Pinning (default; BENCH_PIN=0 turns it off): the client and the load balancers' processes on CPU 0, the
 * nodes' backends on CPU 1, as if the nodes were machines of their own; the 2-thread HAProxy and the 2-worker
 * userspace proxy get both CPUs (BENCH_PIN_LB2), or a second thread could not run beside the first. Left to the scheduler, the five busy
 * processes of a run trade places on the two cores, and which path wins depends on how they land.
 *
 * Prints req/s on kept-alive connections, new connections per second (Connection: close), added p99 under
 * an open-loop load (vegeta at a fixed rate), 60 s of connection churn through the userspace proxy, and
 * node-failure detection time.
 *
 *   sudo npm run bench:proxy   (BENCH_ROUNDS=5 BENCH_SECONDS=3 BENCH_CONNECTIONS=50 BENCH_RATE=2000
 *                               BENCH_CHURN_SECONDS=60 BENCH_PIN_CLIENT=0 BENCH_PIN_LB=0 BENCH_PIN_NODES=1
 *                               BENCH_PIN_LB2=0-1)   [--quick: 2 rounds of 2 s, 15 s of churn] [--out <dir>]
 *
 * With --out, writes proxy.md and proxy.json there (npm run bench does).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { machine, now } from './lib/machine.ts';
import { markdownTable, verdict } from './lib/markdown.ts';
import { inRoundRatios, formatSpread, median } from './lib/stats.ts';
import type { TargetRow } from './controllers/report.ts';
import { aLoadBalancer } from '../test/builders/proxied-load-balancer.ts';
import type { ProxyServiceStatus } from '../providers/local/dataplane/proxy-dataplane.ts';
import { Topology } from '../test/netns/topology.ts';

const run = promisify(execFile);
const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } },
});
const env = (name: string, full: number, quick = full): number =>
  Number(process.env[name] ?? (args.quick ? quick : full));
const ROUNDS = env('BENCH_ROUNDS', 5, 2);
const SECONDS = env('BENCH_SECONDS', 3, 2);
const CONNS = env('BENCH_CONNECTIONS', 50);
const RATE = env('BENCH_RATE', 2000);
const CHURN_SECONDS = env('BENCH_CHURN_SECONDS', 60, 15);
const NODES = ['node1', 'node2', 'node3'];
/** cpu lists for `taskset`: the client (wrk, vegeta), the load balancers' processes, the nodes' backends */
const PIN =
  process.env.BENCH_PIN === '0'
    ? undefined
    : {
        client: process.env.BENCH_PIN_CLIENT ?? '0',
        lb: process.env.BENCH_PIN_LB ?? '0',
        lb2: process.env.BENCH_PIN_LB2 ?? '0-1',
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

/** Per-round ratios of a path to the reference path, as "median (min-max)". */
function ratios(of: number[], to: number[]): string {
  return formatSpread(inRoundRatios(of, to));
}

async function startHaproxy(topo: Topology, host: string, vip: string, threads: number): Promise<() => void> {
  const cfg = `/tmp/lbp-bench-haproxy-${process.pid}-${host}.cfg`;
  writeFileSync(
    cfg,
    [
      'global',
      `  nbthread ${threads}`,
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
  const stop = await startListening(topo, host, vip, 'haproxy', ['haproxy', '-db', '-f', cfg]);
  return () => {
    stop();
    rmSync(cfg, { force: true });
  };
}

/** Adds `vip` to `host`'s loopback, starts `command` there and waits until something listens on port 80. */
async function startListening(
  topo: Topology,
  host: string,
  vip: string,
  name: string,
  command: string[],
): Promise<() => void> {
  await topo.exec(host, 'ip', ['addr', 'add', `${vip}/32`, 'dev', 'lo']);
  const proc = spawn('ip', ['netns', 'exec', topo.ns(host), ...command], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  for (let i = 0; ; i++) {
    const up = await topo.exec(host, 'ss', ['-Hltn', 'sport = :80']).then((out) => out.trim() !== '');
    if (up) break;
    if (proc.exitCode !== null || i === 50) throw new Error(`${name} did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return () => proc.kill('SIGKILL');
}

/** The floor of a proxy written for Node (bench/lib/node-relay.ts), on the same Node as ours. */
function startNodeRelay(topo: Topology, host: string, vip: string, threads: number): Promise<() => void> {
  const relay = new URL('./lib/node-relay.ts', import.meta.url).pathname;
  const targets = NODES.map((n) => `${topo.addr4(n)}:30080`);
  return startListening(topo, host, vip, `the minimal Node relay (${threads} threads)`, [
    process.execPath,
    relay,
    `--threads=${threads}`,
    vip,
    '80',
    ...targets,
  ]);
}

/**
 * The floor of our design on this topology: one DNAT to the three NodePorts, round robin, and a masquerade
 * so replies come back through the load balancer; nothing else (no health, no marks, no per-Service chains).
 */
async function startMinimalRuleset(topo: Topology, host: string, vip: string): Promise<void> {
  const nodes = NODES.map((n, i) => `${i} : ${topo.addr4(n)}`).join(', ');
  await topo.exec(host, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  await topo.exec(host, 'nft', [
    [
      'add table ip minimal',
      'add chain ip minimal pre { type nat hook prerouting priority dstnat; }',
      'add chain ip minimal post { type nat hook postrouting priority srcnat; }',
      `add rule ip minimal pre ip daddr ${vip} tcp dport 80 dnat to numgen inc mod ${NODES.length} map { ${nodes} } : 30080`,
      'add rule ip minimal post ct status dnat masquerade',
    ].join('; '),
  ]);
}

async function main(): Promise<void> {
  // one load-balancer namespace per proxy, each owning a VIP range the client routes through it
  const topo = await Topology.create({
    hosts: {
      client: 2,
      lb: 10,
      lbu: 14,
      lbh: 15,
      lbm: 16,
      lbu2: 17,
      lbh2: 18,
      lbn: 19,
      lbn2: 20,
      node1: 11,
      node2: 12,
      node3: 13,
    },
    routes: [
      { to: '10.213.1.0/24', via: 'lb' },
      { to: '10.213.2.0/24', via: 'lbu' },
      { to: '10.213.3.0/24', via: 'lbh' },
      { to: '10.213.4.0/24', via: 'lbm' },
      { to: '10.213.5.0/24', via: 'lbu2' },
      { to: '10.213.6.0/24', via: 'lbh2' },
      { to: '10.213.7.0/24', via: 'lbn' },
      { to: '10.213.8.0/24', via: 'lbn2' },
    ],
  });
  const path = (label: string, url: string): Path => ({ label, url, keepAlive: [], newConns: [], open: [] });
  const direct = path('direct (node1 NodePort)', `http://${topo.addr4('node1')}:30080/`);
  const minimal = path('minimal nftables ruleset (DNAT + masquerade)', 'http://10.213.4.10/');
  const nftables = path('nftables', 'http://10.213.1.10/');
  const userspace = path('userspace (1 worker)', 'http://10.213.2.10/');
  const userspace2 = path('userspace (2 workers)', 'http://10.213.5.10/');
  const haproxy = path('HAProxy (1 thread, mode tcp)', 'http://10.213.3.10/');
  const haproxy2 = path('HAProxy (2 threads, mode tcp)', 'http://10.213.6.10/');
  const relay = path('minimal Node relay (1 thread)', 'http://10.213.7.10/');
  const relay2 = path('minimal Node relay (2 threads)', 'http://10.213.8.10/');
  const paths = [direct, minimal, nftables, userspace, userspace2, haproxy, haproxy2, relay, relay2];
  let churn: WrkResult | undefined;
  /** the direct path's new connections right after the churn, the churn's reference */
  let directAfterChurn: WrkResult | undefined;
  let detectionMs: number | undefined;
  let flow: string | undefined;
  const stopProcs: (() => void)[] = [];
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
    const us2 = lbAgent('lbu2');
    await us2.call('start', { options: { backend: 'userspace', workers: 2 } });
    await us2.call('ensure', { key: 'default/bench', vips: ['10.213.5.10'], lb });
    stopProcs.push(await startHaproxy(topo, 'lbh', '10.213.3.10', 1));
    stopProcs.push(await startHaproxy(topo, 'lbh2', '10.213.6.10', 2));
    stopProcs.push(await startNodeRelay(topo, 'lbn', '10.213.7.10', 1));
    stopProcs.push(await startNodeRelay(topo, 'lbn2', '10.213.8.10', 2));
    await startMinimalRuleset(topo, 'lbm', '10.213.4.10');

    if (PIN) {
      for (const [hosts, cpus] of [
        [NODES, PIN.nodes],
        [['lb', 'lbu', 'lbh', 'lbn'], PIN.lb],
        [['lbu2', 'lbh2', 'lbn2'], PIN.lb2],
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
    for (const dp of [nft, us, us2]) {
      await dp.call('remove', { key: 'default/bench' });
      await dp.call('close');
      await dp.stop();
    }
  } finally {
    for (const stop of stopProcs) stop();
    await topo.destroy();
  }

  const rps = (rs: WrkResult[]): number[] => rs.map((r) => r.rps);
  const rows = paths.map((p) => {
    const errors = [...p.keepAlive, ...p.newConns].reduce((n, r) => n + r.errors, 0);
    const p99 = p.open.map((o) => o.p99ms);
    const added = p99.map((v, i) => v - direct.open[i]!.p99ms);
    const failed = p.open.filter((o) => o.success < 1).length;
    return [
      p.label,
      median(rps(p.keepAlive)).toFixed(0),
      ratios(rps(p.keepAlive), rps(direct.keepAlive)),
      p === direct ? '' : ratios(rps(p.keepAlive), rps(minimal.keepAlive)),
      median(rps(p.newConns)).toFixed(0),
      ratios(rps(p.newConns), rps(direct.newConns)),
      p === direct ? '' : ratios(rps(p.newConns), rps(minimal.newConns)),
      median(p99).toFixed(2),
      `${median(added).toFixed(2)} (${Math.min(...added).toFixed(2)} to ${Math.max(...added).toFixed(2)})`,
      `${errors}${failed > 0 ? ` (${failed} open-loop runs below 100% success)` : ''}`,
    ];
  });
  const spreadOf = (of: Path, to: Path, mode: 'keepAlive' | 'newConns') => inRoundRatios(rps(of[mode]), rps(to[mode]));
  const target = (t: string, of: Path, to: Path, mode: 'keepAlive' | 'newConns', min: number): TargetRow => {
    const r = spreadOf(of, to, mode);
    return { target: t, result: formatSpread(r), met: r.n ? r.median >= min : undefined };
  };
  /** the userspace guard against HAProxy, with the floor of a Node proxy of as many threads beside it (same rounds) */
  const guardWithFloor = (t: string, mode: 'keepAlive' | 'newConns', threads: 1 | 2): TargetRow => {
    const [ours, anchor, floorPath] = threads === 1 ? [userspace, haproxy, relay] : [userspace2, haproxy2, relay2];
    const row = target(t, ours, anchor, mode, 0.85);
    const floor = ratios(rps(floorPath[mode]), rps(anchor[mode]));
    return { ...row, result: `${row.result}; floor, same rounds: ${floorPath.label} ${floor}` };
  };
  const churnRatio = churn && directAfterChurn ? churn.rps / directAfterChurn.rps : NaN;
  const targets: TargetRow[] = [
    target('proxy: nftables >= 0.97x the minimal ruleset, kept-alive', nftables, minimal, 'keepAlive', 0.97),
    target('proxy: nftables >= 0.97x the minimal ruleset, new connections', nftables, minimal, 'newConns', 0.97),
    guardWithFloor('proxy: userspace >= 0.85x HAProxy, 1 worker / 1 thread, kept-alive', 'keepAlive', 1),
    guardWithFloor('proxy: userspace >= 0.85x HAProxy, 1 worker / 1 thread, new connections', 'newConns', 1),
    guardWithFloor('proxy: userspace >= 0.85x HAProxy, 2 workers / 2 threads, kept-alive', 'keepAlive', 2),
    guardWithFloor('proxy: userspace >= 0.85x HAProxy, 2 workers / 2 threads, new connections', 'newConns', 2),
    {
      target: 'proxy: added p99 <= 1 ms (open loop)',
      result: `nftables ${median(nftables.open.map((o, i) => o.p99ms - direct.open[i]!.p99ms)).toFixed(2)} ms, userspace ${median(userspace.open.map((o, i) => o.p99ms - direct.open[i]!.p99ms)).toFixed(2)} ms (medians)`,
      met:
        median(nftables.open.map((o, i) => o.p99ms - direct.open[i]!.p99ms)) <= 1 &&
        median(userspace.open.map((o, i) => o.p99ms - direct.open[i]!.p99ms)) <= 1,
    },
    {
      target: `proxy: no collapse under churn (${CHURN_SECONDS} s through the userspace proxy)`,
      result: churn
        ? `${churn.rps.toFixed(0)} conn/s = ${churnRatio.toFixed(2)}x direct, ${churn.errors} errors`
        : 'not run',
      met: churn ? churn.errors === 0 : undefined,
    },
    {
      target: 'proxy: unhealthy node out of rotation <= 2 s',
      result: `${detectionMs ?? '?'} ms`,
      met: detectionMs === undefined ? undefined : detectionMs <= 2000,
    },
  ];
  const md = [
    `### Workload 6: the proxy data plane`,
    '',
    `${ROUNDS} rounds of wrk -t1 -c${CONNS} -d${SECONDS}s per path and mode, paths in rotating order; vegeta -rate=${RATE} -duration=${SECONDS}s (open loop, keep-alive); Node.js backends in 3 node namespaces; ${PIN ? `pinned (client and load balancers on CPU ${PIN.lb}, 2-thread/2-worker ones on ${PIN.lb2}, nodes on ${PIN.nodes})` : 'not pinned'}; nftables: ${flow ?? '?'}. Ratios are per round: median (range). "x minimal" is the path against the minimal hand-written ruleset (DNAT + masquerade) on the same hops: what our rules, or a proxy, cost beyond the floor of this design; "x direct" also carries the two veth crossings and the bridge any single-host load balancer adds.`,
    '',
    markdownTable(
      [
        'path',
        'kept-alive req/s',
        'x direct',
        'x minimal',
        'new conn/s',
        'x direct',
        'x minimal',
        'open-loop p99 ms',
        'added p99 ms',
        'errors',
      ],
      rows,
    ),
    '',
    `userspace / HAProxy: 1 worker / 1 thread: kept-alive ${ratios(rps(userspace.keepAlive), rps(haproxy.keepAlive))}, new connections ${ratios(rps(userspace.newConns), rps(haproxy.newConns))}; 2 workers / 2 threads: kept-alive ${ratios(rps(userspace2.keepAlive), rps(haproxy2.keepAlive))}, new connections ${ratios(rps(userspace2.newConns), rps(haproxy2.newConns))}.`,
    '',
    `userspace (1 worker) / the minimal Node relay (what our code costs beyond the runtime's floor): kept-alive ${ratios(rps(userspace.keepAlive), rps(relay.keepAlive))}, new connections ${ratios(rps(userspace.newConns), rps(relay.newConns))}. The minimal Node relay / HAProxy (1 thread), the runtime's own distance: kept-alive ${ratios(rps(relay.keepAlive), rps(haproxy.keepAlive))}, new connections ${ratios(rps(relay.newConns), rps(haproxy.newConns))}. With 2: userspace (2 workers) / the relay (2 threads) kept-alive ${ratios(rps(userspace2.keepAlive), rps(relay2.keepAlive))}, new connections ${ratios(rps(userspace2.newConns), rps(relay2.newConns))}; the relay / HAProxy (2 threads) kept-alive ${ratios(rps(relay2.keepAlive), rps(haproxy2.keepAlive))}, new connections ${ratios(rps(relay2.newConns), rps(haproxy2.newConns))}.`,
    '',
    markdownTable(
      ['target', 'result', 'met'],
      targets.map((t) => [t.target, t.result, verdict(t.met)]),
    ),
    '',
    `Measured ${now()} on ${machine()}.`,
    '',
  ].join('\n');
  console.log(md);
  if (args.out) {
    mkdirSync(args.out, { recursive: true });
    writeFileSync(join(args.out, 'proxy.md'), md);
    writeFileSync(
      join(args.out, 'proxy.json'),
      JSON.stringify(
        {
          rounds: ROUNDS,
          seconds: SECONDS,
          connections: CONNS,
          rate: RATE,
          pin: PIN ?? null,
          paths,
          churn,
          directAfterChurn,
          detectionMs,
          targets,
        },
        null,
        1,
      ) + '\n',
    );
  }
}

await main();
