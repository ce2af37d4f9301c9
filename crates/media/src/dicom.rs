//! DICOM (what dental X-ray sensors export), through dicom-rs: the whole file is parsed on
//! import, so a truncated one is refused; the first frame is rendered, with the file's own
//! modality and VOI LUT (windowing), for the preview.

use std::io::Cursor;

use chrono::{Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use dicom_object::{DefaultDicomObject, OpenFileOptions, file::ReadPreamble};
use dicom_pixeldata::PixelDecoder;
use image::DynamicImage;

use crate::decode::{DecodeError, Limits};

/// What import learns from a DICOM file.
#[derive(Debug, Clone, PartialEq)]
pub struct DicomInfo {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub frames: u32,
    pub modality: Option<String>,
    /// Acquisition (else content, else study) time, UTC RFC 3339; DICOM times are local.
    pub captured_at: Option<String>,
}

fn parse(bytes: &[u8]) -> Result<DefaultDicomObject, DecodeError> {
    OpenFileOptions::new()
        .read_preamble(ReadPreamble::Always)
        .from_reader(Cursor::new(bytes))
        .map_err(|e| DecodeError::Corrupt(e.to_string()))
}

fn text(obj: &DefaultDicomObject, name: &str) -> Option<String> {
    let v = obj.element_by_name(name).ok()?.to_str().ok()?.trim().trim_end_matches('\0').to_string();
    (!v.is_empty()).then_some(v)
}

fn number(obj: &DefaultDicomObject, name: &str) -> Option<u32> {
    obj.element_by_name(name).ok()?.to_int::<u32>().ok()
}

fn date_time(date: &str, time: Option<&str>) -> Option<String> {
    let d = NaiveDate::parse_from_str(date.get(0..8)?, "%Y%m%d").ok()?;
    let t = time
        .and_then(|t| {
            let hms = t.split('.').next()?;
            NaiveTime::parse_from_str(&format!("{hms:0<6}"), "%H%M%S").ok()
        })
        .unwrap_or_default();
    let local = Local.from_local_datetime(&NaiveDateTime::new(d, t)).earliest()?;
    Some(local.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Parses every element of the file and checks its size against the limits.
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<DicomInfo, DecodeError> {
    let obj = parse(bytes)?;
    let (width, height) = (number(&obj, "Columns"), number(&obj, "Rows"));
    let frames = number(&obj, "NumberOfFrames").unwrap_or(1).max(1);
    if let (Some(w), Some(h)) = (width, height)
        && w as u64 * h as u64 > limits.max_pixels
    {
        return Err(DecodeError::TooManyPixels { width: w as u64, height: h as u64 });
    }
    let captured_at = text(&obj, "AcquisitionDateTime")
        .and_then(|dt| date_time(&dt, dt.get(8..)))
        .or_else(|| text(&obj, "ContentDate").and_then(|d| date_time(&d, text(&obj, "ContentTime").as_deref())))
        .or_else(|| text(&obj, "StudyDate").and_then(|d| date_time(&d, text(&obj, "StudyTime").as_deref())));
    Ok(DicomInfo { width, height, frames, modality: text(&obj, "Modality"), captured_at })
}

/// The first frame as an image, windowed as the file says.
pub fn render_first_frame(bytes: &[u8]) -> Result<DynamicImage, DecodeError> {
    let obj = parse(bytes)?;
    let decoded = obj.decode_pixel_data_frame(0).map_err(|e| DecodeError::Corrupt(format!("no preview: {e}")))?;
    decoded.to_dynamic_image(0).map_err(|e| DecodeError::Corrupt(format!("no preview: {e}")))
}
