//! A PDF's pages as pixels: the first page is a scanned document's thumbnail, each page the
//! viewer's picture. Drawn by poppler (poppler-glib, the library of Evince and `pdftoppm`) onto
//! a white cairo surface at the size asked, checked against the decoded-pixel budget first.
//! A PDF reaches this only after `pdf::check` has parsed it and found no active content.
//! Linux only (Debian's libpoppler-glib); elsewhere a PDF has no preview.

use crate::decode::{DecodeError, Limits};

/// The largest long edge a page is drawn at.
pub const MAX_EDGE: u32 = 4096;

/// The resolution a PDF's size is given at: what a document scanner writes.
pub const DPI: f64 = 300.0;

/// The first page's size in pixels at [`DPI`]: what a PDF's width and height are recorded as,
/// and what its thumbnails are drawn from.
#[cfg(target_os = "linux")]
pub fn first_page_pixels(bytes: &[u8]) -> Option<(u32, u32)> {
    let doc = poppler::Document::from_bytes(&glib::Bytes::from(bytes), None).ok()?;
    let (w, h) = doc.page(0)?.size();
    let px = |points: f64| (points * DPI / 72.0).round();
    (w.is_finite() && h.is_finite() && w >= 1.0 && h >= 1.0 && w < 1e5 && h < 1e5).then(|| (px(w) as u32, px(h) as u32))
}

#[cfg(not(target_os = "linux"))]
pub fn first_page_pixels(_: &[u8]) -> Option<(u32, u32)> {
    None
}

/// Page `page` (from 0) drawn so that its long edge is `long_edge` pixels (at most the page at
/// [`DPI`]): RGB8, width, height.
#[cfg(target_os = "linux")]
pub fn render_page(
    bytes: &[u8],
    page: u32,
    long_edge: u32,
    limits: &Limits,
) -> Result<(Vec<u8>, u32, u32), DecodeError> {
    let corrupt = |what: String| DecodeError::Corrupt(format!("its page cannot be drawn: {what}"));
    let doc = poppler::Document::from_bytes(&glib::Bytes::from(bytes), None).map_err(|e| corrupt(e.to_string()))?;
    let pages = u32::try_from(doc.n_pages()).unwrap_or(0);
    if page >= pages {
        return Err(DecodeError::Corrupt(format!("it has {pages} page(s); there is no page {}", page + 1)));
    }
    let p = doc.page(page as i32).ok_or_else(|| corrupt(format!("page {} is missing", page + 1)))?;
    let (pw, ph) = p.size();
    if !(pw.is_finite() && ph.is_finite() && pw >= 1.0 && ph >= 1.0) {
        return Err(corrupt(format!("page {} has no size ({pw} × {ph})", page + 1)));
    }
    // Never past the page as a 300 dpi scan, the size a PDF is recorded with.
    let edge = (long_edge as f64).min(pw.max(ph) * DPI / 72.0).clamp(16.0, MAX_EDGE as f64);
    let scale = edge / pw.max(ph);
    let (w, h) = (((pw * scale).round() as u32).max(1), ((ph * scale).round() as u32).max(1));
    crate::decode::check_budget(w as u64, h as u64, 7, limits)?;
    let mut surface = cairo::ImageSurface::create(cairo::Format::Rgb24, w as i32, h as i32)
        .map_err(|e| corrupt(format!("no surface: {e}")))?;
    {
        let ctx = cairo::Context::new(&surface).map_err(|e| corrupt(e.to_string()))?;
        ctx.set_source_rgb(1.0, 1.0, 1.0);
        ctx.paint().map_err(|e| corrupt(e.to_string()))?;
        ctx.scale(scale, scale);
        p.render(&ctx);
    }
    surface.flush();
    let stride = surface.stride() as usize;
    let data = surface.data().map_err(|e| corrupt(e.to_string()))?;
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for row in data.chunks(stride).take(h as usize) {
        // RGB24: one native-endian 32-bit word a pixel, 0x00RRGGBB.
        for px in row[..w as usize * 4].chunks_exact(4) {
            let [_, r, g, b] = u32::from_ne_bytes([px[0], px[1], px[2], px[3]]).to_be_bytes();
            rgb.extend_from_slice(&[r, g, b]);
        }
    }
    Ok((rgb, w, h))
}

#[cfg(not(target_os = "linux"))]
pub fn render_page(_: &[u8], _: u32, _: u32, _: &Limits) -> Result<(Vec<u8>, u32, u32), DecodeError> {
    Err(DecodeError::Corrupt("PDF previews are drawn on Linux only".into()))
}
