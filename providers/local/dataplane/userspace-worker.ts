/**
 * One userspace proxy worker thread. Every worker binds every VIP:port with SO_REUSEPORT, so the kernel
 * spreads new connections (and UDP flows, by 4-tuple hash) over the workers and the proxy scales with cores.
 * Messages: { type: 'apply', id, services } -> { type: 'applied', id, errors }.
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { affinityPick, proxyV2Header, RoundRobin, SourceRanges, targetsFor } from './userspace-balance.ts';
import { addressIn, familyOf } from './types.ts';
import type { ProxyPort, ProxyService, ProxyTarget } from './types.ts';

interface WorkerData {
  index: number;
  udpIdleMs: number;
}

interface Route {
  vip: string;
  port: ProxyPort;
  ranges: SourceRanges;
  affinity: boolean;
  proxyProtocol: boolean;
}

interface UdpSession {
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

function choose(l: Listener, client: string, exclude: Set<string>): ProxyTarget | undefined {
  const all = targetsFor(l.route.vip, l.route.port.targets).filter((t) => !exclude.has(t.name));
  return l.route.affinity ? affinityPick(client, all) : l.rr.pick(all);
}

function proxyTcp(l: Listener, client: Socket): void {
  const remote = client.remoteAddress ?? '';
  if (!l.route.ranges.allows(remote)) {
    client.resetAndDestroy();
    return;
  }
  client.pause(); // until a node accepted: what the client sends first waits in the socket
  client.on('error', () => {});
  let clientEnded = false;
  client.once('end', () => (clientEnded = true));
  const tried = new Set<string>();
  const attempt = (): void => {
    const target = choose(l, remote, tried);
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
      if (l.route.proxyProtocol) {
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
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.once('end', () => {
      // we closed toward the node first: skip TIME_WAIT on our side so churn can't exhaust ephemeral ports
      if (clientEnded && upstream.writableFinished) upstream.resetAndDestroy();
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
  const drop = (key: string, s: UdpSession): void => {
    sessions.delete(key);
    s.upstream.close();
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
      clearInterval(sweep);
      for (const [k, s] of sessions) drop(k, s);
      socket.close();
    },
    retarget: () => {
      // a flow toward a target that left moves on its next datagram (what conntrack -D does for nftables)
      const names = new Set(l.route.port.targets.map((t) => t.name));
      for (const [k, s] of sessions) if (!names.has(s.target.name)) drop(k, s);
    },
  };
  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    if (!l.route.ranges.allows(rinfo.address)) return;
    const key = `${rinfo.address}|${rinfo.port}`;
    let s = sessions.get(key);
    if (s === undefined) {
      const target = choose(l, rinfo.address, new Set());
      const address = target && addressIn(target, fam);
      if (target === undefined || address === undefined) return;
      const upstream = createSocket(fam === 6 ? 'udp6' : 'udp4');
      upstream.on('message', (reply: Buffer, from: RemoteInfo) => {
        if (from.address !== address) return;
        const cur = sessions.get(key);
        if (cur !== undefined) cur.lastSeen = Date.now();
        socket.send(reply, rinfo.port, rinfo.address);
      });
      upstream.on('error', () => {});
      s = { upstream, target, address, lastSeen: Date.now() };
      sessions.set(key, s);
    }
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
          affinity: svc.affinity.type === 'ClientIP',
          proxyProtocol: svc.proxyProtocol,
        });
      }
    }
  }
  return routes;
}

async function apply(services: ProxyService[]): Promise<string[]> {
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

parentPort?.on('message', (msg: { type: string; id: number; services: ProxyService[] }) => {
  if (msg.type === 'apply') {
    void apply(msg.services).then((errors) => parentPort?.postMessage({ type: 'applied', id: msg.id, errors }));
  } else if (msg.type === 'close') {
    for (const l of listeners.values()) l.close();
    listeners.clear();
    parentPort?.postMessage({ type: 'closed', id: msg.id });
  }
});
