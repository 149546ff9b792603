/**
 * The floor of a TCP proxy written for Node (bench/proxy-dataplane.ts): the shortest correct relay, one
 * thread, round robin, each connection piped both ways, no health, no ranges, no affinity, no retry. Our
 * userspace back end measured against it shows what our code costs; against HAProxy, what the runtime
 * costs (libuv, V8 and a copy through userspace per chunk, where HAProxy is C on epoll and may splice).
 *
 *   node bench/lib/node-relay.ts <listen address> <port> <target host:port>...
 *
 * Prints "ready" once listening.
 */
import { connect, createServer } from 'node:net';

const [host, port, ...targets] = process.argv.slice(2);
if (!host || !port || targets.length === 0) {
  process.stderr.write('usage: node-relay.ts <listen address> <port> <target host:port>...\n');
  process.exit(2);
}
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
server.listen({ host, port: Number(port), backlog: 4096 }, () => process.stdout.write('ready\n'));
