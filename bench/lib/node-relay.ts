/**
 * The floor of a TCP proxy written for Node (bench/proxy-dataplane.ts): the shortest correct relay, round
 * robin, each connection piped both ways, no health, no ranges, no affinity, no retry. Our userspace back
 * end measured against it shows what our code costs; against HAProxy, what the runtime costs (libuv, V8 and
 * a copy through userspace per chunk, where HAProxy is C on epoll and may splice).
 *
 *   node bench/lib/node-relay.ts [--threads=N] <listen address> <port> <target host:port>...
 *
 * With --threads=N (the floor beside the 2-worker back end), N worker threads each listen on the port
 * (SO_REUSEPORT, as the back end's workers do) and relay what the kernel hands them. Prints "ready" once
 * every listener is up.
 */
import { connect, createServer } from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const args: string[] = isMainThread ? process.argv.slice(2) : (workerData as string[]);
const threads = args[0]?.startsWith('--threads=') ? Number(args.shift()!.slice('--threads='.length)) : 1;
const [host, port, ...targets] = args;
if (!host || !port || targets.length === 0 || !(threads >= 1)) {
  process.stderr.write('usage: node-relay.ts [--threads=N] <listen address> <port> <target host:port>...\n');
  process.exit(2);
}

if (isMainThread && threads > 1) {
  let ready = 0;
  for (let i = 0; i < threads; i++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: [host, port, ...targets] });
    worker.on('message', () => {
      if (++ready === threads) process.stdout.write('ready\n');
    });
    worker.on('error', (err) => {
      process.stderr.write(`node-relay: a worker failed: ${String(err)}\n`);
      process.exit(1);
    });
  }
} else {
  const upstreams = targets.map((t) => {
    const i = t.lastIndexOf(':');
    return { host: t.slice(0, i), port: Number(t.slice(i + 1)) };
  });
  let next = 0;
  const server = createServer({ noDelay: true }, (client) => {
    const upstream = connect({ ...upstreams[next++ % upstreams.length]!, noDelay: true });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.listen({ host, port: Number(port), backlog: 4096, reusePort: !isMainThread }, () =>
    isMainThread ? process.stdout.write('ready\n') : parentPort!.postMessage('ready'),
  );
}
