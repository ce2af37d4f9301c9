//! Reading pixels: header probing against the limits, and decoding — at reduced scale for
//! JPEG (DCT scaling through libjpeg-turbo). Import validates a file by decoding all of it.

use std::io::Cursor;

use image::{DynamicImage, ImageReader};

use crate::Format;

/// Refusal thresholds for untrusted files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest photo, PDF or scanned document accepted, in bytes (these are read whole).
    pub max_bytes: u64,
    /// Largest DICOM accepted (CBCT volumes, ultrasound cines): read from a mapped copy.
    pub max_dicom_bytes: u64,
    /// Largest 3D model accepted: streamed, never held whole.
    pub max_mesh_bytes: u64,
    /// Largest video accepted: read by FFmpeg from the staged copy, never held whole.
    pub max_video_bytes: u64,
    /// Largest image accepted, in pixels (width × height), checked from the header before
    /// any pixel is decoded.
    pub max_pixels: u64,
    /// Largest allocation a decoder may make.
    pub max_alloc: u64,
    /// The decoded-pixel budget: width × height × channels × bytes per sample of the decoded
    /// image, checked from the header. A 776 KB PNG can declare 100 MP of 16-bit RGBA (800 MB
    /// decoded); the pixel count alone would let it through.
    pub max_decoded_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 * 1024 * 1024,
            max_dicom_bytes: 4 << 30,
            max_mesh_bytes: 1 << 30,
            max_video_bytes: 4 << 30,
            // 100 MP covers every intraoral, extraoral and X-ray device we know of.
            max_pixels: 100_000_000,
            max_alloc: 512 * 1024 * 1024,
            // 100 MP of 8-bit RGB (300 MB) or 85 MP of 16-bit RGB fit; an import's peak memory
            // stays under twice this plus the process's own.
            max_decoded_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Why a file could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The pixel count exceeds the limit (from the header; nothing was decoded).
    TooManyPixels { width: u64, height: u64 },
    /// The decoded image would exceed the decoded-pixel budget (from the header).
    TooManyBytes { width: u64, height: u64, bytes: u64 },
    /// The file is damaged, truncated or not what its header says.
    Corrupt(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooManyPixels { width, height } => write!(f, "{width} × {height} pixels is over the limit"),
            DecodeError::TooManyBytes { width, height, bytes } => {
                write!(f, "{width} × {height} would take {bytes} bytes to decode, over the limit")
            }
            DecodeError::Corrupt(why) => write!(f, "{why}"),
        }
    }
}

/// Image dimensions as stored (before orientation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimensions {
    pub width: u32,
    pub height: u32,
}

fn image_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_alloc = Some(limits.max_alloc.min(limits.max_decoded_bytes));
    l
}

/// Checks `width × height` and the decoded size against the limits.
pub fn check_budget(width: u64, height: u64, bytes_per_pixel: u64, limits: &Limits) -> Result<(), DecodeError> {
    if width.saturating_mul(height) > limits.max_pixels {
        return Err(DecodeError::TooManyPixels { width, height });
    }
    let bytes = width.saturating_mul(height).saturating_mul(bytes_per_pixel.max(1));
    if bytes > limits.max_decoded_bytes {
        return Err(DecodeError::TooManyBytes { width, height, bytes });
    }
    Ok(())
}

/// Runs a decoder over untrusted bytes on a thread of its own with a large stack, so that a
/// decoder's panic becomes a refusal of this one file instead of taking the import (or the
/// app) down. Stack overflows are prevented before this point (the DICOM walk and the PDF
/// scan bound nesting); the large stack is the margin for codecs that recurse a little.
pub fn guarded<T: Send>(what: &str, f: impl FnOnce() -> T + Send) -> Result<T, DecodeError> {
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name(format!("decode-{what}"))
            .stack_size(64 * 1024 * 1024)
            .spawn_scoped(s, f)
            .map_err(|e| DecodeError::Corrupt(format!("could not start the decoder: {e}")))?;
        handle.join().map_err(|panic| {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            DecodeError::Corrupt(format!("the {what} decoder gave up on this file ({detail})"))
        })
    })
}

