/**
 * A recording proxy in front of moto: every AWS API call either side makes goes through it, so both are
 * counted the same way (operation, API, time) whatever their SDK. It can also hold calls to a client-side
 * rate (our AWS provider's token buckets), to run an anchor that ships without one at our rates. It raises
 * the network-load-balancers limit in DescribeAccountLimits answers (moto says 20): the benchmark's account
 * has raised its quota, as bench/aws-calls.ts assumes.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { DEFAULT_RATES, TokenBucket, apiClass, type ApiClass } from '../../providers/aws/throttle.ts';

export type AwsApi = 'ec2' | 'elbv2' | 'elb' | 'other';

export interface AwsCall {
  api: AwsApi;
  action: string;
  /** performance.now() when the call arrived */
  at: number;
  mutating: boolean;
}

const VERSIONS: Record<string, AwsApi> = { '2016-11-15': 'ec2', '2015-12-01': 'elbv2', '2012-06-01': 'elb' };

/** Operation and API of a query-protocol request (EC2, ELB, ELBv2 all are). Pure. */
export function classifyAwsCall(body: string, query: string): { api: AwsApi; action: string } {
  const params = new URLSearchParams(body || query);
  const action = params.get('Action') ?? '?';
  return { api: VERSIONS[params.get('Version') ?? ''] ?? 'other', action };
}

export function isMutating(action: string): boolean {
  return !/^(Describe|Get|List)/.test(action);
}

/**
 * moto names an NLB like a Classic ELB (name-id.<region>.elb.amazonaws.com); AWS names it
 * name-id.elb.<region>.amazonaws.com, and cloud-provider-aws reads the type back from that pattern (a
 * Classic-looking hostname on an NLB Service fails its validation on every later sync). Pure.
 */
export function realNlbDnsNames(xml: string): string {
  return xml.replace(/([\w-]+)\.([a-z]{2}-[a-z]+-\d)\.elb\.amazonaws\.com/g, '$1.elb.$2.amazonaws.com');
}

/**
 * One request passed on to `upstream` as it came (its own host and connection headers left out), and the
 * answer read whole, with the headers a proxy must set itself (length, framing, connection) left out.
 */
export async function forwardTo(
  upstream: string,
  req: IncomingMessage,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> {
  const headers = { ...req.headers };
  delete headers['host'];
  delete headers['connection'];
  const up = await request(`${upstream}${req.url ?? '/'}`, { method: (req.method ?? 'POST') as 'POST', headers, body });
  const out = Buffer.from(await up.body.arrayBuffer());
  const outHeaders: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(up.headers))
    if (v !== undefined && k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') outHeaders[k] = v;
  return { status: up.statusCode, headers: outHeaders, body: out };
}

export interface AwsProxy {
  endpoint: string;
  readonly calls: AwsCall[];
  /** hold calls to our provider's default client-side rates from now on (or stop holding them) */
  throttle(on: boolean): void;
  close(): Promise<void>;
}

export async function startAwsProxy(upstream: string): Promise<AwsProxy> {
  const calls: AwsCall[] = [];
  let buckets: Map<ApiClass, TokenBucket> | undefined;
  const wait = async (api: AwsApi, action: string) => {
    if (!buckets || (api !== 'ec2' && api !== 'elbv2')) return;
    const classes: ApiClass[] = [apiClass(api, action), ...(api === 'elbv2' ? (['elbv2'] as const) : [])];
    const ms = Math.max(...classes.map((c) => buckets!.get(c)!.reserve()));
    if (ms > 0) await sleep(ms);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const { api, action } = classifyAwsCall(body.toString('utf8'), (req.url ?? '').split('?')[1] ?? '');
      calls.push({ api, action, at: performance.now(), mutating: isMutating(action) });
      void (async () => {
        await wait(api, action);
        const up = await forwardTo(upstream, req, body);
        let out = up.body;
        if (api === 'elbv2') out = Buffer.from(realNlbDnsNames(out.toString('utf8')));
        if (action === 'DescribeAccountLimits') {
          out = Buffer.from(
            out.toString('utf8').replace(/(<Name>network-load-balancers<\/Name>\s*<Max>)\d+(<\/Max>)/, '$11000$2'),
          );
        }
        res.writeHead(up.status, { ...up.headers, 'content-length': String(out.length) });
        res.end(out);
      })().catch((err: unknown) => {
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
    throttle(on) {
      buckets = on
        ? new Map(Object.entries(DEFAULT_RATES).map(([k, r]) => [k as ApiClass, new TokenBucket(r)]))
        : undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
