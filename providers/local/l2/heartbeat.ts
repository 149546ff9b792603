/**
 * The speakers' UDP heartbeat socket (default port 7947, documented in the README): each speaker sends its
 * heartbeat to every node's address each interval, and hands what it hears to the membership. One socket,
 * dual-stack where the node has IPv6.
 */
import { createSocket, type Socket } from 'node:dgram';
import { decodeHeartbeat, encodeHeartbeat } from './heartbeat-wire.ts';
import type { Heartbeat } from './membership.ts';

export interface HeartbeatSocketOptions {
  port: number;
  /** HMAC key shared by every speaker (--heartbeat-key-file); none: unsigned */
  key?: Buffer;
  onHeartbeat(hb: Heartbeat, from: string): void;
  /** a datagram dropped: it did not parse, or its signature is wrong */
  onDropped(reason: 'malformed' | 'signature', from: string): void;
}

export class HeartbeatSocket {
  readonly #options: HeartbeatSocketOptions;
  #socket: Socket | undefined;
  sendErrors = 0;

  constructor(options: HeartbeatSocketOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    this.#socket = await bind('udp6', this.#options.port).catch(() => bind('udp4', this.#options.port));
    this.#socket.on('message', (msg, rinfo) => {
      const from = rinfo.address.replace(/^::ffff:/, '');
      const decoded = decodeHeartbeat(msg, this.#options.key);
      if (decoded.ok) this.#options.onHeartbeat(decoded.heartbeat, from);
      else this.#options.onDropped(decoded.reason, from);
    });
    // an ICMP port unreachable from a node without a speaker surfaces here: not a failure of ours
    this.#socket.on('error', () => {});
  }

  /** Sends the heartbeat to each address (a peer without a speaker just drops it); resolves once sent. */
  send(hb: Heartbeat, to: readonly string[]): Promise<void> {
    const socket = this.#socket;
    if (!socket) return Promise.resolve();
    const datagram = encodeHeartbeat(hb, this.#options.key);
    const v6 = socket.address().family === 'IPv6';
    return Promise.all(
      to.map(
        (address) =>
          new Promise<void>((resolve) =>
            socket.send(
              datagram,
              this.#options.port,
              v6 && !address.includes(':') ? `::ffff:${address}` : address,
              (err) => {
                if (err) this.sendErrors++;
                resolve();
              },
            ),
          ),
      ),
    ).then(() => undefined);
  }

  close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    return new Promise((resolve) => (socket ? socket.close(() => resolve()) : resolve()));
  }
}

function bind(type: 'udp4' | 'udp6', port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(type === 'udp6' ? { type, ipv6Only: false } : { type });
    socket.once('error', reject);
    socket.bind(port, type === 'udp6' ? '::' : '0.0.0.0', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}
