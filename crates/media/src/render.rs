//! Rendering a document as adjusted: the original decoded once (at the smallest JPEG scale that
//! still covers the output, a DICOM or 16-bit image at its full depth), then one resampling pass
//! through the whole geometry (EXIF orientation, straighten, crop, quarter turns, flip, scale),
//! the tone curve on the image's own values, sharpening, and the annotations drawn as vectors.
//! Used for edited thumbnails, `render` (PNG, JPEG, a PDF page with a header) and printing.

use std::io::Cursor;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::DynamicImage;
pub use image::RgbImage;
use tiny_skia::{FillRule, LineCap, LineJoin, Paint, PathBuilder, Pixmap, Stroke, Transform};

use crate::annotations::{Annotation, AnnotationType, Spacing};
use crate::decode::{self, DecodeError, JpegError, Limits};
use crate::edits::{Adjustments, Affine};
use crate::{Format, MediaError};

static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn font() -> Result<FontRef<'static>, MediaError> {
    FontRef::try_from_slice(FONT_BYTES).map_err(|e| MediaError::Render(format!("the label font: {e}")))
}

/// Decoded pixels of an original.
pub enum Plane {
    /// One channel at full depth (a DICOM's modality values, a 16-bit image's samples).
    Grey {
        values: Vec<f32>,
        w: u32,
        h: u32,
    },
    Rgb {
        pixels: Vec<u8>,
        w: u32,
        h: u32,
    },
}

impl Plane {
    fn size(&self) -> (u32, u32) {
        match self {
            Plane::Grey { w, h, .. } | Plane::Rgb { w, h, .. } => (*w, *h),
        }
    }
}

/// An original ready to render: its pixels, the map from the original as displayed to those
/// pixels, the window its values are shown with by default, and whether the file says its
/// values are inverted (DICOM MONOCHROME1).
pub struct Source {
    pub plane: Plane,
    pub displayed_to_plane: Affine,
    pub displayed: (u32, u32),
    pub default_window: [f64; 2],
    pub base_invert: bool,
}

/// Decodes an original for an output whose long edge is at most `long_edge`.
/// `stored`: its width and height as stored; `orientation`: its EXIF orientation; `frame`: which
/// frame of a multi-frame DICOM.
pub fn decode_source(
    bytes: &[u8],
    format: Format,
    stored: (u32, u32),
    orientation: u16,
    long_edge: u32,
    frame: u32,
    limits: &Limits,
) -> Result<Source, MediaError> {
    let corrupt = |e: DecodeError| MediaError::Render(e.to_string());
    let (plane, window, base_invert) = match format {
        Format::Dicom => crate::dicom::render_plane(bytes, frame, limits).map_err(corrupt)?,
        Format::Jpeg => {
            let eighths = decode::jpeg_eighths_for(stored.0.max(stored.1), long_edge);
            let (pixels, w, h) = match decode::jpeg_decode_scaled(bytes, eighths) {
                Ok(d) => d,
                Err(JpegError::Unsupported) => {
                    crate::thumbs::rgb8(decode::decode_full(bytes, format, limits).map_err(corrupt)?)
                }
                Err(JpegError::Corrupt(e)) => return Err(MediaError::Render(e)),
            };
            (Plane::Rgb { pixels, w, h }, [127.5, 255.0], false)
        }
        // A later page of a multi-page TIFF: shown as it is (its size may differ from the
        // first page's, which is what the stored size and the adjustments are of).
        Format::Tiff if frame > 0 => {
            let image = crate::tiff_pages::decode(bytes, frame, limits).map_err(corrupt)?;
            let (pixels, w, h) = crate::thumbs::rgb8(image);
            return Ok(Source {
                displayed_to_plane: Affine::scale(1.0, 1.0),
                displayed: (w, h),
                plane: Plane::Rgb { pixels, w, h },
                default_window: [127.5, 255.0],
                base_invert: false,
            });
        }
        _ if format.is_raster() => {
            let image = decode::decode_full(bytes, format, limits).map_err(corrupt)?;
            plane_of(image)
        }
        _ => return Err(MediaError::Render(format!("{} has no pixels to render", format.mime()))),
    };
    let (pw, ph) = plane.size();
    // The plane may be smaller than the stored image (a scaled JPEG decode).
    let (sw, sh) = if stored.0 > 0 && stored.1 > 0 { stored } else { (pw, ph) };
    let stored_to_displayed = Affine::exif(orientation, sw as f64, sh as f64);
    let plane_to_displayed = Affine::scale(sw as f64 / pw as f64, sh as f64 / ph as f64).then(stored_to_displayed);
    let displayed_to_plane =
        plane_to_displayed.invert().ok_or_else(|| MediaError::Render("a degenerate image".into()))?;
    let displayed = if (5..=8).contains(&orientation) { (sh, sw) } else { (sw, sh) };
    Ok(Source { plane, displayed_to_plane, displayed, default_window: window, base_invert })
}

/// A decoded image as a plane: 16-bit grey keeps its depth (windowed over its own range).
fn plane_of(image: DynamicImage) -> (Plane, [f64; 2], bool) {
    match image {
        DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA16(_) => {
            let grey = image.into_luma16();
            let (w, h) = grey.dimensions();
            let values: Vec<f32> = grey.into_raw().into_iter().map(f32::from).collect();
            let window = full_range(&values);
            (Plane::Grey { values, w, h }, window, false)
        }
        other => {
            let (pixels, w, h) = crate::thumbs::rgb8(other);
            (Plane::Rgb { pixels, w, h }, [127.5, 255.0], false)
        }
    }
}

