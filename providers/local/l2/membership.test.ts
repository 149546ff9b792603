import { describe, expect, it } from '@jest/globals';
import { Membership, type Heartbeat } from './membership.ts';

const TIMEOUT = 500;

function beat(node: string, seq: number, patch: Partial<Heartbeat> = {}): Heartbeat {
  return { node, incarnation: 1000, seq, ready: true, apiserver: true, leaving: false, interfaces: ['eth0'], ...patch };
}

describe('membership from heartbeats', () => {
  it('a peer is alive while its heartbeats arrive within the timeout, and dead after', () => {
    const m = new Membership('node1', TIMEOUT);
    expect(m.heard(beat('node2', 1), 0)).toBe('joined');
    expect(m.heard(beat('node2', 2), 100)).toBe('same');
    expect(m.expire(600)).toEqual([]);
    expect(m.alivePeers()).toEqual(['node2']);
    expect(m.expire(601)).toEqual(['node2']);
    expect(m.alivePeers()).toEqual([]);
  });

  it('only ready peers may announce: a speaker still starting up is alive but not a member', () => {
    const m = new Membership('node1', TIMEOUT);
    m.heard(beat('node2', 1, { ready: false }), 0);
    expect(m.alivePeers()).toEqual(['node2']);
    expect(m.readyPeers()).toEqual([]);
    expect(m.heard(beat('node2', 2), 50)).toBe('changed');
    expect(m.readyPeers().map((p) => p.node)).toEqual(['node2']);
  });

  it('a goodbye takes the peer out at once, and its silence afterwards does not make us cut off', () => {
    const m = new Membership('node1', TIMEOUT);
    m.heard(beat('node2', 1), 0);
    expect(m.heard(beat('node2', 2, { leaving: true }), 10)).toBe('left');
    expect(m.alivePeers()).toEqual([]);
    expect(m.isolated).toBe(false);
  });

  it('a speaker that had peers and hears none is isolated; one that never had any is not', () => {
    const alone = new Membership('node1', TIMEOUT);
    expect(alone.isolated).toBe(false);
    const m = new Membership('node1', TIMEOUT);
    m.heard(beat('node2', 1), 0);
    m.heard(beat('node3', 1), 0);
    m.expire(1000);
    expect(m.isolated).toBe(true);
    // one peer heard again (the link healed): no longer isolated
    m.heard(beat('node3', 2), 1100);
    expect(m.isolated).toBe(false);
  });

  it('a peer whose Node is gone or not Ready is forgotten: the survivors of a real node failure announce again', () => {
    const m = new Membership('node1', TIMEOUT);
    m.heard(beat('node2', 1), 0);
    m.expire(1000);
    expect(m.isolated).toBe(true);
    expect(m.forget('node2')).toBe(true);
    expect(m.isolated).toBe(false);
  });

  it('old heartbeats (reordered, replayed) are ignored; a restarted speaker (new incarnation) starts over', () => {
    const m = new Membership('node1', TIMEOUT);
    m.heard(beat('node2', 5), 0);
    expect(m.heard(beat('node2', 4), 10)).toBe('stale');
    // a replayed goodbye of an earlier incarnation does not take a live peer out
    expect(m.heard(beat('node2', 9, { incarnation: 999, leaving: true }), 20)).toBe('stale');
    expect(m.alivePeers()).toEqual(['node2']);
    expect(m.heard(beat('node2', 1, { incarnation: 2000 }), 30)).not.toBe('stale');
  });

  it('its own heartbeats (looped back) are not a peer', () => {
    const m = new Membership('node1', TIMEOUT);
    expect(m.heard(beat('node1', 1), 0)).toBe('stale');
    expect(m.alivePeers()).toEqual([]);
  });
});
