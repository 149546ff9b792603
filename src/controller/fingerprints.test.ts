import { describe, expect, it } from '@jest/globals';
import { aService } from '../../test/builders/service.ts';
import { fingerprint, newestOf, relevantService, stableStringify } from './fingerprints.ts';

describe('fingerprints', () => {
  it('print the same object the same whatever its key order, undefined fields and date type', () => {
    expect(stableStringify({ b: 1, a: [{ y: undefined, x: new Date('2026-01-01T00:00:00Z') }] })).toBe(
      stableStringify({ a: [{ x: '2026-01-01T00:00:00.000Z' }], b: 1 }),
    );
  });

  it('keep a digest of that JSON (44 characters whatever the size of the object), equal exactly when it is', () => {
    const big = { annotations: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v'.repeat(100)])) };
    expect(fingerprint(big)).toHaveLength(44);
    expect(fingerprint({ b: 1, a: [2] })).toBe(fingerprint({ a: [2], b: 1 }));
    expect(fingerprint({ a: [2], b: 1 })).not.toBe(fingerprint({ a: [2], b: 2 }));
    expect(relevantService(aService('web').withPorts(80).build())).toHaveLength(44);
  });

  it('ignore status-only changes of a Service but see spec, annotation and finalizer changes', () => {
    const svc = aService('web').withPorts(80).build();
    const withStatus = { ...svc, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } };
    expect(relevantService(withStatus)).toBe(relevantService(svc));
    expect(relevantService(aService('web').withPorts(81).build())).not.toBe(relevantService(svc));
    expect(relevantService(aService('web').withPorts(80).withFinalizers('x').build())).not.toBe(relevantService(svc));
  });

  it('pick the newer version by resourceVersion, and never mix objects of different UIDs', () => {
    const a = aService('web')
      .with((s) => (s.metadata!.resourceVersion = '10'))
      .build();
    const b = aService('web')
      .with((s) => (s.metadata!.resourceVersion = '9'))
      .build();
    expect(newestOf(a, b)).toBe(a);
    expect(newestOf(b, a)).toBe(a);
    const other = aService('web')
      .with((s) => ((s.metadata!.uid = 'other'), (s.metadata!.resourceVersion = '99')))
      .build();
    expect(newestOf(a, other)).toBe(a);
  });
});