/// The window spanning a plane's values, lowest to highest.
pub(crate) fn full_range(values: &[f32]) -> [f64; 2] {
    let (lo, hi) = values.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return [0.5, 1.0];
    }
    let (lo, hi) = (lo as f64, hi as f64);
    [(lo + hi) / 2.0, (hi - lo).max(1.0)]
}

/// What to render.
pub struct RenderRequest<'a> {
    pub adjustments: &'a Adjustments,
    /// Long edge of the output at most (never enlarged past the adjusted image's own size).
    pub long_edge: u32,
    pub annotations: &'a [Annotation],
    pub spacing: Option<Spacing>,
    /// Enlarge a smaller image to `long_edge` (a print of a small sensor image, whose labels
    /// must stay legible).
    pub enlarge: bool,
}

/// The output size and the map from output pixels to plane pixels, for an output whose long
/// edge is `long_edge` (never enlarged past the adjusted image's own size unless `enlarge`).
/// Also the map from the original as displayed to the output (where annotations go).
fn target(source: &Source, adj: &Adjustments, long_edge: u32, enlarge: bool) -> Result<Target, MediaError> {
    let (dw, dh) = source.displayed;
    let geometry = adj.geometry(dw, dh);
    let (ow, oh) = adj.output_size(dw, dh);
    let scale = long_edge as f64 / ow.max(oh) as f64;
    let scale = if enlarge { scale } else { scale.min(1.0) };
    let (tw, th) = (((ow as f64 * scale).round() as u32).max(1), ((oh as f64 * scale).round() as u32).max(1));
    let displayed_to_out = geometry.then(Affine::scale(tw as f64 / ow as f64, th as f64 / oh as f64));
    let out_to_plane = displayed_to_out
        .invert()
        .ok_or_else(|| MediaError::Render("a degenerate geometry".into()))?
        .then(source.displayed_to_plane);
    Ok(Target { size: (tw, th), out_to_plane, displayed_to_out })
}

struct Target {
    size: (u32, u32),
    out_to_plane: Affine,
    displayed_to_out: Affine,
}

/// A grey image's values through the adjustments' geometry but not their tone, at full depth:
/// what the viewer windows live while the right button drags (the tone curve is applied in the
/// webview, with the same formula as [`crate::edits::Tone`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GreyView {
    pub width: u32,
    pub height: u32,
    /// The value a sample of 0 stands for, and of 65535 (the plane's own range).
    pub low: f64,
    pub high: f64,
    /// The window the file shows itself with (centre, width), and whether it is inverted.
    pub default_window: [f64; 2],
    pub base_invert: bool,
    pub samples: Vec<u16>,
}

/// The bytes' layout: what the webview reads (ui/src/lib/tone.ts).
pub const GREY_VIEW_MAGIC: &[u8; 4] = b"CSGV";
pub const GREY_VIEW_HEADER: usize = 48;

impl GreyView {
    /// `CSGV`, width and height (u32), low, high, window centre and width (f64), inverted (u8),
    /// three bytes of padding, then the samples row by row (u16); all little-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(GREY_VIEW_HEADER + self.samples.len() * 2);
        out.extend_from_slice(GREY_VIEW_MAGIC);
        out.extend_from_slice(&self.width.to_le_bytes());
        out.extend_from_slice(&self.height.to_le_bytes());
        for v in [self.low, self.high, self.default_window[0], self.default_window[1]] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&[self.base_invert as u8, 0, 0, 0]);
        for s in &self.samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }
}

/// The [`GreyView`] of a source; `None` for a colour image (windowed by brightness and
/// contrast instead).
pub fn grey_view(source: &Source, adj: &Adjustments, long_edge: u32) -> Result<Option<GreyView>, MediaError> {
    let Plane::Grey { values, w, h } = &source.plane else { return Ok(None) };
    let t = target(source, adj, long_edge, false)?;
    let (tw, th) = t.size;
    let [lo, hi] = {
        let [c, width] = full_range(values);
        [c - width / 2.0, c + width / 2.0]
    };
    let k = 65535.0 / (hi - lo).max(f64::MIN_POSITIVE);
    let mut samples = vec![0u16; tw as usize * th as usize];
    // Outside the image stays at the lowest value, as the rendered image's black.
    warp(
        &t.out_to_plane,
        tw,
        th,
        *w,
        *h,
        1,
        |u, v, px: &mut [u16]| {
            let value = bilinear_grey(values, *w, *h, u, v) as f64;
            px[0] = ((value - lo) * k).round().clamp(0.0, 65535.0) as u16;
        },
        &mut samples,
    );
    Ok(Some(GreyView {
        width: tw,
        height: th,
        low: lo,
        high: hi,
        default_window: source.default_window,
        base_invert: source.base_invert,
        samples,
    }))
}

