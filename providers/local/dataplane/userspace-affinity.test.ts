import { describe, it, expect } from '@jest/globals';
import {
  AffinityBroker,
  affinityPorts,
  AffinityTable,
  affinityTableKey,
  TOUCH_FLUSH_MS,
  WorkerAffinity,
} from './userspace-affinity.ts';
import type { FromWorker, ToWorker } from './userspace-affinity.ts';
import type { ProxyService } from './types.ts';

const NODES = ['node1', 'node2', 'node3'];
const HOUR = 3_600_000;
const clients = Array.from({ length: 300 }, (_, i) => `10.9.${i >> 8}.${i & 255}`);

function table(timeoutMs = HOUR, maxEntries?: number): AffinityTable {
  const t = new AffinityTable({ timeoutMs, maxEntries });
  t.retain(NODES);
  return t;
}

function service(timeoutSeconds: number, targets = NODES): ProxyService {
  return {
    key: 'default/sticky',
    vips: ['10.213.1.13'],
    ports: [
      { protocol: 'TCP', port: 80, nodePort: 30080, targets: targets.map((name) => ({ name, addresses: [] })) },
      { protocol: 'UDP', port: 53, nodePort: 30053, targets: targets.map((name) => ({ name, addresses: [] })) },
    ],
    sourceRanges: [],
    affinity: { type: 'ClientIP', timeoutSeconds },
    proxyProtocol: false,
  };
}

describe('ClientIP affinity table', () => {
  it('gives new clients the next node of the spread and keeps each on its node within the timeout', () => {
    const t = table();
    const first = clients.map((c) => t.assign(c, NODES, 0).node);
    expect(first.slice(0, 6)).toEqual(['node1', 'node2', 'node3', 'node1', 'node2', 'node3']);
    for (let now = 1; now <= HOUR; now += HOUR / 4) {
      clients.forEach((c, i) => expect(t.assign(c, NODES, now).node).toBe(first[i]));
    }
    expect(t.lookup('::ffff:10.9.0.1', HOUR)).toBe(first[1]); // v4-mapped is the same client
  });

  it('forgets a client silent for longer than the timeout, which then gets a fresh entry', () => {
    const t = table(10_000);
    expect(t.assign('10.9.0.1', NODES, 0).node).toBe('node1');
    expect(t.lookup('10.9.0.1', 10_000)).toBe('node1');
    expect(t.touch('10.9.0.1', 'node1', 9_000)).toBe(true); // talking keeps it
    expect(t.lookup('10.9.0.1', 19_000)).toBe('node1');
    expect(t.lookup('10.9.0.1', 19_001)).toBeUndefined();
    expect(t.assign('10.9.0.1', NODES, 19_001)).toEqual({ node: 'node2', replaced: false, evicted: [] });
    expect(t.sweep(40_000)).toBe(1);
    expect(t.size).toBe(0);
  });

  it('moves only the clients of a node that left; clients whose node stays never move, nor when one joins', () => {
    const t = table();
    const before = new Map(clients.map((c) => [c, t.assign(c, NODES, 0).node]));
    t.retain(['node1', 'node3']);
    expect(t.size).toBe(200);
    const after = new Map(clients.map((c) => [c, t.assign(c, ['node1', 'node3'], 1).node]));
    for (const c of clients) if (before.get(c) !== 'node2') expect(after.get(c)).toBe(before.get(c));
    const moved = clients.filter((c) => before.get(c) === 'node2').map((c) => after.get(c));
    expect(moved.filter((n) => n === 'node1').length).toBe(50); // spread over the nodes that stay
    t.retain([...NODES, 'node4']);
    for (const c of clients) expect(t.assign(c, [...NODES, 'node4'], 2).node).toBe(after.get(c));
  });

  it('gives a client another node when its node is not a candidate (it failed a connect), saying so', () => {
    const t = table();
    expect(t.assign('10.9.0.1', NODES, 0).node).toBe('node1');
    expect(t.assign('10.9.0.1', ['node2', 'node3'], 1)).toEqual({ node: 'node3', replaced: true, evicted: [] });
    expect(t.lookup('10.9.0.1', 2)).toBe('node3');
    expect(t.assign('10.9.0.1', [], 3).node).toBeUndefined();
  });

  it('caps its size, evicting the least recently seen client', () => {
    const t = table(HOUR, 3);
    for (const c of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) t.assign(c, NODES, 0);
    t.touch('10.0.0.1', 'node1', 5);
    expect(t.assign('10.0.0.4', NODES, 6).evicted).toEqual(['10.0.0.2']);
    expect(t.size).toBe(3);
    expect(t.lookup('10.0.0.1', 7)).toBe('node1');
  });

  it('takes a touch for the node it has or adopts an absent entry, but not one for another live node', () => {
    const t = table();
    t.assign('10.0.0.1', NODES, 0);
    expect(t.touch('10.0.0.1', 'node2', 1)).toBe(false);
    expect(t.touch('10.0.0.2', 'node3', 1)).toBe(true);
    expect(t.lookup('10.0.0.2', 2)).toBe('node3');
    expect(t.touch('10.0.0.3', 'gone', 1)).toBe(false);
  });

  it('keys one table per Service port with the timeout in ms', () => {
    expect(affinityPorts([service(30)])).toEqual([
      { table: affinityTableKey('default/sticky', 'TCP', 80), timeoutMs: 30_000, nodes: NODES },
      { table: 'default/sticky|UDP|53', timeoutMs: 30_000, nodes: NODES },
    ]);
    expect(affinityPorts([{ ...service(30), affinity: { type: 'None', timeoutSeconds: 10800 } }])).toEqual([]);
  });
});

