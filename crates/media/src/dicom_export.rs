//! `export --format dicom`: a folder to burn on a CD or copy to a USB stick, as dental
//! referrals travel — `DICOMDIR` at its root and one DICOM file per document under `DICOM/`.
//! X-rays imported as DICOM are copied byte for byte (hash-checked); photos are wrapped as VL
//! Photographic Image objects with the patient and study filled from the chart: a baseline
//! JPEG shown as stored keeps its bytes (JPEG Baseline transfer syntax), anything else (PNG,
//! HEIC, a progressive or rotated JPEG) goes as its pixels, uncompressed. Documents without an
//! image (a PDF, a video, a 3D scan) are listed as skipped.
//!
//! The DICOMDIR is written here (explicit VR little endian, records of defined length, so each
//! record's byte offset is known before it is written): dicom-rs reads DICOMDIRs but does not
//! lay one out. The test reads the folder back with dcmtk and dicom3tools.

use std::io::Write;
use std::path::{Path, PathBuf};

use dicom_core::value::PixelFragmentSequence;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject, OpenFileOptions};
use serde::Serialize;

use crate::documents::DocumentSummary;
use crate::{Format, MediaError};

/// Storage classes and transfer syntaxes this writes.
const VL_PHOTOGRAPHIC: &str = "1.2.840.10008.5.1.4.1.1.77.1.4";
const MEDIA_DIRECTORY: &str = "1.2.840.10008.1.3.10";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
/// Chairside's implementation class UID (a UUID-derived `2.25` root) and version name.
const IMPLEMENTATION_UID: &str = "2.25.196712254388734180218436012358746573124";
const IMPLEMENTATION_VERSION: &str = "CHAIRSIDE_1";

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DicomExport {
    pub path: String,
    /// Documents written as DICOM files.
    pub documents: usize,
    pub bytes: u64,
    /// Documents with no image to send as DICOM (a PDF, a video, a 3D scan).
    pub skipped: Vec<String>,
}

/// What a document became: its file and what the DICOMDIR says of it.
struct Entry {
    file_id: [String; 2],
    sop_class: String,
    sop_instance: String,
    transfer_syntax: String,
    study: Study,
    series_uid: String,
    modality: String,
    series_number: String,
    instance_number: String,
}

#[derive(Clone, PartialEq)]
struct Study {
    uid: String,
    date: String,
    time: String,
    id: String,
    accession: String,
    description: String,
}

/// The chart, as every wrapped photo carries it.
pub struct Chart<'a> {
    pub name: &'a str,
    /// The chart number (PatientID); the internal id when there is none.
    pub id: &'a str,
    pub birth_date: Option<&'a str>,
}

/// A UID under the `2.25` root (ISO/IEC 9834-8: a UUID as one decimal number), derived from a
/// name so a second export of the same documents gives the same UIDs.
fn uid(name: &str) -> String {
    format!("2.25.{}", uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).as_u128())
}

/// A chart's name as DICOM's `Family^Given`: the last word is taken for the family name
/// (a name already written with `^` is kept).
fn person_name(name: &str) -> String {
    let name = name.trim();
    if name.contains('^') {
        return name.to_string();
    }
    match name.rsplit_once(' ') {
        Some((given, family)) => format!("{}^{}", family.trim(), given.trim()),
        None => name.to_string(),
    }
}

/// `YYYYMMDD` and `HHMMSS` of a stored time (RFC 3339 or EXIF's local `YYYY-MM-DDTHH:MM:SS`).
fn da_tm(text: Option<&str>) -> (String, String) {
    let t = text.unwrap_or("");
    let date: String = t.get(0..10).unwrap_or("").chars().filter(char::is_ascii_digit).collect();
    let time: String = t.get(11..19).unwrap_or("").chars().filter(char::is_ascii_digit).collect();
    let date = if date.len() == 8 { date } else { chrono::Utc::now().format("%Y%m%d").to_string() };
    let time = if time.len() == 6 { time } else { "000000".to_string() };
    (date, time)
}

