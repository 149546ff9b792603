import { describe, expect, it } from '@jest/globals';
import { WorkQueue, runWorkers } from './queue.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('work queue', () => {
  it('lists the keys that will sync again on their own (backoff, recheck), and not once taken', async () => {
    const q = new WorkQueue({ baseDelayMs: 60_000 });
    q.addRateLimited('failed');
    q.addAfter('recheck', 60_000);
    q.add('now');
    expect(q.scheduled().sort()).toEqual(['failed', 'recheck']);
    q.shutDown();
    expect(q.scheduled()).toEqual([]);
  });

  it('collapses duplicate adds of a waiting key', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands a key to two workers at once, and processes a key re-added in flight once more after', async () => {
    const q = new WorkQueue();
    const running = new Set<string>();
    let overlaps = 0;
    const seen: string[] = [];
    q.add('k');
    const workers = runWorkers(q, 4, async (key) => {
      if (running.has(key)) overlaps++;
      running.add(key);
      seen.push(key);
      if (seen.length === 1) {
        q.add('k'); // re-added while in flight
        q.add('k');
      }
      await sleep(20);
      running.delete(key);
    });
    await sleep(100);
    await q.idle();
    q.shutDown();
    await workers;
    expect(overlaps).toBe(0);
    expect(seen).toEqual(['k', 'k']);
  });

  it('backs off per key exponentially up to the cap, and forget resets it', () => {
    const q = new WorkQueue({ baseDelayMs: 5000, maxDelayMs: 300_000 });
    const delays = Array.from({ length: 9 }, () => q.addRateLimited('k'));
    expect(delays).toEqual([5000, 10000, 20000, 40000, 80000, 160000, 300000, 300000, 300000]);
    expect(q.addRateLimited('other')).toBe(5000);
    q.forget('k');
    expect(q.addRateLimited('k')).toBe(5000);
    q.shutDown();
  });

  it('keeps the earliest of several delayed adds', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 10_000);
    q.addAfter('k', 30);
    q.addAfter('k', 20_000);
    const started = Date.now();
    expect(await q.get()).toBe('k');
    expect(Date.now() - started).toBeLessThan(5000);
    q.shutDown();
  });

  it('a sync that starts before a pending delayed add supersedes it: the key is not processed twice', async () => {
    const q = new WorkQueue();
    const seen: string[] = [];
    q.addAfter('k', 60); // a recheck scheduled by an earlier sync
    q.add('k'); // a watch event runs the key now
    const workers = runWorkers(q, 1, async (key) => {
      seen.push(key);
    });
    await sleep(150);
    q.shutDown();
    await workers;
    expect(seen).toEqual(['k']);
  });

  it('drains on shutdown: workers finish what they hold, then stop', async () => {
    const q = new WorkQueue();
    const finished: string[] = [];
    q.add('a');
    const workers = runWorkers(q, 1, async (key) => {
      await sleep(30);
      finished.push(key);
    });
    await sleep(5);
    q.add('b');
    q.shutDown();
    await workers;
    expect(finished).toEqual(['a']);
    expect(await q.get()).toBeUndefined();
  });
});
