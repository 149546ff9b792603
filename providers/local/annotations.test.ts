import { describe, expect, it } from '@jest/globals';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { allocationRequest, localAnnotations, recordedIPs } from './annotations.ts';
import { desiredLoadBalancerFor } from '../../test/builders/load-balancer.ts';

/** A single-stack IPv4 Service default/<name> with port TCP/80; override what the story needs. */
function lbFor(name: string, overrides: Partial<DesiredLoadBalancer> = {}): DesiredLoadBalancer {
  return desiredLoadBalancerFor(name, overrides);
}

/** The message of what allocationRequest throws, with the error's name. */
function failure(lb: DesiredLoadBalancer): string {
  try {
    allocationRequest(lb);
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
  throw new Error('expected allocationRequest to throw');
}

describe('the annotation table', () => {
  it('declares every key the local provider reads or writes, once', () => {
    const keys = localAnnotations.map((a) => a.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toEqual(
      expect.arrayContaining([
        'lbprovisioner.io/ips',
        'lbprovisioner.io/pool',
        'lbprovisioner.io/sharing-key',
        'metallb.io/loadBalancerIPs',
        'metallb.io/address-pool',
        'metallb.io/allow-shared-ip',
        'metallb.universe.tf/loadBalancerIPs',
        'metallb.universe.tf/address-pool',
        'metallb.universe.tf/allow-shared-ip',
        'kube-vip.io/loadbalancerIPs',
        'lbprovisioner.io/allocated-ips',
        'lbprovisioner.io/ip-allocated-from-pool',
      ]),
    );
    expect(localAnnotations.every((a) => a.provider === 'local' && a.description.length > 0)).toBe(true);
  });
});

describe('reading a Service into an allocation request', () => {
  it('carries what the allocator needs from the desired load balancer', () => {
    const lb = lbFor('web', {
      ref: { clusterName: 'test', namespace: 'shop', name: 'web', uid: 'u1' },
      ipFamilies: ['IPv6', 'IPv4'],
      ipFamilyPolicy: 'PreferDualStack',
      externalTrafficPolicy: 'Local',
      labels: { tier: 'front' },
      namespaceLabels: { team: 'a' },
      currentIngressIPs: ['10.0.0.9'],
    });
    expect(allocationRequest(lb).request).toEqual({
      key: 'shop/web',
      namespace: 'shop',
      ipFamilies: ['IPv6', 'IPv4'],
      ipFamilyPolicy: 'PreferDualStack',
      requestedIPs: [],
      ports: [{ protocol: 'TCP', port: 80 }],
      externalTrafficPolicy: 'Local',
      selector: { app: 'web' },
      serviceLabels: { tier: 'front' },
      namespaceLabels: { team: 'a' },
      currentIPs: ['10.0.0.9'],
    });
  });

  it.each([
    'lbprovisioner.io/ips',
    'metallb.io/loadBalancerIPs',
    'metallb.universe.tf/loadBalancerIPs',
    'kube-vip.io/loadbalancerIPs',
  ])('reads requested addresses from %s, one per family', (key) => {
    const { request, ipsFrom } = allocationRequest(lbFor('web', { annotations: { [key]: ' 10.0.0.5 , FD00::5' } }));
    expect(request.requestedIPs).toEqual(['10.0.0.5', 'fd00::5']);
    expect(ipsFrom).toBe(key);
  });

  it('reads pool and sharing key from our annotations and MetalLB’s', () => {
    const ours = allocationRequest(
      lbFor('web', { annotations: { 'lbprovisioner.io/pool': 'gold', 'lbprovisioner.io/sharing-key': 'k' } }),
    );
    const metallb = allocationRequest(
      lbFor('web', { annotations: { 'metallb.universe.tf/address-pool': 'gold', 'metallb.io/allow-shared-ip': 'k' } }),
    );
    expect([ours.request.pool, ours.request.sharingKey, ours.poolFrom]).toEqual(['gold', 'k', 'lbprovisioner.io/pool']);
    expect([metallb.request.pool, metallb.request.sharingKey]).toEqual(['gold', 'k']);
  });

  it('takes spec.loadBalancerIP when no annotation asks for addresses', () => {
    const { request, ipsFrom } = allocationRequest(lbFor('web', { requestedIPs: ['10.0.0.7'] }));
    expect(request.requestedIPs).toEqual(['10.0.0.7']);
    expect(ipsFrom).toBe('spec.loadBalancerIP');
  });

  it('accepts keys that agree, in any order or spelling', () => {
    const lb = lbFor('web', {
      requestedIPs: ['10.0.0.5'],
      annotations: { 'lbprovisioner.io/ips': '10.0.0.5,fd00::5', 'metallb.io/loadBalancerIPs': 'fd00:0::5,10.0.0.5' },
    });
    expect(allocationRequest(lb).request.requestedIPs).toEqual(['10.0.0.5', 'fd00::5']);
  });

  it('treats an empty annotation as unset', () => {
    expect(
      allocationRequest(lbFor('web', { annotations: { 'lbprovisioner.io/ips': ' ' } })).request.requestedIPs,
    ).toEqual([]);
  });

  it.each([
    [
      { 'lbprovisioner.io/ips': '10.0.0.300' },
      'InvalidAnnotationError: annotation lbprovisioner.io/ips: "10.0.0.300" is not accepted; use a comma list of IP addresses',
    ],
    [
      { 'metallb.io/loadBalancerIPs': '10.0.0.1,10.0.0.2' },
      'InvalidAnnotationError: annotation metallb.io/loadBalancerIPs: 10.0.0.1 and 10.0.0.2 are both IPv4; give at most one address per family',
    ],
    [
      { 'lbprovisioner.io/ips': '10.0.0.1', 'metallb.io/loadBalancerIPs': '10.0.0.2' },
      'InvalidAnnotationError: annotation lbprovisioner.io/ips: "10.0.0.1" disagrees with metallb.io/loadBalancerIPs ("10.0.0.2"); set only one, or the same value in both',
    ],
    [
      { 'lbprovisioner.io/pool': 'gold', 'metallb.io/address-pool': 'silver' },
      'InvalidAnnotationError: annotation lbprovisioner.io/pool: "gold" disagrees with metallb.io/address-pool ("silver"); set only one, or the same value in both',
    ],
    [
      { 'metallb.io/allow-shared-ip': 'a', 'metallb.universe.tf/allow-shared-ip': 'b' },
      'InvalidAnnotationError: annotation metallb.io/allow-shared-ip: "a" disagrees with metallb.universe.tf/allow-shared-ip ("b"); set only one, or the same value in both',
    ],
  ])('refuses %j', (annotations, message) => {
    expect(failure(lbFor('web', { annotations }))).toBe(message);
  });

  it('refuses spec.loadBalancerIP disagreeing with the annotation', () => {
    const lb = lbFor('web', { requestedIPs: ['10.0.0.9'], annotations: { 'lbprovisioner.io/ips': '10.0.0.5' } });
    expect(failure(lb)).toBe(
      'InvalidSpecError: spec.loadBalancerIP 10.0.0.9 disagrees with annotation lbprovisioner.io/ips (10.0.0.5); set only one',
    );
  });
});

describe('reading back a recorded allocation', () => {
  it('prefers the allocated-ips annotation, else the status', () => {
    const recorded = lbFor('web', {
      annotations: { 'lbprovisioner.io/allocated-ips': '10.0.0.5,fd00::5' },
      currentIngressIPs: ['10.0.0.99'],
    });
    expect(recordedIPs(recorded)).toEqual({ ips: ['10.0.0.5', 'fd00::5'], fromStatus: false });
    expect(recordedIPs(lbFor('web', { currentIngressIPs: ['10.0.0.99', 'garbage'] }))).toEqual({
      ips: ['10.0.0.99'],
      fromStatus: true,
    });
  });
});
