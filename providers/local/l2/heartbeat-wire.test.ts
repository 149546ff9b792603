import { describe, expect, it } from '@jest/globals';
import { decodeHeartbeat, encodeHeartbeat } from './heartbeat-wire.ts';
import type { Heartbeat } from './membership.ts';

const hb: Heartbeat = {
  node: 'node1',
  incarnation: 1700000000000,
  seq: 42,
  ready: true,
  apiserver: false,
  leaving: false,
  interfaces: ['eth0', 'vlan20'],
};

describe('heartbeat datagrams', () => {
  it('round-trip, with and without a key', () => {
    expect(decodeHeartbeat(encodeHeartbeat(hb))).toEqual({ ok: true, heartbeat: hb });
    const key = Buffer.from('s3cret');
    expect(decodeHeartbeat(encodeHeartbeat(hb, key), key)).toEqual({ ok: true, heartbeat: hb });
  });

  it('with a key, an unsigned or wrongly signed heartbeat is refused', () => {
    const key = Buffer.from('s3cret');
    expect(decodeHeartbeat(encodeHeartbeat(hb), key)).toEqual({ ok: false, reason: 'signature' });
    expect(decodeHeartbeat(encodeHeartbeat(hb, Buffer.from('other')), key)).toEqual({ ok: false, reason: 'signature' });
    // a signed message whose content was changed (a forged goodbye)
    const signed = JSON.parse(encodeHeartbeat(hb, key).toString()) as { m: string; s: string };
    const forged = Buffer.from(JSON.stringify({ m: signed.m.replace('"bye":false', '"bye":true'), s: signed.s }));
    expect(decodeHeartbeat(forged, key)).toEqual({ ok: false, reason: 'signature' });
  });

  it('garbage, wrong shapes and oversized datagrams are dropped, never thrown', () => {
    expect(decodeHeartbeat(Buffer.from('not json'))).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeHeartbeat(Buffer.from(JSON.stringify({ m: '{"v":2}' })))).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeHeartbeat(Buffer.alloc(5000, 32))).toEqual({ ok: false, reason: 'malformed' });
  });
});
