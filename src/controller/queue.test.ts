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

  it("runs a delayed add's callbacks when it fires, not before; merged delayed adds run all of them", async () => {
    const q = new WorkQueue();
    const fired: string[] = [];
    q.addAfter('k', 40, 'full', () => fired.push('recheck'));
    q.addAfter('k', 20, 'full', () => fired.push('sooner'));
    q.addAfter('k', 60_000);
    expect(fired).toEqual([]);
    expect(await q.get()).toBe('k');
    expect(fired).toEqual(['recheck', 'sooner']);
    q.done('k');
    // a sync taking the key first cancels the delayed add: its callback never runs
    q.addAfter('j', 30, 'full', () => fired.push('cancelled'));
    q.add('j');
    expect(await q.get()).toBe('j');
    q.done('j');
    await sleep(60);
    expect(fired).toEqual(['recheck', 'sooner']);
    expect(q.length).toBe(0);
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

  describe('lanes: targets-only syncs beside the Service workers', () => {
    /** A handler that holds every key until released, and notes overlaps of one key. */
    function gatedHandler() {
      const running = new Map<string, number>();
      const seen: string[] = [];
      let overlaps = 0;
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const waiters: { n: number; resolve: () => void }[] = [];
      const handle = async (key: string) => {
        const n = (running.get(key) ?? 0) + 1;
        if (n > 1) overlaps++;
        running.set(key, n);
        seen.push(key);
        for (const w of waiters.filter((w) => seen.length >= w.n)) w.resolve();
        await gate;
        running.set(key, (running.get(key) ?? 1) - 1);
      };
      const started = (n: number) =>
        seen.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }));
      return {
        handle,
        seen,
        started,
        release,
        overlaps: () => overlaps,
        inFlight: () => [...running.values()].reduce((a, b) => a + b, 0),
      };
    }

    it('runs targets-only keys on workers of their own, beyond the full workers, never a key twice at once', async () => {
      const q = new WorkQueue();
      const h = gatedHandler();
      const keys = Array.from({ length: 10 }, (_, i) => `ns/svc-${i}`);
      for (const k of keys) q.add(k, 'targets');
      const full = runWorkers(q, 1, h.handle, 'full');
      const targets = runWorkers(q, 16, h.handle, 'targets');
      await h.started(10); // all ten in flight at once, with one full worker
      expect(h.inFlight()).toBe(10);
      // re-added while in flight, to either lane: held until the sync under way is done
      q.add('ns/svc-0', 'targets');
      q.add('ns/svc-1', 'full');
      q.add('ns/svc-1', 'targets');
      expect(h.seen).toHaveLength(10);
      h.release();
      await h.started(12);
      await q.idle();
      q.shutDown();
      await Promise.all([full, targets]);
      expect(h.overlaps()).toBe(0);
      expect(h.seen.filter((k) => k === 'ns/svc-0' || k === 'ns/svc-1').sort()).toEqual([
        'ns/svc-0',
        'ns/svc-0',
        'ns/svc-1',
        'ns/svc-1',
      ]);
    });

    it('a key waiting for the targets workers moves to the full workers when added for a full sync', async () => {
      const q = new WorkQueue();
      q.add('a', 'targets');
      q.add('b', 'targets');
      q.add('a', 'full');
      q.add('b', 'targets');
      expect(q.length).toBe(2);
      expect(await q.get('full')).toBe('a');
      expect(await q.get('targets')).toBe('b');
      q.done('a');
      q.done('b');
      await q.idle();
      q.shutDown();
    });

    it('a key in flight re-added for a full sync goes to the full workers next, and idle() waits for both lanes', async () => {
      const q = new WorkQueue();
      q.add('a', 'targets');
      expect(await q.get('targets')).toBe('a');
      q.add('a', 'targets');
      q.add('a', 'full');
      let idle = false;
      void q.idle().then(() => (idle = true));
      q.done('a');
      expect(q.length).toBe(1);
      expect(await q.get('full')).toBe('a');
      q.done('a');
      await q.idle();
      expect(idle).toBe(true);
      q.shutDown();
    });
  });
});
