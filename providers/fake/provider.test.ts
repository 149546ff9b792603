/** The fake cloud's report of answered calls, which benchmarks time as the upstream anchor's lines. */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { desiredLoadBalancerFor } from '../../test/builders/load-balancer.ts';
import { silentLogger } from '../../src/log.ts';
import { fakeProvider } from './index.ts';
import { FakeProvider, callLine, type FakeCall } from './provider.ts';

const target = (name: string) => ({ name, addresses: [`10.0.0.${name.slice(1)}`], labels: {} });
const signal = new AbortController().signal;

describe('the fake cloud reports each call once it is answered', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('onAnswered sees a call only after its answer, with the change already made', async () => {
    const lines: string[] = [];
    const fake: FakeProvider = new FakeProvider({
      onAnswered: (call: FakeCall) =>
        lines.push(`${callLine(call)} (holds ${fake.balancers.get('uid-web')?.targets.join() ?? 'nothing'})`),
    });
    const lb = desiredLoadBalancerFor('web', { targets: [target('n1')] });
    await fake.ensure(lb, signal);
    const gate = fake.hold('updateTargets');
    const update = fake.updateTargets({ ...lb, targets: [target('n1'), target('n2')] }, signal);
    await new Promise((r) => setImmediate(r));
    expect(gate.held()).toEqual(['default/web']);
    expect(lines).toEqual(['ensure default/web 1 (holds n1)']);
    gate.release();
    await update;
    await fake.delete(lb.ref, signal);
    expect(lines).toEqual([
      'ensure default/web 1 (holds n1)',
      'updateTargets default/web 2 (holds n1,n2)',
      'delete default/web (holds nothing)',
    ]);
  });

  it('a call that fails is not reported', async () => {
    const lines: string[] = [];
    const fake = new FakeProvider({ onAnswered: (call) => lines.push(callLine(call)) });
    const lb = desiredLoadBalancerFor('web', { targets: [target('n1')] });
    await fake.ensure(lb, signal);
    fake.failNext('updateTargets', new Error('throttled'));
    await expect(fake.updateTargets(lb, signal)).rejects.toThrow('throttled');
    await expect(fake.updateTargets(desiredLoadBalancerFor('gone'), signal)).rejects.toThrow('does not exist');
    expect(lines).toEqual(['ensure default/web 1']);
  });

  it('--fake-call-lines (LBP_FAKE_CALL_LINES) prints each answered call on stdout, one line each', async () => {
    const written: string[] = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    const shared = { clusterName: 'test', nodePortRange: { from: 30000, to: 32767 }, log: silentLogger() };
    const lb = desiredLoadBalancerFor('web', { targets: [target('n1'), target('n2')] });
    const quiet = await fakeProvider.create({ fakeCallLines: false }, shared);
    await quiet.ensure(lb, signal);
    expect(written).toEqual([]);
    const printing = await fakeProvider.create({ fakeCallLines: true }, shared);
    await printing.ensure(lb, signal);
    await printing.updateTargets(lb, signal);
    expect(written).toEqual(['ensure default/web 2\n', 'updateTargets default/web 2\n']);
  });
});

describe('the fake cloud latency', () => {
  it('leaves no listener on the signal it was given (a signal lives as long as the leader term)', async () => {
    const fake = new FakeProvider({ latencyMs: 1 });
    const term = new AbortController();
    for (let i = 0; i < 20; i++) await fake.ensure(desiredLoadBalancerFor(`web-${i}`), term.signal);
    expect(getEventListeners(term.signal, 'abort')).toHaveLength(0);
    expect(fake.balancers.size).toBe(20);
  });

  it('a call in flight ends with the abort reason when the term ends', async () => {
    const fake = new FakeProvider({ latencyMs: 60_000 });
    const term = new AbortController();
    const call = fake.ensure(desiredLoadBalancerFor('web'), term.signal);
    term.abort(new Error('lost the lease'));
    await expect(call).rejects.toThrow('lost the lease');
    expect(fake.balancers.size).toBe(0);
    expect(fake.inFlight).toBe(0);
  });
});