describe('ClientIP affinity across worker threads', () => {
  /** A broker and workers wired by hand, with one fake clock; messages are delivered when `deliver` runs. */
  function setup(timeoutSeconds = 10) {
    let now = 0;
    const clock = (): number => now;
    const broker = new AffinityBroker({ now: clock });
    const queue: [number, FromWorker][] = [];
    const sent: FromWorker[] = [];
    const workers: WorkerAffinity[] = [0, 1].map(
      (i) =>
        new WorkerAffinity({
          now: clock,
          post: (m) => {
            sent.push(m);
            queue.push([i, m]);
          },
        }),
    );
    const toWorker = (i: number, m: ToWorker): void => workers[i]!.onMessage(m);
    const deliver = (): void => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const [i, m] = next;
        if (m.type === 'affinityTouches') broker.touches(m);
        else {
          const { answer, forget } = broker.ask(m);
          toWorker(i, answer);
          if (forget.length > 0) workers.forEach((_, j) => toWorker(j, { type: 'affinityForget', entries: forget }));
        }
      }
    };
    const apply = (targets = NODES): void => {
      const svc = [service(timeoutSeconds, targets)];
      broker.sync(svc);
      for (const w of workers) w.sync(affinityPorts(svc));
    };
    apply();
    const tick = (ms: number): void => {
      now += ms;
    };
    return { broker, workers, deliver, apply, tick, sent };
  }
  const TABLE = 'default/sticky|TCP|80';

  async function choose(s: ReturnType<typeof setup>, w: number, client: string, candidates = NODES) {
    const r = s.workers[w]!.choose(TABLE, client, candidates);
    if (typeof r === 'string') return { node: r, asked: false };
    s.deliver();
    return { node: await r, asked: true };
  }

  it('asks the main thread once per unknown client; both workers then agree without messages', async () => {
    const s = setup();
    expect(await choose(s, 0, '10.0.0.1')).toEqual({ node: 'node1', asked: true });
    expect(await choose(s, 0, '10.0.0.1')).toEqual({ node: 'node1', asked: false });
    expect(await choose(s, 1, '10.0.0.1')).toEqual({ node: 'node1', asked: true });
    expect(await choose(s, 1, '10.0.0.2')).toEqual({ node: 'node2', asked: true });
    expect(await choose(s, 0, '10.0.0.2')).toEqual({ node: 'node2', asked: true });
    const before = s.sent.length;
    for (let i = 0; i < 100; i++) await choose(s, i % 2, '10.0.0.1');
    expect(s.sent.length).toBe(before);
  });

  it("keeps a client alive at the main thread through a worker's batched touches, and expires a silent one", async () => {
    const s = setup(10);
    await choose(s, 0, '10.0.0.1');
    for (let i = 0; i < 5; i++) {
      s.tick(8_000);
      expect(await choose(s, 0, '10.0.0.1')).toEqual({ node: 'node1', asked: false });
      s.workers[0]!.flush();
      s.deliver();
    }
    // worker 1 never saw this client; the main thread still knows it through worker 0's touches
    expect(await choose(s, 1, '10.0.0.1')).toEqual({ node: 'node1', asked: true });
    s.tick(10_000 + 2 * TOUCH_FLUSH_MS + 1);
    s.broker.sweep();
    expect(s.broker.table(TABLE)?.size).toBe(0);
    expect(await choose(s, 1, '10.0.0.1')).toEqual({ node: 'node2', asked: true });
  });

  it('moves a client whose node failed on every worker, and drops clients of a node that left', async () => {
    const s = setup();
    await choose(s, 0, '10.0.0.1');
    await choose(s, 1, '10.0.0.1');
    // worker 0 couldn't connect to node1: the main thread moves the client and worker 1 forgets node1
    expect(await choose(s, 0, '10.0.0.1', ['node2', 'node3'])).toEqual({ node: 'node3', asked: true });
    expect(await choose(s, 1, '10.0.0.1')).toEqual({ node: 'node3', asked: true });
    expect(await choose(s, 0, '10.0.0.2')).toEqual({ node: 'node3', asked: true });
    expect(await choose(s, 0, '10.0.0.3')).toEqual({ node: 'node1', asked: true });
    // node3 leaves: its clients get a node that stays, node1's client keeps node1 without asking
    s.apply(['node1', 'node2']);
    expect(await choose(s, 0, '10.0.0.3', ['node1', 'node2'])).toEqual({ node: 'node1', asked: false });
    const moved = await choose(s, 1, '10.0.0.2', ['node1', 'node2']);
    expect(moved).toEqual({ node: expect.stringMatching(/^node[12]$/), asked: true });
    expect(await choose(s, 0, '10.0.0.2', ['node1', 'node2'])).toEqual({ node: moved.node, asked: true });
  });

  it('falls back to the plain spread when the main thread does not answer', async () => {
    const w = new WorkerAffinity({ post: () => {}, askTimeoutMs: 10 });
    w.sync(affinityPorts([service(10)]));
    expect(await w.choose(TABLE, '10.0.0.1', NODES)).toBeUndefined();
  });
});
