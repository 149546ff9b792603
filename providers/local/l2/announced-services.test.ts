import { describe, expect, it } from '@jest/globals';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { announcedService, endpointNodes } from './announced-services.ts';

function aService(
  patch: { ingress?: { ip?: string; ipMode?: string }[]; provider?: string; pools?: string; local?: boolean } = {},
): V1Service {
  return {
    metadata: {
      namespace: 'shop',
      name: 'web',
      annotations: {
        'lbprovisioner.io/provider': patch.provider ?? 'local',
        ...(patch.pools ? { 'lbprovisioner.io/ip-allocated-from-pool': patch.pools } : {}),
      },
    },
    spec: { type: 'LoadBalancer', externalTrafficPolicy: patch.local ? 'Local' : 'Cluster', ports: [{ port: 80 }] },
    status: { loadBalancer: { ingress: patch.ingress ?? [{ ip: '192.0.2.10', ipMode: 'VIP' }] } },
  };
}

const slice = (endpoints: V1EndpointSlice['endpoints']): V1EndpointSlice => ({ addressType: 'IPv4', endpoints });
const noPools = () => null;

describe('which Services the speakers announce', () => {
  it('a local-provider LoadBalancer with a VIP address: its addresses, with the pool that holds each', () => {
    const service = announcedService(
      aService({ ingress: [{ ip: '192.0.2.10', ipMode: 'VIP' }, { ip: 'fd00:0::a' }] }),
      [],
      (ip) => (ip.includes(':') ? 'lab6' : 'lab4'),
    );
    expect(service?.addresses).toEqual([
      { ip: '192.0.2.10', pool: 'lab4' },
      { ip: 'fd00::a', pool: 'lab6' },
    ]);
    expect(service?.key).toBe('shop/web');
  });

  it('a --pool flag pool is not an object: the one recorded pool name stands in', () => {
    expect(announcedService(aService({ pools: 'flag-1' }), [], noPools)?.addresses).toEqual([
      { ip: '192.0.2.10', pool: 'flag-1' },
    ]);
  });

  it('not announced: another provider, a proxied address, no address yet', () => {
    expect(announcedService(aService({ provider: 'aws' }), [], noPools)).toBeNull();
    expect(announcedService(aService({ ingress: [{ ip: '192.0.2.10', ipMode: 'Proxy' }] }), [], noPools)).toBeNull();
    expect(announcedService(aService({ ingress: [] }), [], noPools)).toBeNull();
  });
});

describe('endpoint nodes from EndpointSlices', () => {
  it('reads ready, and serving-while-terminating, as kube-proxy does (unset ready means ready)', () => {
    const nodes = endpointNodes([
      slice([
        { addresses: ['10.1.0.1'], nodeName: 'node1' },
        { addresses: ['10.1.0.2'], nodeName: 'node2', conditions: { ready: false, serving: true, terminating: true } },
        { addresses: ['10.1.0.3'], nodeName: 'node3', conditions: { ready: false, serving: false, terminating: true } },
      ]),
      slice([{ addresses: ['10.1.0.4'], conditions: { ready: true } }]),
    ]);
    expect([...nodes.ready]).toEqual(['node1']);
    expect([...nodes.serving]).toEqual(['node2']);
  });
});