/// Whether a JPEG's frame is baseline (SOF0), which JPEG Baseline (Process 1) carries as is.
fn is_baseline_jpeg(bytes: &[u8]) -> bool {
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return false;
        }
        let marker = bytes[at + 1];
        match marker {
            0xC0 => return bytes.get(at + 4) == Some(&8),
            0xC1..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => return false,
            0xD8 | 0x01 | 0xD0..=0xD7 => at += 2,
            _ => {
                let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
                at += 2 + len;
            }
        }
    }
    false
}

/// A VL Photographic Image object of one photo, with the chart's patient and the export's
/// study, and its transfer syntax.
fn photo_object(
    chart: &Chart<'_>,
    study: &Study,
    series_uid: &str,
    doc: &DocumentSummary,
    instance: usize,
    pixels: Pixels,
) -> Result<(Vec<u8>, &'static str), MediaError> {
    let text = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let mut obj = InMemDicomObject::new_empty();
    let (content_date, content_time) = da_tm(doc.captured_at.as_deref());
    let sop_instance = uid(&format!("chairside:document:{}", doc.id));
    for e in [
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"),
        text(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY"),
        text(tags::SOP_CLASS_UID, VR::UI, VL_PHOTOGRAPHIC),
        text(tags::SOP_INSTANCE_UID, VR::UI, &sop_instance),
        text(tags::STUDY_DATE, VR::DA, &study.date),
        text(tags::CONTENT_DATE, VR::DA, &content_date),
        text(tags::STUDY_TIME, VR::TM, &study.time),
        text(tags::CONTENT_TIME, VR::TM, &content_time),
        text(tags::ACCESSION_NUMBER, VR::SH, ""),
        text(tags::MODALITY, VR::CS, "XC"),
        text(tags::MANUFACTURER, VR::LO, "Chairside"),
        text(tags::REFERRING_PHYSICIAN_NAME, VR::PN, ""),
        text(tags::STUDY_DESCRIPTION, VR::LO, &study.description),
        text(tags::SERIES_DESCRIPTION, VR::LO, doc.kind.as_str()),
        text(tags::PATIENT_NAME, VR::PN, &person_name(chart.name)),
        text(tags::PATIENT_ID, VR::LO, chart.id),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, &chart.birth_date.unwrap_or("").replace('-', "")),
        text(tags::PATIENT_SEX, VR::CS, ""),
        text(tags::STUDY_INSTANCE_UID, VR::UI, &study.uid),
        text(tags::SERIES_INSTANCE_UID, VR::UI, series_uid),
        text(tags::STUDY_ID, VR::SH, &study.id),
        text(tags::SERIES_NUMBER, VR::IS, "1"),
        text(tags::INSTANCE_NUMBER, VR::IS, &instance.to_string()),
        text(tags::PATIENT_ORIENTATION, VR::CS, ""),
        text(tags::LATERALITY, VR::CS, ""),
        DataElement::new(
            tags::ACQUISITION_CONTEXT_SEQUENCE,
            VR::SQ,
            dicom_core::value::DataSetSequence::<InMemDicomObject>::empty(),
        ),
    ] {
        obj.put(e);
    }
    let (ts, rows, cols) = match pixels {
        Pixels::Jpeg { bytes, width, height } => {
            for e in [
                text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "YBR_FULL_422"),
                text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "01"),
                text(tags::LOSSY_IMAGE_COMPRESSION_METHOD, VR::CS, "ISO_10918_1"),
            ] {
                obj.put(e);
            }
            let mut fragment = bytes;
            if fragment.len() % 2 == 1 {
                fragment.push(0);
            }
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                PixelFragmentSequence::new(Vec::<u32>::new(), vec![fragment]),
            ));
            (JPEG_BASELINE, height, width)
        }
        Pixels::Rgb(image) => {
            let (w, h) = image.dimensions();
            obj.put(text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "RGB"));
            obj.put(text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"));
            obj.put(DataElement::new(tags::PLANAR_CONFIGURATION, VR::US, PrimitiveValue::from(0u16)));
            obj.put(DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::from(image.into_raw())));
            (EXPLICIT_LE, h, w)
        }
    };
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let (rows, cols) = (
        u16::try_from(rows).map_err(|_| export_err("the photo is taller than DICOM's 65,535 rows"))?,
        u16::try_from(cols).map_err(|_| export_err("the photo is wider than DICOM's 65,535 columns"))?,
    );
    for e in [
        us(tags::SAMPLES_PER_PIXEL, 3),
        us(tags::ROWS, rows),
        us(tags::COLUMNS, cols),
        us(tags::BITS_ALLOCATED, 8),
        us(tags::BITS_STORED, 8),
        us(tags::HIGH_BIT, 7),
        us(tags::PIXEL_REPRESENTATION, 0),
    ] {
        obj.put(e);
    }
    if ts == JPEG_BASELINE {
        obj.put(DataElement::new(tags::PLANAR_CONFIGURATION, VR::US, PrimitiveValue::from(0u16)));
    }
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(ts)
                .implementation_class_uid(IMPLEMENTATION_UID)
                .implementation_version_name(IMPLEMENTATION_VERSION),
        )
        .map_err(|e| export_err(format!("DICOM file meta: {e}")))?;
    let mut out = Vec::new();
    file.write_all(&mut out).map_err(|e| export_err(format!("writing DICOM: {e}")))?;
    Ok((out, ts))
}

