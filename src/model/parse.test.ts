import { describe, expect, it } from '@jest/globals';
import { annotationReader, canonicalCidr, QUOTED_VALUE_MAX, quoteValue } from './parse.ts';

describe('annotation values in messages', () => {
  it('quotes a huge value cut short with its length, so Events and conditions stay within the API limits', () => {
    const huge = '9'.repeat(200_000);
    let message = '';
    try {
      annotationReader({ k: huge }).int('k', { min: 1, max: 10 });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(
      `annotation k: "${'9'.repeat(QUOTED_VALUE_MAX)}"… (200000 characters) is not accepted; use an integer from 1 to 10`,
    );
  });

  it('quotes a short value whole, and counts characters, not UTF-16 units', () => {
    expect(quoteValue('often')).toBe('"often"');
    expect(quoteValue('🙂'.repeat(QUOTED_VALUE_MAX))).toBe(JSON.stringify('🙂'.repeat(QUOTED_VALUE_MAX)));
  });
});

describe('CIDRs', () => {
  it('are read as strictly as addresses: no short, octal or hex IPv4 forms that silently mean another network', () => {
    const refused = [
      '0/0',
      '10/8',
      '10.1/16',
      '012.0.0.0/8',
      '0x0a.0.0.0/8',
      '167772160/8',
      '10.0.0.0/08',
      '10.0.0.0/33',
      'fd00::/129',
      'fe80::%eth0/64',
      '10.0.0.0/8/8',
      '10.0.0.0',
    ];
    expect(refused.map((t) => [t, canonicalCidr(t)])).toEqual(refused.map((t) => [t, undefined]));
    expect(['203.0.113.0/24', ' 10.0.0.5/8 ', '0.0.0.0/0', 'FD00:0::/64', '::/0'].map(canonicalCidr)).toEqual([
      '203.0.113.0/24',
      '10.0.0.5/8',
      '0.0.0.0/0',
      'fd00::/64',
      '::/0',
    ]);
  });
});
