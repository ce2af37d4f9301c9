//! Import: the real type is sniffed from the file's first bytes and its size checked against
//! that kind's limit; one streaming read copies it into a locked staged file in the blob store
//! while computing its SHA-256 (memory bounded whatever the size); the copy is scanned, then
//! validated — an image decoded once, whole, which also renders its thumbnails; a 3D model or
//! a large DICOM read from disk as it goes — then linked under its address, and one
//! transaction records blob, document, history, change log, pending thumbnails and the audit
//! event. On any error nothing at all is stored, and the staged copy is removed.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use chairside_store::{Actor, Db, rusqlite};
use rusqlite::params;
use serde::Serialize;
use serde_json::json;

use crate::MediaError;
use crate::blobstore::{BlobError, LocalBlobStore, ReceiveError, Received};
use crate::decode::{self, DecodeError, Limits};
use crate::documents::{Kind, write_history};
use crate::error::KeptCopy;
use crate::exif::{self, ExifInfo};
use crate::format::{Format, HEAD as SNIFF_HEAD, Sniffed, sniff};
use crate::pdf::PdfProblem;
use crate::quarantine::QuarantineRun;
use crate::thumbs::{self, Rendered, SIZES};
use chairside_scan::{Scanner, Verdict};

/// Namespace of document ids: a document's id is derived from its patient and its content, so
/// the same photo imported for the same patient on two workstations is one document.
const DOCUMENT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d1f_4c0e_9a57_4a55_b2a4_3c8e_1f00_d0c5);

pub fn document_id_for(patient_id: &str, sha256: &str) -> String {
    uuid::Uuid::new_v5(&DOCUMENT_NAMESPACE, format!("{patient_id}:{sha256}").as_bytes()).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportStatus {
    Imported,
    Duplicate,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportOutcome {
    pub status: ImportStatus,
    pub document_id: String,
    pub sha256: String,
    /// The thumbnails rendered while validating the file (one decode serves both), for the
    /// thumbnail workers to store; `None` for duplicates and files without a preview.
    #[serde(skip)]
    pub thumbnails: Option<Vec<Rendered>>,
    /// What the webview cannot show from the original (a video it cannot play, a HEIC larger
    /// than the largest thumbnail): the workers make it next.
    #[serde(skip)]
    pub wants: Option<crate::Derived>,
}

/// What to import and on whose behalf.
#[derive(Debug, Clone)]
pub struct ImportRequest<'a> {
    pub patient_id: &'a str,
    pub path: &'a Path,
    /// `None`: X-rays for DICOM, `document` for PDF, `other` for photos.
    pub kind: Option<Kind>,
    /// Where the file came from (`cli`, `drop`, `inbox:<folder>`…), kept on the document.
    pub source: &'a str,
    /// When virus scanning is on: what scans the bytes before anything else reads them.
    pub scanner: Option<&'a dyn Scanner>,
}

/// What was learnt about a file while validating it.
struct Inspected {
    format: Format,
    width: Option<u32>,
    height: Option<u32>,
    exif: Option<ExifInfo>,
    /// From EXIF or DICOM, when the file says.
    captured_at: Option<String>,
    /// What the kind of file tells beyond its size: a model's counts and bounding box, a
    /// DICOM's frames and modality (`blobs.details_json`).
    details: Option<serde_json::Value>,
    thumbnails: Option<Vec<Rendered>>,
}

/// Opens an incoming file, refusing what is not a regular file without waiting on it.
fn open_source(path: &Path) -> Result<(File, std::fs::Metadata), MediaError> {
    let shown = path.display().to_string();
    let unreadable = |e: io::Error| MediaError::Unreadable { path: shown.clone(), reason: e.to_string() };
    // A FIFO, socket or device is refused before it is opened: opening a FIFO for reading
    // waits for a writer that may never come.
    let not_regular = || MediaError::Unreadable {
        path: shown.clone(),
        reason: "it is not a regular file (a pipe, socket or device): only files can be imported".into(),
    };
    if !std::fs::metadata(path).map_err(unreadable)?.is_file() {
        return Err(not_regular());
    }
    let file = open_nonblocking(path).map_err(unreadable)?;
    // Checked again on what was opened, in case the name was swapped in between.
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    Ok((file, meta))
}

/// The first [`SNIFF_HEAD`] bytes (fewer for a short file).
fn read_head(file: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF_HEAD);
    file.take(SNIFF_HEAD as u64).read_to_end(&mut head)?;
    Ok(head)
}

