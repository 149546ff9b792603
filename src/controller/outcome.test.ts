import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { EventSink, EventType } from '../kube/events.ts';
import type { ServiceWrites } from '../kube/service-writer.ts';
import { silentLogger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import { aService } from '../../test/builders/service.ts';
import { ServiceBook } from './book.ts';
import { Outcomes, PROGRESS_EVENT_AFTER_MS } from './outcome.ts';

describe('progress Events', () => {
  const recorded: string[] = [];
  const events: EventSink = {
    record: (_svc, type: EventType, reason: string) => void recorded.push(`${type} ${reason}`),
  };
  const outcomes = new Outcomes({
    book: new ServiceBook(),
    events,
    writer: {} as ServiceWrites,
    metrics: new Metrics(),
    log: silentLogger(),
  });
  const svc = aService('web').build();

  beforeEach(() => {
    recorded.length = 0;
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('a call done within the second records none', () => {
    const done = outcomes.progress(svc, 'EnsuringLoadBalancer', 'Ensuring load balancer');
    jest.advanceTimersByTime(PROGRESS_EVENT_AFTER_MS - 1);
    done();
    jest.advanceTimersByTime(10 * PROGRESS_EVENT_AFTER_MS);
    expect(recorded).toEqual([]);
  });

  it('a call still running after a second records it once, while it runs', () => {
    const done = outcomes.progress(svc, 'DeletingLoadBalancer', 'Deleting load balancer');
    jest.advanceTimersByTime(PROGRESS_EVENT_AFTER_MS);
    expect(recorded).toEqual(['Normal DeletingLoadBalancer']);
    jest.advanceTimersByTime(10 * PROGRESS_EVENT_AFTER_MS);
    done();
    expect(recorded).toEqual(['Normal DeletingLoadBalancer']);
  });
});
