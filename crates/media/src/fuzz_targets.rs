//! The entry points `cargo fuzz` drives (`crates/fuzz`), one per parser we own or configure,
//! kept here so the test run can replay the fuzz corpus and every past crash through exactly
//! the same code (`tests/fuzz_replay.rs`). Each takes untrusted bytes and must return, never
//! panic, whatever they are.

use crate::decode::Limits;
use crate::format::{Format, Sniffed, sniff};

/// Smaller limits than an import's, so the fuzzer spends its time on structure, not on
/// decoding large (valid) images.
pub fn limits() -> Limits {
    Limits {
        max_bytes: 16 << 20,
        max_dicom_bytes: 16 << 20,
        max_mesh_bytes: 16 << 20,
        max_video_bytes: 16 << 20,
        max_pixels: 4_000_000,
        max_alloc: 64 << 20,
        max_decoded_bytes: 64 << 20,
    }
}

/// The DICOM path: the bounded walk, dicom-rs's parse and the first frame's rendering (12-bit
/// JPEG included, through our libjpeg-turbo call).
pub fn dicom(data: &[u8]) {
    let limits = limits();
    if crate::dicom::inspect(data, &limits).is_ok() {
        let _ = crate::dicom::render_first_frame(data, &limits);
    }
}

/// The sniffer and, for what it recognises, the header probe and the thumbnail rendering
/// (every raster decoder: JPEG through libjpeg-turbo and image-rs, PNG, TIFF — its second page
/// too, through the tiff crate —, WebP, BMP, and HEIC/AVIF through libheif).
pub fn image(data: &[u8]) {
    let limits = limits();
    if let Sniffed::Supported(format) = sniff(&data[..data.len().min(crate::format::HEAD)], data.len() as u64)
        && format.is_raster()
    {
        let _ = crate::thumbs::render(data, format, 1, &limits);
        if format == Format::Tiff && crate::tiff_pages::count(data, &limits).is_ok_and(|n| n > 1) {
            let _ = crate::tiff_pages::decode(data, 1, &limits);
        }
    }
}

/// The PDF structure and active-content check, then (as import does for a PDF that passes)
/// poppler drawing its first page.
pub fn pdf(data: &[u8]) {
    if crate::pdf::check(data, &limits()).is_ok() {
        let _ = crate::pdf_pages::first_page_pixels(data);
        let _ = crate::pdf_pages::render_page(data, 0, 256, &limits());
    }
}

/// EXIF in every container that carries it.
pub fn exif(data: &[u8]) {
    for format in [Format::Jpeg, Format::Png, Format::Tiff, Format::Webp] {
        let _ = crate::exif::read(data, format);
    }
}

/// The 3D model readers (STL both ways, PLY in its three encodings, OBJ) and the rasteriser,
/// each tried on the same bytes.
pub fn mesh(data: &[u8]) {
    let limits = limits();
    for format in [Format::Stl, Format::Ply, Format::Obj] {
        let open =
            || -> std::io::Result<Box<dyn crate::mesh::Source + '_>> { Ok(Box::new(std::io::Cursor::new(data))) };
        let _ = crate::mesh::inspect_and_draw(&open, format, data.len() as u64, &limits, 256);
    }
}

/// The video probe as import runs it on what the sniffer calls a video: FFmpeg's demuxer and
/// decoder behind our poster search, rotation and cut-off check. FFmpeg reads from a path, so
/// the bytes go through a file of this process's own in the temp folder.
pub fn video(data: &[u8]) {
    let head = &data[..data.len().min(crate::format::HEAD)];
    if !matches!(sniff(head, data.len() as u64), Sniffed::Supported(f) if f.is_video()) {
        return;
    }
    let path = std::env::temp_dir().join(format!("chairside-fuzz-video-{}", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        let limits = limits();
        if crate::video::inspect(&path, &limits, 256).is_ok() {
            let _ = crate::video::frame_at(&path, 0.5, &limits);
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// A fuzz target: untrusted bytes in, nothing out.
pub type Target = fn(&[u8]);

/// Every target by name, for the replay test and the bench script.
pub const TARGETS: &[(&str, Target)] =
    &[("dicom", dicom), ("image", image), ("pdf", pdf), ("exif", exif), ("mesh", mesh), ("video", video)];
