/**
 * Proxy data plane benchmark (issue 3): wrk from a client namespace through a VIP to backends in three node
 * namespaces, for (a) the client straight to node1's NodePort (the limit), (b) our nftables back end,
 * (c) our userspace back end, (d) HAProxy (mode tcp, round robin, one thread), with the same number of
 * userspace workers as HAProxy threads. Prints req/s and latency on kept-alive connections, new connections
 * per second (Connection: close), ratios to the direct path, and node-failure detection time.
 *
 *   sudo node bench/proxy-dataplane.ts            (BENCH_SECONDS=5, BENCH_CONNECTIONS=50)
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { aLoadBalancer } from '../providers/local/dataplane/test-fixtures.ts';
import type { ProxyServiceStatus } from '../providers/local/dataplane/proxy-dataplane.ts';
import { Topology } from '../test/netns/topology.ts';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const NODES = ['node1', 'node2', 'node3'];
const RATE = Number(process.env.BENCH_RATE ?? 2000);
const CHURN_SECONDS = Number(process.env.BENCH_CHURN_SECONDS ?? 60);
const BIN = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lb-provisioner', 'bin');

interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

function ms(v: string, unit: string): number {
  return unit === 'us' ? Number(v) / 1000 : unit === 's' ? Number(v) * 1000 : Number(v);
}

async function wrk(topo: Topology, url: string, close: boolean): Promise<WrkResult> {
  const args = ['-t1', `-c${CONNS}`, `-d${SECONDS}s`, '--latency', ...(close ? ['-H', 'Connection: close'] : []), url];
  const out = await topo.exec('client', 'wrk', args);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p = (q: string): number => {
    const m = new RegExp(`\\s${q}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m ? ms(m[1]!, m[2]!) : NaN;
  };
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = (errs ? errs.slice(1).reduce((s, v) => s + Number(v), 0) : 0) + non2xx;
  return { rps, p50ms: p('50'), p99ms: p('99'), errors };
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

/** Open-loop latency at a fixed request rate on kept-alive connections: p50/p99 in ms. */
async function openLoop(topo: Topology, url: string): Promise<{ p50ms: number; p99ms: number; success: number }> {
  const bin = await vegeta();
  const out = await topo.exec('client', 'sh', [
    '-c',
    `echo "GET ${url}" | ${bin} attack -rate=${RATE} -duration=${SECONDS}s -keepalive=true | ${bin} report -type=json`,
  ]);
  const r = JSON.parse(out) as { latencies: { '50th': number; '99th': number }; success: number };
  return { p50ms: r.latencies['50th'] / 1e6, p99ms: r.latencies['99th'] / 1e6, success: r.success };
}

interface Row {
  label: string;
  keepAlive: WrkResult;
  newConns: WrkResult;
  open: { p50ms: number; p99ms: number; success: number };
}

async function measure(topo: Topology, label: string, url: string, rows: Row[]): Promise<void> {
  process.stderr.write(`measuring ${label}...\n`);
  // open loop first: the latency measure is the most sensitive to what a saturating run leaves behind
  const open = await openLoop(topo, url);
  rows.push({ label, keepAlive: await wrk(topo, url, false), newConns: await wrk(topo, url, true), open });
}

