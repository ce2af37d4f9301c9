//! HEIC/HEIF (iPhones, Samsung, Sony's `.hif`) and AVIF through libheif. libheif applies the
//! file's own rotation and mirroring (`irot`, `imir`) as it decodes, so the pixels come out as
//! they are meant to be seen and the EXIF orientation (informational in HEIF) is not applied
//! again. Grid images are assembled by libheif; 10-bit images come out as 8-bit RGB;
//! auxiliary images (depth, alpha of a separate item, thumbnails) are ignored: only the
//! primary image is decoded. Strict decoding: a truncated or damaged file is an error, not a
//! partly grey picture.

use libheif_rs::{ColorSpace, DecodingOptions, HeifContext, ImageHandle, LibHeif, RgbChroma, SecurityLimits};

use crate::decode::{DecodeError, Dimensions, Limits, check_budget};

/// Bytes per pixel libheif holds while decoding: its YCbCr planes (up to 16 bits a sample)
/// and the RGB8 output.
const BYTES_PER_PIXEL: u64 = 9;

fn corrupt(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Corrupt(e.to_string())
}

fn primary(ctx: &HeifContext<'_>) -> Result<ImageHandle, DecodeError> {
    ctx.primary_image_handle().map_err(corrupt)
}

/// Walks the file's top-level boxes (ftyp, meta, mdat…): each must end within the file. A copy
/// cut short ends inside its last box — libheif reads lazily and would decode what is there.
fn check_boxes(bytes: &[u8]) -> Result<(), DecodeError> {
    let mut pos = 0usize;
    while pos < bytes.len() {
        let Some(head) = bytes.get(pos..pos + 8) else {
            return Err(DecodeError::Corrupt("it ends inside a box header (a cut-off copy?)".into()));
        };
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        let kind = String::from_utf8_lossy(&head[4..8]).into_owned();
        let size = match size32 {
            0 => (bytes.len() - pos) as u64,
            1 => match bytes.get(pos + 8..pos + 16) {
                Some(b) => u64::from_be_bytes(b.try_into().unwrap_or([0; 8])),
                None => return Err(DecodeError::Corrupt("it ends inside a box header (a cut-off copy?)".into())),
            },
            n => n,
        };
        if size < 8 {
            return Err(DecodeError::Corrupt(format!("its `{kind}` box declares {size} bytes")));
        }
        let end = (pos as u64).saturating_add(size);
        if end > bytes.len() as u64 {
            return Err(DecodeError::Corrupt(format!(
                "it ends {} bytes into its `{kind}` box of {size}: the file was cut off",
                bytes.len() - pos
            )));
        }
        pos = end as usize;
    }
    Ok(())
}

fn context<'a>(bytes: &'a [u8], limits: &Limits) -> Result<HeifContext<'a>, DecodeError> {
    check_boxes(bytes)?;
    let mut ctx = HeifContext::read_from_bytes(bytes).map_err(corrupt)?;
    let mut bounds = SecurityLimits::new();
    bounds.set_max_image_size_pixels(limits.max_pixels);
    ctx.set_security_limits(&bounds).map_err(corrupt)?;
    Ok(ctx)
}

fn checked(handle: &ImageHandle, limits: &Limits) -> Result<Dimensions, DecodeError> {
    let (width, height) = (handle.width(), handle.height());
    if width == 0 || height == 0 {
        return Err(DecodeError::Corrupt("the image has no pixels".into()));
    }
    check_budget(width as u64, height as u64, BYTES_PER_PIXEL, limits)?;
    Ok(Dimensions { width, height })
}

/// The primary image's size as displayed (after its rotation), checked against the limits.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Dimensions, DecodeError> {
    let ctx = context(bytes, limits)?;
    checked(&primary(&ctx)?, limits)
}

/// The primary image as tightly packed RGB8, rotated and mirrored as the file says.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<(Vec<u8>, u32, u32), DecodeError> {
    let ctx = context(bytes, limits)?;
    let handle = primary(&ctx)?;
    checked(&handle, limits)?;
    let lib = LibHeif::new_checked().map_err(corrupt)?;
    let mut options = DecodingOptions::new().ok_or_else(|| corrupt("libheif has no decoding options"))?;
    options.set_strict_decoding(true);
    options.set_convert_hdr_to_8bit(true);
    let image = lib.decode(&handle, ColorSpace::Rgb(RgbChroma::Rgb), Some(options)).map_err(|e| {
        // The message libheif gives for a codec this build lacks names it: say what to do.
        if e.to_string().contains("No decoding plugin") || e.to_string().contains("Unsupported codec") {
            DecodeError::Corrupt(format!("its codec cannot be decoded on this workstation ({e})"))
        } else {
            corrupt(e)
        }
    })?;
    let planes = image.planes();
    let plane = planes.interleaved.ok_or_else(|| corrupt("libheif gave no RGB plane"))?;
    let (w, h) = (plane.width as usize, plane.height as usize);
    if plane.storage_bits_per_pixel != 24
        || plane.stride < w * 3
        || plane.data.len() < plane.stride * h.max(1) - plane.stride + w * 3
    {
        return Err(corrupt("libheif gave an RGB plane of an unexpected layout"));
    }
    let mut pixels = Vec::with_capacity(w * h * 3);
    for row in plane.data.chunks(plane.stride).take(h) {
        pixels.extend_from_slice(&row[..w * 3]);
    }
    Ok((pixels, plane.width, plane.height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_heif_is_refused_not_crashed_on() {
        for bytes in [&b""[..], b"\0\0\0\x18ftypheic\0\0\0\0", b"not a heif at all, just text"] {
            assert!(matches!(probe(bytes, &Limits::default()), Err(DecodeError::Corrupt(_))));
            assert!(decode(bytes, &Limits::default()).is_err());
        }
    }
}