/// The adjusted image, with the annotations drawn when any are given.
pub fn render(source: &Source, req: &RenderRequest<'_>) -> Result<RgbImage, MediaError> {
    let adj = req.adjustments;
    let Target { size: (tw, th), out_to_plane, displayed_to_out } = target(source, adj, req.long_edge, req.enlarge)?;
    let tone = adj.tone(source.default_window, source.base_invert);
    let mut out = vec![0u8; tw as usize * th as usize * 3];
    match &source.plane {
        Plane::Grey { values, w, h } => {
            // The curve tabulated over the window (4096 steps), applied to bilinear samples.
            let [c, width] = adj.window.unwrap_or(source.default_window);
            let low = c - width / 2.0;
            const STEPS: usize = 4096;
            let lut: Vec<u8> = (0..=STEPS).map(|i| tone.apply(low + width * i as f64 / STEPS as f64)).collect();
            let k = STEPS as f64 / width;
            warp(
                &out_to_plane,
                tw,
                th,
                *w,
                *h,
                3,
                |u, v, px: &mut [u8]| {
                    let value = bilinear_grey(values, *w, *h, u, v);
                    let i = ((value as f64 - low) * k).clamp(0.0, STEPS as f64) as usize;
                    px.fill(lut[i]);
                },
                &mut out,
            );
        }
        Plane::Rgb { pixels, w, h } => {
            let lut = tone.lut8();
            warp(
                &out_to_plane,
                tw,
                th,
                *w,
                *h,
                3,
                |u, v, px: &mut [u8]| {
                    let rgb = bilinear_rgb(pixels, *w, *h, u, v);
                    for c in 0..3 {
                        px[c] = lut[rgb[c] as usize];
                    }
                },
                &mut out,
            );
        }
    }
    let mut image = RgbImage::from_raw(tw, th, out).ok_or_else(|| MediaError::Render("pixel buffer size".into()))?;
    if adj.sharpen > 0 {
        sharpen(&mut image, adj.sharpen as f32 * 0.35);
    }
    if !req.annotations.is_empty() {
        draw_annotations(&mut image, req.annotations, &displayed_to_out, req.spacing)?;
    }
    Ok(image)
}

