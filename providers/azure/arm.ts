/**
 * The I/O edge: the real @azure/arm-network client, with what every call here needs and the SDK does not
 * do for us: If-Match / If-None-Match headers (the model drops `etag`), our own timeout on long-running
 * operations and on every request (the SDK waits for ever on a request nobody answers), a write gate that
 * a 429 closes for the whole subscription until its Retry-After, and no SDK retries (ours are the only
 * policy, so the two never stack). A request that times out, or a read that is throttled, comes back as a
 * RetryAfterError: never as a bare AbortError, which the controller takes for a shutdown and never retries.
 */
import { NetworkManagementClient } from '@azure/arm-network';
import type { BackendAddressPool, LoadBalancer, NetworkSecurityGroup, PublicIPAddress } from '@azure/arm-network';
import type { TokenCredential } from '@azure/identity';
import { RetryAfterError } from '../../src/model/errors.ts';
import { classifyArmError } from './arm-errors.ts';

export interface ArmOptions {
  subscriptionId: string;
  credential: TokenCredential;
  /** ARM endpoint (sovereign clouds, the test fake); the token scope follows it */
  endpoint?: string;
  /** how often a long-running operation is polled */
  pollIntervalMs?: number;
  /** give up waiting for one long-running operation after this long */
  operationTimeoutMs?: number;
  /** give up on one HTTP request (a read, a write, a poll) that has no answer after this long */
  requestTimeoutMs?: number;
}

/** ARM answers in well under a second; a request still open after this is hung. */
export const REQUEST_TIMEOUT_MS = 20_000;
/** how soon a Service whose ARM request timed out is tried again */
const TIMED_OUT_RETRY_MS = 2000;

/** Closed by a 429 until its Retry-After has passed: every write of the subscription waits. */
export class WriteGate {
  private until = 0;
  pause(ms: number): void {
    this.until = Math.max(this.until, Date.now() + ms);
  }
  get pausedForMs(): number {
    return Math.max(0, this.until - Date.now());
  }
  async ready(signal: AbortSignal): Promise<void> {
    while (this.pausedForMs > 0) {
      signal.throwIfAborted();
      await new Promise((r) => setTimeout(r, Math.min(this.pausedForMs, 1000)));
    }
  }
}

type Headers = Record<string, string>;
const ifMatch = (etag: string | undefined): Headers => (etag ? { 'If-Match': etag } : { 'If-None-Match': '*' });

export class ArmApi {
  readonly client: NetworkManagementClient;
  readonly gate = new WriteGate();
  private readonly pollIntervalMs: number;
  private readonly operationTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(options: ArmOptions) {
    const endpoint = options.endpoint?.replace(/\/+$/, '');
    this.client = new NetworkManagementClient(options.credential, options.subscriptionId, {
      ...(endpoint ? { endpoint, credentials: { scopes: [`${endpoint}/.default`] } } : {}),
      retryOptions: { maxRetries: 0 },
    });
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? 10 * 60_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    const requestTimeoutMs = this.requestTimeoutMs;
    this.client.pipeline.addPolicy({
      name: 'lbpRequestTimeout',
      sendRequest: (request, next) => {
        if (!request.timeout) request.timeout = requestTimeoutMs;
        return next(request);
      },
    });
  }

  /**
   * A request of ours that timed out (the caller's signal still live) or a throttled read, as a
   * RetryAfterError; anything else unchanged.
   */
  private retryable(what: string, signal: AbortSignal, err: unknown): unknown {
    if ((err as { name?: unknown })?.name === 'AbortError' && !signal.aborted)
      return new RetryAfterError(
        `${what}: Azure Resource Manager did not answer within ${this.requestTimeoutMs / 1000} s`,
        TIMED_OUT_RETRY_MS,
        'ArmTimeout',
        { cause: err },
      );
    const f = classifyArmError(err);
    if (f.kind === 'throttled')
      return new RetryAfterError(
        `${what}: throttled by Azure Resource Manager (429)`,
        f.retryAfterMs,
        'AzureThrottled',
        {
          cause: err,
        },
      );
    return err;
  }

