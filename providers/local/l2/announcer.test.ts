import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { silentLogger } from '../../../src/log.ts';
import { Announcer, type Responder } from './announcer.ts';
import type { ResponderStats } from './responder.ts';

/** A responder that records what it is told, as the native one would act on it. */
class FakeResponder implements Responder {
  readonly interface: string;
  answering: string[] = [];
  announced: { ip: string; at: number }[] = [];
  closed = false;
  constructor(ifname: string) {
    this.interface = ifname;
  }
  setAddresses(ips: readonly string[]): void {
    this.answering = [...ips].sort();
  }
  announce(ip: string): void {
    this.announced.push({ ip, at: Date.now() });
  }
  stats(): ResponderStats {
    return {
      arpRequests: 0,
      arpReplies: 0,
      ndSolicitations: 0,
      ndAdvertisements: 0,
      announcements: 0,
      conflicts: 0,
      sendErrors: 0,
    };
  }
  close(): void {
    this.closed = true;
  }
}

describe('the announcer', () => {
  let opened: Map<string, FakeResponder>;
  let announcer: Announcer;
  let start: number;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    start = Date.now();
    opened = new Map();
    announcer = new Announcer({
      log: silentLogger(),
      open: (ifname) => {
        if (ifname === 'missing0') throw new Error('reading the interface on missing0: No such device');
        const r = new FakeResponder(ifname);
        opened.set(ifname, r);
        return r;
      },
    });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('a VIP taken: answered at once, and announced at 0, 0.3, 1.1 and 2.2 s', () => {
    expect(announcer.apply([{ ip: '192.0.2.10', interfaces: ['eth0'] }])).toEqual({
      added: ['192.0.2.10'],
      removed: [],
      failed: [],
    });
    const eth0 = opened.get('eth0')!;
    expect(eth0.answering).toEqual(['192.0.2.10']);
    jest.advanceTimersByTime(5000);
    expect(eth0.announced.map((a) => a.at - start)).toEqual([0, 300, 1100, 2200]);
  });

  it('a VIP that moved away stops being answered in the same call, and its pending announcements are dropped', () => {
    announcer.apply([
      { ip: '192.0.2.10', interfaces: ['eth0'] },
      { ip: '192.0.2.11', interfaces: ['eth0'] },
    ]);
    jest.advanceTimersByTime(500);
    expect(announcer.apply([{ ip: '192.0.2.11', interfaces: ['eth0'] }])).toEqual({
      added: [],
      removed: ['192.0.2.10'],
      failed: [],
    });
    expect(opened.get('eth0')!.answering).toEqual(['192.0.2.11']);
    jest.advanceTimersByTime(5000);
    const of10 = opened
      .get('eth0')!
      .announced.filter((a) => a.ip === '192.0.2.10')
      .map((a) => a.at - start);
    expect(of10).toEqual([0, 300]);
  });

  it('an interface that cannot be opened is reported, the others still answer', () => {
    const result = announcer.apply([{ ip: '192.0.2.10', interfaces: ['eth0', 'missing0'] }]);
    expect(result.failed).toEqual([
      { interface: 'missing0', error: 'reading the interface on missing0: No such device' },
    ]);
    expect(announcer.announced()).toEqual(new Map([['192.0.2.10', ['eth0']]]));
  });

  it('an interface no longer used is closed; shutdown stops answering everything', () => {
    announcer.apply([
      { ip: '192.0.2.10', interfaces: ['eth0'] },
      { ip: 'fd00::a', interfaces: ['eth1'] },
    ]);
    announcer.apply([{ ip: '192.0.2.10', interfaces: ['eth0'] }]);
    expect(opened.get('eth1')!.closed).toBe(true);
    announcer.close();
    expect(opened.get('eth0')!.answering).toEqual([]);
    expect(opened.get('eth0')!.closed).toBe(true);
  });
});
