/**
 * The userspace back end relaying real TCP on loopback (no privileges needed): half-closes in both orders and
 * a transfer larger than every socket buffer, through a worker thread as in production.
 */
import { describe, it, expect, afterEach } from '@jest/globals';
import { createHash } from 'node:crypto';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { UserspaceBackend } from './userspace-backend.ts';
import { silentLogger, type ProxyService } from './types.ts';

let backend: UserspaceBackend | undefined;
const servers: Server[] = [];

afterEach(async () => {
  await backend?.close();
  backend = undefined;
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function listen(onConnection: (s: Socket) => void): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** A userspace proxy on 127.0.0.1:<returned port> toward one node at 127.0.0.1:nodePort. */
async function proxyTo(nodePort: number): Promise<number> {
  const port = await freePort();
  const svc: ProxyService = {
    key: 'default/relay',
    vips: ['127.0.0.1'],
    ports: [{ protocol: 'TCP', port, nodePort, targets: [{ name: 'node1', addresses: ['127.0.0.1'] }] }],
    sourceRanges: [],
    affinity: { type: 'None', timeoutSeconds: 10800 },
    proxyProtocol: false,
  };
  backend = new UserspaceBackend({ workers: 1 });
  await backend.apply([svc]);
  return port;
}

/** Reads a socket to its end: the bytes, and whether a FIN (not a reset) ended it. */
function readAll(s: Socket): Promise<{ data: Buffer; ended: boolean }> {
  const chunks: Buffer[] = [];
  let ended = false;
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('end', () => (ended = true));
  return new Promise((resolve) => s.once('close', () => resolve({ data: Buffer.concat(chunks), ended })));
}

describe('userspace back end relay', () => {
  it('carries a client half-close to the node and the answer back after it', async () => {
    const nodeSawEnd: boolean[] = [];
    const nodePort = await listen((s) => {
      const got: Buffer[] = [];
      s.on('data', (c: Buffer) => got.push(c));
      s.on('end', () => {
        nodeSawEnd.push(true);
        s.end(`answer to ${Buffer.concat(got).toString()}`); // answers only once the client is done
      });
    });
    const port = await proxyTo(nodePort);
    const client = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const result = readAll(client);
    client.end('question');
    const { data, ended } = await result;
    expect(data.toString()).toBe('answer to question');
    expect(ended).toBe(true);
    expect(nodeSawEnd).toEqual([true]);
  });

  it('closes toward the node once a node that ended first has its client done too', async () => {
    const nodeClosed: Array<'fin' | 'reset'> = [];
    const nodePort = await listen((s) => {
      s.once('data', () => s.end('response, then close')); // the node closes first, as HTTP Connection: close
      s.on('error', () => {});
      let fin = false;
      s.on('end', () => (fin = true));
      s.on('close', () => nodeClosed.push(fin ? 'fin' : 'reset'));
    });
    const port = await proxyTo(nodePort);
    const client = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const result = readAll(client);
    client.write('request');
    client.once('end', () => client.end()); // the client closes when it has read everything
    const { data, ended } = await result;
    expect(data.toString()).toBe('response, then close');
    expect(ended).toBe(true);
    await new Promise<void>((r) => {
      const poll = (): void => void (nodeClosed.length > 0 ? r() : setTimeout(poll, 10));
      poll();
    });
    expect(nodeClosed).toEqual(['fin']);
  });

  it('holds a fast node back to a slow reader, and relays every byte intact', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE(i, i);
    let sent = 0;
    const nodePort = await listen((s) => {
      // the node writes as fast as its socket takes it, so only the proxy's backpressure can slow it down
      const more = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', more);
        }
        s.end();
      };
      more();
    });
    const port = await proxyTo(nodePort);
    const client = connect({ host: '127.0.0.1', port });
    const hash = createHash('sha256');
    let received = 0;
    let maxInFlight = 0;
    client.on('data', (c: Buffer) => {
      hash.update(c);
      received += c.length;
      maxInFlight = Math.max(maxInFlight, sent - received);
      client.pause();
      setTimeout(() => client.resume(), 1);
    });
    await new Promise((r) => client.once('close', r));
    const expected = createHash('sha256');
    for (let i = 0; i < total / chunk.length; i++) expected.update(chunk);
    expect(received).toBe(total);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    // without backpressure the node's whole output would pile up in the proxy; with it, what is in flight is
    // what the socket buffers of both hops hold
    expect(maxInFlight).toBeLessThan(total / 2);
  }, 60_000);
});

describe('userspace back end workers', () => {
  it('fails apply() with the reason when its worker cannot start, instead of waiting forever', async () => {
    // a worker module that throws while loading, as one the image's tree could not resolve would
    const broken = new URL(`data:text/javascript,${encodeURIComponent("throw new Error('cannot load')")}`);
    const logged: string[] = [];
    const logger = { ...silentLogger, error: (_o: object, msg: string) => void logged.push(msg) };
    backend = new UserspaceBackend({ workers: 1, workerModule: broken, logger });
    await expect(backend.apply([])).rejects.toThrow('worker 0 exited with code 1: cannot load');
    // and it pauses before trying again rather than restarting a worker that cannot start in a loop
    await new Promise((r) => setTimeout(r, 300));
    expect(logged).toEqual([
      'userspace proxy worker failed',
      'userspace proxy worker could not start; retrying in 5 s',
    ]);
    // the next apply() tries again, and fails the same clear way
    await expect(backend.apply([])).rejects.toThrow('worker 0 exited with code 1: cannot load');
  });
});
