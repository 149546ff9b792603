import { describe, expect, it } from '@jest/globals';
import { autoInterfaces, resolveInterfaces } from './interfaces.ts';

const local = {
  eth0: ['10.0.0.5/24', 'fd00:1::5/64'],
  eth1: ['192.168.7.5/24'],
  'bond0.20': [],
};

describe('which interfaces a VIP is announced on', () => {
  it('auto: the interface whose subnet holds the VIP, for either family', () => {
    expect(autoInterfaces('10.0.0.200', local, ['10.0.0.5'])).toEqual(['eth0']);
    expect(autoInterfaces('192.168.7.240', local, ['10.0.0.5'])).toEqual(['eth1']);
    expect(autoInterfaces('fd00:1::c8', local, ['10.0.0.5'])).toEqual(['eth0']);
  });

  it('auto, a VIP on no local subnet: the interface carrying the node address', () => {
    expect(autoInterfaces('203.0.113.7', local, ['192.168.7.5'])).toEqual(['eth1']);
    expect(autoInterfaces('203.0.113.7', local, ['198.51.100.1'])).toEqual([]);
  });

  it('named interfaces are used as they are, when this node has them (an address-less VLAN too)', () => {
    expect(resolveInterfaces('10.0.0.200', { auto: false, interfaces: ['bond0.20', 'eth9'] }, local, [])).toEqual([
      'bond0.20',
    ]);
    expect(resolveInterfaces('10.0.0.200', { auto: true, interfaces: ['eth1'] }, local, [])).toEqual(['eth0', 'eth1']);
  });
});
