use chairside_patients::PatientError;
use chairside_store::{ErrorCode, Remedy, StoreError, rusqlite};

/// Where an infected file's copy went (or why none could be kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeptCopy {
    Quarantined(std::path::PathBuf),
    NotKept(String),
}

impl std::fmt::Display for KeptCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeptCopy::Quarantined(p) => write!(f, "a copy is kept in {} for your IT person", p.display()),
            KeptCopy::NotKept(why) => write!(f, "no copy could be kept ({why})"),
        }
    }
}

/// Errors of the media module. Each has a stable [`code`](MediaError::code) for scripts and the
/// UI, and a message that says what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    // --- the file offered for import was rejected; nothing was stored ---
    #[error("{path}: cannot read the file: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}: the file is empty (0 bytes)")]
    EmptyFile { path: String },
    #[error("{path}: the file is {size} bytes, more than the {limit}-byte limit")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error(
        "{path}: {what} is not a supported image or document (JPEG, PNG, TIFF, WebP, BMP, HEIC, AVIF, DICOM, PDF, STL, PLY, OBJ, MP4, MOV, WebM): {hint}"
    )]
    UnsupportedFormat { path: String, what: String, hint: String },
    #[error(
        "{path}: its name says {named} but its content is {found}: nothing was stored (a renamed or mixed-up file? check where it came from, then give it the right extension)"
    )]
    ContentMismatch { path: String, named: String, found: String },
    #[error(
        "{path}: the image claims {width} × {height} pixels, more than the {limit_mp} megapixel limit (a decompression bomb or an unusual file): nothing was stored"
    )]
    TooManyPixels { path: String, width: u64, height: u64, limit_mp: u64 },
    #[error(
        "{path}: the image ({width} × {height}) would take {mb} MB to decode, more than the {limit_mb} MB limit (a decompression bomb or an unusual file): nothing was stored"
    )]
    TooManyBytes { path: String, width: u64, height: u64, mb: u64, limit_mb: u64 },
    #[error(
        "{path}: the PDF carries active content ({what}): a scanned document never does. Print it to a new PDF (or scan the paper again) and import that"
    )]
    ActiveContent { path: String, what: String },
    #[error("{path}: the file is password-protected: save an unprotected copy and import that")]
    Encrypted { path: String },
    #[error(
        "{path}: the {format} file is damaged or incomplete ({reason}): copy it again from the camera or sensor software"
    )]
    Corrupt { path: String, format: String, reason: String },
    #[error(
        "{path}: the virus scanner found {signature}. The file was refused and {kept}. Do not open it; have the device or mail it came from checked"
    )]
    Infected { path: String, signature: String, kept: KeptCopy },
    #[error(
        "{path}: not imported: {source}. While virus scanning is on, imports wait for the scanner: start the ClamAV daemon, or turn scanning off in the settings"
    )]
    Scan { path: String, source: chairside_scan::ScanError },

    // --- lookups ---
    #[error("no document with id {0}")]
    DocumentNotFound(String),
    #[error(transparent)]
    Patient(#[from] PatientError),
    #[error("{0:?} is not a document kind: use intraoral, extraoral, xray, document or other")]
    BadKind(String),
    #[error("{0:?} is not a document status: use active, archived or all")]
    BadStatus(String),
    #[error("{0:?} is not a time: use RFC 3339, for example 2026-03-01T10:30:00Z")]
    BadTime(String),

    // --- the viewer's edits ---
    #[error("the edit was refused: {0}. Nothing was changed")]
    InvalidEdit(String),
    #[error("the annotation was refused: {0}. Nothing was changed")]
    InvalidAnnotation(String),
    #[error("the calibration was refused: {0}. Nothing was changed")]
    InvalidCalibration(String),
    #[error("no annotation {0} on this document: list them with `annotations DOC_ID`")]
    AnnotationNotFound(String),
    #[error("document {id} ({mime}) has no pixels to adjust, annotate or measure")]
    NotAnImage { id: String, mime: String },
    #[error("document {id} ({mime}) is not a video")]
    NotAVideo { id: String, mime: String },
    #[error(
        "a playable copy of this video is being made (its codec does not play in the app as it is): try again in a moment"
    )]
    VideoPreparing { id: String },
    #[error("no adjustment preset named {0:?}: the built-in ones are caries, endo, perio, soft-tissue and inverted")]
    UnknownPreset(String),
    #[error("the move was refused: {0}. Nothing was changed")]
    MoveRefused(String),
    #[error("rendering failed: {0}")]
    Render(String),

    // --- attachments ---
    #[error("link refused: {0}")]
    Link(String),
    #[error("no live link from document {document_id} to {owner_type} {owner_id}")]
    LinkNotFound { document_id: String, owner_type: String, owner_id: String },

    // --- storage ---
    #[error("the original of blob {sha256} is missing from the library")]
    BlobMissing { sha256: String },
    #[error(
        "the original of blob {sha256} does not match its SHA-256 (found {actual}), so it has been damaged on disk"
    )]
    BlobCorrupt { sha256: String, actual: String },
    #[error(
        "writing to the library failed: {0}. Check free disk space and that the data folder is writable; nothing was half-stored"
    )]
    Write(std::io::Error),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("export failed: {0}")]
    Export(String),
    #[error("{0} already exists: choose another file name (nothing was written)")]
    ExportTargetExists(String),
    #[error(
        "export to {path} failed: the disk holding it is full. Free space there or choose another destination; nothing was left behind"
    )]
    ExportDiskFull { path: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for MediaError {
    fn from(e: rusqlite::Error) -> Self {
        MediaError::Store(e.into())
    }
}

impl ErrorCode for MediaError {
    fn code(&self) -> &'static str {
        MediaError::code(self)
    }
    fn is_invalid_input(&self) -> bool {
        MediaError::is_invalid_input(self)
    }
    fn remedy(&self) -> Option<Remedy> {
        match self {
            MediaError::DocumentNotFound(_) => Some(Remedy::FindDocument),
            MediaError::Patient(e) => e.remedy(),
            MediaError::BlobMissing { .. } | MediaError::BlobCorrupt { .. } => Some(Remedy::VerifyLibrary),
            _ => None,
        }
    }
}

