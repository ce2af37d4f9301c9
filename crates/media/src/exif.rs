//! EXIF metadata: when the photo was taken, with what, and how it should be turned.
//! Damaged EXIF never rejects a file whose pixels are fine: it only yields less metadata.

use std::io::Cursor;

use chrono::{FixedOffset, Local, NaiveDate, TimeZone, Utc};
use exif::{Exif, In, Tag, Value};
use serde::{Deserialize, Serialize};

use crate::Format;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExifInfo {
    /// When the picture was taken, UTC RFC 3339. EXIF times without a zone are read as the
    /// workstation's local time (cameras are set to the clinic's clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub make: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lens: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    /// EXIF orientation 1..=8 (1 = as stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orientation: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub f_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iso: Option<u32>,
    /// Whether the file carries GPS coordinates (kept in the original, not copied here).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub has_gps: bool,
}

/// Reads the EXIF block of a file of the given format; `None` when there is none or it is
/// unreadable.
pub fn read(bytes: &[u8], format: Format) -> Option<ExifInfo> {
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    let parsed = match format {
        // kamadak-exif misses the EXIF chunk that starts with "Exif\0\0" (as Pillow writes it),
        // so WebP chunks are walked here.
        Format::Webp => reader.read_raw(webp_exif_chunk(bytes)?),
        // kamadak-exif finds the Exif item of a HEIF container itself.
        Format::Jpeg | Format::Png | Format::Tiff | Format::Heic | Format::Avif => {
            reader.read_from_container(&mut Cursor::new(bytes))
        }
        _ => return None,
    };
    let exif = match parsed {
        Ok(exif) => exif,
        Err(exif::Error::PartialResult(partial)) => partial.into_inner().0,
        Err(_) => return None,
    };
    Some(extract(&exif))
}

/// The payload of a WebP file's `EXIF` chunk, without a leading "Exif\0\0" if present.
fn webp_exif_chunk(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WEBP" {
        return None;
    }
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let fourcc = &bytes[pos..pos + 4];
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().ok()?) as usize;
        let start = pos + 8;
        let end = start.checked_add(size)?;
        if end > bytes.len() {
            return None;
        }
        if fourcc == b"EXIF" {
            let data = &bytes[start..end];
            let data = data.strip_prefix(b"Exif\0\0").unwrap_or(data);
            return Some(data.to_vec());
        }
        pos = end + (size & 1); // chunks are padded to an even length
    }
    None
}

fn ascii(exif: &Exif, tag: Tag) -> Option<String> {
    let field = exif.get_field(tag, In::PRIMARY)?;
    match &field.value {
        Value::Ascii(parts) => {
            let s = parts.first().map(|p| String::from_utf8_lossy(p).trim_matches(char::from(0)).trim().to_string())?;
            (!s.is_empty()).then_some(s)
        }
        _ => None,
    }
}

fn ascii_bytes(exif: &Exif, tag: Tag) -> Option<Vec<u8>> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Ascii(parts) => parts.first().cloned(),
        _ => None,
    }
}

fn captured_at(exif: &Exif) -> Option<String> {
    let (raw, subsec, offset) = [
        (Tag::DateTimeOriginal, Tag::SubSecTimeOriginal, Tag::OffsetTimeOriginal),
        (Tag::DateTimeDigitized, Tag::SubSecTimeDigitized, Tag::OffsetTimeDigitized),
        (Tag::DateTime, Tag::SubSecTime, Tag::OffsetTime),
    ]
    .into_iter()
    .find_map(|(t, s, o)| ascii_bytes(exif, t).map(|raw| (raw, s, o)))?;
    let mut dt = exif::DateTime::from_ascii(&raw).ok()?;
    if let Some(s) = ascii_bytes(exif, subsec) {
        let _ = dt.parse_subsec(&s);
    }
    if let Some(o) = ascii_bytes(exif, offset) {
        let _ = dt.parse_offset(&o);
    }
    let naive = NaiveDate::from_ymd_opt(dt.year.into(), dt.month.into(), dt.day.into())?.and_hms_nano_opt(
        dt.hour.into(),
        dt.minute.into(),
        dt.second.into(),
        dt.nanosecond.unwrap_or(0),
    )?;
    let utc = match dt.offset {
        Some(minutes) => {
            FixedOffset::east_opt(i32::from(minutes) * 60)?.from_local_datetime(&naive).single()?.with_timezone(&Utc)
        }
        None => Local.from_local_datetime(&naive).earliest()?.with_timezone(&Utc),
    };
    Some(utc.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn extract(exif: &Exif) -> ExifInfo {
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|o| u16::try_from(o).ok())
        .filter(|o| (1..=8).contains(o));
    let display = |tag| exif.get_field(tag, In::PRIMARY).map(|f| f.display_value().with_unit(exif).to_string());
    ExifInfo {
        captured_at: captured_at(exif),
        make: ascii(exif, Tag::Make),
        model: ascii(exif, Tag::Model),
        lens: ascii(exif, Tag::LensModel),
        software: ascii(exif, Tag::Software),
        orientation,
        exposure_time: display(Tag::ExposureTime),
        f_number: display(Tag::FNumber),
        iso: exif.get_field(Tag::PhotographicSensitivity, In::PRIMARY).and_then(|f| f.value.get_uint(0)),
        has_gps: exif.get_field(Tag::GPSLatitude, In::PRIMARY).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_exif_chunk_of_a_webp_with_or_without_prefix() {
        let tiff = b"II*\0\x08\0\0\0\0\0\0\0\0\0".to_vec();
        for payload in [tiff.clone(), [b"Exif\0\0".as_slice(), &tiff].concat()] {
            let mut chunk = b"EXIF".to_vec();
            chunk.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            chunk.extend_from_slice(&payload);
            let mut file = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
            file.extend_from_slice(&chunk);
            assert_eq!(webp_exif_chunk(&file), Some(tiff.clone()), "the TIFF header must start the EXIF data");
        }
        assert_eq!(
            webp_exif_chunk(b"RIFF\xff\xff\xff\xffWEBPEXIF\xff\xff\xff\x7f"),
            None,
            "a lying chunk size is not followed"
        );
    }
}
