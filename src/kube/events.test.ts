/** The Event recorder against a real apiserver: a storm is bounded, and what it drops is counted and logged. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { startControlPlane, type ControlPlane } from '../devcluster/controlplane.ts';
import { createLogger } from '../log.ts';
import { waitFor } from '../../test/harness/fixtures.ts';
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

  const eventsOf = async (name: string) =>
    (await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${name}` })).items
      .sort((a, b) => Number(a.metadata?.resourceVersion) - Number(b.metadata?.resourceVersion))
      .map((e) => `${e.type}/${e.reason}`);

  it("holds Normal Events while the controller is busy; a Warning goes at once, with its own object's", async () => {
    const { log } = captureLog();
    let busy = true;
    const recorder = new EventRecorder(cp.kubeConfig(), { component: 'test', instance: 'test', log, busy: () => busy });
    recorder.record(svc('held-a'), 'Normal', 'EnsuredLoadBalancer', 'a');
    recorder.record(svc('held-b'), 'Normal', 'EnsuredLoadBalancer', 'b');
    recorder.record(svc('held-c'), 'Warning', 'SyncLoadBalancerFailed', 'c');
    await waitFor(async () => (await eventsOf('held-c')).length === 1, { message: "held-c's Warning" });
    // the Warning's write can show in a list before its task settles in the queue: waited for, then exact
    await waitFor(() => recorder.backlog === 2, { message: 'two held' });
    expect(await eventsOf('held-a')).toEqual([]);
    expect(await eventsOf('held-b')).toEqual([]);
    // a Warning about held-a: held-a's Normal Event goes with it, held-b's stays
    recorder.record(svc('held-a'), 'Warning', 'SyncLoadBalancerFailed', 'a failed');
    await waitFor(async () => (await eventsOf('held-a')).length === 2, { message: "held-a's two Events" });
    expect((await eventsOf('held-a')).sort()).toEqual(['Normal/EnsuredLoadBalancer', 'Warning/SyncLoadBalancerFailed']);
    expect(await eventsOf('held-b')).toEqual([]);
    await waitFor(() => recorder.backlog === 1, { message: 'one held' });
    // busy no more: what was held goes without anything else recorded
    busy = false;
    await waitFor(async () => (await eventsOf('held-b')).length === 1, { message: "held-b's Event", timeoutMs: 5000 });
    await waitFor(() => recorder.backlog === 0, { message: 'nothing held or queued' });
    expect(recorder.dropped).toBe(0);
  });

  it('holds a Normal Event at most holdMaxMs, and at most half the backlog, never dropping one for it', async () => {
    const { log } = captureLog();
    const recorder = new EventRecorder(cp.kubeConfig(), {
      component: 'test',
      instance: 'test',
      log,
      busy: () => true,
      holdMaxMs: 1500,
      maxBacklog: 10,
    });
    const recorded = Date.now();
    for (let i = 0; i < 8; i++) recorder.record(svc(`capped-${i}`), 'Normal', 'EnsuredLoadBalancer', 'n');
    // five held (half of 10), three sent as before
    for (const i of [5, 6, 7])
      await waitFor(async () => (await eventsOf(`capped-${i}`)).length === 1, { message: `capped-${i}, not held` });
    await waitFor(() => recorder.backlog === 5, { message: 'five held' });
    expect(await eventsOf('capped-0')).toEqual([]);
    await waitFor(async () => (await eventsOf('capped-4')).length === 1, { message: 'held Events after 1.5 s' });
    expect(Date.now() - recorded).toBeGreaterThanOrEqual(1500);
    for (let i = 0; i < 8; i++) expect(await eventsOf(`capped-${i}`)).toEqual(['Normal/EnsuredLoadBalancer']);
    expect(recorder.dropped).toBe(0);
  });

  it('idle() sends what is held, even while the controller is busy', async () => {
    const { log } = captureLog();
    const recorder = new EventRecorder(cp.kubeConfig(), { component: 'test', instance: 'test', log, busy: () => true });
    recorder.record(svc('flushed'), 'Normal', 'EnsuredLoadBalancer', 'n');
    expect(recorder.backlog).toBe(1);
    await recorder.idle();
    expect(await eventsOf('flushed')).toEqual(['Normal/EnsuredLoadBalancer']);
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
