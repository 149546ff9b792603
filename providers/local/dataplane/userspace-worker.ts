/**
 * One userspace proxy worker thread. Every worker binds every VIP:port with SO_REUSEPORT, so the kernel
 * spreads new connections (and UDP flows, by 4-tuple hash) over the workers and the proxy scales with cores.
 * Messages: { type: 'apply', id, services } -> { type: 'applied', id, errors }; ClientIP affinity asks, answers
 * and touches as userspace-affinity.ts describes (the main thread owns the tables, each worker caches).
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { proxyV2Header, RoundRobin, SourceRanges, targetsFor } from './userspace-balance.ts';
import { affinityPorts, affinityTableKey, TOUCH_FLUSH_MS, WorkerAffinity } from './userspace-affinity.ts';
import type { ToWorker } from './userspace-affinity.ts';
import { addressIn, familyOf } from './types.ts';
import type { ProxyPort, ProxyService, ProxyTarget } from './types.ts';

interface WorkerData {
  index: number;
  udpIdleMs: number;
  affinityMaxEntries?: number;
}

interface Route {
  vip: string;
  port: ProxyPort;
  ranges: SourceRanges;
  /** the ClientIP affinity table of this Service port, if the Service asks for affinity */
  affinity: string | undefined;
  proxyProtocol: boolean;
}

interface UdpSession {
  client: string;
  upstream: UdpSocket;
  target: ProxyTarget;
  address: string;
  lastSeen: number;
}

interface Listener {
  route: Route;
  rr: RoundRobin;
  close(): void;
  /** called after route changed: UDP moves sessions off targets that left */
  retarget(): void;
}

const data = workerData as WorkerData;
const listeners = new Map<string, Listener>();
const affinity = new WorkerAffinity({
  post: (m) => parentPort?.postMessage(m),
  maxEntries: data.affinityMaxEntries,
});
setInterval(() => affinity.flush(), TOUCH_FLUSH_MS).unref();
setInterval(() => affinity.sweep(), 10_000).unref();

type Pick = ProxyTarget | undefined;

/**
 * The target of a new connection or UDP flow. With affinity, a client this worker knows is answered from its
 * cache, synchronously; only an unknown client waits for the main thread (a promise).
 */
function choose(l: Listener, client: string, exclude: Set<string>): Pick | Promise<Pick> {
  const all = targetsFor(l.route.vip, l.route.port.targets).filter((t) => !exclude.has(t.name));
  const table = l.route.affinity;
  if (table === undefined || all.length === 0) return l.rr.pick(all);
  const byName = (n: string | undefined): Pick => all.find((t) => t.name === n) ?? l.rr.pick(all);
  const node = affinity.choose(
    table,
    client,
    all.map((t) => t.name),
  );
  return typeof node === 'string' ? byName(node) : node.then(byName);
}

/** Runs `then` on the pick, now or when the main thread answered. */
function withPick(p: Pick | Promise<Pick>, then: (t: Pick) => void): void {
  if (p instanceof Promise) void p.then(then);
  else then(p);
}

/** Forwards what `from` reads to `to`, holding `from` while `to` is full. */
function relay(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
}

/**
 * Ends `socket`'s writing side. When its reading side is over too (the peer sent FIN and nothing is unread) and
 * nothing waits to be written, close() sends the FIN itself: one syscall and one event less than a shutdown
 * followed by a close, per proxied connection.
 */
function finish(socket: Socket): void {
  if (socket.readableEnded && socket.writableLength === 0) socket.destroy();
  else socket.end();
}