/// A photo's pixels as they go into its DICOM object.
pub(crate) enum Pixels {
    /// A baseline JPEG kept as stored.
    Jpeg { bytes: Vec<u8>, width: u32, height: u32 },
    /// Decoded, as displayed.
    Rgb(image::RgbImage),
}

fn export_err(msg: impl Into<String>) -> MediaError {
    MediaError::Export(msg.into())
}

/// How a document goes out.
pub(crate) enum Plan {
    /// A DICOM file, copied.
    Copy,
    /// A photo, wrapped; `keep_jpeg` when its bytes can stay as they are.
    Wrap {
        keep_jpeg: bool,
    },
    Skip,
}

pub(crate) fn plan(doc: &DocumentSummary) -> Plan {
    match Format::from_mime(doc.mime) {
        Some(Format::Dicom) => Plan::Copy,
        // DICOM counts rows and columns in 16 bits: a larger panorama is left out, not failed.
        Some(_) if doc.width.max(doc.height).is_some_and(|edge| edge > u32::from(u16::MAX)) => Plan::Skip,
        Some(f) if doc.width.is_some() && (f.image_format().is_some() || f.is_heif()) => {
            Plan::Wrap { keep_jpeg: f == Format::Jpeg && doc.orientation <= 1 }
        }
        _ => Plan::Skip,
    }
}

/// Reads what the DICOMDIR needs from a copied DICOM file.
fn copied_entry(path: &Path, doc: &DocumentSummary, file_id: [String; 2]) -> Result<Entry, MediaError> {
    let obj = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(path)
        .map_err(|e| export_err(format!("document {} is not a DICOM file a DICOMDIR can name: {e}", doc.id)))?;
    let get = |tag| {
        obj.element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.to_str().ok().map(|s| s.trim().trim_end_matches('\0').to_string()))
            .unwrap_or_default()
    };
    let (date, time) = da_tm(doc.captured_at.as_deref());
    let or = |v: String, d: &str| if v.is_empty() { d.to_string() } else { v };
    let study_uid = get(tags::STUDY_INSTANCE_UID);
    if study_uid.is_empty() || get(tags::SERIES_INSTANCE_UID).is_empty() {
        return Err(export_err(format!("document {} has no study or series UID", doc.id)));
    }
    Ok(Entry {
        file_id,
        sop_class: obj.meta().media_storage_sop_class_uid().trim_end_matches('\0').to_string(),
        sop_instance: obj.meta().media_storage_sop_instance_uid().trim_end_matches('\0').to_string(),
        transfer_syntax: obj.meta().transfer_syntax().trim_end_matches('\0').to_string(),
        study: Study {
            uid: study_uid,
            date: or(get(tags::STUDY_DATE), &date),
            time: or(get(tags::STUDY_TIME), &time),
            id: or(get(tags::STUDY_ID), "1"),
            accession: get(tags::ACCESSION_NUMBER),
            description: get(tags::STUDY_DESCRIPTION),
        },
        series_uid: get(tags::SERIES_INSTANCE_UID),
        modality: or(get(tags::MODALITY), "OT"),
        series_number: or(get(tags::SERIES_NUMBER), "1"),
        instance_number: or(get(tags::INSTANCE_NUMBER), "1"),
    })
}