/// Reads only the header to learn the dimensions, and checks them against the limits.
pub fn probe(bytes: &[u8], format: Format, limits: &Limits) -> Result<Dimensions, DecodeError> {
    if format.is_heif() {
        return crate::heif::probe(bytes, limits);
    }
    let Some(image_format) = format.image_format() else {
        return Err(DecodeError::Corrupt("not a raster image".into()));
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    reader.limits(image_limits(limits));
    let decoder = reader.into_decoder().map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    let bytes_per_pixel = image::ImageDecoder::color_type(&decoder).bytes_per_pixel() as u64;
    if width == 0 || height == 0 {
        return Err(DecodeError::Corrupt("the image has no pixels".into()));
    }
    check_budget(width as u64, height as u64, bytes_per_pixel, limits)?;
    Ok(Dimensions { width, height })
}

/// Decodes the whole image with the `image` crate (every format but the JPEG fast path).
/// The `image` crate accepts some truncated JPEGs silently (it pads missing data with grey),
/// so a JPEG decoded here must also end with its end-of-image marker.
pub fn decode_full(bytes: &[u8], format: Format, limits: &Limits) -> Result<DynamicImage, DecodeError> {
    // Group 3 fax pages, which the image crate does not decode.
    if format == Format::Tiff && crate::tiff_pages::is_fax3(bytes, limits) {
        return crate::tiff_pages::decode(bytes, 0, limits);
    }
    if format.is_heif() {
        let (pixels, w, h) = crate::heif::decode(bytes, limits)?;
        let image =
            image::RgbImage::from_raw(w, h, pixels).ok_or_else(|| DecodeError::Corrupt("bad RGB size".into()))?;
        return Ok(DynamicImage::ImageRgb8(image));
    }
    if format == Format::Tiff && crate::tiff_pages::is_fax3(bytes, limits) {
        return crate::tiff_pages::decode(bytes, 0, limits);
    }
    let Some(image_format) = format.image_format() else {
        return Err(DecodeError::Corrupt("not a raster image".into()));
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    reader.limits(image_limits(limits));
    let image = reader.decode().map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    if format == Format::Jpeg && !jpeg_has_end_marker(bytes) {
        return Err(DecodeError::Corrupt("the JPEG data ends before its end-of-image marker".into()));
    }
    check_riff_length(bytes, format)?;
    Ok(image)
}

/// A WebP is a RIFF container whose header gives its length: a file shorter than that was cut
/// (the decoder stops at the image data and would not notice a lost EXIF or XMP chunk).
fn check_riff_length(bytes: &[u8], format: Format) -> Result<(), DecodeError> {
    if format != Format::Webp || bytes.len() < 12 {
        return Ok(());
    }
    let declared = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as u64 + 8;
    if (bytes.len() as u64) < declared {
        return Err(DecodeError::Corrupt(format!(
            "the file is {} bytes but its RIFF header says {declared}: it was cut short",
            bytes.len()
        )));
    }
    Ok(())
}

/// A JPEG's image data must end with EOI (FFD9); some cameras append data after it, so look
/// for the marker anywhere in the last few kilobytes rather than only at the very end.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(64 * 1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

pub(crate) enum JpegError {
    /// libjpeg-turbo can't convert this JPEG to RGB (CMYK, 12-bit…): use the fallback decoder.
    Unsupported,
    Corrupt(String),
}

/// Decodes a JPEG to RGB8 at `eighths`/8 of its size (libjpeg-turbo scales in the DCT, so a
/// smaller scale does less work). Returns (pixels, width, height).
pub(crate) fn jpeg_decode_scaled(bytes: &[u8], eighths: usize) -> Result<(Vec<u8>, u32, u32), JpegError> {
    let mut d = turbojpeg::Decompressor::new().map_err(|e| JpegError::Corrupt(e.to_string()))?;
    let header = d.read_header(bytes).map_err(|e| JpegError::Corrupt(e.to_string()))?;
    if matches!(header.colorspace, turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK) {
        return Err(JpegError::Unsupported);
    }
    let scale = turbojpeg::ScalingFactor::new(eighths.clamp(1, 8), 8);
    d.set_scaling_factor(scale).map_err(|e| JpegError::Corrupt(e.to_string()))?;
    let scaled = header.scaled(scale);
    let mut image = turbojpeg::Image {
        pixels: vec![0u8; 3 * scaled.width * scaled.height],
        width: scaled.width,
        pitch: 3 * scaled.width,
        height: scaled.height,
        format: turbojpeg::PixelFormat::RGB,
    };
    match d.decompress(bytes, image.as_deref_mut()) {
        Ok(()) => Ok((image.pixels, scaled.width as u32, scaled.height as u32)),
        Err(e) => {
            let msg = e.to_string();
            // 12-bit and lossless JPEGs can't be decoded to 8-bit samples by this call.
            if msg.contains("precision") || msg.contains("Unsupported") || msg.contains("lossless") {
                Err(JpegError::Unsupported)
            } else {
                Err(JpegError::Corrupt(msg))
            }
        }
    }
}

/// The smallest JPEG scale, in eighths, that still leaves the long edge at least `target`
/// pixels, so a thumbnail is never made from fewer pixels than it shows.
pub(crate) fn jpeg_eighths_for(long_edge: u32, target: u32) -> usize {
    (1..=8).find(|&m| (long_edge as usize * m).div_ceil(8) >= target as usize).unwrap_or(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_scale_never_goes_below_the_target() {
        assert_eq!(jpeg_eighths_for(6000, 2048), 3, "6000·3/8 = 2250 ≥ 2048, 6000·2/8 = 1500 < 2048");
        assert_eq!(jpeg_eighths_for(4000, 2048), 5);
        assert_eq!(jpeg_eighths_for(6000, 256), 1);
        assert_eq!(jpeg_eighths_for(100, 2048), 8, "a small image is decoded whole, never upscaled");
    }
}