async function main(): Promise<void> {
  const topo = await Topology.create({
    hosts: { client: 2, lb: 10, node1: 11, node2: 12, node3: 13 },
    routes: [{ to: '10.213.1.0/24', via: 'lb' }],
  });
  const rows: Row[] = [];
  let churn: WrkResult | undefined;
  let detectionMs: number | undefined;
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
    await measure(topo, 'direct (node1 NodePort)', `http://${topo.addr4('node1')}:30080/`, rows);

    const lbAgent = (): ReturnType<Topology['spawnScript']> =>
      topo.spawnScript('lb', new URL('../test/netns/dataplane-agent.ts', import.meta.url).pathname);
    const lb = aLoadBalancer({ targets });
    let dp = lbAgent();
    await dp.call('start', { options: { backend: 'nftables', workers: 1 } });
    await dp.call('ensure', { key: 'default/bench', vips: ['10.213.1.10'], lb });
    const flow = await run('ip', [
      'netns',
      'exec',
      topo.ns('lb'),
      'nft',
      'add',
      'flowtable',
      'inet',
      'lbprovisioner',
      'ft',
      '{ hook ingress priority 0; devices = { eth0 }; }',
    ]).then(
      () => 'flowtable available (not used)',
      () => 'no flowtable on this kernel: plain DNAT path',
    );
    await measure(topo, `nftables (${flow})`, 'http://10.213.1.10/', rows);
    // node-failure detection: kill node3's health endpoint and backend, time until it leaves rotation
    await nodes[2]!.call('close', { protocol: 'tcp', port: 10256 });
    const t0 = Date.now();
    while ((await dp.call<ProxyServiceStatus>('status', { key: 'default/bench' })).healthyTargets.includes('node3')) {
      await new Promise((r) => setTimeout(r, 10));
    }
    detectionMs = Date.now() - t0;
    await nodes[2]!.call('http', { port: 10256 });
    await dp.call('remove', { key: 'default/bench' });
    await dp.call('close');
    await dp.stop();
    await topo.exec('lb', 'nft', ['delete', 'table', 'inet', 'lbprovisioner']);

    dp = lbAgent();
    await dp.call('start', { options: { backend: 'userspace', workers: 1 } });
    await dp.call('ensure', { key: 'default/bench', vips: ['10.213.1.10'], lb });
    await measure(topo, 'userspace (1 worker)', 'http://10.213.1.10/', rows);
    if (CHURN_SECONDS > 0) {
      // sustained connection churn: the naive proxy ran out of ephemeral ports here
      process.stderr.write(`userspace churn for ${CHURN_SECONDS}s...\n`);
      const out = await topo.exec('client', 'wrk', [
        '-t1',
        `-c${CONNS}`,
        `-d${CHURN_SECONDS}s`,
        '-H',
        'Connection: close',
        'http://10.213.1.10/',
      ]);
      churn = {
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
        p50ms: NaN,
        p99ms: NaN,
        errors: (/Socket errors: (.*)/.exec(out)?.[1] ?? '')
          .split(',')
          .reduce((n, p) => n + Number(/\d+/.exec(p)?.[0] ?? 0), 0),
      };
    }
    await dp.call('remove', { key: 'default/bench' });
    await dp.call('close');
    await dp.stop();

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
        `  bind ${topo.addr4('lb')}:8080`,
        '  default_backend b',
        'backend b',
        '  balance roundrobin',
        ...NODES.map((n) => `  server ${n} ${topo.addr4(n)}:30080`),
      ].join('\n') + '\n',
    );
    const haproxy = spawn('ip', ['netns', 'exec', topo.ns('lb'), 'haproxy', '-db', '-f', cfg], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let haproxyErr = '';
    haproxy.stderr.setEncoding('utf8').on('data', (d: string) => (haproxyErr += d));
    for (let i = 0; i < 50; i++) {
      const up = await run('ip', ['netns', 'exec', topo.ns('lb'), 'ss', '-Hltn', `sport = :8080`]).then(
        (r) => r.stdout.trim() !== '',
      );
      if (up) break;
      if (haproxy.exitCode !== null) throw new Error(`haproxy exited: ${haproxyErr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await measure(topo, 'HAProxy (1 thread, mode tcp)', `http://${topo.addr4('lb')}:8080/`, rows);
    haproxy.kill('SIGKILL');
  } finally {
    await topo.destroy();
  }

  const direct = rows[0]!;
  const r = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : '-');
  console.log(
    `\nproxy data plane benchmark: wrk -t1 -c${CONNS} -d${SECONDS}s; vegeta -rate=${RATE} (open loop, keep-alive); Node.js backends in 3 node namespaces\n`,
  );
  console.log(
    '| path | keep-alive req/s | x direct | new conn/s | x direct | open-loop p50 ms | p99 ms | added p99 ms | errors |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const errors = row.keepAlive.errors + row.newConns.errors;
    console.log(
      `| ${row.label} | ${row.keepAlive.rps.toFixed(0)} | ${r(row.keepAlive.rps, direct.keepAlive.rps)} | ${row.newConns.rps.toFixed(0)} | ${r(row.newConns.rps, direct.newConns.rps)} | ${row.open.p50ms.toFixed(2)} | ${row.open.p99ms.toFixed(2)} | ${(row.open.p99ms - direct.open.p99ms).toFixed(2)} | ${errors}${row.open.success < 1 ? ` (open loop success ${(row.open.success * 100).toFixed(1)}%)` : ''} |`,
    );
  }
  const us = rows.find((x) => x.label.startsWith('userspace'));
  const hap = rows.find((x) => x.label.startsWith('HAProxy'));
  if (us && hap) console.log(`\nuserspace / HAProxy keep-alive: ${r(us.keepAlive.rps, hap.keepAlive.rps)}x`);
  if (churn)
    console.log(
      `userspace churn ${CHURN_SECONDS}s: ${churn.rps.toFixed(0)} conn/s = ${r(churn.rps, direct.newConns.rps)}x direct, ${churn.errors} errors`,
    );
  console.log(`unhealthy node out of rotation after ${detectionMs ?? '?'} ms (target <= 2000 ms)`);
}

await main();
