import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { poolFromObject, poolsFromFlags } from './pool.ts';

function anIPPool(name: string, spec: Record<string, unknown>): unknown {
  return { apiVersion: 'lbprovisioner.io/v1alpha1', kind: 'IPPool', metadata: { name }, spec };
}

/** The error message of a parse that must fail. */
function rejection(object: unknown): string {
  const parsed = poolFromObject(object);
  if (parsed.ok) throw new Error('expected the pool to be rejected');
  expect(parsed.error.name).toBe('InvalidPoolError');
  return parsed.error.message;
}

describe('IPPool objects', () => {
  it('become pool definitions with every field the allocator reads', () => {
    const parsed = poolFromObject(
      anIPPool('gold', {
        addresses: ['10.0.0.0/24', ' 192.168.1.240-192.168.1.250 ', 'fd00::/64'],
        autoAssign: false,
        avoidBuggyIPs: true,
        priority: 10,
        serviceAllocation: {
          namespaces: ['shop'],
          namespaceSelectors: [{ matchLabels: { tier: 'gold' } }],
          serviceSelectors: [{ matchExpressions: [{ key: 'expose', operator: 'Exists' }] }],
        },
      }),
    );
    expect(parsed).toEqual({
      ok: true,
      pool: {
        name: 'gold',
        addresses: ['10.0.0.0/24', '192.168.1.240-192.168.1.250', 'fd00::/64'],
        autoAssign: false,
        avoidBuggyIPs: true,
        priority: 10,
        serviceAllocation: {
          namespaces: ['shop'],
          namespaceSelectors: [{ matchLabels: { tier: 'gold' } }],
          serviceSelectors: [{ matchExpressions: [{ key: 'expose', operator: 'Exists' }] }],
        },
      },
    });
  });

  it('leaves defaults to the allocator', () => {
    expect(poolFromObject(anIPPool('plain', { addresses: ['10.0.0.0/24'] }))).toEqual({
      ok: true,
      pool: { name: 'plain', addresses: ['10.0.0.0/24'] },
    });
  });

  it.each([
    [{ addresses: ['10.0.0.0/24', '10.0.0.0/33'] }, 'spec.addresses[1]: "10.0.0.0/33" is not a CIDR'],
    [{ addresses: ['10.0.0.9-10.0.0.1'] }, 'spec.addresses[0]: "10.0.0.9-10.0.0.1" is not a CIDR'],
    [{ addresses: [] }, 'spec.addresses: at least one CIDR or range is required'],
    [
      { addresses: ['10.0.0.0/33', '10.0.1.0/24', '10.0.2.300'] },
      'spec.addresses: [0] "10.0.0.0/33", [2] "10.0.2.300" are not CIDRs (10.0.0.0/24), ranges',
    ],
    [{ addresses: ['10.0.0.0/24'], priority: 1.5 }, 'spec.priority:'],
    [
      {
        addresses: ['10.0.0.0/24'],
        serviceAllocation: { serviceSelectors: [{ matchExpressions: [{ key: 'a', operator: 'In' }] }] },
      },
      'spec.serviceAllocation.serviceSelectors[0].matchExpressions[0]: In and NotIn need values',
    ],
  ])('rejects %j, naming the pool and the field', (spec, message) => {
    const error = rejection(anIPPool('bad', spec));
    expect(error.startsWith('pool "bad": ')).toBe(true);
    expect(error).toContain(message);
  });

  it('rejects an object without a spec', () => {
    expect(rejection({ metadata: { name: 'empty' } })).toBe(
      'pool "empty": spec: Invalid input: expected object, received undefined',
    );
  });
  it("quotes a huge bad address cut short, so the pool's condition stays within the API limits", () => {
    const message = rejection(anIPPool('big', { addresses: ['x'.repeat(100_000)] }));
    expect(message.length).toBeLessThan(400);
    expect(message).toContain('(100000 characters) is not a CIDR');
  });
});

describe('--pool flags', () => {
  it('make one pool per flag, several CIDRs in one flag making a dual-stack pool', () => {
    expect(poolsFromFlags(['10.0.0.0/24,fd00::/120', '192.168.1.240-192.168.1.250'])).toEqual({
      pools: [
        { name: 'flag-1', addresses: ['10.0.0.0/24', 'fd00::/120'] },
        { name: 'flag-2', addresses: ['192.168.1.240-192.168.1.250'] },
      ],
      errors: [],
    });
  });

  it('report a bad value, naming the flag and the value', () => {
    const { pools, errors } = poolsFromFlags(['10.0.0.0/24', '10.1.0.0/24,nope', '']);
    expect(pools.map((p) => p.name)).toEqual(['flag-1']);
    expect(errors.map((e) => e.message)).toEqual([
      'pool "flag-2": --pool: "nope" is not a CIDR (10.0.0.0/24), a range (10.0.0.10-10.0.0.20) or an IP address',
      'pool "flag-3": --pool: expected CIDR[,CIDR...], got an empty value',
    ]);
  });
});

describe('the IPPool CRD', () => {
  const crd = parse(readFileSync(new URL('../../deploy/crds/ippool.yaml', import.meta.url), 'utf8')) as {
    spec: {
      group: string;
      scope: string;
      names: { kind: string };
      versions: {
        name: string;
        subresources: Record<string, unknown>;
        additionalPrinterColumns: { name: string }[];
        schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, unknown> } } } };
      }[];
    };
  };
  const [version] = crd.spec.versions;

  it('is cluster-scoped lbprovisioner.io/v1alpha1 IPPool with a status subresource', () => {
    expect([crd.spec.group, crd.spec.scope, crd.spec.names.kind, version?.name]).toEqual([
      'lbprovisioner.io',
      'Cluster',
      'IPPool',
      'v1alpha1',
    ]);
    expect(version?.subresources).toHaveProperty('status');
    expect(version?.additionalPrinterColumns.map((c) => c.name.toUpperCase())).toEqual([
      'ADDRESSES',
      'USED',
      'FREE',
      'AGE',
    ]);
  });

  it('declares every spec field the parser reads', () => {
    expect(Object.keys(version?.schema.openAPIV3Schema.properties.spec.properties ?? {}).sort()).toEqual(
      ['addresses', 'autoAssign', 'avoidBuggyIPs', 'priority', 'serviceAllocation'].sort(),
    );
  });
});
