//! The pages of a multi-page TIFF (a fax, a document scanner's batch): how many there are, and
//! one page as pixels. The image crate reads a TIFF's first page only; the tiff crate under it
//! walks the chain of pages (refusing a loop) and decodes any of them, with its buffers capped
//! by our decoded-byte budget and the size checked against the pixel budget first.

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

/// How many pages the file has (at most [`MAX_PAGES`]); 1 when only the first can be read.
pub fn count(bytes: &[u8], limits: &Limits) -> u32 {
    let Ok(mut d) = decoder(bytes, limits) else { return 1 };
    let mut pages = 1;
    while pages < MAX_PAGES && d.more_images() && d.next_image().is_ok() {
        pages += 1;
    }
    pages
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
        assert_eq!(count(&bytes, &limits), 3);
        let third = decode(&bytes, 2, &limits).expect("page 3");
        assert_eq!((third.width(), third.height()), (42, 30));
        assert_eq!(third.to_luma8().get_pixel(5, 5).0, [100]);
        assert!(decode(&bytes, 3, &limits).is_err(), "there is no page 4");
        assert_eq!(count(b"II*\0garbage", &limits), 1, "damaged: the first page is all there is");
    }
}
