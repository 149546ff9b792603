import { describe, expect, it } from '@jest/globals';
import { formatSpread, inRoundRatios, median, percentile, spread } from './stats.ts';

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100

  it('p50 and p99 of 1..100 are 50 and 99', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
  });

  it('p100 is the maximum and p0 the minimum', () => {
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
  });

  it('p99 of ten values is the largest one', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
  });

  it('is NaN for no values', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('median and spread', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('spread ignores values that are not finite', () => {
    expect(spread([2, NaN, 6, 4, Infinity])).toEqual({ median: 4, min: 2, max: 6, n: 3 });
  });
});

describe('in-round ratios', () => {
  it('divides round by round, then summarises', () => {
    // round 1: 1/2, round 2: 3/4, round 3: 2/8
    const r = inRoundRatios([1, 3, 2], [2, 4, 8]);
    expect(r.median).toBe(0.5);
    expect(r.min).toBe(0.25);
    expect(r.max).toBe(0.75);
    expect(formatSpread(r)).toBe('0.50 (0.25-0.75)');
  });

  it('leaves out a round where a side is missing or the reference is zero', () => {
    const r = inRoundRatios([1, 5, 3], [2, 0, undefined]);
    expect(r).toEqual({ median: 0.5, min: 0.5, max: 0.5, n: 1 });
    expect(formatSpread(r)).toBe('0.50');
  });

  it('says n/a when no round has both sides', () => {
    expect(formatSpread(inRoundRatios([undefined], [1]))).toBe('n/a');
  });
});