/// Writes the folder's files and DICOMDIR into `dir` (new, empty, private); `source` gives
/// each document: a DICOM original streamed (hash-checked) into the file it is handed, a JPEG's
/// bytes, or rendered pixels.
pub(crate) fn write_folder(
    dir: &Path,
    chart: &Chart<'_>,
    patient_key: &str,
    docs: &[DocumentSummary],
    limits: &crate::Limits,
    mut source: impl FnMut(&DocumentSummary, &Plan, &mut std::fs::File) -> Result<Source, MediaError>,
) -> Result<(usize, Vec<String>), MediaError> {
    let files = dir.join("DICOM");
    chairside_store::private::create_dir_all(&files)
        .map_err(|e| MediaError::io(format!("creating {}", files.display()), e))?;
    let (date, time) = da_tm(Some(&chrono::Utc::now().to_rfc3339()));
    let photos_study = Study {
        uid: uid(&format!("chairside:photos:{patient_key}")),
        date,
        time,
        id: "1".into(),
        accession: String::new(),
        description: "Clinical photographs (Chairside)".into(),
    };
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for doc in docs {
        let plan = plan(doc);
        if matches!(plan, Plan::Skip) {
            skipped.push(doc.id.clone());
            continue;
        }
        let n = entries.len() + 1;
        let name = format!("I{n:07}");
        let file_id = ["DICOM".to_string(), name.clone()];
        let path: PathBuf = files.join(&name);
        let series = series_uid(patient_key, doc);
        let mut file = chairside_store::private::create_new(&path)
            .map_err(|e| MediaError::io(format!("creating {}", path.display()), e))?;
        let (bytes, ts) = match source(doc, &plan, &mut file)? {
            Source::Written => (Vec::new(), ""),
            // A JPEG shown as stored: kept as it is when baseline, else decoded.
            Source::Bytes(b) => {
                let (w, h) = (doc.width.unwrap_or(0), doc.height.unwrap_or(0));
                let pixels = if is_baseline_jpeg(&b) {
                    Pixels::Jpeg { bytes: b, width: w, height: h }
                } else {
                    Pixels::Rgb(
                        crate::decode::decode_full(&b, Format::Jpeg, limits)
                            .map_err(|e| MediaError::Render(e.to_string()))?
                            .to_rgb8(),
                    )
                };
                photo_object(chart, &photos_study, &series, doc, n, pixels)?
            }
            Source::Pixels(image) => photo_object(chart, &photos_study, &series, doc, n, Pixels::Rgb(image))?,
        };
        file.write_all(&bytes).and_then(|_| file.sync_all()).map_err(MediaError::Write)?;
        drop(file);
        let entry = match plan {
            Plan::Copy => copied_entry(&path, doc, file_id)?,
            _ => Entry {
                file_id,
                sop_class: VL_PHOTOGRAPHIC.into(),
                sop_instance: uid(&format!("chairside:document:{}", doc.id)),
                transfer_syntax: ts.into(),
                study: photos_study.clone(),
                series_uid: series,
                modality: "XC".into(),
                series_number: "1".into(),
                instance_number: n.to_string(),
            },
        };
        entries.push(entry);
    }
    if entries.is_empty() {
        return Err(MediaError::Export("none of these documents is an image or a DICOM file to send as DICOM".into()));
    }
    let path = dir.join("DICOMDIR");
    chairside_store::private::write_new(&path, &dicomdir(chart, &entries))
        .map_err(|e| MediaError::io(format!("writing {}", path.display()), e))?;
    Ok((entries.len(), skipped))
}

