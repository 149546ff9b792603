/**
 * The allocator's failures, as values. Each carries a message a user can act on; the provider maps the
 * kind once to a ProviderError (InvalidSpec, InvalidAnnotation, QuotaExceeded).
 */
import type { IpFamily } from './address.ts';

export type IpamError =
  | { kind: 'NotAnIP'; value: string; message: string }
  | {
      kind: 'TooManyForFamily';
      family: IpFamily;
      addresses: string[];
      message: string;
    }
  | {
      kind: 'WrongFamily';
      address: string;
      serviceFamilies: IpFamily[];
      message: string;
    }
  | { kind: 'OutsideAllPools'; address: string; message: string }
  | { kind: 'NotInPool'; address: string; pool: string; message: string }
  | { kind: 'AddressTaken'; address: string; holder: string; message: string }
  | { kind: 'UnknownPool'; pool: string; message: string }
  | { kind: 'PoolNotServing'; pool: string; message: string }
  | { kind: 'PoolHasNoFamily'; pool: string; family: IpFamily; message: string }
  | {
      kind: 'PoolExhausted';
      pools: string[];
      family: IpFamily;
      message: string;
    }
  | { kind: 'NoPoolAvailable'; family: IpFamily; message: string }
  | { kind: 'InvalidPoolAddress'; pool: string; value: string; message: string }
  | { kind: 'PoolOverlap'; pool: string; value: string; other: string; otherValue: string; message: string }
  | {
      kind: 'RestoreConflict';
      key: string;
      address: string;
      holder: string;
      message: string;
    };

export type IpamErrorKind = IpamError['kind'];

/** Failures that can clear up on their own when an address is freed or a pool is added. */
export function isWaitingError(error: IpamError): boolean {
  return error.kind === 'PoolExhausted' || error.kind === 'NoPoolAvailable' || error.kind === 'AddressTaken';
}

const quoted = (names: string[]): string => names.map((name) => `"${name}"`).join(', ');

export const ipamError = {
  notAnIP: (value: string): IpamError => ({
    kind: 'NotAnIP',
    value,
    message: `${value} is not an IP address`,
  }),
  tooManyForFamily: (family: IpFamily, addresses: string[]): IpamError => ({
    kind: 'TooManyForFamily',
    family,
    addresses,
    message: `${addresses.join(' and ')} are both ${family} addresses; ask for at most one address per family`,
  }),
  wrongFamily: (address: string, family: IpFamily, serviceFamilies: IpFamily[]): IpamError => ({
    kind: 'WrongFamily',
    address,
    serviceFamilies,
    message: `${address} is an ${family} address but the Service's ipFamilies are ${serviceFamilies.join(',')}`,
  }),
  outsideAllPools: (address: string): IpamError => ({
    kind: 'OutsideAllPools',
    address,
    message: `${address} is not in any IP pool`,
  }),
  notInPool: (address: string, pool: string): IpamError => ({
    kind: 'NotInPool',
    address,
    pool,
    message: `${address} is not in pool "${pool}"`,
  }),
  taken: (address: string, holder: string, why: string): IpamError => ({
    kind: 'AddressTaken',
    address,
    holder,
    message: `${address} is already used by ${holder} (${why})`,
  }),
  unknownPool: (pool: string): IpamError => ({
    kind: 'UnknownPool',
    pool,
    message: `pool "${pool}" does not exist`,
  }),
  poolNotServing: (pool: string, key: string, why: string): IpamError => ({
    kind: 'PoolNotServing',
    pool,
    message: `pool "${pool}" does not serve Service ${key}: ${why}`,
  }),
  poolHasNoFamily: (pool: string, family: IpFamily): IpamError => ({
    kind: 'PoolHasNoFamily',
    pool,
    family,
    message: `pool "${pool}" has no ${family} addresses`,
  }),
  exhausted: (pools: string[], family: IpFamily): IpamError => ({
    kind: 'PoolExhausted',
    pools,
    family,
    message: `no free ${family} address in ${pools.length === 1 ? 'pool' : 'pools'} ${quoted(pools)}`,
  }),
  noPoolAvailable: (family: IpFamily, key: string): IpamError => ({
    kind: 'NoPoolAvailable',
    family,
    message: `no pool with autoAssign serves ${family} addresses to Service ${key}`,
  }),
  invalidPoolAddress: (pool: string, value: string): IpamError => ({
    kind: 'InvalidPoolAddress',
    pool,
    value,
    message: `pool "${pool}": "${value}" is not a CIDR, an address range (first-last) or an IP address`,
  }),
  /** MetalLB refuses overlapping pools too: an address in two pools would be counted, and served, twice */
  poolOverlap: (pool: string, value: string, other: string, otherValue: string): IpamError => ({
    kind: 'PoolOverlap',
    pool,
    value,
    other,
    otherValue,
    message: `pool "${pool}": "${value}" overlaps "${otherValue}" of pool "${other}"`,
  }),
  restoreConflict: (key: string, address: string, holder: string, why: string): IpamError => ({
    kind: 'RestoreConflict',
    key,
    address,
    holder,
    message: `${key} and ${holder} both recorded ${address}, which they may not share (${why}); ${key} keeps no address until it is synced again`,
  }),
};
