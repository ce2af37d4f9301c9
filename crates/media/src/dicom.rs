//! DICOM (what dental X-ray sensors export), through dicom-rs: the whole file is parsed on
//! import, so a truncated one is refused; the first frame is rendered, with the file's own
//! modality and VOI LUT (windowing), for the preview. Before dicom-rs sees a file, its element
//! structure is walked with bounded depth and checked lengths ([`crate::dicom_scan`]).

use std::io::{Cursor, Read};

use chrono::{Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use dicom_object::{DefaultDicomObject, OpenFileOptions, file::ReadPreamble};
use dicom_pixeldata::PixelDecoder;
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
use image::DynamicImage;

use crate::decode::{DecodeError, Limits};
use crate::dicom_scan::{self, Encoding};

/// What import learns from a DICOM file.
#[derive(Debug, Clone, PartialEq)]
pub struct DicomInfo {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub frames: u32,
    pub modality: Option<String>,
    /// Acquisition (else content, else study) time, UTC RFC 3339; DICOM times are local.
    pub captured_at: Option<String>,
    /// The attributes a reader of the image wants to see, kept in `blobs.details_json`.
    pub attributes: DicomAttributes,
}

/// The attributes that matter to whoever reads the image (and to checking it is in the right
/// chart), as the file gives them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct DicomAttributes {
    /// As the file spells it: family^given^middle^prefix^suffix.
    pub patient_name: Option<String>,
    pub patient_id: Option<String>,
    /// YYYY-MM-DD.
    pub study_date: Option<String>,
    pub study_description: Option<String>,
    pub body_part: Option<String>,
    /// Millimetres between rows, then between columns, at the patient.
    pub pixel_spacing_mm: Option<Vec<f64>>,
    /// The same at the detector.
    pub imager_pixel_spacing_mm: Option<Vec<f64>>,
    /// The file's window presets: centre, width and its name for each.
    pub windows: Vec<WindowPreset>,
    /// Milliseconds between frames of a cine (Frame Time, else from Cine Rate or the
    /// recommended frame rate).
    pub frame_ms: Option<f64>,
    pub transfer_syntax: Option<String>,
    pub manufacturer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WindowPreset {
    pub center: f64,
    pub width: f64,
    pub name: Option<String>,
}

impl DicomInfo {
    /// What `blobs.details_json` keeps under `dicom`.
    pub fn details(&self) -> serde_json::Value {
        let mut v = serde_json::json!({ "frames": self.frames, "modality": self.modality });
        if let (Some(map), Ok(serde_json::Value::Object(attrs))) =
            (v.as_object_mut(), serde_json::to_value(&self.attributes))
        {
            map.extend(attrs);
        }
        v
    }
}

/// Why a DICOM file may belong to another patient than the chart it is in, if it may: its
/// Patient ID differs from the chart number, or no part of its Patient Name is in the chart's
/// name. Absent attributes (an anonymised export) say nothing; case, accents' absence and the
/// order of the name's parts do not matter.
pub fn patient_mismatch(details: &serde_json::Value, name: &str, chart_number: Option<&str>) -> Option<String> {
    let dicom = details.get("dicom")?;
    let field = |k: &str| dicom.get(k).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
    let mut why = Vec::new();
    if let (Some(file_id), Some(chart)) = (field("patient_id"), chart_number.map(str::trim).filter(|c| !c.is_empty()))
        && !file_id.eq_ignore_ascii_case(chart)
    {
        why.push(format!("its Patient ID is {file_id:?}, the chart number is {chart:?}"));
    }
    if let Some(file_name) = field("patient_name") {
        let words = |s: &str| -> Vec<String> {
            s.split(|c: char| c == '^' || c == ',' || c == '=' || c.is_whitespace())
                .map(|w| w.trim_matches('.').to_lowercase())
                .filter(|w| w.chars().count() > 1)
                .collect()
        };
        let chart_words = words(name);
        if !words(file_name).iter().any(|w| chart_words.contains(w)) {
            why.push(format!("its Patient Name is {:?}, the chart is {name:?}", file_name.replace('^', " ").trim()));
        }
    }
    (!why.is_empty()).then(|| format!("this DICOM file may be another patient's: {}", why.join("; ")))
}

/// The bounded structure walk; a deflated data set is inflated (at most `max_bytes`) first.
fn check_structure(bytes: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    let (start, encoding) = dicom_scan::meta(bytes).map_err(DecodeError::Corrupt)?;
    if encoding != Encoding::Deflated {
        return dicom_scan::walk(&bytes, start, encoding).map_err(DecodeError::Corrupt);
    }
    check_inflated(&bytes[start..], limits)
}

fn check_inflated(deflated: impl Read, limits: &Limits) -> Result<(), DecodeError> {
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(deflated)
        .take(limits.max_bytes + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| DecodeError::Corrupt(format!("its deflated data does not inflate: {e}")))?;
    if inflated.len() as u64 > limits.max_bytes {
        return Err(DecodeError::Corrupt(format!(
            "its deflated data inflates past {} bytes (a decompression bomb?)",
            limits.max_bytes
        )));
    }
    dicom_scan::walk(&inflated.as_slice(), 0, Encoding::ExplicitLittle).map_err(DecodeError::Corrupt)
}

fn parse(bytes: &[u8], limits: &Limits) -> Result<DefaultDicomObject, DecodeError> {
    check_structure(bytes, limits)?;
    OpenFileOptions::new()
        .read_preamble(ReadPreamble::Always)
        .from_reader(Cursor::new(bytes))
        .map_err(|e| DecodeError::Corrupt(e.to_string()))
}

/// A DICOM larger than the whole-file limit (a CBCT volume, a long cine): its structure is
/// walked over a read-only map of the staged copy (only the element headers are touched), and
/// its attributes are read up to the pixel data, which is never loaded.
pub fn inspect_large(path: &std::path::Path, limits: &Limits) -> Result<DicomInfo, DecodeError> {
    use std::io::{Seek, SeekFrom};
    let unreadable = |e: std::io::Error| DecodeError::Corrupt(format!("it could not be read: {e}"));
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    // The file meta group is small and comes first.
    let mut head = Vec::new();
    (&mut file).take(1 << 20).read_to_end(&mut head).map_err(unreadable)?;
    let (start, encoding) = dicom_scan::meta(&head).map_err(DecodeError::Corrupt)?;
    file.seek(SeekFrom::Start(start as u64)).map_err(unreadable)?;
    if encoding == Encoding::Deflated {
        check_inflated(std::io::BufReader::new(&mut file), limits)?;
    } else {
        let source = dicom_scan::FileSource {
            file: file.try_clone().map_err(unreadable)?,
            len: usize::try_from(len).map_err(|_| DecodeError::Corrupt("it is too large".into()))?,
        };
        dicom_scan::walk(&source, start, encoding).map_err(DecodeError::Corrupt)?;
    }
    file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Always)
        .read_until(dicom_dictionary_std::tags::PIXEL_DATA)
        .from_reader(std::io::BufReader::new(file))
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    info_of(&obj, limits)
}

