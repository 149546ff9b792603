/**
 * Stand-ins for kube-proxy on the demo's Nodes: each Node is a loopback address (127.0.1.x) with a small
 * HTTP server on every allocated TCP NodePort and a UDP echo on every UDP NodePort, both answering with
 * the node's name, and kube-proxy's `/healthz` on 10256. They follow the Services as they come and go.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type * as k8s from '@kubernetes/client-node';

const KUBE_PROXY_HEALTH_PORT = 10256;

export interface StandInNode {
  name: string;
  ip: string;
}

export class NodeStandIns {
  private readonly nodes: StandInNode[];
  private readonly servers = new Map<string, Server | Socket>();

  constructor(nodes: StandInNode[]) {
    this.nodes = nodes;
  }

  /** Start /healthz on 10256 for every node. */
  async start(): Promise<void> {
    for (const n of this.nodes) await this.listenTcp(n, KUBE_PROXY_HEALTH_PORT, () => 'ok');
  }

  /** Serve exactly the NodePorts these Services have. */
  async sync(services: readonly k8s.V1Service[]): Promise<void> {
    const wanted = new Set<string>();
    for (const svc of services) {
      for (const p of svc.spec?.ports ?? []) {
        if (!p.nodePort) continue;
        for (const n of this.nodes) {
          const key = `${n.ip}:${p.nodePort}/${p.protocol ?? 'TCP'}`;
          wanted.add(key);
          if (this.servers.has(key)) continue;
          if ((p.protocol ?? 'TCP') === 'UDP') await this.listenUdp(n, p.nodePort);
          else await this.listenTcp(n, p.nodePort, () => `${n.name}\n`);
        }
      }
    }
    for (const [key, server] of this.servers) {
      if (wanted.has(key) || key.endsWith(`:${KUBE_PROXY_HEALTH_PORT}/TCP`)) continue;
      server.close();
      this.servers.delete(key);
    }
  }

  async close(): Promise<void> {
    for (const server of this.servers.values()) server.close();
    this.servers.clear();
  }

  private listenTcp(node: StandInNode, port: number, body: () => string): Promise<void> {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-node': node.name });
      res.end(body());
    });
    this.servers.set(`${node.ip}:${port}/TCP`, server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, node.ip, () => resolve());
    });
  }

  private listenUdp(node: StandInNode, port: number): Promise<void> {
    const socket = createSocket('udp4');
    socket.on('message', (_msg, rinfo) => socket.send(`${node.name}\n`, rinfo.port, rinfo.address));
    this.servers.set(`${node.ip}:${port}/UDP`, socket);
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, node.ip, () => resolve());
    });
  }
}
