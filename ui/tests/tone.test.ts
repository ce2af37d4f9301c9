import { describe, expect, it } from 'vitest';
import { paint, parseGreyView, tone, toneLut } from '../src/lib/tone';

/** The bytes `GreyView::encode` writes (crates/media/src/render.rs). */
function encoded(w: number, h: number, low: number, high: number, win: [number, number], inverted: boolean, samples: number[]): ArrayBuffer {
  const buf = new ArrayBuffer(48 + samples.length * 2);
  const d = new DataView(buf);
  'CSGV'.split('').forEach((c, i) => d.setUint8(i, c.charCodeAt(0)));
  d.setUint32(4, w, true);
  d.setUint32(8, h, true);
  [low, high, win[0], win[1]].forEach((v, i) => d.setFloat64(12 + i * 8, v, true));
  d.setUint8(44, inverted ? 1 : 0);
  samples.forEach((s, i) => d.setUint16(48 + i * 2, s, true));
  return buf;
}

describe('live windowing (the same curve as the backend)', () => {
  const plain = { window: null, brightness: 0, contrast: 0, gamma: 1, invert: false };

  it('reads the backend layout and refuses anything else', () => {
    const v = parseGreyView(encoded(2, 1, -1000, 3000, [40, 400], true, [0, 65535]));
    expect(v).toMatchObject({ width: 2, height: 1, low: -1000, high: 3000, defaultWindow: [40, 400], baseInvert: true });
    expect([...v!.samples]).toEqual([0, 65535]);
    expect(parseGreyView(new ArrayBuffer(10))).toBeNull();
    expect(parseGreyView(encoded(3, 1, 0, 1, [0, 1], false, [0, 0]))).toBeNull(); // short of samples
  });

  it('windows, brightens, steepens, bends and inverts as Tone::apply does', () => {
    const view = { defaultWindow: [200, 900] as [number, number], baseInvert: false };
    expect(tone(200, plain, view)).toBe(128); // the centre is mid-grey (127.5 rounds up)
    expect(tone(-250, plain, view)).toBe(0);
    expect(tone(650, plain, view)).toBe(255);
    expect(tone(425, { ...plain, contrast: 50 }, view)).toBe(255); // 0.75 → (0.25 × 2 + 0.5)
    expect(tone(200, { ...plain, brightness: 100 }, view)).toBe(255); // + 0.5
    expect(tone(200, { ...plain, gamma: 1.4 }, { ...view, baseInvert: true })).toBe(100); // 1 − 0.5^(1/1.4)
    expect(tone(200, { ...plain, gamma: 1.4, invert: true }, { ...view, baseInvert: true })).toBe(155);
    expect(tone(0, { ...plain, window: [0, 100] }, view)).toBe(128);
  });

  it('paints every sample through the table', () => {
    const v = parseGreyView(encoded(2, 2, 0, 65535, [32767.5, 65535], false, [0, 65535, 32768, 0]))!;
    const lut = toneLut(v, plain);
    const image = { data: new Uint8ClampedArray(16), width: 2, height: 2 } as unknown as ImageData;
    paint(v, lut, image);
    expect([...image.data]).toEqual([0, 0, 0, 255, 255, 255, 255, 255, 128, 128, 128, 255, 0, 0, 0, 255]);
  });
});
