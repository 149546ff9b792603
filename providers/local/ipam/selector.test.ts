import { describe, expect, it } from '@jest/globals';
import { selectorMatches } from './selector.ts';
import type { LabelSelector } from './selector.ts';

const labels = { team: 'a', tier: 'gold' };

describe('label selectors', () => {
  it.each<[LabelSelector, boolean]>([
    [{}, true],
    [{ matchLabels: { team: 'a' } }, true],
    [{ matchLabels: { team: 'b' } }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'silver'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] }, false],
    [{ matchExpressions: [{ key: 'missing', operator: 'NotIn', values: ['x'] }] }, true],
    [{ matchExpressions: [{ key: 'missing', operator: 'In', values: ['x'] }] }, false],
    [{ matchExpressions: [{ key: 'team', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, false],
    [{ matchLabels: { team: 'a' }, matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, false],
  ])('%j matches {team: a, tier: gold}: %s', (selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });
});
