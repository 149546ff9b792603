/** The check `doctor` will run on Azure: nodes another public load balancer already holds. */
import { describe, expect, it } from '@jest/globals';
import type { LoadBalancer } from '@azure/arm-network';
import { conflictingPoolMembers } from './doctor.ts';

const lb = (name: string, isPublic: boolean, addresses: string[]): LoadBalancer =>
  ({
    name,
    frontendIPConfigurations: [
      isPublic ? { name: 'fe', publicIPAddress: { id: 'pip' } } : { name: 'fe', subnet: { id: 's' } },
    ],
    backendAddressPools: [
      { name: 'pool', loadBalancerBackendAddresses: addresses.map((ipAddress) => ({ ipAddress })) },
    ],
  }) as LoadBalancer;

describe('nodes already in another public load balancer', () => {
  it("names the nodes that AKS's own `kubernetes` load balancer holds, and nothing else", () => {
    const lbs = [
      lb('kubernetes', true, ['10.240.0.4', '10.240.0.5']),
      lb('kubernetes-internal', false, ['10.240.0.6']),
      lb('prod-lbp', true, ['10.240.0.4', '10.240.0.5', '10.240.0.6']),
    ];
    expect(conflictingPoolMembers('prod', lbs, ['10.240.0.4', '10.240.0.6', '10.240.0.7'])).toEqual([
      { address: '10.240.0.4', loadBalancer: 'kubernetes' },
    ]);
  });
});