  /**
   * Reads of a shared resource that many Services observe at once (a burst: every Service's plan reads
   * the same load balancer and NSG) join the read already under way instead of each fetching and
   * deserialising the whole body again. Writers read fresh (their If-Match must follow their last write).
   */
  private shared<T>(key: string, call: () => Promise<T>): Promise<T> {
    let p = this.inflight.get(key) as Promise<T> | undefined;
    if (!p) {
      p = call().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  /** undefined for 404 */
  private async read<T>(what: string, signal: AbortSignal, call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call();
    } catch (err) {
      if (classifyArmError(err).kind === 'not-found') return undefined;
      throw this.retryable(what, signal, err);
    }
  }

  private async list<T>(what: string, signal: AbortSignal, items: AsyncIterable<T>): Promise<T[]> {
    const out: T[] = [];
    try {
      for await (const x of items) out.push(x);
    } catch (err) {
      throw this.retryable(what, signal, err);
    }
    return out;
  }

  /** A write: waits for the gate, bounds the long-running operation, closes the gate on a 429. */
  private async write<T>(
    what: string,
    signal: AbortSignal,
    call: (abortSignal: AbortSignal) => PromiseLike<T>,
  ): Promise<T> {
    await this.gate.ready(signal);
    const timeout = AbortSignal.timeout(this.operationTimeoutMs);
    try {
      return await call(AbortSignal.any([signal, timeout]));
    } catch (err) {
      const f = classifyArmError(err);
      if (f.kind === 'throttled') this.gate.pause(f.retryAfterMs);
      if (timeout.aborted && !signal.aborted)
        throw new RetryAfterError(
          `${what}: the long-running operation did not finish in ${this.operationTimeoutMs / 1000} s`,
          5000,
          'OperationTimeout',
          { cause: err },
        );
      // a 429 stays as it is: the writers map it (coalescer.ts) once the gate is closed
      if (f.kind !== 'throttled') throw this.retryable(what, signal, err);
      throw err;
    }
  }

  private lro(abortSignal: AbortSignal, headers: Headers) {
    return { abortSignal, updateIntervalInMs: this.pollIntervalMs, requestOptions: { headers } };
  }

  getLoadBalancer(rg: string, name: string, signal: AbortSignal, fresh = false): Promise<LoadBalancer | undefined> {
    const get = () =>
      this.read(`load balancer ${name}`, signal, () =>
        this.client.loadBalancers.get(rg, name, { abortSignal: signal }),
      );
    return fresh ? get() : this.shared(`lb/${rg}/${name}`.toLowerCase(), get);
  }

  putLoadBalancer(
    rg: string,
    name: string,
    body: LoadBalancer,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<LoadBalancer> {
    return this.write(`load balancer ${name}`, signal, (s) =>
      this.client.loadBalancers.createOrUpdate(rg, name, body, this.lro(s, ifMatch(etag))),
    );
  }

  deleteLoadBalancer(rg: string, name: string, etag: string | undefined, signal: AbortSignal): Promise<void> {
    const headers: Headers = etag ? { 'If-Match': etag } : {};
    return this.write(`load balancer ${name}`, signal, (s) =>
      this.client.loadBalancers.delete(rg, name, this.lro(s, headers)),
    );
  }

  putBackendPool(
    rg: string,
    lb: string,
    pool: BackendAddressPool,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<BackendAddressPool> {
    const name = pool.name ?? '';
    return this.write(`backend pool ${lb}/${name}`, signal, (s) =>
      this.client.loadBalancerBackendAddressPools.createOrUpdate(
        rg,
        lb,
        name,
        pool,
        this.lro(s, etag ? { 'If-Match': etag } : {}),
      ),
    );
  }

  getPublicIp(rg: string, name: string, signal: AbortSignal): Promise<PublicIPAddress | undefined> {
    return this.read(`public IP ${name}`, signal, () =>
      this.client.publicIPAddresses.get(rg, name, { abortSignal: signal }),
    );
  }

  listPublicIps(signal: AbortSignal): Promise<PublicIPAddress[]> {
    return this.list('public IPs', signal, this.client.publicIPAddresses.listAll({ abortSignal: signal }));
  }

  listPublicIpsIn(rg: string, signal: AbortSignal): Promise<PublicIPAddress[]> {
    return this.list(`public IPs of ${rg}`, signal, this.client.publicIPAddresses.list(rg, { abortSignal: signal }));
  }

  putPublicIp(
    rg: string,
    name: string,
    body: PublicIPAddress,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<PublicIPAddress> {
    return this.write(`public IP ${name}`, signal, (s) =>
      this.client.publicIPAddresses.createOrUpdate(rg, name, body, this.lro(s, ifMatch(etag))),
    );
  }

  deletePublicIp(rg: string, name: string, signal: AbortSignal): Promise<void> {
    return this.write(`public IP ${name}`, signal, (s) =>
      this.client.publicIPAddresses.delete(rg, name, this.lro(s, {})),
    );
  }

  getSecurityGroup(
    rg: string,
    name: string,
    signal: AbortSignal,
    fresh = false,
  ): Promise<NetworkSecurityGroup | undefined> {
    const get = () =>
      this.read(`network security group ${name}`, signal, () =>
        this.client.networkSecurityGroups.get(rg, name, { abortSignal: signal }),
      );
    return fresh ? get() : this.shared(`nsg/${rg}/${name}`.toLowerCase(), get);
  }

  putSecurityGroup(
    rg: string,
    name: string,
    body: NetworkSecurityGroup,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<NetworkSecurityGroup> {
    return this.write(`network security group ${name}`, signal, (s) =>
      this.client.networkSecurityGroups.createOrUpdate(rg, name, body, this.lro(s, ifMatch(etag))),
    );
  }
}
