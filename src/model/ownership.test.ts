import { describe, expect, it } from '@jest/globals';
import { aService } from '../../test/builders/service.ts';
import { decide, finalizerFor, wantedProvider, type OwnershipConfig } from './ownership.ts';
import { OUR_FINALIZER, PROVIDER_ANNOTATION, UPSTREAM_FINALIZER } from './names.ts';

const cfg: OwnershipConfig = { providers: ['local', 'fake'], defaultProvider: 'local', classOnly: false };

describe('which Services are ours', () => {
  it('takes a class-less LoadBalancer Service with the default provider and the upstream finalizer', () => {
    const svc = aService('web').withPorts(80).build();
    expect(decide(svc, cfg)).toEqual({ action: 'ensure', provider: 'local' });
    expect(finalizerFor(svc)).toBe(UPSTREAM_FINALIZER);
  });

  it('takes a Service whose class names a provider we run, with our own finalizer', () => {
    const svc = aService('web').withPorts(80).withClass('lbprovisioner.io/fake').build();
    expect(decide(svc, cfg)).toEqual({ action: 'ensure', provider: 'fake' });
    expect(finalizerFor(svc)).toBe(OUR_FINALIZER);
  });

  it("ignores another controller's class and our class for a provider not running here", () => {
    expect(decide(aService('a').withPorts(80).withClass('example.com/other').build(), cfg)).toEqual({
      action: 'ignore',
    });
    expect(decide(aService('b').withPorts(80).withClass('lbprovisioner.io/aws').build(), cfg)).toEqual({
      action: 'ignore',
    });
  });

  it('ignores class-less Services with --class-only or without a default provider', () => {
    const svc = aService('web').withPorts(80).build();
    expect(decide(svc, { ...cfg, classOnly: true })).toEqual({ action: 'ignore' });
    expect(decide(svc, { providers: ['local'], classOnly: false })).toEqual({ action: 'ignore' });
  });

  it('leaves a class-less Service that another cloud controller already finalized', () => {
    const svc = aService('web').withPorts(80).withFinalizers(UPSTREAM_FINALIZER).build();
    expect(wantedProvider(svc, cfg)).toBeUndefined();
    expect(decide(svc, cfg)).toEqual({ action: 'ignore' });
  });

  it('keeps a load balancer with the provider that built it when --default-provider changes', () => {
    const svc = aService('web')
      .withPorts(80)
      .withFinalizers(UPSTREAM_FINALIZER)
      .withAnnotations({ [PROVIDER_ANNOTATION]: 'local' })
      .build();
    expect(decide(svc, { ...cfg, defaultProvider: 'fake' })).toEqual({ action: 'ensure', provider: 'local' });
  });

  it('cleans up with the recorded provider when the type changes away from LoadBalancer (the class is wiped)', () => {
    const svc = aService('web')
      .withPorts(80)
      .clusterIP()
      .withFinalizers(OUR_FINALIZER)
      .withAnnotations({ [PROVIDER_ANNOTATION]: 'fake' })
      .build();
    expect(decide(svc, cfg)).toEqual({ action: 'cleanup', provider: 'fake' });
  });

  it('cleans up a Service being deleted', () => {
    const svc = aService('web')
      .withPorts(80)
      .deleting()
      .withFinalizers(UPSTREAM_FINALIZER)
      .withAnnotations({ [PROVIDER_ANNOTATION]: 'local' })
      .build();
    expect(decide(svc, cfg)).toEqual({ action: 'cleanup', provider: 'local' });
  });

  it('never starts work on a Service being deleted that we never built', () => {
    expect(decide(aService('web').withPorts(80).deleting().build(), cfg)).toEqual({ action: 'ignore' });
  });

  it('moves a Service whose class now names another provider: clean up first, then build', () => {
    const svc = aService('web')
      .withPorts(80)
      .withClass('lbprovisioner.io/fake')
      .withFinalizers(UPSTREAM_FINALIZER)
      .withAnnotations({ [PROVIDER_ANNOTATION]: 'local' })
      .build();
    expect(decide(svc, cfg)).toEqual({ action: 'cleanup', provider: 'local', then: 'fake' });
  });

  it('does not touch a Service recorded for a provider this process does not run', () => {
    const svc = aService('web')
      .withPorts(80)
      .clusterIP()
      .withFinalizers(OUR_FINALIZER)
      .withAnnotations({ [PROVIDER_ANNOTATION]: 'aws' })
      .build();
    expect(decide(svc, cfg)).toEqual({ action: 'ignore' });
  });

  it('leaves a class-less Service to another controller when the default provider declines it by annotation', () => {
    const declining: OwnershipConfig = {
      ...cfg,
      takesClassless: (_p, a) => a['service.beta.kubernetes.io/aws-load-balancer-type'] !== 'external',
    };
    const external = aService('alb')
      .withPorts(80)
      .withAnnotations({ 'service.beta.kubernetes.io/aws-load-balancer-type': 'external' });
    expect(decide(external.build(), declining)).toEqual({ action: 'ignore' });
    // with our class the annotation does not matter: the class decides
    expect(decide(external.withClass('lbprovisioner.io/fake').build(), declining)).toEqual({
      action: 'ensure',
      provider: 'fake',
    });
  });
});
