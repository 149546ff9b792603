/**
 * The heartbeat datagram: one small JSON object, and with a shared key (`--heartbeat-key-file`) an
 * HMAC-SHA256 over it, so nobody on the node network can fake a speaker or its goodbye. Anything that does
 * not parse, is too large, or fails the signature is dropped and counted, never thrown.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as z from '../../../src/config/zod.ts';
import type { Heartbeat } from './membership.ts';

/** Well under any MTU: a heartbeat is never fragmented. */
export const MAX_DATAGRAM = 1200;
const MAX_INTERFACES = 32;

const heartbeat = z.object({
  v: z.literal(1),
  node: z.string().check(z.minLength(1), z.maxLength(253)),
  inc: z.int().check(z.nonnegative()),
  seq: z.int().check(z.nonnegative()),
  ready: z.boolean(),
  api: z.boolean(),
  bye: z.boolean(),
  ifs: z.array(z.string().check(z.maxLength(15))).check(z.maxLength(MAX_INTERFACES)),
});

const envelope = z.object({ m: z.string(), s: z.optional(z.string()) });

export type DecodeResult = { ok: true; heartbeat: Heartbeat } | { ok: false; reason: 'malformed' | 'signature' };

export function encodeHeartbeat(hb: Heartbeat, key?: Buffer): Buffer {
  const m = JSON.stringify({
    v: 1,
    node: hb.node,
    inc: hb.incarnation,
    seq: hb.seq,
    ready: hb.ready,
    api: hb.apiserver,
    bye: hb.leaving,
    ifs: hb.interfaces.slice(0, MAX_INTERFACES),
  });
  return Buffer.from(JSON.stringify(key ? { m, s: sign(m, key) } : { m }));
}

export function decodeHeartbeat(datagram: Buffer, key?: Buffer): DecodeResult {
  if (datagram.length > MAX_DATAGRAM) return { ok: false, reason: 'malformed' };
  let outer: z.infer<typeof envelope>;
  let inner: z.infer<typeof heartbeat>;
  try {
    outer = envelope.parse(JSON.parse(datagram.toString('utf8')));
    if (key && (outer.s === undefined || !sameSignature(outer.s, sign(outer.m, key))))
      return { ok: false, reason: 'signature' };
    inner = heartbeat.parse(JSON.parse(outer.m));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  return {
    ok: true,
    heartbeat: {
      node: inner.node,
      incarnation: inner.inc,
      seq: inner.seq,
      ready: inner.ready,
      apiserver: inner.api,
      leaving: inner.bye,
      interfaces: inner.ifs,
    },
  };
}

function sign(message: string, key: Buffer): string {
  return createHmac('sha256', key).update(message).digest('base64');
}

function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
