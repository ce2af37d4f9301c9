//! The pages of a multi-page TIFF (a fax, a document scanner's batch): how many there are, and
//! one page as pixels. The image crate reads a TIFF's first page only; the tiff crate under it
//! walks the chain of pages (refusing a loop) and decodes any of them, with its buffers capped
//! by our decoded-byte budget and the size checked against the pixel budget first. A page of
//! CCITT Group 3 fax (one-dimensional, what fax machines and fax servers write), which neither
//! decodes, goes through the `fax` crate (the one the tiff crate uses for Group 4).

use std::io::Cursor;

use image::DynamicImage;
use tiff::ColorType;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;

use crate::decode::{DecodeError, Limits};

/// The most pages counted (a fax or a scanned batch has tens).
pub const MAX_PAGES: u32 = 1000;

fn decoder<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Decoder<Cursor<&'a [u8]>>, DecodeError> {
    let mut caps = tiff::decoder::Limits::default();
    caps.decoding_buffer_size = usize::try_from(limits.max_decoded_bytes).unwrap_or(usize::MAX);
    Decoder::new(Cursor::new(bytes))
        .map(|d| d.with_limits(caps))
        .map_err(|e| DecodeError::Corrupt(format!("its TIFF structure is damaged: {e}")))
}

/// How many pages the file has (at most [`MAX_PAGES`]). A page whose directory or strips lie
/// past the end of the file (a copy cut short) makes the whole file damaged.
pub fn count(bytes: &[u8], limits: &Limits) -> Result<u32, DecodeError> {
    let mut d = decoder(bytes, limits)?;
    let mut pages = 1;
    loop {
        let offsets = d.get_tag_u32_vec(Tag::StripOffsets).unwrap_or_default();
        let counts = d.get_tag_u32_vec(Tag::StripByteCounts).unwrap_or_default();
        if offsets.iter().zip(&counts).any(|(o, n)| *o as u64 + *n as u64 > bytes.len() as u64) {
            return Err(DecodeError::Corrupt(format!("page {pages} ends past the end of the file: it was cut off")));
        }
        if pages >= MAX_PAGES || !d.more_images() {
            return Ok(pages);
        }
        d.next_image().map_err(|e| DecodeError::Corrupt(format!("page {} cannot be found: {e}", pages + 1)))?;
        pages += 1;
    }
}

/// Page `page` (from 0) as an image.
pub fn decode(bytes: &[u8], page: u32, limits: &Limits) -> Result<DynamicImage, DecodeError> {
    let corrupt = |e: tiff::TiffError| DecodeError::Corrupt(format!("page {} cannot be read: {e}", page + 1));
    let mut d = decoder(bytes, limits)?;
    d.seek_to_image(page as usize).map_err(corrupt)?;
    let (w, h) = d.dimensions().map_err(corrupt)?;
    let colour = d.colortype().map_err(corrupt)?;
    crate::decode::check_budget(w as u64, h as u64, 8, limits)?;
    let white_is_zero = d.find_tag_unsigned::<u16>(Tag::PhotometricInterpretation).ok().flatten() == Some(0);
    if d.find_tag_unsigned::<u16>(Tag::Compression).ok().flatten() == Some(3) {
        return fax3(bytes, &mut d, w, h, page);
    }
    let data = d.read_image().map_err(corrupt)?;
    let unsupported =
        || DecodeError::Corrupt(format!("page {} is in a colour layout not shown here ({colour:?})", page + 1));
    let image = match (colour, data) {
        (ColorType::Gray(1), DecodingResult::U8(packed)) => {
            // Bilevel (fax): rows of bits, each row padded to a byte.
            let row = (w as usize).div_ceil(8);
            let mut grey = Vec::with_capacity(w as usize * h as usize);
            for y in 0..h as usize {
                for x in 0..w as usize {
                    let bit = packed.get(y * row + x / 8).map_or(0, |b| (b >> (7 - x % 8)) & 1);
                    grey.push(if (bit == 1) != white_is_zero { 255 } else { 0 });
                }
            }
            image::GrayImage::from_raw(w, h, grey).map(DynamicImage::ImageLuma8)
        }
        (ColorType::Gray(8), DecodingResult::U8(mut v)) => {
            if white_is_zero {
                v.iter_mut().for_each(|p| *p = 255 - *p);
            }
            image::GrayImage::from_raw(w, h, v).map(DynamicImage::ImageLuma8)
        }
        (ColorType::Gray(16), DecodingResult::U16(v)) => {
            image::ImageBuffer::from_raw(w, h, v).map(DynamicImage::ImageLuma16)
        }
        (ColorType::RGB(8), DecodingResult::U8(v)) => image::RgbImage::from_raw(w, h, v).map(DynamicImage::ImageRgb8),
        (ColorType::RGBA(8), DecodingResult::U8(v)) => {
            image::RgbaImage::from_raw(w, h, v).map(DynamicImage::ImageRgba8)
        }
        (ColorType::RGB(16), DecodingResult::U16(v)) => {
            image::ImageBuffer::from_raw(w, h, v).map(DynamicImage::ImageRgb16)
        }
        _ => return Err(unsupported()),
    };
    image.ok_or_else(|| DecodeError::Corrupt(format!("page {} has fewer pixels than its size says", page + 1)))
}

