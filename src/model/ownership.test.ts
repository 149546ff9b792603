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

  it('leaves a class-less Service that another cloud controller already finalized, and says so naming it', () => {
    const svc = aService('web')
      .withPorts(80)
      .withFinalizers(UPSTREAM_FINALIZER)
      .with((s) => {
        s.metadata!.managedFields = [
          {
            manager: 'aws-cloud-controller-manager',
            operation: 'Update',
            fieldsV1: { 'f:metadata': { 'f:finalizers': { '.': {}, [`v:"${UPSTREAM_FINALIZER}"`]: {} } } },
          },
        ];
      })
      .build();
    expect(wantedProvider(svc, cfg)).toBeUndefined();
    const d = decide(svc, cfg);
    expect(d.action).toBe('ignore');
    expect(d.action === 'ignore' && d.why).toMatchObject({ type: 'Normal', reason: 'LeftToAnotherController' });
    expect(d.action === 'ignore' && d.why?.message).toContain('(aws-cloud-controller-manager)');
    expect(d.action === 'ignore' && d.why?.message).toContain('spec.loadBalancerClass: lbprovisioner.io/local');
  });

  it('leaves new class-less Services to a running cloud controller manager, but keeps the ones it built', () => {
    const taken: OwnershipConfig = { ...cfg, classlessTakenBy: 'the cloud controller manager' };
    const fresh = decide(aService('new').withPorts(80).build(), taken);
    expect(fresh.action === 'ignore' && fresh.why?.reason).toBe('LeftToAnotherController');
    const ours = aService('old')
      .withPorts(80)
      .withFinalizers(UPSTREAM_FINALIZER)
      .withAnnotations({ [PROVIDER_ANNOTATION]: 'local' })
      .build();
    expect(decide(ours, taken)).toEqual({ action: 'ensure', provider: 'local' });
    // a Service with our class is ours whatever the other controller does
    expect(decide(aService('c').withPorts(80).withClass('lbprovisioner.io/fake').build(), taken)).toEqual({
      action: 'ensure',
      provider: 'fake',
    });
  });

  it('names the stuck finalizer and how to release it when our record was removed and the class is gone', () => {
    const svc = aService('web').withPorts(80).clusterIP().withFinalizers(OUR_FINALIZER).build();
    const d = decide(svc, cfg);
    expect(d.action === 'ignore' && d.why?.reason).toBe('UnknownProvider');
    expect(d.action === 'ignore' && d.why?.message).toContain(OUR_FINALIZER);
    expect(d.action === 'ignore' && d.why?.message).toContain('kubectl -n default patch service web --type=json');
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

  it('hands a Service whose class was removed (through ClusterIP, unseen) to the default provider: clean up first', () => {
    // the class was ours (our finalizer only); a sync saw neither the ClusterIP step nor the class going
    const svc = aService('web')
      .withPorts(80)
      .withFinalizers(OUR_FINALIZER)
      .withAnnotations({ [PROVIDER_ANNOTATION]: 'fake' })
      .build();
    expect(decide(svc, cfg)).toEqual({ action: 'cleanup', provider: 'fake', then: 'local' });
    // with no default provider, nothing of ours should stay
    expect(decide(svc, { ...cfg, defaultProvider: undefined })).toEqual({ action: 'cleanup', provider: 'fake' });
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

  it('does not touch a Service recorded for a provider this process does not run, and says how to release it', () => {
    const svc = aService('web')
      .withPorts(80)
      .clusterIP()
      .withFinalizers(OUR_FINALIZER)
      .withAnnotations({ [PROVIDER_ANNOTATION]: 'aws' })
      .build();
    const d = decide(svc, cfg);
    expect(d.action).toBe('ignore');
    expect(d.action === 'ignore' && d.why).toMatchObject({ type: 'Warning', reason: 'ProviderNotRunning' });
    expect(d.action === 'ignore' && d.why?.message).toContain(`--provider aws`);
    expect(d.action === 'ignore' && d.why?.message).toContain(OUR_FINALIZER);
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
