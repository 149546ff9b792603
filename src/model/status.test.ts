import { describe, expect, it } from '@jest/globals';
import { aService } from '../../test/builders/service.ts';
import { CONDITION_MESSAGE_MAX, ingressEqual, ingressFor, readyCondition, readyConditionDiffers } from './status.ts';
import { READY_CONDITION } from './names.ts';
import type { ServiceObject } from './objects.ts';

describe('status', () => {
  it('sets ipMode only on entries with an ip (the API rejects it on hostnames)', () => {
    expect(
      ingressFor([{ ip: '192.0.2.1' }, { hostname: 'lb.example' }, { ip: '192.0.2.2', ipMode: 'VIP' }], 'Proxy'),
    ).toEqual([{ ip: '192.0.2.1', ipMode: 'Proxy' }, { hostname: 'lb.example' }, { ip: '192.0.2.2', ipMode: 'VIP' }]);
  });

  it('compares ingress lists by meaning', () => {
    expect(ingressEqual([{ ip: '192.0.2.1', ipMode: 'VIP' }], [{ ip: '192.0.2.1', ipMode: 'VIP' }])).toBe(true);
    expect(ingressEqual([{ ip: '192.0.2.1', ipMode: 'VIP' }], [{ ip: '192.0.2.1', ipMode: 'Proxy' }])).toBe(false);
    expect(ingressEqual(undefined, [])).toBe(true);
  });

  it('moves lastTransitionTime only when the status flips, and follows the generation', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const svc = aService('web').withPorts(80).build();
    const first = readyCondition(svc, { status: 'True', reason: 'Provisioned', message: 'ok' }, t0);
    svc.status = { conditions: [first as never] };
    expect(readyConditionDiffers(svc, { status: 'True', reason: 'Provisioned', message: 'ok' })).toBe(false);
    const sameStatus = readyCondition(
      svc,
      { status: 'True', reason: 'Provisioned', message: 'still ok' },
      new Date('2026-01-02T00:00:00Z'),
    );
    expect(sameStatus.lastTransitionTime).toBe(t0.toISOString());
    const flipped = readyCondition(
      svc,
      { status: 'False', reason: 'PoolExhausted', message: 'no' },
      new Date('2026-01-03T00:00:00Z'),
    );
    expect(flipped).toMatchObject({
      type: READY_CONDITION,
      status: 'False',
      lastTransitionTime: '2026-01-03T00:00:00.000Z',
    });
    svc.metadata!.generation = 2;
    expect(readyConditionDiffers(svc, { status: 'True', reason: 'Provisioned', message: 'ok' })).toBe(true);
  });

  it('cuts a failure message to the condition limit, and a cut message compares equal to what was written', () => {
    // never more than metav1.Condition documents, whatever a provider or a parser put in the message
    const svc: ServiceObject = aService('web').build();
    const state = { status: 'False' as const, reason: 'InvalidAnnotation', message: 'x'.repeat(100_000) };
    const written = readyCondition(svc, state, new Date());
    expect(written.message.length).toBe(CONDITION_MESSAGE_MAX);
    svc.status = { conditions: [written] };
    expect(readyConditionDiffers(svc, state)).toBe(false);
  });
});