/// Whether the first page is CCITT Group 3 fax (decoded by [`decode`], not by the image crate).
pub fn is_fax3(bytes: &[u8], limits: &Limits) -> bool {
    decoder(bytes, limits).is_ok_and(|mut d| d.find_tag_unsigned::<u16>(Tag::Compression).ok().flatten() == Some(3))
}

/// A Group 3 page: its strips joined and decoded line by line, black on white.
fn fax3(bytes: &[u8], d: &mut Decoder<Cursor<&[u8]>>, w: u32, h: u32, page: u32) -> Result<DynamicImage, DecodeError> {
    let bad = |what: &str| DecodeError::Corrupt(format!("page {} (Group 3 fax) {what}", page + 1));
    let options = d.find_tag_unsigned::<u32>(Tag::Unknown(292)).ok().flatten().unwrap_or(0);
    if options & 1 != 0 {
        return Err(bad("is coded in two dimensions, which is not shown here"));
    }
    if w > u16::MAX as u32 {
        return Err(bad("is wider than a fax can be"));
    }
    let offsets = d.get_tag_u32_vec(Tag::StripOffsets).map_err(|_| bad("has no strips"))?;
    let counts = d.get_tag_u32_vec(Tag::StripByteCounts).map_err(|_| bad("has no strip sizes"))?;
    let mut coded = Vec::new();
    for (off, len) in offsets.iter().zip(&counts) {
        let strip = bytes
            .get(*off as usize..(*off as usize).saturating_add(*len as usize))
            .ok_or_else(|| bad("has a strip past the end of the file"))?;
        coded.extend_from_slice(strip);
    }
    let mut pixels = Vec::with_capacity(w as usize * h as usize);
    let mut rows = 0;
    fax::decoder::decode_g3(coded.into_iter(), |transitions| {
        if rows < h {
            // Runs between colour changes, starting white, each filled at once.
            let start = pixels.len();
            let mut white = true;
            for &t in transitions {
                let end = start + (t as usize).min(w as usize);
                if end > pixels.len() {
                    pixels.resize(end, if white { 255 } else { 0 });
                }
                white = !white;
            }
            pixels.resize(start + w as usize, if white { 255 } else { 0 });
            rows += 1;
        }
    });
    if rows == 0 {
        return Err(bad("has no line that decodes"));
    }
    // A page cut short keeps its lines; the rest is left white.
    pixels.resize(w as usize * h as usize, 255);
    image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8).ok_or_else(|| bad("has no size"))
}

/// A TIFF of `pages` grey pages, the n-th `40 + n` pixels wide and filled with `n * 50` (for
/// tests, as `pdf::craft`).
pub fn craft(pages: u32) -> Vec<u8> {
    use tiff::encoder::{TiffEncoder, colortype};
    let mut out = Cursor::new(Vec::new());
    {
        let mut encoder = TiffEncoder::new(&mut out).expect("an encoder over memory");
        for n in 0..pages {
            let (w, h) = (40 + n, 30);
            let grey = vec![(n * 50).min(255) as u8; (w * h) as usize];
            encoder.write_image::<colortype::Gray8>(w, h, &grey).expect("a page written to memory");
        }
    }
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_counted_and_read_and_a_missing_one_refused() {
        let limits = Limits::default();
        let bytes = craft(3);
        assert_eq!(count(&bytes, &limits).expect("pages"), 3);
        let third = decode(&bytes, 2, &limits).expect("page 3");
        assert_eq!((third.width(), third.height()), (42, 30));
        assert_eq!(third.to_luma8().get_pixel(5, 5).0, [100]);
        assert!(decode(&bytes, 3, &limits).is_err(), "there is no page 4");
        assert!(count(b"II*\0garbage", &limits).is_err(), "damaged");
        assert!(count(&bytes[..bytes.len() - 10], &limits).is_err(), "cut off in its last page");
    }
}
