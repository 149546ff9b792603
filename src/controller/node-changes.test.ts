import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { NodeChanges } from './node-changes.ts';

describe('node changes: the first syncs at once, followers within the window coalesce', () => {
  let syncedAt: number[];
  let changes: NodeChanges;

  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
    syncedAt = [];
    changes = new NodeChanges({ windowMs: 100, sync: () => syncedAt.push(Date.now()) });
  });
  afterEach(() => {
    changes.cancel();
    jest.useRealTimers();
  });

  /** Whether synced() has resolved, once pending promise callbacks have run. */
  async function hasSettled(p: Promise<void>): Promise<boolean> {
    let settled = false;
    void p.then(() => (settled = true));
    await jest.advanceTimersByTimeAsync(0);
    return settled;
  }

  it('the first change after quiet syncs on the next turn of the loop, at 0 ms', () => {
    changes.note();
    expect(syncedAt).toEqual([]); // not inside the informer's handler
    jest.advanceTimersByTime(0);
    expect(syncedAt).toEqual([0]);
  });

  it('a burst within the same tick is one sync, and nothing follows it', () => {
    for (let i = 0; i < 20; i++) changes.note();
    jest.advanceTimersByTime(0);
    expect(syncedAt).toEqual([0]);
    jest.advanceTimersByTime(1000);
    expect(syncedAt).toEqual([0]);
  });

  it('changes within the window after a sync give exactly one more sync, at the window end', () => {
    changes.note();
    jest.advanceTimersByTime(30);
    changes.note();
    jest.advanceTimersByTime(30);
    changes.note();
    changes.note();
    jest.advanceTimersByTime(39);
    expect(syncedAt).toEqual([0]);
    jest.advanceTimersByTime(1);
    expect(syncedAt).toEqual([0, 100]);
    jest.advanceTimersByTime(1000);
    expect(syncedAt).toEqual([0, 100]);
  });

  it('a steady stream of changes syncs once per window', () => {
    for (let t = 0; t < 350; t += 10) {
      changes.note();
      jest.advanceTimersByTime(10);
    }
    jest.advanceTimersByTime(1000);
    expect(syncedAt).toEqual([0, 100, 200, 300, 400]);
  });

  it('a change after a quiet window syncs at once again', () => {
    changes.note();
    jest.advanceTimersByTime(500);
    changes.note();
    jest.advanceTimersByTime(0);
    expect(syncedAt).toEqual([0, 500]);
  });

  it('is pending, and synced() waits, only while a change has not been synced', async () => {
    expect(changes.pending).toBe(false);
    expect(await hasSettled(changes.synced())).toBe(true);

    changes.note();
    expect(changes.pending).toBe(true);
    const first = changes.synced();
    await jest.advanceTimersByTimeAsync(0);
    expect(await hasSettled(first)).toBe(true);
    // the window is open, but nothing waits to be synced
    expect(changes.pending).toBe(false);
    expect(await hasSettled(changes.synced())).toBe(true);

    await jest.advanceTimersByTimeAsync(20);
    changes.note();
    const follower = changes.synced();
    await jest.advanceTimersByTimeAsync(50);
    expect(changes.pending).toBe(true);
    expect(await hasSettled(follower)).toBe(false);
    await jest.advanceTimersByTimeAsync(30);
    expect(await hasSettled(follower)).toBe(true);
    expect(changes.pending).toBe(false);
    expect(syncedAt).toEqual([0, 100]);
  });

  it('cancel drops the pending sync, releases waiters, and the next change starts from quiet', async () => {
    changes.note();
    jest.advanceTimersByTime(10);
    changes.note();
    const waiting = changes.synced();
    changes.cancel();
    expect(changes.pending).toBe(false);
    expect(await hasSettled(waiting)).toBe(true);
    jest.advanceTimersByTime(1000);
    expect(syncedAt).toEqual([0]);

    changes.note();
    changes.cancel();
    jest.advanceTimersByTime(1000);
    expect(syncedAt).toEqual([0]);

    changes.note();
    jest.advanceTimersByTime(0);
    expect(syncedAt).toEqual([0, 2010]);
  });
});