/// What `write_folder` is given for a document.
pub(crate) enum Source {
    /// A DICOM original, already streamed into the file (hash-checked on the way).
    Written,
    /// A JPEG's bytes, hash-checked, to keep as they are when baseline.
    Bytes(Vec<u8>),
    /// The image as displayed.
    Pixels(image::RgbImage),
}

fn series_uid(patient_key: &str, doc: &DocumentSummary) -> String {
    uid(&format!("chairside:series:{patient_key}:{}", doc.kind.as_str()))
}

// ---- the DICOMDIR, by hand: explicit VR little endian ----

/// One element, its value padded to even length (spaces for text, NUL for UIDs and bytes).
fn element(out: &mut Vec<u8>, tag: (u16, u16), vr: &[u8; 2], value: &[u8]) {
    let pad = match vr {
        b"UI" | b"OB" | b"UL" | b"US" => 0u8,
        _ => b' ',
    };
    let len = value.len() + value.len() % 2;
    out.extend_from_slice(&tag.0.to_le_bytes());
    out.extend_from_slice(&tag.1.to_le_bytes());
    out.extend_from_slice(vr);
    if matches!(vr, b"OB" | b"SQ" | b"UN" | b"UT") {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(len as u16).to_le_bytes());
    }
    out.extend_from_slice(value);
    if value.len() % 2 == 1 {
        out.push(pad);
    }
}