function proxyTcp(l: Listener, client: Socket): void {
  const { ranges, affinity: table, proxyProtocol } = l.route;
  // the client's address costs a getpeername per connection: only ranges, affinity and PROXY headers use it
  const remote = ranges.open && table === undefined && !proxyProtocol ? '' : (client.remoteAddress ?? '');
  if (!ranges.allows(remote)) {
    client.resetAndDestroy();
    return;
  }
  client.pause(); // until a node accepted: what the client sends first waits in the socket
  client.on('error', () => {});
  let clientEnded = false;
  client.once('end', () => (clientEnded = true));
  const tried = new Set<string>();
  const attempt = (): void => withPick(choose(l, remote, tried), connectTo);
  const connectTo = (target: Pick): void => {
    if (client.destroyed) return;
    const address = target && addressIn(target, familyOf(l.route.vip));
    if (target === undefined || address === undefined) {
      client.resetAndDestroy();
      return;
    }
    tried.add(target.name);
    const upstream = connect({ host: address, port: l.route.port.nodePort, allowHalfOpen: true, noDelay: true });
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      // a connection's end counts as the client talking, so a long one keeps its entry alive
      if (table !== undefined) client.once('close', () => affinity.touch(table, remote, target.name));
      if (proxyProtocol) {
        upstream.write(
          proxyV2Header({
            protocol: 'TCP',
            source: remote,
            sourcePort: client.remotePort ?? 0,
            destination: client.localAddress ?? l.route.vip,
            destinationPort: client.localPort ?? l.route.port.port,
          }),
        );
      }
      // plain listeners rather than pipe(): a kept-alive request is one chunk each way, and pipe's
      // bookkeeping per chunk (unpipe, drain and error wiring, flowing state) costs more than the relay
      relay(client, upstream);
      relay(upstream, client);
      client.once('end', () => finish(upstream));
      client.resume();
    });
    upstream.once('end', () => {
      // we closed toward the node first: skip TIME_WAIT on our side so churn can't exhaust ephemeral ports
      if (clientEnded && upstream.writableFinished) upstream.resetAndDestroy();
      finish(client);
    });
    upstream.on('error', () => {
      if (!connected && !client.destroyed) {
        client.off('close', onClientClose);
        attempt(); // a node that died between health checks: try the next one, the client never sees it
        return;
      }
      client.resetAndDestroy();
    });
    const onClientClose = (): void => {
      if (!upstream.destroyed) upstream.destroy();
    };
    client.once('close', onClientClose);
    upstream.once('close', () => {
      if (connected && !client.destroyed) client.end();
    });
  };
  attempt();
}

function tcpListener(route: Route): Promise<Listener> {
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true });
  const l: Listener = {
    route,
    rr: new RoundRobin(data.index),
    close: () => server.close(),
    retarget: () => {},
  };
  server.on('connection', (s: Socket) => proxyTcp(l, s));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: route.vip, port: route.port.port, reusePort: true, backlog: 4096 }, () => {
      server.off('error', reject);
      server.on('error', () => {});
      resolve(l);
    });
  });
}

