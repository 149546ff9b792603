/** The Event recorder against a real apiserver: a storm is bounded, and what it drops is counted and logged. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { startControlPlane, type ControlPlane } from '../devcluster/controlplane.ts';
import { createLogger } from '../log.ts';
import { EventRecorder } from './events.ts';

function captureLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: createLogger('info', stream) };
}

describe('EventRecorder', () => {
  let cp: ControlPlane;
  let core: k8s.CoreV1Api;
  beforeAll(async () => {
    cp = await startControlPlane();
    core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  const svc = (name: string) => ({ metadata: { name, namespace: 'default', uid: `uid-${name}` } });

  it('keeps a bounded backlog: beyond it Events are dropped, counted and logged once per burst', async () => {
    const { lines, log } = captureLog();
    const recorder = new EventRecorder(cp.kubeConfig(), {
      component: 'test',
      instance: 'test',
      log,
      concurrency: 2,
      maxBacklog: 10,
    });
    for (let i = 0; i < 100; i++) recorder.record(svc('storm'), 'Warning', 'SyncLoadBalancerFailed', `attempt ${i}`);
    // two in flight, ten waiting: the other 88 were never queued
    expect(recorder.dropped).toBe(88);
    await recorder.idle();
    const events = await core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: 'involvedObject.name=storm',
    });
    expect(events.items).toHaveLength(12);
    const warnings = lines.filter((l) => /dropp/.test(String(l['msg'])));
    expect(warnings.map((l) => l['msg'])).toEqual([
      'dropping Events: the backlog is full (the apiserver is slow or unreachable)',
      'dropped Events',
    ]);
    expect(warnings[1]).toMatchObject({ dropped: 88, droppedTotal: 88 });
  });

  it('a replica that stops leading drops what it had queued', async () => {
    const { log } = captureLog();
    const recorder = new EventRecorder(cp.kubeConfig(), { component: 'test', instance: 'test', log, concurrency: 1 });
    for (let i = 0; i < 20; i++) recorder.record(svc('standby'), 'Normal', 'EnsuredLoadBalancer', `n ${i}`);
    recorder.disable();
    await recorder.idle();
    const events = await core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: 'involvedObject.name=standby',
    });
    expect(events.items.length).toBeLessThanOrEqual(1);
  });
});