fn ul(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// A directory record's elements after its three offsets-and-flags, in tag order.
enum Record<'a> {
    Patient(&'a Chart<'a>),
    Study(&'a Study),
    Series { modality: &'a str, uid: &'a str, number: &'a str },
    Image(&'a Entry),
}

impl Record<'_> {
    fn kind(&self) -> &'static [u8] {
        match self {
            Record::Patient(_) => b"PATIENT",
            Record::Study(_) => b"STUDY",
            Record::Series { .. } => b"SERIES",
            Record::Image(_) => b"IMAGE",
        }
    }

    /// The item: `next` and `lower` are the byte offsets of the next record on this level and
    /// of the first one below (0: none).
    fn item(&self, next: u32, lower: u32) -> Vec<u8> {
        let mut b = Vec::new();
        element(&mut b, (0x0004, 0x1400), b"UL", &ul(next));
        element(&mut b, (0x0004, 0x1410), b"US", &0xFFFFu16.to_le_bytes());
        element(&mut b, (0x0004, 0x1420), b"UL", &ul(lower));
        element(&mut b, (0x0004, 0x1430), b"CS", self.kind());
        match self {
            Record::Patient(chart) => {
                element(&mut b, (0x0008, 0x0005), b"CS", b"ISO_IR 192");
                element(&mut b, (0x0010, 0x0010), b"PN", person_name(chart.name).as_bytes());
                element(&mut b, (0x0010, 0x0020), b"LO", chart.id.as_bytes());
            }
            Record::Study(s) => {
                element(&mut b, (0x0008, 0x0005), b"CS", b"ISO_IR 192");
                element(&mut b, (0x0008, 0x0020), b"DA", s.date.as_bytes());
                element(&mut b, (0x0008, 0x0030), b"TM", s.time.as_bytes());
                element(&mut b, (0x0008, 0x0050), b"SH", s.accession.as_bytes());
                element(&mut b, (0x0008, 0x1030), b"LO", s.description.as_bytes());
                element(&mut b, (0x0020, 0x000D), b"UI", s.uid.as_bytes());
                element(&mut b, (0x0020, 0x0010), b"SH", s.id.as_bytes());
            }
            Record::Series { modality, uid, number } => {
                element(&mut b, (0x0008, 0x0060), b"CS", modality.as_bytes());
                element(&mut b, (0x0020, 0x000E), b"UI", uid.as_bytes());
                element(&mut b, (0x0020, 0x0011), b"IS", number.as_bytes());
            }
            Record::Image(e) => {
                element(&mut b, (0x0004, 0x1500), b"CS", e.file_id.join("\\").as_bytes());
                element(&mut b, (0x0004, 0x1510), b"UI", e.sop_class.as_bytes());
                element(&mut b, (0x0004, 0x1511), b"UI", e.sop_instance.as_bytes());
                element(&mut b, (0x0004, 0x1512), b"UI", e.transfer_syntax.as_bytes());
                element(&mut b, (0x0020, 0x0013), b"IS", e.instance_number.as_bytes());
            }
        }
        let mut item = Vec::with_capacity(b.len() + 8);
        item.extend_from_slice(&0xFFFEu16.to_le_bytes());
        item.extend_from_slice(&0xE000u16.to_le_bytes());
        item.extend_from_slice(&(b.len() as u32).to_le_bytes());
        item.extend_from_slice(&b);
        item
    }
}

/// The DICOMDIR of one patient's entries: PATIENT → STUDY → SERIES → IMAGE, in first-seen order.
fn dicomdir(chart: &Chart<'_>, entries: &[Entry]) -> Vec<u8> {
    /// A series of a study, with its images.
    struct Series<'a> {
        first: &'a Entry,
        images: Vec<&'a Entry>,
    }
    let mut studies: Vec<(&Study, Vec<Series<'_>>)> = Vec::new();
    for e in entries {
        let si = match studies.iter().position(|(s, _)| s.uid == e.study.uid) {
            Some(i) => i,
            None => {
                studies.push((&e.study, Vec::new()));
                studies.len() - 1
            }
        };
        let series = &mut studies[si].1;
        match series.iter_mut().find(|s| s.first.series_uid == e.series_uid) {
            Some(s) => s.images.push(e),
            None => series.push(Series { first: e, images: vec![e] }),
        }
    }
    // The records as (record, depth), in the order they are written.
    let mut records: Vec<(Record<'_>, usize)> = vec![(Record::Patient(chart), 0)];
    for (study, series) in &studies {
        records.push((Record::Study(study), 1));
        for s in series {
            let f = s.first;
            records.push((Record::Series { modality: &f.modality, uid: &f.series_uid, number: &f.series_number }, 2));
            for e in &s.images {
                records.push((Record::Image(e), 3));
            }
        }
    }
    // The next record on the same level, and the first one below, by index.
    let next_of = |i: usize| {
        let depth = records[i].1;
        records[i + 1..].iter().position(|(_, d)| *d <= depth).map(|j| i + 1 + j).filter(|&j| records[j].1 == depth)
    };
    let lower_of = |i: usize| (i + 1 < records.len() && records[i + 1].1 == records[i].1 + 1).then_some(i + 1);

    let mut meta = Vec::new();
    let instance = uid(&format!("chairside:dicomdir:{}:{}", chart.id, entries.len()));
    element(&mut meta, (0x0002, 0x0001), b"OB", &[0, 1]);
    element(&mut meta, (0x0002, 0x0002), b"UI", MEDIA_DIRECTORY.as_bytes());
    element(&mut meta, (0x0002, 0x0003), b"UI", instance.as_bytes());
    element(&mut meta, (0x0002, 0x0010), b"UI", EXPLICIT_LE.as_bytes());
    element(&mut meta, (0x0002, 0x0012), b"UI", IMPLEMENTATION_UID.as_bytes());
    element(&mut meta, (0x0002, 0x0013), b"SH", IMPLEMENTATION_VERSION.as_bytes());
    let mut head = vec![0u8; 128];
    head.extend_from_slice(b"DICM");
    element(&mut head, (0x0002, 0x0000), b"UL", &ul(meta.len() as u32));
    head.extend_from_slice(&meta);
    let dataset_head = |first: u32, last: u32, items_len: u32| {
        let mut d = Vec::new();
        element(&mut d, (0x0004, 0x1130), b"CS", b"CHAIRSIDE");
        element(&mut d, (0x0004, 0x1200), b"UL", &ul(first));
        element(&mut d, (0x0004, 0x1202), b"UL", &ul(last));
        element(&mut d, (0x0004, 0x1212), b"US", &0u16.to_le_bytes());
        // The sequence header; its items follow.
        d.extend_from_slice(&0x0004u16.to_le_bytes());
        d.extend_from_slice(&0x1220u16.to_le_bytes());
        d.extend_from_slice(b"SQ\0\0");
        d.extend_from_slice(&items_len.to_le_bytes());
        d
    };
    // Sizes do not depend on the offsets' values: lay out once with zeros, then for real.
    let sizes: Vec<usize> = records.iter().map(|(r, _)| r.item(0, 0).len()).collect();
    let start = (head.len() + dataset_head(0, 0, 0).len()) as u32;
    let mut offsets = Vec::with_capacity(sizes.len());
    let mut at = start;
    for s in &sizes {
        offsets.push(at);
        at += *s as u32;
    }
    let items_len = at - start;
    let off = |i: Option<usize>| i.map_or(0, |i| offsets[i]);
    // The root level holds the one PATIENT record.
    let mut out = head;
    out.extend_from_slice(&dataset_head(offsets[0], offsets[0], items_len));
    for (i, (r, _)) in records.iter().enumerate() {
        out.extend_from_slice(&r.item(off(next_of(i)), off(lower_of(i))));
    }
    out
}

/// Reads a written folder back: the DICOMDIR parses and every file it was written with opens.
pub(crate) fn check_folder(dir: &Path) -> Result<(), MediaError> {
    OpenFileOptions::new()
        .open_file(dir.join("DICOMDIR"))
        .map_err(|e| export_err(format!("the DICOMDIR does not read back: {e}")))?;
    for f in std::fs::read_dir(dir.join("DICOM")).map_err(|e| MediaError::io("reading the DICOM folder back", e))? {
        let f = f.map_err(|e| MediaError::io("reading the DICOM folder back", e))?;
        OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .open_file(f.path())
            .map_err(|e| export_err(format!("{} does not read back: {e}", f.path().display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn baseline_jpegs_are_told_from_progressive_ones() {
        let img = image::RgbImage::from_fn(16, 8, |x, y| image::Rgb([x as u8 * 9, y as u8 * 20, 70]));
        let mut baseline = Cursor::new(Vec::new());
        img.write_to(&mut baseline, image::ImageFormat::Jpeg).expect("jpeg");
        assert!(is_baseline_jpeg(baseline.get_ref()));
        let mut progressive = baseline.into_inner();
        // SOF0 → SOF2 (progressive): no longer what JPEG Baseline carries.
        let at = progressive.windows(2).position(|w| w == [0xFF, 0xC0]).expect("SOF0");
        progressive[at + 1] = 0xC2;
        assert!(!is_baseline_jpeg(&progressive));
        assert!(!is_baseline_jpeg(b"not a jpeg"));
    }

    #[test]
    fn names_become_family_caret_given() {
        assert_eq!(person_name("Zoë Dentiste"), "Dentiste^Zoë");
        assert_eq!(person_name("Maria de la Cruz"), "Cruz^Maria de la");
        assert_eq!(person_name("Cher"), "Cher");
        assert_eq!(person_name("Doe^Jane"), "Doe^Jane");
    }
}
