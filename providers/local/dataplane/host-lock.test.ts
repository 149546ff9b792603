import { describe, it, expect } from '@jest/globals';
import { HostLock } from './host-lock.ts';

describe('host lock', () => {
  it('refuses a second holder, naming the first one’s PID, and is free again after release', async () => {
    const name = `lbp-test-lock-${process.pid}`;
    const first = new HostLock(name);
    await first.acquire();
    const second = new HostLock(name);
    await expect(second.acquire()).rejects.toMatchObject({ name: 'HostLockedError', holderPid: process.pid });
    await first.release();
    await second.acquire();
    await second.release();
  });
});