/// How many threads a pass over `pixels` output pixels is split over: one for a thumbnail,
/// the machine's cores (up to four) for a viewer rendition or a print.
fn bands_for(pixels: usize) -> usize {
    if pixels < 512 * 1024 {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Runs `f(first_row, rows)` over `out` cut into bands of whole rows (`stride` values, of
/// `channels` per pixel), on scoped threads when the image is large.
fn in_bands<T: Send>(out: &mut [T], stride: usize, channels: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let rows = out.len() / stride.max(1);
    let bands = bands_for(out.len() / channels.max(1)).min(rows.max(1));
    if bands <= 1 {
        return f(0, out);
    }
    let per = rows.div_ceil(bands);
    std::thread::scope(|s| {
        for (i, band) in out.chunks_mut(per * stride).enumerate() {
            let f = &f;
            s.spawn(move || f(i * per, band));
        }
    });
}

/// Fills each output pixel (`channels` values) from the plane position its centre maps to
/// (left as it is outside the plane).
#[allow(clippy::too_many_arguments)]
fn warp<T: Send>(
    out_to_plane: &Affine,
    tw: u32,
    th: u32,
    pw: u32,
    ph: u32,
    channels: usize,
    sample: impl Fn(f64, f64, &mut [T]) + Sync,
    out: &mut [T],
) {
    let m = out_to_plane;
    let stride = tw as usize * channels;
    let out = &mut out[..stride * th as usize];
    in_bands(out, stride, channels, |first, band| {
        for (i, row) in band.chunks_exact_mut(stride).enumerate() {
            let fy = (first + i) as f64 + 0.5;
            // Each step right adds (a, d) in the plane.
            let (mut u, mut v) = m.apply(0.5, fy);
            for px in row.chunks_exact_mut(channels) {
                if u >= 0.0 && v >= 0.0 && u < pw as f64 && v < ph as f64 {
                    sample(u - 0.5, v - 0.5, px);
                }
                u += m.a;
                v += m.d;
            }
        }
    });
}

fn corners(w: u32, h: u32, u: f64, v: f64) -> (usize, usize, usize, usize, f32, f32) {
    let x0 = u.floor().clamp(0.0, (w - 1) as f64);
    let y0 = v.floor().clamp(0.0, (h - 1) as f64);
    let fx = (u - x0).clamp(0.0, 1.0) as f32;
    let fy = (v - y0).clamp(0.0, 1.0) as f32;
    let (x0, y0) = (x0 as usize, y0 as usize);
    let x1 = (x0 + 1).min(w as usize - 1);
    let y1 = (y0 + 1).min(h as usize - 1);
    (x0, y0, x1, y1, fx, fy)
}

fn bilinear_grey(values: &[f32], w: u32, h: u32, u: f64, v: f64) -> f32 {
    let (x0, y0, x1, y1, fx, fy) = corners(w, h, u, v);
    let row = w as usize;
    let at = |x: usize, y: usize| values[y * row + x];
    let top = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * fx;
    let bottom = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * fx;
    top + (bottom - top) * fy
}

/// Bilinear in 8-bit fixed point: `u`, `v` are at least -0.5 (a pixel centre's position less
/// half a pixel), so truncation is the floor once they are clamped at 0.
#[inline]
fn bilinear_rgb(pixels: &[u8], w: u32, h: u32, u: f64, v: f64) -> [u8; 3] {
    let (uf, vf) = ((u.max(0.0) * 256.0) as usize, (v.max(0.0) * 256.0) as usize);
    let (x0, y0) = ((uf >> 8).min(w as usize - 1), (vf >> 8).min(h as usize - 1));
    let (fx, fy) = ((uf & 255) as u32, (vf & 255) as u32);
    let x1 = (x0 + 1).min(w as usize - 1);
    let y1 = (y0 + 1).min(h as usize - 1);
    let row = w as usize * 3;
    let (t0, t1, b0, b1) = (y0 * row + x0 * 3, y0 * row + x1 * 3, y1 * row + x0 * 3, y1 * row + x1 * 3);
    let mut out = [0u8; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = pixels[t0 + c] as u32 * (256 - fx) + pixels[t1 + c] as u32 * fx;
        let bottom = pixels[b0 + c] as u32 * (256 - fx) + pixels[b1 + c] as u32 * fx;
        *o = ((top * (256 - fy) + bottom * fy + 32768) >> 16) as u8;
    }
    out
}

/// Unsharp masking against a 3×3 box blur, in integers: each row's column sums of three rows,
/// then three of those side by side; the edge pixels are left as they are.
fn sharpen(image: &mut RgbImage, amount: f32) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w < 3 || h < 3 {
        return;
    }
    let src = image.as_raw().clone();
    let stride = w * 3;
    // out = p + (p − sum/9)·amount, as (p·2304 + (9p − sum)·a) / 2304 with a = amount·256.
    let a = (amount * 256.0).round() as i32;
    let dst: &mut [u8] = image;
    in_bands(&mut dst[stride..(h - 1) * stride], stride, 3, |first, band| {
        let mut cols = vec![0u16; stride];
        for (i, row) in band.chunks_exact_mut(stride).enumerate() {
            let y = first + i + 1;
            let (up, mid, down) = (
                &src[(y - 1) * stride..y * stride],
                &src[y * stride..(y + 1) * stride],
                &src[(y + 1) * stride..(y + 2) * stride],
            );
            for (k, c) in cols.iter_mut().enumerate() {
                *c = up[k] as u16 + mid[k] as u16 + down[k] as u16;
            }
            for k in 3..stride - 3 {
                let sum = cols[k - 3] as i32 + cols[k] as i32 + cols[k + 3] as i32;
                let p = mid[k] as i32;
                let v = (p * 2304 + (9 * p - sum) * a + 1152).div_euclid(2304);
                row[k] = v.clamp(0, 255) as u8;
            }
        }
    });
}

fn color_of(hex: &str) -> tiny_skia::Color {
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("ff"), 16).unwrap_or(255);
    tiny_skia::Color::from_rgba8(byte(1), byte(3), byte(5), 255)
}

/// Draws every item over the image, each point through `map` (the original as displayed to
/// the output), with a dark edge so it reads over bone and over enamel.
pub fn draw_annotations(
    image: &mut RgbImage,
    items: &[Annotation],
    map: &Affine,
    spacing: Option<Spacing>,
) -> Result<(), MediaError> {
    let (w, h) = image.dimensions();
    let mut rgba = Vec::with_capacity(w as usize * h as usize * 4);
    for p in image.pixels() {
        rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
    }
    let size = tiny_skia::IntSize::from_wh(w, h).ok_or_else(|| MediaError::Render("empty image".into()))?;
    let mut pixmap = Pixmap::from_vec(rgba, size).ok_or_else(|| MediaError::Render("pixmap".into()))?;
    // Widths are given per 1000 pixels of the long edge, so a print and a thumbnail look alike.
    let unit = w.max(h) as f32 / 1000.0;
    let mut labels: Vec<(f32, f32, String, String, f32)> = Vec::new();
    for a in items {
        let pts: Vec<(f32, f32)> = a
            .points
            .iter()
            .map(|p| {
                let (x, y) = map.apply(p[0], p[1]);
                (x as f32, y as f32)
            })
            .collect();
        let width = (a.width as f32 * unit * 1.5).max(1.0);
        let color = color_of(&a.color);
        let mut paths = Vec::new();
        let polyline = |pts: &[(f32, f32)], close: bool| {
            let mut pb = PathBuilder::new();
            let (first, rest) = pts.split_first()?;
            pb.move_to(first.0, first.1);
            for p in rest {
                pb.line_to(p.0, p.1);
            }
            if close {
                pb.close();
            }
            pb.finish()
        };
        match a.kind {
            AnnotationType::Line | AnnotationType::Freehand | AnnotationType::Length | AnnotationType::Angle => {
                paths.extend(polyline(&pts, false));
            }
            AnnotationType::Arrow => {
                paths.extend(polyline(&pts, false));
                if let [from, to] = pts[..] {
                    let angle = (to.1 - from.1).atan2(to.0 - from.0);
                    let len = width * 4.0 + 6.0 * unit;
                    let wing = |d: f32| (to.0 - len * (angle + d).cos(), to.1 - len * (angle + d).sin());
                    paths.extend(polyline(&[wing(0.45), to, wing(-0.45)], false));
                }
            }
            AnnotationType::Rect | AnnotationType::Ellipse => {
                let ([x0, y0], [x1, y1]) = (a.points[0], a.points[1]);
                // Traced in the original's coordinates, so a turned image turns the shape too.
                let outline: Vec<[f64; 2]> = if a.kind == AnnotationType::Rect {
                    vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
                } else {
                    let (cx, cy, rx, ry) =
                        ((x0 + x1) / 2.0, (y0 + y1) / 2.0, (x1 - x0).abs() / 2.0, (y1 - y0).abs() / 2.0);
                    (0..72)
                        .map(|i| {
                            let t = i as f64 / 72.0 * std::f64::consts::TAU;
                            [cx + rx * t.cos(), cy + ry * t.sin()]
                        })
                        .collect()
                };
                let mapped: Vec<(f32, f32)> = outline
                    .iter()
                    .map(|p| {
                        let (x, y) = map.apply(p[0], p[1]);
                        (x as f32, y as f32)
                    })
                    .collect();
                paths.extend(polyline(&mapped, true));
            }
            AnnotationType::Area => {
                if let Some(path) = polyline(&pts, true) {
                    let mut fill = Paint::default();
                    let mut c = color;
                    c.set_alpha(0.2);
                    fill.set_color(c);
                    fill.anti_alias = true;
                    pixmap.fill_path(&path, &fill, FillRule::Winding, Transform::identity(), None);
                    paths.push(path);
                }
            }
            AnnotationType::Text => {}
        }
        for path in &paths {
            let mut edge = Paint::default();
            edge.set_color(tiny_skia::Color::from_rgba8(0, 0, 0, 150));
            edge.anti_alias = true;
            let stroke = |width: f32| Stroke {
                width,
                line_cap: LineCap::Round,
                line_join: LineJoin::Round,
                ..Stroke::default()
            };
            pixmap.stroke_path(path, &edge, &stroke(width + 2.0 * unit.max(1.0)), Transform::identity(), None);
            let mut paint = Paint::default();
            paint.set_color(color);
            paint.anti_alias = true;
            pixmap.stroke_path(path, &paint, &stroke(width), Transform::identity(), None);
        }
        let text_size = (16.0 * unit).max(11.0);
        if let Some(text) = &a.text {
            let (x, y) = pts.last().copied().unwrap_or_default();
            labels.push((x + width * 2.0, y - width * 2.0, text.clone(), a.color.clone(), text_size));
        }
        let measured = crate::annotations::measure(a.kind, &a.points, spacing);
        if let (Some(m), Some(&(x, y))) =
            (measured, if a.kind == AnnotationType::Angle { pts.get(1) } else { pts.last() })
        {
            let y = if a.text.is_some() { y + text_size * 1.3 } else { y };
            labels.push((x + width * 2.0, y - width * 2.0, crate::annotations::label(&m), a.color.clone(), text_size));
        }
    }
    let data = pixmap.take();
    for (i, p) in image.pixels_mut().enumerate() {
        p.0 = [data[i * 4], data[i * 4 + 1], data[i * 4 + 2]];
    }
    let font = font()?;
    for (x, y, text, color, size) in labels {
        let c = color_of(&color).to_color_u8();
        // Kept inside the image: a measurement ending at the right edge labels to its left.
        let width = text_width(&font, &text, size);
        let x = x.min(w as f32 - width - 3.0).max(3.0);
        let y = y.clamp(size, (h as f32 - 3.0).max(size));
        draw_text(image, &font, &text, x, y, size, [c.red(), c.green(), c.blue()], true);
    }
    Ok(())
}

/// How wide a line of text is drawn at `size`.
pub fn text_width(font: &FontRef<'_>, text: &str, size: f32) -> f32 {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut last = None;
    let mut width = 0.0;
    for ch in text.chars() {
        let id = scaled.glyph_id(ch);
        if let Some(prev) = last {
            width += scaled.kern(prev, id);
        }
        width += scaled.h_advance(id);
        last = Some(id);
    }
    width
}

/// Draws one line of text with its baseline at `y` (a dark halo behind it when `halo`).
#[allow(clippy::too_many_arguments)]
pub fn draw_text(
    image: &mut RgbImage,
    font: &FontRef<'_>,
    text: &str,
    x: f32,
    y: f32,
    size: f32,
    rgb: [u8; 3],
    halo: bool,
) {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut glyphs = Vec::new();
    let mut caret = x;
    let mut last = None;
    for ch in text.chars() {
        let id = scaled.glyph_id(ch);
        if let Some(prev) = last {
            caret += scaled.kern(prev, id);
        }
        glyphs.push(id.with_scale_and_position(size, ab_glyph::point(caret, y)));
        caret += scaled.h_advance(id);
        last = Some(id);
    }
    let (w, h) = (image.width() as i32, image.height() as i32);
    let mut blend = |px: i32, py: i32, cov: f32, rgb: [u8; 3]| {
        if px < 0 || py < 0 || px >= w || py >= h || cov <= 0.0 {
            return;
        }
        let p = image.get_pixel_mut(px as u32, py as u32);
        for (channel, target) in p.0.iter_mut().zip(rgb) {
            *channel = (*channel as f32 * (1.0 - cov) + target as f32 * cov).round() as u8;
        }
    };
    let passes: &[(i32, i32, [u8; 3], f32)] = if halo {
        &[
            (-1, 0, [0, 0, 0], 0.7),
            (1, 0, [0, 0, 0], 0.7),
            (0, -1, [0, 0, 0], 0.7),
            (0, 1, [0, 0, 0], 0.7),
            (0, 0, [0; 3], 1.0),
        ]
    } else {
        &[(0, 0, [0; 3], 1.0)]
    };
    for (i, &(dx, dy, shadow, strength)) in passes.iter().enumerate() {
        let colour = if i == passes.len() - 1 { rgb } else { shadow };
        for g in &glyphs {
            if let Some(outline) = font.outline_glyph(g.clone()) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cov| {
                    blend(b.min.x as i32 + gx as i32 + dx, b.min.y as i32 + gy as i32 + dy, cov * strength, colour)
                });
            }
        }
    }
}

