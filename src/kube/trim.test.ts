/** What the caches keep: who set a Service's finalizer survives the trim; the rest of managedFields does not. */
import { describe, expect, it } from '@jest/globals';
import { finalizerManager } from '../model/ownership.ts';
import type { ServiceObject } from '../model/objects.ts';
import { trimManagedFields, trimNode, trimService } from './trim.ts';

const UPSTREAM = 'service.kubernetes.io/load-balancer-cleanup';

function served(): ServiceObject {
  return {
    metadata: {
      name: 'web',
      namespace: 'default',
      finalizers: [UPSTREAM],
      managedFields: [
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          fieldsV1: { 'f:spec': { 'f:ports': {}, 'f:type': {} } },
        },
        {
          manager: 'cloud-controller-manager',
          operation: 'Update',
          fieldsV1: { 'f:metadata': { 'f:finalizers': { '.': {}, [`v:"${UPSTREAM}"`]: {} } } },
        },
        {
          manager: 'cloud-controller-manager',
          operation: 'Update',
          subresource: 'status',
          fieldsV1: { 'f:status': { 'f:loadBalancer': { 'f:ingress': {} } } },
        },
      ],
    },
    spec: { type: 'LoadBalancer' },
  };
}

describe('cache trims', () => {
  it('a Service keeps only who set its finalizers, so the controller it is left to is still named', () => {
    const svc = trimService(served());
    expect(svc.metadata?.managedFields).toEqual([
      {
        manager: 'cloud-controller-manager',
        fieldsV1: { 'f:metadata': { 'f:finalizers': { '.': {}, [`v:"${UPSTREAM}"`]: {} } } },
      },
    ]);
    expect(finalizerManager(svc, UPSTREAM)).toBe(finalizerManager(served(), UPSTREAM));
    expect(finalizerManager(svc, UPSTREAM)).toBe('cloud-controller-manager');
    expect(svc.spec).toEqual({ type: 'LoadBalancer' });
  });

  it('a Service no one finalized keeps no managedFields at all', () => {
    const svc = served();
    svc.metadata!.managedFields = svc.metadata!.managedFields!.slice(0, 1);
    expect('managedFields' in trimService(svc).metadata!).toBe(false);
  });

  it('a Node loses managedFields and its image list, and keeps what target sets read', () => {
    const node = trimNode({
      metadata: { name: 'n1', labels: { zone: 'a' }, managedFields: [{ manager: 'kubelet' }] },
      spec: { providerID: 'aws:///i-1' },
      status: {
        addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
        images: [{ names: ['registry.example/big:1'], sizeBytes: 1 }],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    });
    expect(node).toEqual({
      metadata: { name: 'n1', labels: { zone: 'a' } },
      spec: { providerID: 'aws:///i-1' },
      status: {
        addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    });
  });

  it('a Namespace loses managedFields and keeps its labels', () => {
    expect(trimManagedFields({ metadata: { name: 'ns', labels: { team: 'a' }, managedFields: [{}] } })).toEqual({
      metadata: { name: 'ns', labels: { team: 'a' } },
    });
  });
});
