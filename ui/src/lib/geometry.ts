// The viewer's geometry, as the backend's (crates/media/src/edits.rs): a document's adjustments
// map the original as displayed (after EXIF orientation) onto the adjusted image, so an
// annotation stored in the original's pixels is drawn where it belongs, and a click on the
// adjusted image lands back in the original's pixels.
// (No export is named `then`: a module namespace with one is a thenable, and importing it hangs.)
import type { Adjustments } from './bindings';

/** x' = a·x + b·y + c, y' = d·x + e·y + f */
export interface Affine {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  f: number;
}

const IDENTITY: Affine = { a: 1, b: 0, c: 0, d: 0, e: 1, f: 0 };

export function compose(m: Affine, n: Affine): Affine {
  return {
    a: n.a * m.a + n.b * m.d,
    b: n.a * m.b + n.b * m.e,
    c: n.a * m.c + n.b * m.f + n.c,
    d: n.d * m.a + n.e * m.d,
    e: n.d * m.b + n.e * m.e,
    f: n.d * m.c + n.e * m.f + n.f,
  };
}

export function apply(m: Affine, [x, y]: [number, number]): [number, number] {
  return [m.a * x + m.b * y + m.c, m.d * x + m.e * y + m.f];
}

export function invert(m: Affine): Affine {
  const det = m.a * m.e - m.b * m.d;
  const a = m.e / det, b = -m.b / det, d = -m.d / det, e = m.a / det;
  return { a, b, c: -(a * m.c + b * m.f), d, e, f: -(d * m.c + e * m.f) };
}

const translate = (x: number, y: number): Affine => ({ ...IDENTITY, c: x, f: y });

function quarterTurns(k: number, w: number, h: number): Affine {
  switch (((k % 4) + 4) % 4) {
    case 1:
      return { a: 0, b: -1, c: h, d: 1, e: 0, f: 0 };
    case 2:
      return { a: -1, b: 0, c: w, d: 0, e: -1, f: h };
    case 3:
      return { a: 0, b: 1, c: 0, d: -1, e: 0, f: w };
    default:
      return IDENTITY;
  }
}

/** The adjusted image's size for an original of `w`×`h` as displayed. */
export function outputSize(adj: Adjustments, w: number, h: number): [number, number] {
  const [cw, ch] = adj.crop ? [adj.crop[2], adj.crop[3]] : [w, h];
  return adj.rotate % 180 === 90 ? [ch, cw] : [cw, ch];
}

/** The original as displayed → the adjusted image. */
export function geometry(adj: Adjustments, w: number, h: number): Affine {
  let m = IDENTITY;
  if (adj.straighten !== 0) {
    const r = (adj.straighten * Math.PI) / 180;
    const rot: Affine = { a: Math.cos(r), b: -Math.sin(r), c: 0, d: Math.sin(r), e: Math.cos(r), f: 0 };
    m = compose(compose(translate(-w / 2, -h / 2), rot), translate(w / 2, h / 2));
  }
  let [cw, ch] = [w, h];
  if (adj.crop) {
    m = compose(m, translate(-adj.crop[0], -adj.crop[1]));
    [cw, ch] = [adj.crop[2], adj.crop[3]];
  }
  m = compose(m, quarterTurns(adj.rotate / 90, cw, ch));
  if (adj.rotate % 180 === 90) [cw, ch] = [ch, cw];
  if (adj.flip === 'h') m = compose(m, { a: -1, b: 0, c: cw, d: 0, e: 1, f: 0 });
  if (adj.flip === 'v') m = compose(m, { a: 1, b: 0, c: 0, d: 0, e: -1, f: ch });
  return m;
}

export const NO_ADJUSTMENTS: Adjustments = {
  rotate: 0,
  flip: 'none',
  straighten: 0,
  crop: null,
  window: null,
  brightness: 0,
  contrast: 0,
  gamma: 1,
  invert: false,
  sharpen: 0,
  preset: null,
};

export function isIdentity(a: Adjustments): boolean {
  return JSON.stringify({ ...a, preset: null }) === JSON.stringify(NO_ADJUSTMENTS);
}

/** A measurement as its label reads (the backend's `annotations::label`). */
export function measurementLabel(m: { value: number; unit: string; calibrated: boolean }): string {
  if (m.unit === 'deg') return `${m.value.toFixed(1)}°`;
  const unit = m.unit === 'mm2' ? 'mm²' : m.unit === 'px2' ? 'px²' : m.unit;
  return `${m.value.toFixed(2)} ${unit}${m.calibrated ? '' : ' (not calibrated)'}`;
}

/**
 * The straighten angle (degrees, −45 to 45) that makes the line from `p` to `q` (in the
 * original's pixels) level, or plumb when it is nearer upright: the user draws along the
 * occlusal plane, a ruler or a tooth's long axis.
 */
export function straightenFrom(p: [number, number], q: [number, number]): number {
  const angle = (Math.atan2(q[1] - p[1], q[0] - p[0]) * 180) / Math.PI;
  const off = angle - 90 * Math.round(angle / 90);
  return Math.round(-off * 100) / 100 || 0;
}

/**
 * A crop from two corners clicked in the original's pixels: the rectangle they span in the
 * straightened original's pixels (what `crop` is stored in), inside the image; null when it has
 * no area to speak of.
 */
export function cropFrom(adj: Adjustments, w: number, h: number, p: [number, number], q: [number, number]): [number, number, number, number] | null {
  const s = geometry({ ...NO_ADJUSTMENTS, straighten: adj.straighten }, w, h);
  const [a, b] = [apply(s, p), apply(s, q)];
  const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, v));
  const x0 = clamp(Math.floor(Math.min(a[0], b[0])), w), x1 = clamp(Math.ceil(Math.max(a[0], b[0])), w);
  const y0 = clamp(Math.floor(Math.min(a[1], b[1])), h), y1 = clamp(Math.ceil(Math.max(a[1], b[1])), h);
  return x1 - x0 >= 8 && y1 - y0 >= 8 ? [x0, y0, x1 - x0, y1 - y0] : null;
}