/// Encodes an RGB image as JPEG (quality 90) or PNG.
pub fn encode(image: &RgbImage, png: bool) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::new();
    if png {
        image
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .map_err(|e| MediaError::Render(e.to_string()))?;
        return Ok(out);
    }
    // libjpeg-turbo: several times faster than a pure-Rust encoder at the same quality; full
    // chroma, as a referral's fine lines and labels need it.
    let failed = |e: turbojpeg::Error| MediaError::Render(format!("encoding the JPEG: {e}"));
    let mut compressor = turbojpeg::Compressor::new().map_err(failed)?;
    compressor.set_quality(90).map_err(failed)?;
    compressor.set_subsamp(turbojpeg::Subsamp::None).map_err(failed)?;
    let (w, h) = image.dimensions();
    let pixels = turbojpeg::Image {
        pixels: image.as_raw().as_slice(),
        width: w as usize,
        pitch: 3 * w as usize,
        height: h as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    compressor.compress_to_vec(pixels).map_err(failed)
}

/// One A4 page at 150 dpi: the header lines at the top, the image fitted below; as a PDF whose
/// page is that picture (the header drawn with the embedded font, so every name prints).
pub fn pdf_page(image: &RgbImage, header: &[String]) -> Result<Vec<u8>, MediaError> {
    pdf_of_pages(vec![page(image, header)?])
}

