/**
 * The one place a sync's result becomes effects: the queue (forget, recheck, retry after, back off), the
 * metrics (one duration histogram for every operation), Events (deduplicated by the recorder), and the
 * Ready condition of a failed Service (written only when it changes).
 */
import type { Logger } from 'pino';
import { describeApiError } from '../kube/api-error.ts';
import type { EventSink } from '../kube/events.ts';
import type { ServiceWrites } from '../kube/service-writer.ts';
import type { Metrics } from '../metrics.ts';
import type { ServiceObject } from '../model/objects.ts';
import { isBeingDeleted, isLoadBalancer } from '../model/ownership.ts';
import { readyCondition, readyConditionDiffers, type ReadyState } from '../model/status.ts';
import type { Intent, ServiceBook } from './book.ts';
import type { SyncResult } from './pipeline.ts';
import type { WorkQueue } from './queue.ts';

export interface OutcomeDeps {
  book: ServiceBook;
  events: EventSink;
  writer: ServiceWrites;
  metrics: Metrics;
  log: Logger;
}

/**
 * A progress Event (EnsuringLoadBalancer, DeletingLoadBalancer) is news only while the work is still going:
 * it is recorded once the provider call has run this long. A call that is done sooner (the local provider,
 * most updates) leaves only its result (EnsuredLoadBalancer), as MetalLB records one Event per allocation;
 * a cloud that takes seconds shows both, as the upstream controller does. Half the Events of a burst of
 * fast creates, which the apiserver and etcd would otherwise write and keep for an hour.
 */
export const PROGRESS_EVENT_AFTER_MS = 1000;

export class Outcomes {
  private readonly d: OutcomeDeps;

  constructor(deps: OutcomeDeps) {
    this.d = deps;
  }

  /**
   * A progress Event for a provider call about to start, recorded if the call is still running after
   * PROGRESS_EVENT_AFTER_MS; call the returned function once the call is done (answered, failed or aborted).
   */
  progress(svc: ServiceObject, reason: string, message: string): () => void {
    const timer = setTimeout(() => this.d.events.record(svc, 'Normal', reason, message), PROGRESS_EVENT_AFTER_MS);
    timer.unref();
    return () => clearTimeout(timer);
  }

  /**
   * Queue a key with a reason (the strongest pending reason wins). A key whose only reason is its targets
   * goes to the targets-only workers; any stronger reason sends it to the Service workers.
   */
  enqueue(queue: WorkQueue, key: string, intent: Intent, delayMs = 0): void {
    const lane = this.d.book.noteIntent(key, intent) === 'targets' ? 'targets' : 'full';
    if (delayMs > 0) queue.addAfter(key, delayMs, lane);
    else queue.add(key, lane);
  }

  /** Apply a result. `aborted`: the sync was cut short by shutdown or lost leadership; nothing is shown. */
  async settle(queue: WorkQueue, key: string, r: SyncResult, durationMs: number, aborted: boolean): Promise<void> {
    const outcome = r.failure ? r.failure.reason : 'success';
    if (r.operation !== 'none')
      this.d.metrics.reconcileDuration.observe(
        { provider: r.provider ?? '', operation: r.operation, outcome },
        durationMs / 1000,
      );
    if (aborted) return;
    for (const n of r.notices) if (r.svc) this.d.events.record(r.svc, n.type, n.reason, n.message);
    if (r.failure) {
      this.d.log.warn(
        {
          service: key,
          provider: r.provider,
          operation: r.operation,
          reason: r.failure.reason,
          err: r.failure.message,
        },
        'sync failed',
      );
      if (r.failure.userVisible && r.svc) await this.showFailure(r.svc, r.failure.reason, r.failure.message);
    }
    const next = r.next;
    switch (next.kind) {
      case 'forget':
        queue.forget(key);
        break;
      case 'recheck':
        // the force applies when the recheck is due: a sync queued before then (our own writes coming
        // back as watch events) must not inherit it and ensure a second time at once
        queue.forget(key);
        queue.addAfter(key, next.delayMs, 'full', () => this.d.book.noteIntent(key, 'force'));
        break;
      case 'again':
        queue.forget(key);
        this.enqueue(queue, key, 'force');
        break;
      case 'after':
        // a targets-only sync the provider paced (its rate limit is full) retries as one: a full ensure
        // would spend more of the same budget on reads
        this.enqueue(queue, key, r.operation === 'targets' ? 'targets' : 'force', next.delayMs);
        break;
      case 'backoff':
        this.d.book.noteIntent(key, 'force');
        queue.addRateLimited(key);
        break;
      case 'soon':
        this.enqueue(queue, key, 'force', 200);
        break;
      case 'targets':
        queue.forget(key);
        this.enqueue(queue, key, 'targets');
        break;
      case 'stop':
        // bad input: nothing retries until the Service changes (its watch event queues it again)
        queue.forget(key);
        break;
    }
  }

  /** A Warning Event and a False condition (only when it changes what the Service shows). */
  private async showFailure(svc: ServiceObject, reason: string, message: string): Promise<void> {
    this.d.events.record(svc, 'Warning', reason, message);
    const state: ReadyState = { status: 'False', reason, message };
    if (isBeingDeleted(svc) || !isLoadBalancer(svc) || !readyConditionDiffers(svc, state)) return;
    try {
      this.d.book.wrote(await this.d.writer.patchStatus(svc, { condition: readyCondition(svc, state, new Date()) }));
    } catch (err) {
      this.d.log.warn({ err: describeApiError(err) }, 'could not write the Ready condition');
    }
  }
}
