/**
 * One writer per shared resource (a load balancer, the NSG). Writes to it are serialised, and every
 * change that waits while a write is under way goes into the next one: a round is one fresh GET, every
 * waiting change applied to it in arrival order, and one PUT with If-Match. cloud-provider-azure writes
 * one Service at a time through the shared load balancer; this is how 200 Services cost a handful of
 * PUTs instead of 200.
 *
 * Each change is a pure function of the resource's current body, so a 412 (someone wrote in between)
 * simply re-reads and re-applies. A change that throws (a limit, a port clash) is rejected alone; a PUT
 * ARM rejects is split in halves until the culprit stands alone, so one Service's mistake never fails
 * the others. A busy resource (AnotherOperationInProgress, a superseded operation) requeues the whole
 * round with backoff; a 429 has already closed the subscription's write gate in ArmApi, and the round
 * waits for it and tries again.
 */
import { InvalidSpecError, RetryAfterError, isProviderError } from '../../src/model/errors.ts';
import { classifyArmError, describeArmError } from './arm-errors.ts';

export interface Observed<B> {
  body: B;
  etag: string | undefined;
}

/** How one resource is read and written. */
export interface ResourceIO<B> {
  /** for messages: "load balancer x" */
  readonly what: string;
  get(signal: AbortSignal): Promise<Observed<B> | undefined>;
  /** create (etag undefined: If-None-Match *) or replace (If-Match etag) */
  put(body: B, before: Observed<B> | undefined, signal: AbortSignal): Promise<B>;
  /** body undefined after the changes: the resource goes */
  delete(before: Observed<B>, signal: AbortSignal): Promise<void>;
  differs(a: B | undefined, b: B | undefined): boolean;
}

export interface Change<B> {
  /** who asks (a Service key), for messages */
  key: string;
  /** the body with this change applied (undefined: the resource should not exist); must not mutate */
  apply(current: B | undefined): B | undefined;
}

export interface WriteResult<B> {
  /** whether this round wrote anything */
  changed: boolean;
  /** the resource as the round left it */
  body: B | undefined;
  /** how many changes shared the write (for the benchmark) */
  batch: number;
}

interface Waiting<B> {
  change: Change<B>;
  resolve(r: WriteResult<B>): void;
  reject(e: unknown): void;
}

export interface CoalescerStats {
  rounds: number;
  writes: number;
  preconditionFailures: number;
  bisections: number;
  largestBatch: number;
}

/** 412s in a row before a round gives up (someone else writes faster than we can read) */
const MAX_PRECONDITION_RETRIES = 8;
const BUSY_BACKOFF_MS = 5000;

export class Coalescer<B> {
  private pending: Waiting<B>[] = [];
  private running = false;
  readonly stats: CoalescerStats = { rounds: 0, writes: 0, preconditionFailures: 0, bisections: 0, largestBatch: 0 };
  private readonly io: ResourceIO<B>;
  private readonly signal: AbortSignal;

  private readonly lingerMs: number;

  /**
   * `lingerMs`: how long an idle writer waits for company before its first round. Services created
   * together reach the writer spread over their own reads and public-IP writes; an ARM write takes
   * seconds, so waiting a moment for them costs little and saves whole rounds.
   */
  constructor(io: ResourceIO<B>, signal: AbortSignal, lingerMs = 50) {
    this.io = io;
    this.signal = signal;
    this.lingerMs = lingerMs;
  }

  submit(change: Change<B>): Promise<WriteResult<B>> {
    return new Promise((resolve, reject) => {
      this.pending.push({ change, resolve, reject });
      if (!this.running) {
        this.running = true;
        setTimeout(() => void this.drain(), this.lingerMs);
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0);
        this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
        await this.round(batch);
      }
    } finally {
      this.running = false;
    }
  }

  private async round(batch: Waiting<B>[]): Promise<void> {
    let attempts = 0;
    for (;;) {
      this.stats.rounds++;
      let observed: Observed<B> | undefined;
      try {
        observed = await this.io.get(this.signal);
      } catch (err) {
        for (const w of batch) w.reject(err);
        return;
      }
      const accepted: Waiting<B>[] = [];
      let body = observed?.body;
      for (const w of batch) {
        try {
          body = w.change.apply(body);
          accepted.push(w);
        } catch (err) {
          w.reject(err);
        }
      }
      batch = accepted;
      if (batch.length === 0) return;
      if (!this.io.differs(observed?.body, body)) {
        for (const w of batch) w.resolve({ changed: false, body: observed?.body, batch: batch.length });
        return;
      }
      try {
        this.stats.writes++;
        let result: B | undefined;
        if (body === undefined) await this.io.delete(observed!, this.signal);
        else result = await this.io.put(body, observed, this.signal);
        for (const w of batch) w.resolve({ changed: true, body: result, batch: batch.length });
        return;
      } catch (err) {
        const f = classifyArmError(err);
        if ((f.kind === 'precondition' || f.kind === 'throttled') && attempts++ < MAX_PRECONDITION_RETRIES) {
          if (f.kind === 'precondition') this.stats.preconditionFailures++;
          continue; // re-read, rebuild, write again (a 429 waits for the gate inside the write)
        }
        if (f.kind === 'rejected' && batch.length > 1) {
          this.stats.bisections++;
          const half = Math.ceil(batch.length / 2);
          await this.round(batch.slice(0, half));
          await this.round(batch.slice(half));
          return;
        }
        const mapped = this.mapFailure(err);
        for (const w of batch) w.reject(mapped);
        return;
      }
    }
  }

  private mapFailure(err: unknown): unknown {
    if (isProviderError(err)) return err;
    const f = classifyArmError(err);
    const text = `${this.io.what}: ${describeArmError(err)}`;
    switch (f.kind) {
      case 'rejected':
        return new InvalidSpecError(`Azure rejected the change: ${text}`, 'InvalidSpec');
      case 'busy':
        return new RetryAfterError(text, BUSY_BACKOFF_MS, 'AzureBusy', { cause: err });
      case 'throttled':
        return new RetryAfterError(text, f.retryAfterMs, 'AzureThrottled', { cause: err });
      case 'precondition':
        return new RetryAfterError(`${text}, again and again`, 1000, 'AzureConflict', { cause: err });
      default:
        return new Error(text, { cause: err });
    }
  }
}
