import { describe, expect, it } from '@jest/globals';
import { annotationReader, QUOTED_VALUE_MAX, quoteValue } from './parse.ts';

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
