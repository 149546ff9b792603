/**
 * The traffic agent run inside a test namespace (`node agent.ts <name>`): backends standing in for a node's
 * kube-proxy (HTTP NodePorts answering with the node name, UDP echo, /healthz servers whose status tests
 * flip) and clients (new-connection HTTP requests, UDP flows from a fixed source port, held keep-alive
 * connections). Speaks rpc.ts on stdin/stdout.
 */
import { createSocket } from 'node:dgram';
import { Agent, createServer as createHttpServer, request } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import { connect as tcpConnect, createServer as createTcpServer } from 'node:net';
import type { Server as TcpServer } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';
import { serveRpc } from './rpc.ts';

const name = process.argv[2] ?? 'agent';
const servers = new Map<string, { close(): void }>();
const health = new Map<number, number>();
let conns = 0;

function httpGet(url: string, timeoutMs: number, agent?: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent: agent ?? false, timeout: timeoutMs, headers: agent ? {} : { connection: 'close' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function listen(s: HttpServer | TcpServer, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen({ port, host: '::', backlog: 4096 }, () => resolve());
  });
}

/** Parses a PROXY v2 header at the start of `b`: the client address it carries, and the header length. */
function proxyV2Source(b: Buffer): { source: string; length: number } | undefined {
  if (b.length < 16 || b.subarray(0, 12).toString('hex') !== '0d0a0d0a000d0a515549540a') return undefined;
  const length = 16 + b.readUInt16BE(14);
  const v6 = (b[13]! & 0xf0) === 0x20;
  const source = v6
    ? (b.subarray(16, 32).toString('hex').match(/.{4}/g) ?? []).join(':')
    : [...b.subarray(16, 20)].join('.');
  return { source, length };
}

const held = new Map<number, Agent>();
let nextHeld = 1;

serveRpc({
  /** HTTP NodePort: answers {node, conn, req} as JSON; /healthz follows setHealth for that port */
  async http(a) {
    const port = a.port as number;
    const s = createHttpServer((req, res) => {
      const sock = req.socket as typeof req.socket & { connId?: number; reqs?: number };
      sock.connId ??= ++conns;
      sock.reqs = (sock.reqs ?? 0) + 1;
      if (req.url === '/healthz') {
        res.statusCode = health.get(port) ?? 200;
        res.end(res.statusCode === 200 ? 'ok' : 'unhealthy');
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ node: name, conn: sock.connId, req: sock.reqs, client: req.socket.remoteAddress }));
    });
    s.keepAliveTimeout = 60_000;
    await listen(s, port);
    servers.set(`tcp:${port}`, s);
  },
  /** raw TCP NodePort expecting a PROXY v2 header: answers "<node> <client from header>" */
  async proxyv2(a) {
    const port = a.port as number;
    const s = createTcpServer((c) => {
      c.once('data', (b: Buffer) => {
        const h = proxyV2Source(b);
        c.end(`${name} ${h?.source ?? 'no-header'}\n`);
      });
      c.on('error', () => {});
    });
    await listen(s, port);
    servers.set(`tcp:${port}`, s);
  },
  async udp(a) {
    const port = a.port as number;
    const s: UdpSocket = createSocket({ type: 'udp6', ipv6Only: false });
    s.on('message', (msg, r) => s.send(`${name} ${msg.toString()}`, r.port, r.address));
    await new Promise<void>((resolve) => s.bind(port, '::', resolve));
    servers.set(`udp:${port}`, s);
  },
  setHealth(a) {
    health.set(a.port as number, a.status as number);
  },
  /** stops a server (a dead node) */
  close(a) {
    const key = `${a.protocol as string}:${a.port as number}`;
    const s = servers.get(key) as (HttpServer & { closeAllConnections?: () => void }) | undefined;
    s?.close();
    s?.closeAllConnections?.();
    servers.delete(key);
  },
  /** `count` HTTP GETs, each on a new connection, `concurrency` at a time; bodies or error messages */
  async get(a) {
    const url = a.url as string;
    const count = (a.count as number | undefined) ?? 1;
    const concurrency = (a.concurrency as number | undefined) ?? 1;
    const timeoutMs = (a.timeoutMs as number | undefined) ?? 2000;
    const out: Array<{ ok: boolean; body: string }> = [];
    let i = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (i < count) {
          i++;
          try {
            out.push({ ok: true, body: await httpGet(url, timeoutMs) });
          } catch (err) {
            out.push({ ok: false, body: (err as Error).message });
          }
        }
      }),
    );
    return out;
  },
  /** raw TCP: connect, write `send`, read until the server closes */
  tcp(a) {
    return new Promise((resolve) => {
      const c = tcpConnect({ host: a.host as string, port: a.port as number });
      let body = '';
      c.setEncoding('utf8');
      c.on('connect', () => c.write((a.send as string | undefined) ?? 'hello'));
      c.on('data', (d: string) => (body += d));
      c.on('end', () => resolve({ ok: true, body }));
      c.on('error', (err) => resolve({ ok: false, body: err.message }));
      c.setTimeout((a.timeoutMs as number | undefined) ?? 2000, () => c.destroy(new Error('timeout')));
    });
  },
  /** UDP request/replies from one source port (one flow): a reply text or null per datagram */
  async udpAsk(a) {
    const host = a.host as string;
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => s.bind((a.sourcePort as number | undefined) ?? 0, resolve));
    const replies: Array<string | null> = [];
    try {
      for (let i = 0; i < ((a.count as number | undefined) ?? 1); i++) {
        replies.push(
          await new Promise<string | null>((resolve) => {
            const t = setTimeout(
              () => {
                s.off('message', onMsg);
                resolve(null);
              },
              (a.timeoutMs as number | undefined) ?? 500,
            );
            const onMsg = (m: Buffer): void => {
              clearTimeout(t);
              s.off('message', onMsg);
              resolve(m.toString());
            };
            s.on('message', onMsg);
            s.send(`ping${i}`, a.port as number, host);
          }),
        );
      }
    } finally {
      s.close();
    }
    return replies;
  },
  /** opens a keep-alive connection and makes one request; returns its id and the answer */
  async hold(a) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const id = nextHeld++;
    held.set(id, agent);
    return { id, body: await httpGet(a.url as string, 2000, agent) };
  },
  /** another request on a held connection */
  async heldGet(a) {
    const agent = held.get(a.id as number);
    if (agent === undefined) throw new Error('no such held connection');
    return httpGet(a.url as string, (a.timeoutMs as number | undefined) ?? 2000, agent);
  },
});