fn sniffed(head: &[u8], len: u64, shown: &str) -> Result<Format, MediaError> {
    match sniff(head, len) {
        Sniffed::Supported(f) => Ok(f),
        Sniffed::Unsupported { what, hint } => {
            Err(MediaError::UnsupportedFormat { path: shown.to_string(), what, hint })
        }
    }
}

/// Reads the source once into a locked staged copy in the blob store, hashing as it goes:
/// its kind is known from its first bytes, so a file over its kind's limit is refused before
/// a byte is copied, and memory stays bounded whatever the size.
fn receive(
    path: &Path,
    blobs: &LocalBlobStore,
    limits: &Limits,
) -> Result<(Received, Format, Option<std::time::SystemTime>), MediaError> {
    let shown = path.display().to_string();
    let unreadable = |e: io::Error| MediaError::Unreadable { path: shown.clone(), reason: e.to_string() };
    let (mut file, meta) = open_source(path)?;
    if meta.len() == 0 {
        return Err(MediaError::EmptyFile { path: shown });
    }
    let format = sniffed(&read_head(&mut file).map_err(unreadable)?, meta.len(), &shown)?;
    if let Some(named) = Format::family_of_name(path).filter(|&f| f != format.family()) {
        return Err(MediaError::ContentMismatch { path: shown, named: named.into(), found: format.family().into() });
    }
    let limit = format.max_bytes(limits);
    if meta.len() > limit {
        return Err(MediaError::TooLarge { path: shown, size: meta.len(), limit });
    }
    file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    let received = blobs.receive(&mut file, limit).map_err(|e| match e {
        ReceiveError::TooLarge => MediaError::TooLarge { path: shown.clone(), size: limit + 1, limit },
        ReceiveError::Read(e) => unreadable(e),
        ReceiveError::Write(BlobError::Io { source, .. }) => MediaError::Write(source),
        ReceiveError::Write(other) => MediaError::Write(io::Error::other(other.to_string())),
    })?;
    if received.len == 0 {
        return Err(MediaError::EmptyFile { path: shown });
    }
    // The source may have changed between the sniff and the copy: what decides is the copy.
    let mut copy = File::open(received.path()).map_err(MediaError::Write)?;
    let format = sniffed(&read_head(&mut copy).map_err(MediaError::Write)?, received.len, &shown)?;
    if received.len > format.max_bytes(limits) {
        return Err(MediaError::TooLarge { path: shown, size: received.len, limit: format.max_bytes(limits) });
    }
    Ok((received, format, meta.modified().ok()))
}

