import { describe, expect, it } from '@jest/globals';
import { advertisementFromObject } from './advertisement.ts';

const ad = (spec: unknown) => ({
  apiVersion: 'lbprovisioner.io/v1alpha1',
  kind: 'L2Advertisement',
  metadata: { name: 'lab' },
  spec,
});

describe('reading an L2Advertisement', () => {
  it('an empty spec announces every pool from every node on the VIP subnet', () => {
    expect(advertisementFromObject(ad(undefined))).toEqual({
      ok: true,
      advertisement: { name: 'lab', pools: 'all', nodeSelectors: [], interfaces: [] },
    });
  });

  it('keeps pools, node selectors and interfaces as given (duplicates dropped)', () => {
    const parsed = advertisementFromObject(
      ad({
        ipPools: ['lab', 'lab', 'edge'],
        nodeSelectors: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a'] }] }],
        interfaces: ['eth0', 'bond0.20'],
      }),
    );
    expect(parsed).toEqual({
      ok: true,
      advertisement: {
        name: 'lab',
        pools: ['lab', 'edge'],
        nodeSelectors: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a'] }] }],
        interfaces: ['eth0', 'bond0.20'],
      },
    });
  });

  it.each([
    [
      { interfaces: ['this-name-is-too-long'] },
      'spec.interfaces[0]: not an interface name (1-15 characters, no "/", ":" or spaces)',
    ],
    [{ interfaces: ['eth0:1'] }, 'spec.interfaces[0]: not an interface name (1-15 characters, no "/", ":" or spaces)'],
    [
      { nodeSelectors: [{ matchExpressions: [{ key: 'zone', operator: 'In' }] }] },
      'spec.nodeSelectors[0].matchExpressions[0]: In and NotIn need values; Exists and DoesNotExist take none',
    ],
    [
      { nodeSelectors: [{ matchLabels: { 'bad key!': 'x' } }] },
      'spec.nodeSelectors[0].matchLabels.bad key!: "bad key!" is not a valid label key',
    ],
    [{ ipPools: [''] }, 'spec.ipPools[0]: a pool name must not be empty'],
    [{ ipPools: 'lab' }, 'spec.ipPools: Invalid input: expected array, received string'],
  ])('a bad spec %j is an error naming the field: %s', (spec, message) => {
    expect(advertisementFromObject(ad(spec))).toEqual({ ok: false, name: 'lab', message });
  });
});
