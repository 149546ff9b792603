/**
 * A small HTTP fault proxy in front of moto (127.0.0.1 only). The controller runs as its own process, so
 * the SDK middleware of the in-process tests cannot reach it; this proxy can. While faults are on, it
 * answers a fraction of calls (20% by default) the way AWS does when things go wrong: throttling (ELBv2
 * `Throttling`, 400; EC2 `RequestLimitExceeded`, 503), a 5xx (`InternalFailure` 500 / `ServiceUnavailable`
 * 503), or no answer at all (the request hangs until the client gives up). It records every call (API,
 * action, time) for the API-budget invariant, and can hold the answer of the next mutating call so the
 * soak can kill the controller while that call is in flight.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { classifyAwsCall, forwardTo, isMutating, type AwsApi } from '../../bench/lib/aws-proxy.ts';
import type { Rng } from './rng.ts';

export type CloudFault = 'throttle' | '5xx' | 'hang';

export interface ProxiedCall {
  api: AwsApi;
  action: string;
  /** Date.now() when it arrived */
  at: number;
  fault?: CloudFault;
}

export interface FaultProxy {
  endpoint: string;
  readonly calls: ProxiedCall[];
  /** answer `fraction` of calls with a fault from now on (0: none) */
  setFaultRate(fraction: number): void;
  faultCounts(): Record<CloudFault, number>;
  /**
   * The next mutating call is forwarded, and moto's answer held for holdMs: resolves (true) once moto
   * has done the work, so the caller can kill the controller before it learns the result. False after
   * timeoutMs without such a call.
   */
  nextMutatingCallDone(timeoutMs: number, holdMs: number): Promise<boolean>;
  close(): Promise<void>;
}

// longer than the soak's convergence bound: a client that never gives up on a hung call fails the soak
const HANG_MS = 120_000;

/** The error body AWS sends for a fault, per API (query protocols: ELBv2 and EC2 differ). Pure. */
export function faultAnswer(api: AwsApi, fault: 'throttle' | '5xx'): { status: number; body: string } {
  const id = randomUUID();
  if (api === 'ec2') {
    const [status, code, message] =
      fault === 'throttle'
        ? [503, 'RequestLimitExceeded', 'Request limit exceeded.']
        : [503, 'Unavailable', 'The server is overloaded and can not handle the request.'];
    return {
      status,
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${id}</RequestID></Response>`,
    };
  }
  const [status, type, code, message] =
    fault === 'throttle'
      ? [400, 'Sender', 'Throttling', 'Rate exceeded']
      : [500, 'Receiver', 'InternalFailure', 'The request processing has failed because of an unknown error.'];
  return {
    status,
    body: `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${id}</RequestId></ErrorResponse>`,
  };
}

export async function startFaultProxy(upstream: string, rng: Rng): Promise<FaultProxy> {
  const calls: ProxiedCall[] = [];
  const counts: Record<CloudFault, number> = { throttle: 0, '5xx': 0, hang: 0 };
  let rate = 0;
  let armed: { resolve: (v: boolean) => void; holdMs: number } | undefined;
  const hung = new Set<ServerResponse>();

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const { api, action } = classifyAwsCall(body.toString('utf8'), (req.url ?? '').split('?')[1] ?? '');
      const call: ProxiedCall = { api, action, at: Date.now() };
      calls.push(call);
      const aws = api === 'ec2' || api === 'elbv2';
      if (aws && rate > 0 && rng.chance(rate)) {
        const fault = rng.pick<CloudFault>(['throttle', 'throttle', '5xx', 'hang']);
        call.fault = fault;
        counts[fault]++;
        if (fault === 'hang') {
          hung.add(res);
          setTimeout(() => {
            hung.delete(res);
            res.destroy();
          }, HANG_MS).unref();
          return;
        }
        const a = faultAnswer(api, fault);
        res.writeHead(a.status, { 'content-type': 'text/xml', 'content-length': String(Buffer.byteLength(a.body)) });
        res.end(a.body);
        return;
      }
      const hold = aws && armed && isMutating(action) ? armed : undefined;
      if (hold) armed = undefined;
      void (async () => {
        const up = await forwardTo(upstream, req, body);
        if (hold) {
          hold.resolve(true);
          await sleep(hold.holdMs);
        }
        if (res.destroyed) return;
        res.writeHead(up.status, { ...up.headers, 'content-length': String(up.body.length) });
        res.end(up.body);
      })().catch((err: unknown) => {
        if (res.headersSent || res.destroyed) return;
        res.writeHead(502);
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    setFaultRate(fraction) {
      rate = fraction;
    },
    faultCounts: () => ({ ...counts }),
    nextMutatingCallDone(timeoutMs, holdMs) {
      armed?.resolve(false);
      return new Promise<boolean>((resolve) => {
        const entry = { resolve, holdMs };
        armed = entry;
        setTimeout(() => {
          if (armed === entry) armed = undefined;
          resolve(false);
        }, timeoutMs).unref();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hung) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