/// Opens for reading without ever blocking on a FIFO swapped in after the check (O_NONBLOCK
/// has no effect on the reads of a regular file).
fn open_nonblocking(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Validates the staged copy: a mesh or a DICOM over the whole-file limit is read from disk as
/// it goes; anything else (within the photo limit) is read whole and decoded once.
fn inspect(copy: &Received, format: Format, shown: &str, limits: &Limits) -> Result<Inspected, MediaError> {
    let corrupt = |reason: String| MediaError::Corrupt {
        path: shown.to_string(),
        format: format!("{format:?}").to_uppercase(),
        reason,
    };
    if format.is_mesh() {
        let largest = SIZES[SIZES.len() - 1];
        let (info, pixels, w, h) = crate::mesh::inspect_and_draw_file(copy.path(), format, copy.len, limits, largest)
            .map_err(|e| decode_error(e, shown, limits, &corrupt))?;
        let rendered = thumbs::render_from(pixels, w, h, decode::Dimensions { width: w, height: h }, 1)
            .map_err(|e| decode_error(e, shown, limits, &corrupt))?;
        // A model's width and height are its picture's (the occlusal view): what the grid
        // lays out.
        return Ok(Inspected {
            format,
            width: Some(w),
            height: Some(h),
            exif: None,
            captured_at: None,
            details: Some(json!({ "mesh": info })),
            thumbnails: Some(rendered),
        });
    }
    if format.is_video() {
        let largest = SIZES[SIZES.len() - 1];
        let (info, exif, poster) = decode::guarded("video", || crate::video::inspect(copy.path(), limits, largest))
            .and_then(|r| r)
            .map_err(|e| decode_error(e, shown, limits, &corrupt))?;
        let dims = decode::Dimensions { width: poster.width, height: poster.height };
        let rendered = thumbs::render_from(poster.rgb, poster.width, poster.height, dims, 1)
            .map_err(|e| decode_error(e, shown, limits, &corrupt))?;
        return Ok(Inspected {
            format,
            width: Some(info.width),
            height: Some(info.height),
            captured_at: exif.captured_at.clone(),
            exif: Some(exif),
            details: Some(json!({ "video": info })),
            thumbnails: Some(rendered),
        });
    }
    if format == Format::Dicom && copy.len > limits.max_bytes {
        let info =
            crate::dicom::inspect_large(copy.path(), limits).map_err(|e| decode_error(e, shown, limits, &corrupt))?;
        return Ok(Inspected {
            format,
            width: info.width,
            height: info.height,
            exif: None,
            captured_at: info.captured_at.clone(),
            details: Some(json!({ "dicom": info.details() })),
            thumbnails: None,
        });
    }
    let bytes = std::fs::read(copy.path()).map_err(MediaError::Write)?;
    let bytes = bytes.as_slice();
    let corrupt = |reason: String| MediaError::Corrupt {
        path: shown.to_string(),
        format: format!("{format:?}").to_uppercase(),
        reason,
    };
    match format {
        Format::Pdf => {
            // A PDF's trailer ends with %%EOF; a cut-off download or scan lacks it.
            let tail = &bytes[bytes.len().saturating_sub(2048)..];
            if !tail.windows(5).any(|w| w == b"%%EOF") {
                return Err(corrupt("it ends before the PDF end-of-file marker".into()));
            }
            let pages = match crate::pdf::check(bytes, limits) {
                Ok(info) => info.pages,
                Err(PdfProblem::Damaged(reason)) => return Err(corrupt(reason)),
                Err(PdfProblem::Encrypted) => return Err(MediaError::Encrypted { path: shown.to_string() }),
                Err(PdfProblem::Active(what)) => {
                    return Err(MediaError::ActiveContent { path: shown.to_string(), what });
                }
            };
            // The first page is its thumbnail; one poppler cannot draw leaves it without. Its
            // size is the first page's as a 300 dpi scan.
            let size = crate::pdf_pages::first_page_pixels(bytes);
            Ok(Inspected {
                format,
                width: size.map(|s| s.0),
                height: size.map(|s| s.1),
                exif: None,
                captured_at: None,
                details: Some(json!({ "pdf": { "pages": pages } })),
                thumbnails: thumbs::render(bytes, format, 1, limits).ok(),
            })
        }
        Format::Dicom => {
            let info = crate::dicom::inspect(bytes, limits).map_err(|e| decode_error(e, shown, limits, &corrupt))?;
            // A valid DICOM whose pixel encoding we can't draw is still stored ("no preview").
            let thumbnails = thumbs::render(bytes, format, 1, limits).ok();
            Ok(Inspected {
                format,
                width: info.width,
                height: info.height,
                exif: None,
                details: Some(json!({ "dicom": info.details() })),
                captured_at: info.captured_at,
                thumbnails,
            })
        }
        _ => {
            let dims = decode::probe(bytes, format, limits).map_err(|e| decode_error(e, shown, limits, &corrupt))?;
            let mut exif = exif::read(bytes, format);
            if format.is_heif()
                && let Some(e) = exif.as_mut()
            {
                // libheif has already turned the pixels as the file says.
                e.orientation = None;
            }
            let orientation = exif.as_ref().and_then(|e| e.orientation).unwrap_or(1);
            // Rendering the thumbnails decodes every byte of the image data (libjpeg-turbo
            // runs the whole entropy decoder even at a reduced scale), so it is also the proof
            // that the file is intact: one decode instead of two.
            let rendered = thumbs::render(bytes, format, orientation, limits)
                .map_err(|e| decode_error(e, shown, limits, &corrupt))?;
            let captured_at = exif.as_ref().and_then(|e| e.captured_at.clone());
            // A fax or a scanned batch: its pages are shown one at a time.
            let pages = match format {
                Format::Tiff => {
                    crate::tiff_pages::count(bytes, limits).map_err(|e| decode_error(e, shown, limits, &corrupt))?
                }
                _ => 1,
            };
            Ok(Inspected {
                format,
                width: Some(dims.width),
                height: Some(dims.height),
                exif,
                captured_at,
                details: (pages > 1).then(|| json!({ "tiff": { "pages": pages } })),
                thumbnails: Some(rendered),
            })
        }
    }
}

fn decode_error(e: DecodeError, shown: &str, limits: &Limits, corrupt: &dyn Fn(String) -> MediaError) -> MediaError {
    match e {
        DecodeError::TooManyPixels { width, height } => MediaError::TooManyPixels {
            path: shown.to_string(),
            width,
            height,
            limit_mp: limits.max_pixels / 1_000_000,
        },
        DecodeError::TooManyBytes { width, height, bytes } => MediaError::TooManyBytes {
            path: shown.to_string(),
            width,
            height,
            mb: bytes.div_ceil(1 << 20),
            limit_mb: limits.max_decoded_bytes >> 20,
        },
        DecodeError::Corrupt(reason) => corrupt(reason),
    }
}

/// Imports one file for one patient. On error nothing is stored (no blob row, no document,
/// no thumbnail); a blob file written just before a failed commit is unreferenced and is
/// found by `verify`.
pub fn import_file(
    db: &Db,
    blobs: &LocalBlobStore,
    quarantine: &Path,
    limits: &Limits,
    actor: &Actor,
    req: &ImportRequest<'_>,
) -> Result<ImportOutcome, MediaError> {
    let clinic_id = db.read(|c| chairside_patients::clinic_of(c, req.patient_id).map_err(MediaError::from))?;
    let shown = req.path.display().to_string();
    let (copy, format, modified) = match receive(req.path, blobs, limits) {
        Ok(received) => received,
        // Not a kind we store, so not stored; but malware on a USB stick is worth saying so
        // (and keeping a copy of) rather than only "unsupported".
        Err(refused @ MediaError::UnsupportedFormat { .. }) => {
            return Err(req.scanner.and_then(|s| scan_refused(s, quarantine, req, limits)).unwrap_or(refused));
        }
        Err(e) => return Err(e),
    };
    let sha256 = copy.sha256.clone();
    let document_id = document_id_for(req.patient_id, &sha256);
    let exists = |c: &rusqlite::Connection| -> Result<bool, MediaError> {
        Ok(c.query_row("SELECT EXISTS (SELECT 1 FROM documents WHERE id = ?1)", [&document_id], |r| r.get(0))?)
    };
    if db.read(exists)? {
        return Ok(ImportOutcome {
            status: ImportStatus::Duplicate,
            document_id,
            sha256,
            thumbnails: None,
            wants: None,
        });
    }
    // Scanned before any parser sees the bytes; what is scanned is exactly what is stored.
    if let Some(scanner) = req.scanner {
        let mut staged = File::open(copy.path()).map_err(MediaError::Write)?;
        match scanner.scan_stream(&mut staged) {
            Ok(Verdict::Clean) => {}
            Ok(Verdict::Infected { signature }) => {
                let kept = keep_infected(quarantine, req, &sha256, copy.path(), &signature);
                return Err(MediaError::Infected { path: shown, signature, kept });
            }
            Err(source) => return Err(MediaError::Scan { path: shown, source }),
        }
    }
    // Decoders run guarded: a panic in one refuses this file, not the import of the others.
    let info = decode::guarded("import", || inspect(&copy, format, &shown, limits)).map_err(|e| {
        decode_error(e, &shown, limits, &|reason| MediaError::Corrupt {
            path: shown.clone(),
            format: "file".into(),
            reason,
        })
    })??;

    // Held (locked) until the transaction below has committed: see `StagedBlob`.
    let byte_size = copy.len as i64;
    let _staged = copy.into_place(blobs).map_err(|e| match e {
        BlobError::Io { source, .. } => MediaError::Write(source),
        other => MediaError::Write(io::Error::other(other.to_string())),
    })?;

    let kind = req.kind.unwrap_or(match info.format {
        Format::Dicom => Kind::Xray,
        Format::Pdf => Kind::Document,
        _ => Kind::Other,
    });
    let orientation = info.exif.as_ref().and_then(|e| e.orientation).unwrap_or(1);
    let now = chairside_store::now_rfc3339();
    // The camera's own time when it has one; else the file's time (sensor software writes the
    // file when the image is taken); else now.
    let captured_at = info
        .captured_at
        .clone()
        .or_else(|| {
            modified
                .map(|m| chrono::DateTime::<chrono::Utc>::from(m).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        })
        .unwrap_or_else(|| now.clone());
    let original_filename = req.path.file_name().map(|n| n.to_string_lossy().into_owned());
    let exif_json = info.exif.as_ref().map(|e| serde_json::to_string(e).unwrap_or_default());

    let new = NewDocument {
        document_id: &document_id,
        clinic_id: &clinic_id,
        sha256: &sha256,
        byte_size,
        kind,
        orientation,
        original_filename: original_filename.as_deref(),
        captured_at: &captured_at,
        exif_json: exif_json.as_deref(),
        now: &now,
        no_preview: info.format.no_preview_reason(byte_size as u64, limits),
    };
    db.write(|tx| {
        // Checked again under the write lock: another import of the same bytes may have won.
        if exists(tx)? {
            return Ok(ImportOutcome {
                status: ImportStatus::Duplicate,
                document_id: document_id.clone(),
                sha256: sha256.clone(),
                thumbnails: None,
                wants: None,
            });
        }
        record_import(tx, actor, req, &info, &new)?;
        Ok(ImportOutcome {
            status: ImportStatus::Imported,
            document_id: document_id.clone(),
            sha256: sha256.clone(),
            thumbnails: None,
            wants: None,
        })
    })
    .map(|mut outcome: ImportOutcome| {
        if outcome.status == ImportStatus::Imported {
            let unplayable = info.details.as_ref().and_then(|d| d["video"]["playable"].as_bool()) == Some(false);
            let long = info.width.max(info.height).unwrap_or(0);
            outcome.wants = if unplayable {
                Some(crate::Derived::Proxy)
            } else if info.format.is_heif() && long > SIZES[SIZES.len() - 1] {
                Some(crate::Derived::Full)
            } else {
                None
            };
            outcome.thumbnails = info.thumbnails;
        }
        outcome
    })
}

/// Scans a file refused for its kind straight from its source (at most the photo limit):
/// `Some` when it is infected, to report instead of the refusal (a scan that fails leaves the
/// refusal as it was: the file is not stored either way).
fn scan_refused(
    scanner: &dyn Scanner,
    quarantine: &Path,
    req: &ImportRequest<'_>,
    limits: &Limits,
) -> Option<MediaError> {
    struct Hashing<R>(R, sha2::Sha256);
    impl<R: Read> Read for Hashing<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read(buf)?;
            sha2::Digest::update(&mut self.1, &buf[..n]);
            Ok(n)
        }
    }
    let shown = req.path.display().to_string();
    let (file, _) = open_source(req.path).ok()?;
    let mut reader = Hashing(file.take(limits.max_bytes), <sha2::Sha256 as sha2::Digest>::new());
    match scanner.scan_stream(&mut reader) {
        Ok(Verdict::Clean) => None,
        Ok(Verdict::Infected { signature }) => {
            let sha256 = hex::encode(sha2::Digest::finalize(reader.1));
            let kept = keep_infected(quarantine, req, &sha256, req.path, &signature);
            Some(MediaError::Infected { path: shown, signature, kept })
        }
        Err(_) => None,
    }
}