impl MediaError {
    /// A stable, machine-readable code (never changes once released).
    pub fn code(&self) -> &'static str {
        match self {
            MediaError::Unreadable { .. } => "unreadable_file",
            MediaError::EmptyFile { .. } => "empty_file",
            MediaError::TooLarge { .. } => "file_too_large",
            MediaError::UnsupportedFormat { .. } => "unsupported_format",
            MediaError::ContentMismatch { .. } => "content_mismatch",
            MediaError::TooManyPixels { .. } | MediaError::TooManyBytes { .. } => "too_many_pixels",
            MediaError::Corrupt { .. } => "corrupt_file",
            MediaError::Infected { .. } => "virus_found",
            MediaError::Scan { source, .. } => source.code(),
            MediaError::ActiveContent { .. } => "active_content",
            MediaError::Encrypted { .. } => "encrypted_file",
            MediaError::DocumentNotFound(_) => "document_not_found",
            MediaError::Patient(e) => e.code(),
            MediaError::BadKind(_) => "invalid_kind",
            MediaError::BadStatus(_) => "invalid_status",
            MediaError::BadTime(_) => "invalid_time",
            MediaError::InvalidEdit(_) => "invalid_edit",
            MediaError::InvalidAnnotation(_) => "invalid_annotation",
            MediaError::InvalidCalibration(_) => "invalid_calibration",
            MediaError::AnnotationNotFound(_) => "annotation_not_found",
            MediaError::NotAnImage { .. } => "not_an_image",
            MediaError::NotAVideo { .. } => "not_a_video",
            MediaError::VideoPreparing { .. } => "video_preparing",
            MediaError::UnknownPreset(_) => "unknown_preset",
            MediaError::MoveRefused(_) => "move_refused",
            MediaError::Render(_) => "render_failed",
            MediaError::Link(_) => "link_refused",
            MediaError::LinkNotFound { .. } => "link_not_found",
            MediaError::BlobMissing { .. } => "blob_missing",
            MediaError::BlobCorrupt { .. } => "blob_corrupt",
            MediaError::Write(e) if e.kind() == std::io::ErrorKind::StorageFull => "disk_full",
            MediaError::Write(e) if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem => "read_only",
            MediaError::Write(e) if e.kind() == std::io::ErrorKind::PermissionDenied => "read_only",
            MediaError::Write(_) => "write_failed",
            MediaError::Io { .. } => "io_error",
            MediaError::Export(_) => "export_failed",
            MediaError::ExportTargetExists(_) => "target_exists",
            MediaError::ExportDiskFull { .. } => "disk_full",
            MediaError::Store(StoreError::DiskFull) => "disk_full",
            MediaError::Store(StoreError::ReadOnly) => "read_only",
            MediaError::Store(_) => "database_error",
        }
    }

    /// True when the error is about the input (a rejected file, an unknown id, a refused link):
    /// the caller can fix it, and nothing was changed.
    pub fn is_invalid_input(&self) -> bool {
        if let MediaError::Patient(e) = self {
            return e.is_invalid_input();
        }
        matches!(
            self,
            MediaError::Unreadable { .. }
                | MediaError::EmptyFile { .. }
                | MediaError::TooLarge { .. }
                | MediaError::UnsupportedFormat { .. }
                | MediaError::ContentMismatch { .. }
                | MediaError::TooManyPixels { .. }
                | MediaError::TooManyBytes { .. }
                | MediaError::Corrupt { .. }
                | MediaError::Infected { .. }
                | MediaError::ActiveContent { .. }
                | MediaError::Encrypted { .. }
                | MediaError::ExportTargetExists(_)
                | MediaError::DocumentNotFound(_)
                | MediaError::BadKind(_)
                | MediaError::BadStatus(_)
                | MediaError::BadTime(_)
                | MediaError::Link(_)
                | MediaError::LinkNotFound { .. }
                | MediaError::InvalidEdit(_)
                | MediaError::InvalidAnnotation(_)
                | MediaError::InvalidCalibration(_)
                | MediaError::AnnotationNotFound(_)
                | MediaError::NotAnImage { .. }
                | MediaError::NotAVideo { .. }
                | MediaError::UnknownPreset(_)
                | MediaError::MoveRefused(_)
        )
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        MediaError::Io { context: context.into(), source }
    }
}
