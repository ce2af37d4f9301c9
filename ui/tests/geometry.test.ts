import { describe, expect, it } from 'vitest';
import { apply, geometry, invert, NO_ADJUSTMENTS, outputSize } from '../src/lib/geometry';

const close = (a: [number, number], b: [number, number]) => {
  expect(a[0]).toBeCloseTo(b[0], 9);
  expect(a[1]).toBeCloseTo(b[1], 9);
};

describe('geometry (the same as the backend)', () => {
  it('turns, crops and flips onto the adjusted canvas, and back', () => {
    const turned = { ...NO_ADJUSTMENTS, rotate: 90 };
    close(apply(geometry(turned, 400, 300), [0, 300]), [0, 0]);
    close(apply(geometry(turned, 400, 300), [400, 0]), [300, 400]);
    expect(outputSize(turned, 400, 300)).toEqual([300, 400]);
    const flipped = { ...NO_ADJUSTMENTS, flip: 'h' as const, crop: [100, 50, 200, 100] as [number, number, number, number] };
    const m = geometry(flipped, 400, 300);
    close(apply(m, [100, 50]), [200, 0]);
    close(apply(invert(m), [200, 0]), [100, 50]);
  });
});
