// Live windowing of grey images in the webview: the backend sends a document's values at full
// depth through its geometry (`media://localhost/grey/<id>/<size>/<version>`, laid out by
// `GreyView::encode` in crates/media/src/render.rs), and the right-button drag maps them to
// pixels here with the same tone curve as the backend's `Tone::apply` (crates/media/src/edits.rs),
// so what is seen while dragging is what is saved on release.

export interface GreyView {
  width: number;
  height: number;
  /** The values a sample of 0 and of 65535 stand for. */
  low: number;
  high: number;
  /** The window the file shows itself with (centre, width), and whether it is inverted. */
  defaultWindow: [number, number];
  baseInvert: boolean;
  samples: Uint16Array;
}

export interface ToneInput {
  window: [number, number] | null;
  brightness: number;
  contrast: number;
  gamma: number;
  invert: boolean;
}

const HEADER = 48;

/** Reads the backend's bytes; `null` when they are not a grey view. */
export function parseGreyView(buffer: ArrayBuffer): GreyView | null {
  if (buffer.byteLength < HEADER) return null;
  const d = new DataView(buffer);
  if (String.fromCharCode(d.getUint8(0), d.getUint8(1), d.getUint8(2), d.getUint8(3)) !== 'CSGV') return null;
  const width = d.getUint32(4, true);
  const height = d.getUint32(8, true);
  if (width === 0 || height === 0 || buffer.byteLength !== HEADER + width * height * 2) return null;
  const samples = new Uint16Array(width * height);
  // Copied little-endian whatever the platform's order.
  for (let i = 0; i < samples.length; i++) samples[i] = d.getUint16(HEADER + i * 2, true);
  return {
    width,
    height,
    low: d.getFloat64(12, true),
    high: d.getFloat64(20, true),
    defaultWindow: [d.getFloat64(28, true), d.getFloat64(36, true)],
    baseInvert: d.getUint8(44) !== 0,
    samples,
  };
}

/** The tone curve, 0–255: `Tone::apply`, its constants worked out once. */
export function curve(t: ToneInput, view: Pick<GreyView, 'defaultWindow' | 'baseInvert'>): (v: number) => number {
  const [c, w] = t.window ?? view.defaultWindow;
  const low = c - w / 2;
  const width = Math.max(w, Number.MIN_VALUE);
  const contrast = t.contrast >= 0 ? 1 + t.contrast / 50 : 1 + t.contrast / 100;
  const shift = 0.5 + t.brightness / 200;
  const bend = t.gamma !== 1 ? 1 / t.gamma : 0;
  const invert = t.invert !== view.baseInvert;
  return (v) => {
    let x = (v - low) / width;
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    x = (x - 0.5) * contrast + shift;
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    if (bend) x = Math.pow(x, bend);
    if (invert) x = 1 - x;
    return Math.round(x * 255);
  };
}

export function tone(v: number, t: ToneInput, view: Pick<GreyView, 'defaultWindow' | 'baseInvert'>): number {
  return curve(t, view)(v);
}

/** Every sample's pixel as RGBA packed for a little-endian `Uint32Array` over ImageData. */
export function toneLut(view: GreyView, t: ToneInput): Uint32Array {
  const lut = new Uint32Array(65536);
  const k = (view.high - view.low) / 65535;
  const f = curve(t, view);
  for (let i = 0; i < 65536; i++) {
    const g = f(view.low + i * k);
    lut[i] = 0xff000000 | (g << 16) | (g << 8) | g;
  }
  return lut;
}

/** Paints the view through the curve into `image` (of the view's size). */
export function paint(view: GreyView, lut: Uint32Array, image: ImageData): void {
  const out = new Uint32Array(image.data.buffer, image.data.byteOffset, view.width * view.height);
  const s = view.samples;
  for (let i = 0; i < s.length; i++) out[i] = lut[s[i]];
}