function udpListener(route: Route): Promise<Listener> {
  const fam = familyOf(route.vip);
  const socket = createSocket({ type: fam === 6 ? 'udp6' : 'udp4', reuseAddr: false, reusePort: true });
  const sessions = new Map<string, UdpSession>();
  /** flows waiting for the main thread's affinity answer, with their first datagrams */
  const waiting = new Map<string, Buffer[]>();
  let closed = false;
  const drop = (key: string, s: UdpSession): void => {
    sessions.delete(key);
    s.upstream.close();
    const table = l.route.affinity;
    if (table !== undefined) affinity.touch(table, s.client, s.target.name, s.lastSeen);
  };
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [k, s] of sessions) if (now - s.lastSeen > data.udpIdleMs) drop(k, s);
  }, 5_000);
  sweep.unref();
  const l: Listener = {
    route,
    rr: new RoundRobin(data.index),
    close: () => {
      closed = true;
      clearInterval(sweep);
      for (const [k, s] of sessions) drop(k, s);
      waiting.clear();
      socket.close();
    },
    retarget: () => {
      // a flow toward a target that left moves on its next datagram (what conntrack -D does for nftables)
      const names = new Set(l.route.port.targets.map((t) => t.name));
      for (const [k, s] of sessions) if (!names.has(s.target.name)) drop(k, s);
    },
  };
  const open = (key: string, rinfo: RemoteInfo, target: Pick): UdpSession | undefined => {
    const address = target && addressIn(target, fam);
    if (closed || target === undefined || address === undefined) return undefined;
    const upstream = createSocket(fam === 6 ? 'udp6' : 'udp4');
    upstream.on('message', (reply: Buffer, from: RemoteInfo) => {
      if (from.address !== address) return;
      const cur = sessions.get(key);
      if (cur !== undefined) cur.lastSeen = Date.now();
      socket.send(reply, rinfo.port, rinfo.address);
    });
    upstream.on('error', () => {});
    const s: UdpSession = { client: rinfo.address, upstream, target, address, lastSeen: Date.now() };
    sessions.set(key, s);
    return s;
  };
  const forward = (s: UdpSession, msg: Buffer, rinfo: RemoteInfo): void => {
    s.lastSeen = Date.now();
    const payload = l.route.proxyProtocol
      ? Buffer.concat([
          proxyV2Header({
            protocol: 'UDP',
            source: rinfo.address,
            sourcePort: rinfo.port,
            destination: route.vip,
            destinationPort: route.port.port,
          }),
          msg,
        ])
      : msg;
    s.upstream.send(payload, l.route.port.nodePort, s.address);
  };
  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    if (!l.route.ranges.allows(rinfo.address)) return;
    const key = `${rinfo.address}|${rinfo.port}`;
    const s = sessions.get(key);
    if (s !== undefined) {
      forward(s, msg, rinfo);
      return;
    }
    const queue = waiting.get(key);
    if (queue !== undefined) {
      if (queue.length < 64) queue.push(msg);
      return;
    }
    const picked = choose(l, rinfo.address, new Set());
    if (picked instanceof Promise) waiting.set(key, [msg]);
    withPick(picked, (target) => {
      const queued = waiting.get(key) ?? [msg];
      waiting.delete(key);
      const opened = open(key, rinfo, target);
      if (opened !== undefined) for (const m of queued) forward(opened, m, rinfo);
    });
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: route.vip, port: route.port.port }, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve(l);
    });
  });
}

function routesOf(services: ProxyService[]): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const svc of services) {
    const ranges = new SourceRanges(svc.sourceRanges);
    for (const vip of svc.vips) {
      for (const port of svc.ports) {
        routes.set(`${port.protocol}|${vip}|${port.port}`, {
          vip,
          port,
          ranges,
          affinity: svc.affinity.type === 'ClientIP' ? affinityTableKey(svc.key, port.protocol, port.port) : undefined,
          proxyProtocol: svc.proxyProtocol,
        });
      }
    }
  }
  return routes;
}

async function apply(services: ProxyService[]): Promise<string[]> {
  affinity.sync(affinityPorts(services));
  const routes = routesOf(services);
  const errors: string[] = [];
  for (const [key, l] of listeners) {
    if (routes.has(key)) continue;
    l.close(); // established TCP connections stay, as with nftables
    listeners.delete(key);
  }
  for (const [key, route] of routes) {
    const l = listeners.get(key);
    if (l !== undefined) {
      l.route = route;
      l.retarget();
      continue;
    }
    try {
      listeners.set(key, await (route.port.protocol === 'TCP' ? tcpListener(route) : udpListener(route)));
    } catch (err) {
      errors.push(`${key}: ${(err as Error).message}`);
    }
  }
  return errors;
}

type FromMain = { type: 'apply'; id: number; services: ProxyService[] } | { type: 'close'; id: number } | ToWorker;

parentPort?.on('message', (msg: FromMain) => {
  if (msg.type === 'affinityAnswer' || msg.type === 'affinityForget') {
    affinity.onMessage(msg);
  } else if (msg.type === 'apply') {
    void apply(msg.services).then((errors) => parentPort?.postMessage({ type: 'applied', id: msg.id, errors }));
  } else if (msg.type === 'close') {
    for (const l of listeners.values()) l.close();
    listeners.clear();
    parentPort?.postMessage({ type: 'closed', id: msg.id });
  }
});
