import { describe, expect, it } from 'vitest';
import { chartRows, codesOf, formatTeeth, labelsOf, teethInput, teethPresent } from '../src/lib/teeth';

const labels = labelsOf([
  { fdi: 16, label: 'UR6', quadrant: 1, position: 6, primary: false },
  { fdi: 26, label: 'UL6', quadrant: 2, position: 6, primary: false },
]);

describe('teeth', () => {
  it('reads stored FDI codes and shows them in the clinic notation', () => {
    expect(codesOf('16,26')).toEqual([16, 26]);
    expect(codesOf(null)).toEqual([]);
    expect(codesOf('x,16')).toEqual([16]);
    expect(formatTeeth('16,26', labels)).toBe('UR6, UL6');
    expect(formatTeeth('16,48', labels)).toBe('UR6, 48');
  });

  it('writes what the backend reads back, in FDI order', () => {
    expect(teethInput([26, 16], labels)).toBe('UR6 UL6');
    expect(teethInput([], labels)).toBe('');
  });

  it('lays the chart out facing the patient', () => {
    const [upper, lower] = chartRows(false);
    expect(upper).toEqual([18, 17, 16, 15, 14, 13, 12, 11, 21, 22, 23, 24, 25, 26, 27, 28]);
    expect(lower).toEqual([48, 47, 46, 45, 44, 43, 42, 41, 31, 32, 33, 34, 35, 36, 37, 38]);
    const [pu, pl] = chartRows(true);
    expect(pu).toEqual([55, 54, 53, 52, 51, 61, 62, 63, 64, 65]);
    expect(pl).toEqual([85, 84, 83, 82, 81, 71, 72, 73, 74, 75]);
  });

  it('lists the teeth present in a gallery', () => {
    expect(teethPresent([{ teeth: '26,16' }, { teeth: null }, { teeth: '16' }])).toEqual([16, 26]);
  });
});