/// One A4 page at 150 dpi, as the JPEG it is embedded as: the header lines, then the image
/// fitted below them (landscape when the image is).
pub struct Page {
    jpeg: Vec<u8>,
    size: (u32, u32),
    landscape: bool,
}

pub fn page(image: &RgbImage, header: &[String]) -> Result<Page, MediaError> {
    let landscape = image.width() > image.height();
    let (pw, ph) = if landscape { (1754u32, 1240u32) } else { (1240u32, 1754u32) };
    let mut page = RgbImage::from_pixel(pw, ph, image::Rgb([255, 255, 255]));
    let font = font()?;
    let margin = 90.0;
    let mut y = margin + 30.0;
    for (i, line) in header.iter().enumerate() {
        let size = if i == 0 { 34.0 } else { 24.0 };
        draw_text(&mut page, &font, line, margin, y, size, [20, 20, 20], false);
        y += size * 1.45;
    }
    let top = (y + 20.0) as u32;
    let (aw, ah) = (pw - 2 * margin as u32, ph.saturating_sub(top + margin as u32));
    let (fw, fh) = crate::thumbs::fit_within(image.width(), image.height(), aw, ah);
    let fitted = if (fw, fh) == image.dimensions() {
        image.clone()
    } else {
        image::imageops::resize(image, fw, fh, image::imageops::FilterType::CatmullRom)
    };
    let x0 = margin as u32 + (aw - fw) / 2;
    image::imageops::overlay(&mut page, &fitted, x0 as i64, top as i64);
    Ok(Page { jpeg: encode(&page, false)?, size: (pw, ph), landscape })
}

/// A PDF of `pages`, each an A4 page showing its JPEG whole (kept as it is: DCTDecode; moved
/// into the document, not copied).
pub fn pdf_of_pages(pages: Vec<Page>) -> Result<Vec<u8>, MediaError> {
    use lopdf::content::{Content, Operation};
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut kids: Vec<Object> = Vec::new();
    for p in pages {
        let (mw, mh) = if p.landscape { (842, 595) } else { (595, 842) };
        let image = Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Image",
                "Width" => p.size.0 as i64,
                "Height" => p.size.1 as i64,
                "ColorSpace" => "DeviceRGB",
                "BitsPerComponent" => 8,
                "Filter" => "DCTDecode",
            },
            p.jpeg,
        );
        let image_id = doc.add_object(image);
        let content = Content {
            operations: vec![
                Operation::new("q", vec![]),
                Operation::new("cm", vec![mw.into(), 0.into(), 0.into(), mh.into(), 0.into(), 0.into()]),
                Operation::new("Do", vec![Object::Name(b"Im0".to_vec())]),
                Operation::new("Q", vec![]),
            ],
        };
        let encoded = content.encode().map_err(|e| MediaError::Render(e.to_string()))?;
        let content_id = doc.add_object(Stream::new(dictionary! {}, encoded));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
            "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
            "MediaBox" => vec![0.into(), 0.into(), mw.into(), mh.into()],
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects
        .insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).map_err(|e| MediaError::Render(e.to_string()))?;
    Ok(out)
}