/// Whether a file is a DICOMDIR by its name (the standard spells it so on every medium).
pub fn is_dicomdir(path: &std::path::Path) -> bool {
    path.file_name().is_some_and(|n| n.eq_ignore_ascii_case("DICOMDIR"))
}

/// The most files one DICOMDIR may name.
const DICOMDIR_MAX_FILES: usize = 100_000;

/// The files a DICOMDIR names (its records' Referenced File IDs), in its order, each once,
/// resolved inside the DICOMDIR's own folder: a component that is empty, `.`/`..`, or not
/// plain text, refuses the whole index rather than read a file outside the medium.
pub fn dicomdir_files(path: &std::path::Path, limits: &Limits) -> Result<Vec<std::path::PathBuf>, DecodeError> {
    let unreadable = |e: std::io::Error| DecodeError::Corrupt(format!("it could not be read: {e}"));
    let len = std::fs::metadata(path).map_err(unreadable)?.len();
    if len > limits.max_bytes {
        return Err(DecodeError::Corrupt(format!("a {len}-byte DICOMDIR is over the {}-byte limit", limits.max_bytes)));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let obj = parse(&bytes, limits)?;
    let records = obj
        .element(dicom_dictionary_std::tags::DIRECTORY_RECORD_SEQUENCE)
        .map_err(|_| DecodeError::Corrupt("it is not a DICOMDIR: it has no directory records".into()))?;
    let root = path.parent().unwrap_or(std::path::Path::new("."));
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for record in records.items().unwrap_or_default() {
        let Ok(id) = record.element(dicom_dictionary_std::tags::REFERENCED_FILE_ID) else { continue };
        let parts = id.to_multi_str().map_err(|e| DecodeError::Corrupt(format!("a file ID is not text: {e}")))?;
        let mut file = root.to_path_buf();
        for part in parts.iter().map(|p| p.trim_end_matches(['\0', ' ']).trim_start()) {
            let plain = !part.is_empty()
                && part != "."
                && part != ".."
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
            if !plain {
                return Err(DecodeError::Corrupt(format!(
                    "it names a file outside its folder or by an invalid name ({part:?})"
                )));
            }
            file.push(part);
        }
        if seen.insert(file.clone()) {
            files.push(file);
        }
        if files.len() > DICOMDIR_MAX_FILES {
            return Err(DecodeError::Corrupt(format!("it names more than {DICOMDIR_MAX_FILES} files")));
        }
    }
    Ok(files)
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
    info_of(&parse(bytes, limits)?, limits)
}

fn info_of(obj: &DefaultDicomObject, limits: &Limits) -> Result<DicomInfo, DecodeError> {
    let (width, height) = (number(obj, "Columns"), number(obj, "Rows"));
    let frames = number(obj, "NumberOfFrames").unwrap_or(1).max(1);
    check_frame_budget(obj, limits)?;
    let captured_at = text(obj, "AcquisitionDateTime")
        .and_then(|dt| date_time(&dt, dt.get(8..)))
        .or_else(|| text(obj, "ContentDate").and_then(|d| date_time(&d, text(obj, "ContentTime").as_deref())))
        .or_else(|| text(obj, "StudyDate").and_then(|d| date_time(&d, text(obj, "StudyTime").as_deref())));
    Ok(DicomInfo { width, height, frames, modality: text(obj, "Modality"), captured_at, attributes: attributes(obj) })
}

fn attributes(obj: &DefaultDicomObject) -> DicomAttributes {
    let any_floats = |name: &str| -> Option<Vec<f64>> {
        let v = obj.element_by_name(name).ok()?.to_multi_float64().ok()?;
        (!v.is_empty() && v.iter().all(|x| x.is_finite())).then_some(v)
    };
    let centers = any_floats("WindowCenter").unwrap_or_default();
    let widths = any_floats("WindowWidth").unwrap_or_default();
    let names: Vec<String> = text(obj, "WindowCenterWidthExplanation")
        .map(|t| t.split('\\').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let windows = centers
        .iter()
        .zip(&widths)
        .enumerate()
        .filter(|(_, (_, w))| **w > 0.0)
        .map(|(i, (c, w))| WindowPreset {
            center: *c,
            width: *w,
            name: names.get(i).filter(|n| !n.is_empty()).cloned(),
        })
        .collect();
    let positive = |name: &str| any_floats(name).and_then(|v| v.first().copied()).filter(|x| *x > 0.0);
    let frame_ms = positive("FrameTime")
        .or_else(|| positive("CineRate").map(|r| 1000.0 / r))
        .or_else(|| positive("RecommendedDisplayFrameRate").map(|r| 1000.0 / r));
    let study_date = text(obj, "StudyDate").and_then(|d| {
        let d = NaiveDate::parse_from_str(d.get(0..8)?, "%Y%m%d").ok()?;
        Some(d.format("%Y-%m-%d").to_string())
    });
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0').to_string();
    let transfer_syntax =
        TransferSyntaxRegistry.get(&ts).map(|t| t.name().to_string()).or(Some(ts).filter(|t| !t.is_empty()));
    DicomAttributes {
        patient_name: text(obj, "PatientName"),
        patient_id: text(obj, "PatientID"),
        study_date,
        study_description: text(obj, "StudyDescription"),
        body_part: text(obj, "BodyPartExamined"),
        pixel_spacing_mm: floats(obj, "PixelSpacing"),
        imager_pixel_spacing_mm: floats(obj, "ImagerPixelSpacing"),
        windows,
        frame_ms,
        transfer_syntax,
        manufacturer: text(obj, "Manufacturer"),
    }
}

/// One decoded frame must fit the decoded-pixel budget: rows × columns × samples × bytes per
/// sample, from the header, before any pixel is decoded.
fn check_frame_budget(obj: &DefaultDicomObject, limits: &Limits) -> Result<(), DecodeError> {
    let (Some(w), Some(h)) = (number(obj, "Columns"), number(obj, "Rows")) else { return Ok(()) };
    let samples = number(obj, "SamplesPerPixel").unwrap_or(1).max(1) as u64;
    let bytes = (number(obj, "BitsAllocated").unwrap_or(8) as u64).div_ceil(8).max(1);
    // dicom-pixeldata holds the decoded samples, a floating-point copy for the modality and
    // VOI LUTs (up to 8 bytes a sample) and its output; rendering then makes an RGB8 copy.
    crate::decode::check_budget(w as u64, h as u64, samples * (bytes + 8) + 3, limits)
}

/// The first frame as an image, windowed as the file says.
pub fn render_first_frame(bytes: &[u8], limits: &Limits) -> Result<DynamicImage, DecodeError> {
    let obj = parse(bytes, limits)?;
    check_frame_budget(&obj, limits)?;
    if let Some(plane) = jpeg12_plane(&obj, 0, limits) {
        return Ok(windowed(plane?));
    }
    let decoded = obj.decode_pixel_data_frame(0).map_err(|e| DecodeError::Corrupt(format!("no preview: {e}")))?;
    decoded.to_dynamic_image(0).map_err(|e| DecodeError::Corrupt(format!("no preview: {e}")))
}

/// A frame at full depth for the viewer's tools: a grey image as its modality values
/// (rescale slope and intercept applied), with the file's first window (else its full range)
/// and whether it is MONOCHROME1 (shown inverted); a colour one as RGB8.
pub fn render_plane(
    bytes: &[u8],
    frame: u32,
    limits: &Limits,
) -> Result<(crate::render::Plane, [f64; 2], bool), DecodeError> {
    let obj = parse(bytes, limits)?;
    check_frame_budget(&obj, limits)?;
    let frames = number(&obj, "NumberOfFrames").unwrap_or(1).max(1);
    if frame >= frames {
        return Err(DecodeError::Corrupt(format!("it has {frames} frame(s); there is no frame {}", frame + 1)));
    }
    if let Some(plane) = jpeg12_plane(&obj, frame, limits) {
        return plane;
    }
    let decoded = obj.decode_pixel_data_frame(frame).map_err(|e| DecodeError::Corrupt(format!("no pixels: {e}")))?;
    let (w, h) = (decoded.columns(), decoded.rows());
    if decoded.samples_per_pixel() != 1 {
        let image = decoded.to_dynamic_image(0).map_err(|e| DecodeError::Corrupt(format!("no pixels: {e}")))?;
        let (pixels, w, h) = crate::thumbs::rgb8(image);
        return Ok((crate::render::Plane::Rgb { pixels, w, h }, [127.5, 255.0], false));
    }
    let values: Vec<f32> = decoded.to_vec_frame(0).map_err(|e| DecodeError::Corrupt(format!("no pixels: {e}")))?;
    if values.len() != w as usize * h as usize {
        return Err(DecodeError::Corrupt("the pixel data does not fill the frame".into()));
    }
    let window = match decoded.window() {
        Ok(Some([first, ..])) if first.width > 0.0 => [first.center, first.width],
        _ => crate::render::full_range(&values),
    };
    let inverted = decoded.photometric_interpretation().as_str() == "MONOCHROME1";
    Ok((crate::render::Plane::Grey { values, w, h }, window, inverted))
}

type Plane = (crate::render::Plane, [f64; 2], bool);

/// JPEG Extended (process 2 & 4), the transfer syntax of 12-bit lossy JPEG.
const JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";

/// A frame of 12-bit lossy JPEG, which dicom-rs cannot decode, through libjpeg-turbo
/// ([`crate::jpeg12`]); `None` for any other encoding (dicom-rs decodes those).
fn jpeg12_plane(obj: &DefaultDicomObject, frame: u32, limits: &Limits) -> Option<Result<Plane, DecodeError>> {
    if obj.meta().transfer_syntax().trim_end_matches('\0') != JPEG_EXTENDED {
        return None;
    }
    let fragments = obj.element(dicom_dictionary_std::tags::PIXEL_DATA).ok()?.value().fragments()?;
    let frames = number(obj, "NumberOfFrames").unwrap_or(1).max(1);
    // One frame may span several fragments; several frames take one fragment each.
    let jpeg = if frames == 1 {
        fragments.concat()
    } else if fragments.len() == frames as usize {
        fragments.get(frame as usize)?.clone()
    } else {
        return None;
    };
    if crate::jpeg12::precision(&jpeg) != Some(12) {
        return None;
    }
    let no_pixels = |e: String| DecodeError::Corrupt(format!("no pixels: {e}"));
    Some(crate::jpeg12::decode(&jpeg, limits.max_pixels).map_err(no_pixels).map(|d| {
        let (w, h) = (d.width, d.height);
        if d.channels == 3 {
            let pixels = d.samples.iter().map(|s| (s.clamp(&0, &4095) >> 4) as u8).collect();
            return (crate::render::Plane::Rgb { pixels, w, h }, [127.5, 255.0], false);
        }
        let scalar = |name: &str| obj.element_by_name(name).ok()?.to_float64().ok().filter(|v| v.is_finite());
        let (slope, intercept) = (scalar("RescaleSlope").unwrap_or(1.0), scalar("RescaleIntercept").unwrap_or(0.0));
        let values: Vec<f32> = d.samples.iter().map(|s| (*s as f64 * slope + intercept) as f32).collect();
        let window = match attributes(obj).windows.first() {
            Some(first) => [first.center, first.width],
            None => crate::render::full_range(&values),
        };
        let inverted = text(obj, "PhotometricInterpretation").as_deref() == Some("MONOCHROME1");
        (crate::render::Plane::Grey { values, w, h }, window, inverted)
    }))
}

/// A plane as an 8-bit image through its window (the thumbnail of a 12-bit JPEG DICOM).
fn windowed((plane, [center, width], inverted): Plane) -> DynamicImage {
    match plane {
        crate::render::Plane::Rgb { pixels, w, h } => image::RgbImage::from_raw(w, h, pixels)
            .map(DynamicImage::ImageRgb8)
            .unwrap_or_else(|| DynamicImage::new_rgb8(w, h)),
        crate::render::Plane::Grey { values, w, h } => {
            let low = center - width / 2.0;
            let k = 255.0 / width.max(f64::MIN_POSITIVE);
            let grey = values
                .iter()
                .map(|v| {
                    let g = ((*v as f64 - low) * k).round().clamp(0.0, 255.0) as u8;
                    if inverted { 255 - g } else { g }
                })
                .collect();
            image::GrayImage::from_raw(w, h, grey)
                .map(DynamicImage::ImageLuma8)
                .unwrap_or_else(|| DynamicImage::new_luma8(w, h))
        }
    }
}

fn floats(obj: &DefaultDicomObject, name: &str) -> Option<Vec<f64>> {
    let v = obj.element_by_name(name).ok()?.to_multi_float64().ok()?;
    (!v.is_empty() && v.iter().all(|x| x.is_finite() && *x > 0.0)).then_some(v)
}

/// Millimetres per pixel along the columns (x) and rows (y): Pixel Spacing (at the patient),
/// else Imager Pixel Spacing (at the detector) over the estimated radiographic magnification.
pub fn pixel_spacing(bytes: &[u8], limits: &Limits) -> Result<Option<(f64, f64)>, DecodeError> {
    let obj = parse(bytes, limits)?;
    // DICOM gives row spacing (between rows, y) first, then column spacing (x).
    let pair = |v: Vec<f64>| (v.get(1).copied().unwrap_or(v[0]), v[0]);
    if let Some(v) = floats(&obj, "PixelSpacing") {
        return Ok(Some(pair(v)));
    }
    if let Some(v) = floats(&obj, "ImagerPixelSpacing") {
        let magnification = floats(&obj, "EstimatedRadiographicMagnificationFactor").map_or(1.0, |m| m[0]);
        let (x, y) = pair(v);
        return Ok(Some((x / magnification, y / magnification)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::patient_mismatch;
    use serde_json::json;

    #[test]
    fn a_patient_mismatch_is_told_by_id_or_by_no_shared_name() {
        let file = |name: Option<&str>, id: Option<&str>| json!({"dicom": {"patient_name": name, "patient_id": id}});
        let same = file(Some("KOVAČ^ANA^^DR"), Some("c-1001"));
        assert_eq!(patient_mismatch(&same, "Ana Kovač", Some("C-1001")), None, "case and order do not matter");
        assert_eq!(patient_mismatch(&same, "Ana Kovač", None), None, "a chart without a number: the name decides");
        let other_id = patient_mismatch(&same, "Ana Kovač", Some("C-2002")).expect("another chart number");
        assert!(other_id.contains("C-2002") && !other_id.contains("Patient Name"), "{other_id}");
        let stranger = patient_mismatch(&file(Some("Diaz^Bruno"), None), "Ana Kovač", Some("C-1001"));
        assert!(stranger.expect("another name").contains("Diaz Bruno"));
        assert_eq!(patient_mismatch(&file(None, None), "Ana Kovač", Some("C-1")), None, "anonymised: nothing to say");
        assert_eq!(patient_mismatch(&json!({"mesh": {}}), "Ana", None), None, "not a DICOM");
    }
}