/// Keeps a copy of exactly the bytes the scanner flagged, with a note of why, under
/// `quarantine/<stamp>/infected/<sha256>/`: the IT person can hand it to whoever investigates,
/// and the source (a USB stick, a mail attachment) is left as it was.
fn keep_infected(quarantine: &Path, req: &ImportRequest<'_>, sha256: &str, copy: &Path, signature: &str) -> KeptCopy {
    let name = req.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    let why = json!({
        "signature": signature,
        "sha256": sha256,
        "from": req.path.display().to_string(),
        "patient_id": req.patient_id,
        "source": req.source,
        "at": chairside_store::now_rfc3339(),
    });
    let run = QuarantineRun::now(quarantine);
    let kept = run.keep_copy("infected", &Path::new(sha256).join(&name), copy).and_then(|p| {
        run.keep("infected", &Path::new(sha256).join(format!("{name}.why.json")), why.to_string().as_bytes()).map(|_| p)
    });
    match kept {
        Ok(p) => KeptCopy::Quarantined(p),
        Err(e) => KeptCopy::NotKept(e.to_string()),
    }
}

/// A document about to be recorded: what `import_file` found out about the file.
struct NewDocument<'a> {
    document_id: &'a str,
    clinic_id: &'a str,
    sha256: &'a str,
    byte_size: i64,
    kind: Kind,
    orientation: u16,
    original_filename: Option<&'a str>,
    captured_at: &'a str,
    exif_json: Option<&'a str>,
    now: &'a str,
    /// Why it gets no thumbnails, if it gets none.
    no_preview: Option<&'static str>,
}

