import { describe, expect, it } from '@jest/globals';
import { cumulative, lineChartSvg, niceTicks } from './chart.ts';

describe('addresses-over-time chart', () => {
  it('ticks in 1-2-5 steps that reach the maximum', () => {
    expect(niceTicks(9.3)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(1000)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(niceTicks(0)).toEqual([0]);
  });

  it('turns event times into a cumulative count, in time order', () => {
    expect(cumulative([300, 100, 200], 10)).toEqual([
      [100, 1],
      [200, 2],
      [300, 3],
    ]);
  });

  it('thins a long line but keeps its first and last point', () => {
    const pts = cumulative(
      Array.from({ length: 1000 }, (_, i) => i),
      11,
    );
    expect(pts).toHaveLength(11);
    expect(pts[0]).toEqual([0, 1]);
    expect(pts.at(-1)).toEqual([999, 1000]);
  });

  it('draws one path and one legend entry per controller, labels escaped', () => {
    const svg = lineChartSvg(
      [
        { label: 'ours <fake>', times: [100, 200] },
        { label: 'upstream', times: [500, 900, 1500] },
      ],
      { title: 'burst' },
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('ours &lt;fake&gt;');
    expect(svg).toContain('>upstream</text>');
  });
});
