import { describe, expect, it } from '@jest/globals';
import { Allocator } from './allocator.ts';
import type { AllocateResult } from './allocator.ts';
import type { AllocationRequest, PoolDefinition } from './definitions.ts';

/** A single-stack IPv4 Service with one TCP port, no sharing: override what the story needs. */
function service(key: string, overrides: Partial<AllocationRequest> = {}): AllocationRequest {
  const [namespace = 'default'] = key.split('/');
  return {
    key,
    namespace,
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    requestedIPs: [],
    ports: [{ protocol: 'TCP', port: 80 }],
    externalTrafficPolicy: 'Cluster',
    selector: { app: key.split('/')[1] ?? 'x' },
    serviceLabels: {},
    namespaceLabels: {},
    currentIPs: [],
    ...overrides,
  };
}

const dualStack = { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' } as const;
const preferDual = { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' } as const;

function pool(name: string, addresses: string[], extra: Partial<PoolDefinition> = {}): PoolDefinition {
  return { name, addresses, ...extra };
}

/** The addresses a successful allocation gave, or the error message. */
function ips(result: AllocateResult): string[] | string {
  return result.ok ? result.value.addresses.map((a) => a.ip) : result.error.message;
}

function errorOf(result: AllocateResult): { kind: string; message: string } {
  if (result.ok) throw new Error(`expected a failure, got ${result.value.addresses.map((a) => a.ip).join(',')}`);
  return result.error;
}

describe('allocating from a pool', () => {
  it('gives the first free address, and the next Service the next one', () => {
    const ipam = new Allocator([pool('default', ['10.0.0.0/30'])]);
    expect(ips(ipam.allocate(service('default/a')))).toEqual(['10.0.0.0']);
    expect(ips(ipam.allocate(service('default/b')))).toEqual(['10.0.0.1']);
  });

  it('answers the same request the same way, without reporting a change', () => {
    const ipam = new Allocator([pool('default', ['10.0.0.0/24'])]);
    const first = ipam.allocate(service('default/a'));
    const again = ipam.allocate(service('default/a'));
    expect(ips(again)).toEqual(ips(first));
    expect(first.ok && first.value.changed).toBe(true);
    expect(again.ok && again.value.changed).toBe(false);
  });

  it('reports the pool each address came from', () => {
    const ipam = new Allocator([pool('blue', ['10.0.0.0/24'])]);
    const result = ipam.allocate(service('default/a'));
    expect(result.ok && result.value.addresses).toEqual([{ ip: '10.0.0.0', family: 'IPv4', pool: 'blue' }]);
  });

  it('serves ranges as well as CIDRs', () => {
    const ipam = new Allocator([pool('range', ['192.168.1.240-192.168.1.241'])]);
    expect(ips(ipam.allocate(service('default/a')))).toEqual(['192.168.1.240']);
    expect(ips(ipam.allocate(service('default/b')))).toEqual(['192.168.1.241']);
    expect(errorOf(ipam.allocate(service('default/c'))).message).toBe('no free IPv4 address in pool "range"');
  });

  it('skips .0 and .255 when the pool avoids buggy IPs', () => {
    const ipam = new Allocator([pool('edge', ['10.0.0.254-10.0.1.1'], { avoidBuggyIPs: true })]);
    expect(ips(ipam.allocate(service('default/a')))).toEqual(['10.0.0.254']);
    expect(ips(ipam.allocate(service('default/b')))).toEqual(['10.0.1.1']);
    expect(ipam.stats()[0]).toMatchObject({ size: 2n, used: 2n, free: 0n });
  });

  it('takes from pools by priority, then by name; pools without a priority come last', () => {
    const ipam = new Allocator([
      pool('zz-unranked', ['10.0.3.0/24']),
      pool('b-second', ['10.0.2.0/24'], { priority: 5 }),
      pool('a-second', ['10.0.1.0/24'], { priority: 5 }),
      pool('first', ['10.0.0.0/32'], { priority: 1 }),
    ]);
    expect(ips(ipam.allocate(service('default/a')))).toEqual(['10.0.0.0']);
    expect(ips(ipam.allocate(service('default/b')))).toEqual(['10.0.1.0']);
  });

  it('never hands out autoAssign: false pools unless asked by name or address', () => {
    const ipam = new Allocator([pool('reserved', ['10.0.9.0/24'], { autoAssign: false })]);
    expect(errorOf(ipam.allocate(service('default/a'))).message).toBe(
      'no pool with autoAssign serves IPv4 addresses to Service default/a',
    );
    expect(ips(ipam.allocate(service('default/b', { pool: 'reserved' })))).toEqual(['10.0.9.0']);
    expect(ips(ipam.allocate(service('default/c', { requestedIPs: ['10.0.9.7'] })))).toEqual(['10.0.9.7']);
  });

  it('moves a Service that stops naming an address of an autoAssign: false pool to an auto-assigned pool', () => {
    const ipam = new Allocator([
      pool('auto', ['10.0.1.0/24']),
      pool('reserved', ['10.0.9.0/24'], { autoAssign: false }),
    ]);
    expect(ips(ipam.allocate(service('default/a', { requestedIPs: ['10.0.9.7'] })))).toEqual(['10.0.9.7']);
    // the request is removed; the Service still shows the reserved address
    expect(ips(ipam.allocate(service('default/a', { currentIPs: ['10.0.9.7'] })))).toEqual(['10.0.1.0']);
    expect(ipam.stats().find((p) => p.name === 'reserved')?.used).toBe(0n);
  });

  it('finds free addresses in an IPv6 /64 without walking it, and counts its size', () => {
    const ipam = new Allocator([pool('v6', ['fd00:1::/64'])]);
    const v6 = { ipFamilies: ['IPv6'] } as const;
    expect(ips(ipam.allocate(service('default/a', v6)))).toEqual(['fd00:1::']);
    expect(ips(ipam.allocate(service('default/b', { ...v6, requestedIPs: ['fd00:1::ffff:ffff:ffff:fffe'] })))).toEqual([
      'fd00:1::ffff:ffff:ffff:fffe',
    ]);
    expect(ips(ipam.allocate(service('default/c', v6)))).toEqual(['fd00:1::1']);
    const [stats] = ipam.stats();
    expect(stats?.size).toBe(2n ** 64n);
    expect(stats?.free).toBe(2n ** 64n - 3n);
  });

  it('scans a huge range end quickly when the first addresses are taken', () => {
    const ipam = new Allocator([pool('v6', ['fd00::/48'])]);
    const started = performance.now();
    for (let i = 0; i < 2000; i++) ipam.allocate(service(`default/s${i}`, { ipFamilies: ['IPv6'] }));
    expect(performance.now() - started).toBeLessThan(3000);
    expect(ipam.allocationOf('default/s1999')?.[0]?.ip).toBe('fd00::7cf');
  });
});

describe('exhaustion', () => {
  it('names every pool it tried, then serves a waiting Service once an address is freed', () => {
    const ipam = new Allocator([pool('small', ['10.0.0.1/32']), pool('tiny', ['10.0.1.1/32'])]);
    ipam.allocate(service('default/a'));
    ipam.allocate(service('default/b'));
    const failed = errorOf(ipam.allocate(service('default/c')));
    expect(failed).toMatchObject({ kind: 'PoolExhausted', message: 'no free IPv4 address in pools "small", "tiny"' });
    expect(ipam.waiting()).toEqual(['default/c']);

    const released = ipam.release('default/a');
    expect(released).toEqual({ freed: ['10.0.0.1'], poolsWithRoom: ['small'], retry: ['default/c'] });
    expect(ips(ipam.allocate(service('default/c')))).toEqual(['10.0.0.1']);
    expect(ipam.waiting()).toEqual([]);
  });

  it('reuses the lowest freed address', () => {
    const ipam = new Allocator([pool('p', ['10.0.0.0/29'])]);
    for (const name of ['a', 'b', 'c']) ipam.allocate(service(`default/${name}`));
    ipam.release('default/b');
    expect(ips(ipam.allocate(service('default/d')))).toEqual(['10.0.0.1']);
    expect(ips(ipam.allocate(service('default/e')))).toEqual(['10.0.0.3']);
  });

  it('release is idempotent and frees nothing twice', () => {
    const ipam = new Allocator([pool('p', ['10.0.0.0/29'])]);
    ipam.allocate(service('default/a'));
    expect(ipam.release('default/a').freed).toEqual(['10.0.0.0']);
    expect(ipam.release('default/a')).toEqual({ freed: [], poolsWithRoom: [], retry: [] });
  });
});

describe('requested addresses', () => {
  const pools = [pool('blue', ['10.0.0.0/24']), pool('green', ['10.1.0.0/24', 'fd00::/120'])];

  it('gives the address asked for', () => {
    const ipam = new Allocator(pools);
    const result = ipam.allocate(service('default/a', { requestedIPs: ['10.1.0.42'] }));
    expect(result.ok && result.value.addresses).toEqual([{ ip: '10.1.0.42', family: 'IPv4', pool: 'green' }]);
  });

  it.each([
    [{ requestedIPs: ['10.0.0.300'] }, 'NotAnIP', '10.0.0.300 is not an IP address'],
    [{ requestedIPs: ['192.168.7.7'] }, 'OutsideAllPools', '192.168.7.7 is not in any IP pool'],
    [{ requestedIPs: ['fd00::5'] }, 'WrongFamily', "fd00::5 is an IPv6 address but the Service's ipFamilies are IPv4"],
    [
      { requestedIPs: ['10.0.0.1', '10.0.0.2'], ...dualStack },
      'TooManyForFamily',
      '10.0.0.1 and 10.0.0.2 are both IPv4 addresses; ask for at most one address per family',
    ],
    [{ requestedIPs: ['10.0.0.9'], pool: 'green' }, 'NotInPool', '10.0.0.9 is not in pool "green"'],
    [{ pool: 'gold' }, 'UnknownPool', 'pool "gold" does not exist'],
    [{ pool: 'blue', ipFamilies: ['IPv6'] }, 'PoolHasNoFamily', 'pool "blue" has no IPv6 addresses'],
  ] as const)('refuses %j with %s', (overrides, kind, message) => {
    const ipam = new Allocator(pools);
    expect(errorOf(ipam.allocate(service('default/a', overrides)))).toMatchObject({ kind, message });
  });

  it('refuses an address another Service holds, naming the holder', () => {
    const ipam = new Allocator(pools);
    ipam.allocate(service('default/a', { requestedIPs: ['10.0.0.5'] }));
    const failed = errorOf(ipam.allocate(service('team/b', { requestedIPs: ['10.0.0.5'] })));
    expect(failed).toMatchObject({
      kind: 'AddressTaken',
      message: '10.0.0.5 is already used by default/a (default/a has no sharing key)',
    });
    expect(ipam.release('default/a').retry).toEqual(['team/b']);
  });

  it('keeps the old address while the new request fails, and moves once it can', () => {
    const ipam = new Allocator(pools);
    ipam.allocate(service('default/a', { requestedIPs: ['10.0.0.5'] }));
    ipam.allocate(service('default/b', { requestedIPs: ['10.0.0.6'] }));
    expect(errorOf(ipam.allocate(service('default/b', { requestedIPs: ['10.0.0.5'] }))).kind).toBe('AddressTaken');
    expect(ipam.allocationOf('default/b')?.map((a) => a.ip)).toEqual(['10.0.0.6']);
    const moved = ipam.allocate(service('default/b', { requestedIPs: ['10.0.0.7'] }));
    expect(moved.ok && moved.value).toMatchObject({ changed: true, freed: ['10.0.0.6'] });
  });

  it('refuses to keep a requested address once the Service names a pool it is not in', () => {
    const ipam = new Allocator(pools);
    ipam.allocate(service('default/a', { requestedIPs: ['10.0.0.5'] }));
    expect(errorOf(ipam.allocate(service('default/a', { requestedIPs: ['10.0.0.5'], pool: 'green' }))).message).toBe(
      '10.0.0.5 is not in pool "green"',
    );
  });

  it('moves a Service to the pool it now names', () => {
    const ipam = new Allocator(pools);
    ipam.allocate(service('default/a'));
    const moved = ipam.allocate(service('default/a', { pool: 'green' }));
    expect(moved.ok && moved.value).toMatchObject({ changed: true, addresses: [{ ip: '10.1.0.0', pool: 'green' }] });
  });

  it('accepts the same address written twice, in two forms', () => {
    const ipam = new Allocator(pools);
    const v6 = { ipFamilies: ['IPv6'], requestedIPs: ['fd00::5', 'FD00:0:0::0005'] } as const;
    expect(ips(ipam.allocate(service('default/a', v6)))).toEqual(['fd00::5']);
  });

  it('refuses IPv4 with leading zeros, which some parsers read as octal', () => {
    const ipam = new Allocator(pools);
    expect(errorOf(ipam.allocate(service('default/a', { requestedIPs: ['10.0.0.010'] }))).kind).toBe('NotAnIP');
  });

  it('normalises IPv6 addresses to the form Kubernetes writes', () => {
    const ipam = new Allocator(pools);
    const result = ipam.allocate(service('default/a', { ipFamilies: ['IPv6'], requestedIPs: ['FD00:0:0::00a'] }));
    expect(ips(result)).toEqual(['fd00::a']);
  });
});

describe('dual stack', () => {
  const pools = [pool('v4', ['10.0.0.0/24']), pool('v6', ['fd00::/64']), pool('z-both', ['10.9.0.0/24', 'fd09::/64'])];

  it('RequireDualStack gets one address per family, primary family first', () => {
    const ipam = new Allocator(pools);
    expect(ips(ipam.allocate(service('default/a', dualStack)))).toEqual(['10.0.0.0', 'fd00::']);
    const v6First = { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' } as const;
    expect(ips(ipam.allocate(service('default/b', v6First)))).toEqual(['fd00::1', '10.0.0.1']);
  });

  it('takes both families from a named dual-stack pool', () => {
    const ipam = new Allocator(pools);
    expect(ips(ipam.allocate(service('default/a', { ...dualStack, pool: 'z-both' })))).toEqual(['10.9.0.0', 'fd09::']);
  });

  it('RequireDualStack fails when one family has nothing', () => {
    const ipam = new Allocator([pool('v4', ['10.0.0.0/24'])]);
    expect(errorOf(ipam.allocate(service('default/a', dualStack))).message).toBe(
      'no pool with autoAssign serves IPv6 addresses to Service default/a',
    );
    expect(ipam.allocationOf('default/a')).toBeUndefined();
  });

  it('PreferDualStack settles for one family, and gains the other when a pool appears', () => {
    const ipam = new Allocator([pool('v6', ['fd00::/64'])]);
    expect(ips(ipam.allocate(service('default/a', preferDual)))).toEqual(['fd00::']);
    ipam.setPools([pool('v6', ['fd00::/64']), pool('v4', ['10.0.0.0/24'])]);
    expect(ips(ipam.allocate(service('default/a', preferDual)))).toEqual(['10.0.0.0', 'fd00::']);
  });

  it('PreferDualStack takes the other family alone when the primary is exhausted', () => {
    const ipam = new Allocator([pool('v4', ['10.0.0.1/32']), pool('v6', ['fd00::/64'])]);
    ipam.allocate(service('default/holder'));
    expect(ips(ipam.allocate(service('default/a', preferDual)))).toEqual(['fd00::']);
  });

  it('PreferDualStack still fails on a bad explicit request for one family', () => {
    const ipam = new Allocator(pools);
    expect(errorOf(ipam.allocate(service('default/a', { ...preferDual, requestedIPs: ['fd99::1'] }))).kind).toBe(
      'OutsideAllPools',
    );
  });

  it('PreferDualStack in a single-stack cluster (one ipFamily) asks for one address', () => {
    const ipam = new Allocator(pools);
    const single = { ipFamilies: ['IPv4'], ipFamilyPolicy: 'PreferDualStack' } as const;
    expect(ips(ipam.allocate(service('default/a', single)))).toEqual(['10.0.0.0']);
  });

  it('a requested address of one family, the other allocated', () => {
    const ipam = new Allocator(pools);
    expect(ips(ipam.allocate(service('default/a', { ...dualStack, requestedIPs: ['fd00::99'] })))).toEqual([
      '10.0.0.0',
      'fd00::99',
    ]);
  });
});

describe('sharing an address', () => {
  const pools = [pool('p', ['10.0.0.0/24'])];
  const shared = (key: string, port: number, extra: Partial<AllocationRequest> = {}): AllocationRequest =>
    service(key, { sharingKey: 'web', ports: [{ protocol: 'TCP', port }], requestedIPs: ['10.0.0.5'], ...extra });

  it('lets Services with the same key and disjoint ports hold one address', () => {
    const ipam = new Allocator(pools);
    expect(ips(ipam.allocate(shared('default/http', 80)))).toEqual(['10.0.0.5']);
    expect(ips(ipam.allocate(shared('default/https', 443)))).toEqual(['10.0.0.5']);
    expect(ipam.holdersOf('10.0.0.5')).toEqual(['default/http', 'default/https']);
  });

  it('lets TCP and UDP on the same port number share (DNS)', () => {
    const ipam = new Allocator(pools);
    ipam.allocate(shared('default/dns-tcp', 53));
    const udp = shared('default/dns-udp', 53, { ports: [{ protocol: 'UDP', port: 53 }] });
    expect(ips(ipam.allocate(udp))).toEqual(['10.0.0.5']);
  });

  it.each([
    [{ ports: [{ protocol: 'TCP', port: 80 }] }, 'both use port TCP/80'],
    [{ sharingKey: 'other' }, 'sharing keys "other" and "web" differ'],
    [{ sharingKey: undefined }, 'this Service has no sharing key'],
    [
      { externalTrafficPolicy: 'Local' },
      'Services sharing an address with externalTrafficPolicy Local need the same policy and selector',
    ],
  ] as const)('refuses %j: %s', (overrides, why) => {
    const ipam = new Allocator(pools);
    ipam.allocate(shared('default/a', 80));
    expect(errorOf(ipam.allocate(shared('default/b', 443, overrides))).message).toBe(
      `10.0.0.5 is already used by default/a (${why})`,
    );
  });

  it('with externalTrafficPolicy Local, shares only between Services selecting the same pods', () => {
    const ipam = new Allocator(pools);
    const local = { externalTrafficPolicy: 'Local', selector: { app: 'web' } } as const;
    ipam.allocate(shared('default/a', 80, local));
    expect(ips(ipam.allocate(shared('default/b', 443, local)))).toEqual(['10.0.0.5']);
    expect(errorOf(ipam.allocate(shared('default/c', 8080, { ...local, selector: { app: 'api' } }))).kind).toBe(
      'AddressTaken',
    );
  });

  it('joins an address already used with the same key when none is requested', () => {
    const ipam = new Allocator(pools);
    ipam.allocate(service('default/other'));
    ipam.allocate(shared('default/a', 80, { requestedIPs: [] }));
    expect(ips(ipam.allocate(shared('default/b', 443, { requestedIPs: [] })))).toEqual(['10.0.0.1']);
  });

  it('frees the address only when the last sharer leaves', () => {
    const ipam = new Allocator(pools);
    ipam.allocate(shared('default/a', 80));
    ipam.allocate(shared('default/b', 443));
    expect(ipam.release('default/a').freed).toEqual([]);
    expect(errorOf(ipam.allocate(service('default/c', { requestedIPs: ['10.0.0.5'] }))).message).toContain(
      'already used by default/b',
    );
    expect(ipam.release('default/b').freed).toEqual(['10.0.0.5']);
  });

  it('moves a Service whose new port collides with a sharer, leaving the sharer in place', () => {
    const ipam = new Allocator(pools);
    ipam.allocate(shared('default/a', 80, { requestedIPs: [] }));
    ipam.allocate(shared('default/b', 443, { requestedIPs: [] }));
    expect(ips(ipam.allocate(shared('default/b', 80, { requestedIPs: [] })))).toEqual(['10.0.0.1']);
    expect(ipam.allocationOf('default/a')?.map((a) => a.ip)).toEqual(['10.0.0.0']);
  });
});

describe('adopting addresses already in status', () => {
  it('keeps a live address that lies in a pool and is free', () => {
    const ipam = new Allocator([pool('p', ['10.0.0.0/24'])]);
    expect(ips(ipam.allocate(service('default/a', { currentIPs: ['10.0.0.77'] })))).toEqual(['10.0.0.77']);
  });

  it('allocates anew when the status address is outside every pool or taken', () => {
    const ipam = new Allocator([pool('p', ['10.0.0.0/24'])]);
    ipam.allocate(service('default/holder', { requestedIPs: ['10.0.0.77'] }));
    expect(ips(ipam.allocate(service('default/a', { currentIPs: ['10.0.0.77'] })))).toEqual(['10.0.0.0']);
    expect(ips(ipam.allocate(service('default/b', { currentIPs: ['172.16.0.1'] })))).toEqual(['10.0.0.1']);
  });

  it('a requested address wins over the one in status', () => {
    const ipam = new Allocator([pool('p', ['10.0.0.0/24'])]);
    const result = ipam.allocate(service('default/a', { currentIPs: ['10.0.0.77'], requestedIPs: ['10.0.0.8'] }));
    expect(ips(result)).toEqual(['10.0.0.8']);
  });
});

describe('pool restrictions', () => {
  const teamPool = pool('team-a', ['10.0.5.0/24'], {
    priority: 1,
    serviceAllocation: {
      namespaces: ['team-a'],
      namespaceSelectors: [{ matchLabels: { tier: 'gold' } }],
      serviceSelectors: [{ matchExpressions: [{ key: 'expose', operator: 'NotIn', values: ['private'] }] }],
    },
  });
  const pools = [teamPool, pool('shared', ['10.0.0.0/24'])];

  it('serves the namespaces it names, or those its selectors match', () => {
    const ipam = new Allocator(pools);
    expect(ips(ipam.allocate(service('team-a/web')))).toEqual(['10.0.5.0']);
    expect(ips(ipam.allocate(service('gold-ns/web', { namespaceLabels: { tier: 'gold' } })))).toEqual(['10.0.5.1']);
    expect(ips(ipam.allocate(service('default/web')))).toEqual(['10.0.0.0']);
  });

  it('skips Services its serviceSelectors exclude', () => {
    const ipam = new Allocator(pools);
    expect(ips(ipam.allocate(service('team-a/db', { serviceLabels: { expose: 'private' } })))).toEqual(['10.0.0.0']);
  });

  it('says why when a Service asks for it by name or by address', () => {
    const ipam = new Allocator(pools);
    expect(errorOf(ipam.allocate(service('default/web', { pool: 'team-a' })))).toMatchObject({
      kind: 'PoolNotServing',
      message:
        'pool "team-a" does not serve Service default/web: namespace "default" is not among its namespaces or namespaceSelectors',
    });
    expect(
      errorOf(ipam.allocate(service('team-a/db', { requestedIPs: ['10.0.5.9'], serviceLabels: { expose: 'private' } })))
        .message,
    ).toBe('pool "team-a" does not serve Service team-a/db: the Service labels match none of its serviceSelectors');
  });
});

describe('replacing the pool set', () => {
  it('keeps allocations in removed pools working, and refuses them to new requests', () => {
    const ipam = new Allocator([pool('old', ['10.0.0.0/24'], { priority: 1 }), pool('new', ['10.1.0.0/24'])]);
    ipam.allocate(service('default/a'));
    ipam.setPools([pool('new', ['10.1.0.0/24'])]);
    const again = ipam.allocate(service('default/a'));
    expect(again.ok && again.value).toMatchObject({ changed: false, addresses: [{ ip: '10.0.0.0', pool: 'old' }] });
    expect(errorOf(ipam.allocate(service('default/b', { requestedIPs: ['10.0.0.1'] }))).kind).toBe('OutsideAllPools');
  });

  it('rejects a pool with an invalid entry whole, naming the pool and the value', () => {
    const ipam = new Allocator();
    const { errors } = ipam.setPools([pool('bad', ['10.0.0.0/24', '10.0.0.0/33']), pool('good', ['10.1.0.0/24'])]);
    expect(errors.map((e) => e.message)).toEqual([
      'pool "bad": "10.0.0.0/33" is not a CIDR, an address range (first-last) or an IP address',
    ]);
    expect(ipam.stats().map((s) => s.name)).toEqual(['good']);
  });

  it.each(['10.0.0.0/24/1', '10.0.0.9-10.0.0.1', '10.0.0.1-fd00::1', 'banana', '10.0.0/24'])(
    'refuses "%s" as a pool address',
    (value) => {
      expect(new Allocator([pool('p', [value])]).poolErrors()[0]?.kind).toBe('InvalidPoolAddress');
    },
  );

  it('refuses a pool that overlaps an earlier one, naming both entries; the earlier one serves on', () => {
    const ipam = new Allocator();
    const { errors } = ipam.setPools([
      pool('old', ['10.0.0.0/24', 'fd00::/120']),
      pool('new', ['10.1.0.0/24', '10.0.0.200-10.0.1.5']),
      pool('apart', ['10.0.1.0/24', 'fd00::100/120']),
    ]);
    expect(errors.map((e) => e.message)).toEqual([
      'pool "new": "10.0.0.200-10.0.1.5" overlaps "10.0.0.0/24" of pool "old"',
    ]);
    expect(ipam.stats().map((s) => s.name)).toEqual(['apart', 'old']);
  });

  it('asks to retry every waiting Service when pools change', () => {
    const ipam = new Allocator([]);
    ipam.allocate(service('default/a'));
    expect(ipam.setPools([pool('p', ['10.0.0.0/24'])]).retry).toEqual(['default/a']);
  });
});

describe('restoring after a restart', () => {
  it('gives every Service back what it recorded before anything new is allocated', () => {
    const ipam = new Allocator([pool('p', ['10.0.0.0/24'])]);
    expect(ipam.restore('default/a', ['10.0.0.0'], service('default/a'))).toBeNull();
    expect(ips(ipam.allocate(service('default/b')))).toEqual(['10.0.0.1']);
    const a = ipam.allocate(service('default/a'));
    expect(a.ok && a.value).toMatchObject({ changed: false, addresses: [{ ip: '10.0.0.0' }] });
  });

  it('restores shared addresses for compatible sharers', () => {
    const ipam = new Allocator([pool('p', ['10.0.0.0/24'])]);
    const sharer = (key: string, port: number) => service(key, { sharingKey: 'k', ports: [{ protocol: 'TCP', port }] });
    expect(ipam.restore('default/a', ['10.0.0.3'], sharer('default/a', 80))).toBeNull();
    expect(ipam.restore('default/b', ['10.0.0.3'], sharer('default/b', 443))).toBeNull();
    expect(ipam.holdersOf('10.0.0.3')).toEqual(['default/a', 'default/b']);
  });

  it('reports the second of two Services recorded with the same address, never merging them', () => {
    const ipam = new Allocator([pool('p', ['10.0.0.0/24'])]);
    ipam.restore('default/a', ['10.0.0.3'], service('default/a'));
    const conflict = ipam.restore('default/b', ['10.0.0.3'], service('default/b'));
    expect(conflict).toMatchObject({ kind: 'RestoreConflict', holder: 'default/a', address: '10.0.0.3' });
    expect(conflict?.message).toContain('default/b and default/a both recorded 10.0.0.3');
    expect(ipam.holdersOf('10.0.0.3')).toEqual(['default/a']);
  });

  it('keeps an address recorded outside every pool for its Service', () => {
    const ipam = new Allocator([pool('p', ['10.0.0.0/24'])]);
    ipam.restore('default/a', ['172.16.0.9'], service('default/a'));
    const a = ipam.allocate(service('default/a'));
    expect(a.ok && a.value.addresses).toEqual([{ ip: '172.16.0.9', family: 'IPv4', pool: null }]);
  });
});

describe('pool stats', () => {
  it('counts size, used and free per pool, a shared address once', () => {
    const ipam = new Allocator([pool('p', ['10.0.0.0/30', 'fd00::/126']), pool('q', ['10.1.0.0/24'])]);
    ipam.allocate(service('default/a', { sharingKey: 's', ports: [{ protocol: 'TCP', port: 1 }] }));
    ipam.allocate(service('default/b', { sharingKey: 's', ports: [{ protocol: 'TCP', port: 2 }] }));
    ipam.allocate(service('default/c', dualStack));
    expect(ipam.stats()).toEqual([
      { name: 'p', families: ['IPv4', 'IPv6'], size: 8n, used: 3n, free: 5n },
      { name: 'q', families: ['IPv4'], size: 256n, used: 0n, free: 256n },
    ]);
  });
});
