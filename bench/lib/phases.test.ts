import { describe, expect, it } from '@jest/globals';
import { parsePhases } from './phases.ts';

describe('parsePhases (PHASES of bench/controllers.ts)', () => {
  it('unset: all three, in order', () => {
    expect(parsePhases(undefined)).toEqual(['burst', 'churn', 'restart']);
  });

  it('one phase, or several in any order and spacing, come back in workload order', () => {
    expect(parsePhases('restart')).toEqual(['restart']);
    expect(parsePhases(' restart, burst ,churn')).toEqual(['burst', 'churn', 'restart']);
  });

  it('an unknown name is an error that names it and the known ones', () => {
    expect(() => parsePhases('burst,chrun')).toThrow(
      'PHASES=burst,chrun: unknown phase "chrun"; known: burst, churn, restart',
    );
  });

  it('an empty list is an error', () => {
    expect(() => parsePhases('')).toThrow('no phase named');
    expect(() => parsePhases(' , ')).toThrow('no phase named');
  });
});
