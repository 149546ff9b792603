/** prom-client metrics of one controller instance (its own registry: several may run in one process). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly reconcileDuration = new Histogram({
    name: 'lbprovisioner_reconcile_duration_seconds',
    help: 'Time to sync one Service, by provider, operation (ensure, cleanup, targets, orphan) and outcome',
    labelNames: ['provider', 'operation', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'lbprovisioner_workqueue_depth',
    help: 'Keys waiting in the work queue',
    registers: [this.registry],
  });
  readonly queueLatency = new Histogram({
    name: 'lbprovisioner_workqueue_queue_duration_seconds',
    help: 'How long a key waited in the queue before a worker took it',
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60, 300],
    registers: [this.registry],
  });
  readonly providerCalls = new Counter({
    name: 'lbprovisioner_provider_calls_total',
    help: 'Provider operations by provider, operation and result',
    labelNames: ['provider', 'operation', 'result'] as const,
    registers: [this.registry],
  });
  readonly managedLoadBalancers = new Gauge({
    name: 'lbprovisioner_managed_load_balancers',
    help: 'Load balancers this controller currently manages, by provider',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  readonly orphansDeleted = new Counter({
    name: 'lbprovisioner_orphans_deleted_total',
    help: 'Load balancers deleted because their Service is gone or no longer ours, by provider',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: 'lbprovisioner_leader',
    help: '1 while this replica holds the leader lease',
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
