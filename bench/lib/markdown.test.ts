import { describe, expect, it } from '@jest/globals';
import { markdownTable, seconds, verdict } from './markdown.ts';

describe('markdown tables', () => {
  it('renders a header, a separator and one line per row, escaping pipes', () => {
    expect(
      markdownTable(
        ['controller', 'time', 'ratio'],
        [
          ['ours', '5.12 s', 1],
          ['a|b', undefined, NaN],
        ],
      ),
    ).toBe(
      ['| controller | time | ratio |', '| --- | --- | --- |', '| ours | 5.12 s | 1 |', '| a\\|b |  | n/a |'].join(
        '\n',
      ),
    );
  });

  it('pads a short row with empty cells', () => {
    expect(markdownTable(['a', 'b'], [['x']]).split('\n')[2]).toBe('| x |  |');
  });

  it('formats durations and verdicts', () => {
    expect(seconds(5123)).toBe('5.12 s');
    expect(seconds(61234)).toBe('61.2 s');
    expect(seconds(undefined)).toBe('n/a');
    expect(verdict(true)).toBe('yes');
    expect(verdict(false)).toBe('**no**');
    expect(verdict(undefined)).toBe('not measured');
  });
});
