use std::path::PathBuf;

use chairside_clinical_notes::NoteError;
use chairside_media::MediaError;
use chairside_patients::PatientError;
use chairside_series::SeriesError;
use chairside_store::StoreError;
use chairside_treatment_plan::PlanError;
use serde::Serialize;

/// Everything the app API can fail with. Shells show [`AppError::to_string`] to people and
/// hand [`AppError::code`] to scripts and the UI.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(
        "cannot use the data folder {path}: {source}. Choose a folder you may write to with --data-dir or CHAIRSIDE_DATA_DIR"
    )]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("no data folder could be determined for this user: set --data-dir or CHAIRSIDE_DATA_DIR")]
    NoDataDir,
    #[error(
        "{dir} holds originals, but its library database (library.sqlite3) is missing or empty. Chairside will not start a new, empty library over them and has changed nothing. Put library.sqlite3 back from the latest backup of this folder; or, if the clinic syncs to a bucket, open a new, empty library folder connected to that bucket, which brings the records back"
    )]
    DatabaseMissing { dir: PathBuf },
    #[error(
        "the user name {0:?} contains control characters (a line break, a tab, an escape…): set CHAIRSIDE_USER to a plain name"
    )]
    BadUserName(String),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Patient(#[from] PatientError),
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Series(#[from] chairside_series::SeriesError),
    #[error(transparent)]
    Teeth(#[from] chairside_teeth::ToothError),
    /// Input refused before anything changed; the message says what to give instead.
    #[error("{0}")]
    InvalidInput(String),
    #[error("the inbox could not start: {0}")]
    Inbox(String),
    #[error(transparent)]
    Sync(chairside_sync::SyncError),
}

impl From<chairside_store::rusqlite::Error> for AppError {
    fn from(e: chairside_store::rusqlite::Error) -> Self {
        AppError::Store(e.into())
    }
}

fn store_code(e: &StoreError) -> &'static str {
    match e {
        StoreError::DiskFull => "disk_full",
        StoreError::ReadOnly => "read_only",
        StoreError::Busy => "busy",
        StoreError::TooNew { .. } => "library_too_new",
        StoreError::Open { .. } => "cannot_open_library",
        _ => "database_error",
    }
}

impl AppError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::DataDir { .. } | AppError::NoDataDir => "data_dir_unusable",
            AppError::DatabaseMissing { .. } => "library_database_missing",
            AppError::BadUserName(_) => "invalid_user_name",
            AppError::Media(e) => e.code(),
            AppError::Sync(e) => e.code(),
            AppError::Patient(PatientError::NotFound(_)) => "patient_not_found",
            AppError::Patient(PatientError::ClinicNotFound(_)) => "clinic_not_found",
            AppError::Patient(PatientError::DuplicateExternalId(_)) => "duplicate_external_id",
            AppError::Patient(PatientError::EmptyName | PatientError::BadBirthDate(_)) => "invalid_input",
            AppError::Patient(PatientError::Store(e)) => store_code(e),
            AppError::Note(NoteError::NotFound(_)) => "note_not_found",
            AppError::Note(NoteError::PatientNotFound(_)) => "patient_not_found",
            AppError::Note(NoteError::EmptyText) => "invalid_input",
            AppError::Note(NoteError::Store(e)) => store_code(e),
            AppError::Plan(PlanError::PlanNotFound(_)) => "plan_not_found",
            AppError::Plan(PlanError::ItemNotFound(_)) => "plan_item_not_found",
            AppError::Plan(PlanError::PatientNotFound(_)) => "patient_not_found",
            AppError::Plan(PlanError::EmptyTitle) => "invalid_input",
            AppError::Plan(PlanError::Store(e)) => store_code(e),
            AppError::Store(e) => store_code(e),
            AppError::Series(e) => match e {
                SeriesError::NotFound(_) => "series_not_found",
                SeriesError::TemplateNotFound(_) => "template_not_found",
                SeriesError::PatientNotFound(_) => "patient_not_found",
                SeriesError::NoSuchSlot { .. } | SeriesError::InvalidTemplate(_) => "invalid_input",
                SeriesError::Store(e) => store_code(e),
            },
            AppError::Teeth(_) => "invalid_teeth",
            AppError::InvalidInput(_) => "invalid_input",
            AppError::Inbox(_) => "inbox_unavailable",
        }
    }

    /// True when the caller's input was at fault (and nothing was changed).
    pub fn is_invalid_input(&self) -> bool {
        match self {
            AppError::Media(e) => e.is_invalid_input(),
            AppError::Patient(PatientError::Store(_))
            | AppError::Note(NoteError::Store(_))
            | AppError::Plan(PlanError::Store(_)) => false,
            AppError::Patient(_) | AppError::Note(_) | AppError::Plan(_) => true,
            AppError::Teeth(_) | AppError::InvalidInput(_) | AppError::BadUserName(_) => true,
            AppError::Series(SeriesError::Store(_)) => false,
            AppError::Series(_) => true,
            AppError::Sync(chairside_sync::SyncError::InvalidConfig(_)) => true,
            _ => false,
        }
    }

    pub fn to_payload(&self) -> ErrorPayload {
        ErrorPayload { code: self.code().to_string(), message: self.to_string() }
    }
}

/// The serialisable form of an error: a stable code and a message for people.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
}