/// Writes one imported document — its blob row, the document, its pending thumbnails, history,
/// change log and audit event — inside the caller's transaction.
fn record_import(
    tx: &rusqlite::Connection,
    actor: &Actor,
    req: &ImportRequest<'_>,
    info: &Inspected,
    new: &NewDocument<'_>,
) -> Result<(), MediaError> {
    let NewDocument {
        document_id,
        clinic_id,
        sha256,
        byte_size,
        kind,
        orientation,
        original_filename,
        captured_at,
        exif_json,
        now,
        no_preview,
    } = *new;
    tx.execute(
        "INSERT OR IGNORE INTO blobs (sha256, byte_size, mime, width, height, orientation, exif_json, details_json, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            sha256,
            byte_size,
            info.format.mime(),
            info.width,
            info.height,
            orientation,
            exif_json,
            info.details.as_ref().map(|d| d.to_string()),
            now
        ],
    )?;
    tx.execute(
        &format!(
            "INSERT INTO documents (id, clinic_id, patient_id, sha256, kind, mime, byte_size, width, height, orientation,
                thumbs_ready, original_filename, captured_at, imported_at, imported_by, workstation, source, status, version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?12, ?13, ?14, ?15, ?16, {}, ?6, ?7, ?8, ?9, ?10, ?11, 'active', 1)",
            crate::thumbs::thumbs_ready_sql("?4")
        ),
        params![
            document_id,
            clinic_id,
            req.patient_id,
            sha256,
            kind.as_str(),
            original_filename,
            captured_at,
            now,
            actor.user,
            actor.workstation,
            req.source,
            info.format.mime(),
            byte_size,
            info.width,
            info.height,
            orientation
        ],
    )?;
    let thumb_status = if no_preview.is_none() { "pending" } else { "unsupported" };
    for size in SIZES {
        tx.execute(
            "INSERT OR IGNORE INTO thumbnails (sha256, size, status, error, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![sha256, size, thumb_status, no_preview, now],
        )?;
    }
    let fields = [
        ("clinic_id", json!(clinic_id)),
        ("patient_id", json!(req.patient_id)),
        ("sha256", json!(sha256)),
        ("kind", json!(kind.as_str())),
        ("original_filename", json!(original_filename)),
        ("captured_at", json!(captured_at)),
        ("status", json!("active")),
    ];
    write_history(tx, actor, document_id, 1, "import", &json!({"kind": kind.as_str(), "source": req.source}))?;
    chairside_store::record_change(tx, actor, "document", document_id, &fields)?;
    chairside_audit::append(
        tx,
        actor,
        "import",
        "document",
        Some(document_id),
        json!({"sha256": sha256, "patient_id": req.patient_id, "source": req.source, "original_filename": original_filename}),
    )?;
    Ok(())
}