/// `image` turned clockwise by a multiple of 90 degrees (a mount's slot turn).
pub fn turn(image: RgbImage, degrees: u16) -> RgbImage {
    match degrees % 360 {
        90 => image::imageops::rotate90(&image),
        180 => image::imageops::rotate180(&image),
        270 => image::imageops::rotate270(&image),
        _ => image,
    }
}

/// Slot images side by side in a grid of `cols` columns (a mount as one picture).
pub fn grid(images: &[Option<RgbImage>], cols: u32, cell: u32) -> RgbImage {
    let cols = cols.max(1);
    let rows = (images.len() as u32).div_ceil(cols).max(1);
    let gap = 12;
    let mut out = RgbImage::from_pixel(cols * (cell + gap) + gap, rows * (cell + gap) + gap, image::Rgb([24, 24, 24]));
    for (i, img) in images.iter().enumerate() {
        let (cx, cy) = ((i as u32 % cols) * (cell + gap) + gap, (i as u32 / cols) * (cell + gap) + gap);
        match img {
            Some(img) => {
                let (fw, fh) = crate::thumbs::fit_within(img.width(), img.height(), cell, cell);
                let fitted = image::imageops::resize(img, fw, fh, image::imageops::FilterType::Triangle);
                image::imageops::overlay(
                    &mut out,
                    &fitted,
                    (cx + (cell - fw) / 2) as i64,
                    (cy + (cell - fh) / 2) as i64,
                );
            }
            None => {
                let empty = RgbImage::from_pixel(cell, cell, image::Rgb([48, 48, 48]));
                image::imageops::overlay(&mut out, &empty, cx as i64, cy as i64);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(w: u32, h: u32) -> Source {
        // Left half dark, right half bright, one red pixel at the top-left.
        let mut pixels = vec![0u8; (w * h * 3) as usize];
        for y in 0..h {
            for x in 0..w {
                let v = if x < w / 2 { 40 } else { 220 };
                let i = ((y * w + x) * 3) as usize;
                pixels[i..i + 3].copy_from_slice(&[v, v, v]);
            }
        }
        pixels[0..3].copy_from_slice(&[255, 0, 0]);
        Source {
            plane: Plane::Rgb { pixels, w, h },
            displayed_to_plane: Affine::IDENTITY,
            displayed: (w, h),
            default_window: [127.5, 255.0],
            base_invert: false,
        }
    }

    fn render_of(adj: Adjustments, long: u32) -> RgbImage {
        let req = RenderRequest { adjustments: &adj, long_edge: long, annotations: &[], spacing: None, enlarge: false };
        render(&source(40, 20), &req).expect("rendered")
    }

    #[test]
    fn fixed_point_bilinear_and_sharpen_match_their_float_formulas() {
        // A busy 1200×500 image (large enough for the pass to be split over threads).
        let (w, h) = (1200u32, 500u32);
        let img = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7 % 256) as u8, (y * 13 % 256) as u8, ((x ^ y) * 31 % 256) as u8])
        });
        let px = img.as_raw();
        for &(u, v) in &[(0.0, 0.0), (-0.5, -0.5), (10.25, 3.75), (1198.9, 498.6), (1199.4, 499.4), (517.5, 200.125)] {
            let (x0, y0, x1, y1, fx, fy) = corners(w, h, u, v);
            let fixed = bilinear_rgb(px, w, h, u, v);
            for c in 0..3 {
                let at = |x: usize, y: usize| px[(y * w as usize + x) * 3 + c] as f32;
                let top = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * fx;
                let bottom = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * fx;
                let float = top + (bottom - top) * fy;
                assert!((fixed[c] as f32 - float).abs() <= 1.0, "({u}, {v}) channel {c}: {} vs {float}", fixed[c]);
            }
        }
        let mut sharp = img.clone();
        sharpen(&mut sharp, 0.7);
        for (x, y) in [(0, 0), (1, 1), (600, 250), (w - 2, h - 2), (w - 1, 7), (333, h - 1)] {
            for c in 0..3 {
                let p = img.get_pixel(x, y).0[c] as f32;
                let edge = x == 0 || y == 0 || x == w - 1 || y == h - 1;
                let want = if edge {
                    p
                } else {
                    let mut sum = 0.0;
                    for dy in 0..3 {
                        for dx in 0..3 {
                            sum += img.get_pixel(x + dx - 1, y + dy - 1).0[c] as f32;
                        }
                    }
                    (p + (p - sum / 9.0) * 0.7).clamp(0.0, 255.0)
                };
                let got = sharp.get_pixel(x, y).0[c] as f32;
                assert!((got - want).abs() <= 1.0, "({x}, {y}) channel {c}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn the_identity_reproduces_the_original_and_turns_move_its_corners() {
        let same = render_of(Adjustments::default(), 1000);
        assert_eq!(same.dimensions(), (40, 20));
        assert_eq!(same.get_pixel(0, 0).0, [255, 0, 0]);
        assert_eq!(same.get_pixel(39, 10).0, [220, 220, 220]);
        let turned = render_of(Adjustments { rotate: 90, ..Adjustments::default() }, 1000);
        assert_eq!(turned.dimensions(), (20, 40));
        // Turned right, the old top-left is now the top-right.
        assert_eq!(turned.get_pixel(19, 0).0, [255, 0, 0]);
        let flipped = render_of(Adjustments { flip: crate::edits::Flip::H, ..Adjustments::default() }, 1000);
        assert_eq!(flipped.get_pixel(39, 0).0, [255, 0, 0]);
        let inverted = render_of(Adjustments { invert: true, ..Adjustments::default() }, 1000);
        assert_eq!(inverted.get_pixel(39, 10).0, [35, 35, 35]);
        let cropped = render_of(Adjustments { crop: Some([20, 0, 20, 20]), ..Adjustments::default() }, 1000);
        assert_eq!(cropped.dimensions(), (20, 20));
        assert!(cropped.pixels().all(|p| p.0 == [220, 220, 220]));
        let small = render_of(Adjustments::default(), 20);
        assert_eq!(small.dimensions(), (20, 10));
    }

    #[test]
    fn the_grey_view_windowed_by_the_tone_curve_is_the_rendered_image() {
        let values: Vec<f32> = (0..600).map(|i| (i * 97 % 4000) as f32 - 1000.0).collect();
        let src = Source {
            plane: Plane::Grey { values: values.clone(), w: 30, h: 20 },
            displayed_to_plane: Affine::IDENTITY,
            displayed: (30, 20),
            default_window: [500.0, 2000.0],
            base_invert: true,
        };
        let adj = Adjustments { rotate: 90, window: Some([200.0, 900.0]), gamma: 1.4, ..Adjustments::default() };
        let view = grey_view(&src, &adj, 1000).expect("view").expect("grey");
        assert_eq!((view.width, view.height, view.low, view.high), (20, 30, -1000.0, 2992.0));
        assert!(view.base_invert);
        let req = RenderRequest { adjustments: &adj, long_edge: 1000, annotations: &[], spacing: None, enlarge: false };
        let image = render(&src, &req).expect("rendered");
        let tone = adj.tone(view.default_window, view.base_invert);
        for (i, p) in image.pixels().enumerate() {
            let value = view.low + view.samples[i] as f64 * (view.high - view.low) / 65535.0;
            let live = tone.apply(value) as i32;
            assert!((live - p.0[0] as i32).abs() <= 2, "pixel {i}: live {live}, rendered {}", p.0[0]);
        }
        let bytes = view.encode();
        assert_eq!(&bytes[..4], GREY_VIEW_MAGIC);
        assert_eq!(bytes.len(), GREY_VIEW_HEADER + 600 * 2);
        assert_eq!(f64::from_le_bytes(bytes[12..20].try_into().expect("8")), -1000.0);
        assert_eq!(bytes[44], 1);
        // A colour image has none.
        assert!(grey_view(&source(4, 4), &Adjustments::default(), 100).expect("view").is_none());
    }

    #[test]
    fn a_16_bit_plane_is_windowed_from_its_own_values() {
        let values: Vec<f32> = (0..100).map(|i| (i * 600) as f32).collect();
        let src = Source {
            plane: Plane::Grey { values: values.clone(), w: 10, h: 10 },
            displayed_to_plane: Affine::IDENTITY,
            displayed: (10, 10),
            default_window: full_range(&values),
            base_invert: false,
        };
        // A narrow window around 30,000: below it black, above it white, beside it grey.
        let adj = Adjustments { window: Some([30_000.0, 1_200.0]), ..Adjustments::default() };
        let img = render(
            &src,
            &RenderRequest { adjustments: &adj, long_edge: 10, annotations: &[], spacing: None, enlarge: false },
        )
        .expect("rendered");
        assert_eq!(img.get_pixel(0, 4).0[0], 0);
        assert_eq!(img.get_pixel(0, 6).0[0], 255);
        assert_eq!(img.get_pixel(0, 5).0[0], 128);
    }

    #[test]
    fn annotations_are_drawn_where_their_points_map_and_a_pdf_page_is_written() {
        let item = Annotation {
            id: "a".into(),
            kind: AnnotationType::Length,
            points: vec![[5.0, 10.0], [35.0, 10.0]],
            text: None,
            color: "#00ff00".into(),
            width: 2.0,
            measurement: None,
            created_by: "t".into(),
            created_at: "t".into(),
        };
        let adj = Adjustments::default();
        let long = Annotation { points: vec![[50.0, 100.0], [350.0, 100.0]], ..item };
        let req = RenderRequest {
            adjustments: &adj,
            long_edge: 400,
            annotations: std::slice::from_ref(&long),
            spacing: None,
            enlarge: false,
        };
        let drawn = render(&source(400, 200), &req).expect("rendered");
        let column: Vec<[u8; 3]> = (97..103).map(|y| drawn.get_pixel(200, y).0).collect();
        assert!(column.iter().any(|p| p[1] > 150 && p[0] < 100), "the line is green where it runs: {column:?}");
        assert_eq!(drawn.get_pixel(200, 20).0, [220, 220, 220], "and nothing elsewhere");
        let pdf = pdf_page(&drawn, &["Clinic".into(), "Ana Kovač · C-1".into()]).expect("pdf");
        assert!(pdf.starts_with(b"%PDF-1.5"));
        let parsed = lopdf::Document::load_mem(&pdf).expect("a PDF lopdf reads back");
        assert_eq!(parsed.get_pages().len(), 1);
    }
}
