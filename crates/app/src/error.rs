use std::path::PathBuf;

use chairside_clinical_notes::NoteError;
use chairside_media::MediaError;
use chairside_patients::PatientError;
use chairside_store::{ErrorCode, Remedy, StoreError};
use chairside_treatment_plan::PlanError;
use serde::Serialize;

/// Everything the app API can fail with. Shells show [`AppError::message_with`] to people (the
/// message and the next step in the shell's words) and hand [`AppError::code`] to scripts and
/// the UI.
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
    #[error(transparent)]
    Backup(#[from] chairside_backup::BackupError),
    #[error(
        "a restore into {dir} was cut short, so the library there may lack originals and is not opened: restore again into a new, empty folder (and remove this one)"
    )]
    RestoreIncomplete { dir: PathBuf },
    #[error(
        "the library's disk has only {} MB free, and imports stop at {} MB so the library never fills it: free some space, or lower the threshold in the Health settings",
        .free / 1_000_000, .min / 1_000_000
    )]
    DiskSpaceLow { free: u64, min: u64 },
    /// Turning scanning on was refused: the daemon does not answer (nothing was changed).
    #[error("{0}: virus scanning stays as it was; start the ClamAV daemon (Debian: clamav-daemon) and try again")]
    Scanner(chairside_scan::ScanError),
    #[error(transparent)]
    Users(#[from] chairside_users::UsersError),
    /// Nobody is signed in (or the window is locked): the library has users.
    #[error("{0}")]
    AuthRequired(String),
    /// A wrong name, password or PIN, or a disabled account; nothing was changed.
    #[error("{0}")]
    AuthFailed(String),
    /// Too many wrong attempts under this name on this workstation.
    #[error(
        "too many wrong attempts for {name:?}: sign-in is locked for {seconds} more seconds (the delay grows with each wrong attempt)"
    )]
    LockedOut { name: String, seconds: u64 },
    /// The signed-in user's role lacks a permission; nothing was changed.
    #[error("{user} ({role}) may not {}: the role lacks the permission {:?}; the clinic's owner can grant it to the role", .permission.describe(), .permission.as_str())]
    Forbidden { user: String, role: String, permission: chairside_users::Permission },
}

impl From<chairside_store::rusqlite::Error> for AppError {
    fn from(e: chairside_store::rusqlite::Error) -> Self {
        AppError::Store(e.into())
    }
}

impl AppError {
    /// A stable machine-readable code: the failing crate's own (see [`ErrorCode`]).
    pub fn code(&self) -> &'static str {
        match self {
            AppError::DataDir { .. } | AppError::NoDataDir => "data_dir_unusable",
            AppError::DatabaseMissing { .. } => "library_database_missing",
            AppError::RestoreIncomplete { .. } => "restore_incomplete",
            AppError::DiskSpaceLow { .. } => "disk_space_low",
            AppError::Scanner(e) => e.code(),
            AppError::BadUserName(_) => "invalid_user_name",
            AppError::InvalidInput(_) => "invalid_input",
            AppError::Inbox(_) => "inbox_unavailable",
            AppError::AuthRequired(_) => "auth_required",
            AppError::AuthFailed(_) => "auth_failed",
            AppError::LockedOut { .. } => "locked_out",
            AppError::Forbidden { .. } => "forbidden",
            _ => self.domain().map(ErrorCode::code).unwrap_or("internal_error"),
        }
    }

    /// True when access was refused (not signed in, a wrong secret, locked out, not
    /// permitted): nothing was changed, and the CLI exits 3.
    pub fn is_access_refused(&self) -> bool {
        matches!(
            self,
            AppError::AuthRequired(_)
                | AppError::AuthFailed(_)
                | AppError::LockedOut { .. }
                | AppError::Forbidden { .. }
        )
    }

    /// True when the caller's input was at fault (and nothing was changed).
    pub fn is_invalid_input(&self) -> bool {
        match self {
            AppError::AuthRequired(_)
            | AppError::AuthFailed(_)
            | AppError::LockedOut { .. }
            | AppError::Forbidden { .. } => true,
            AppError::InvalidInput(_) | AppError::BadUserName(_) => true,
            _ => self.domain().is_some_and(ErrorCode::is_invalid_input),
        }
    }

    /// The next step a shell offers, when the failure has one.
    pub fn remedy(&self) -> Option<Remedy> {
        self.domain().and_then(ErrorCode::remedy)
    }

    /// The message for people: what happened, then the next step as `words` says it (each
    /// shell names its own commands or screens).
    pub fn message_with(&self, words: impl Fn(Remedy) -> &'static str) -> String {
        match self.remedy() {
            Some(r) => format!("{self}: {}", words(r)),
            None => self.to_string(),
        }
    }

    /// The payload with the next step in words of no particular shell.
    pub fn to_payload(&self) -> ErrorPayload {
        self.payload_with(Remedy::advice)
    }

    pub fn payload_with(&self, words: impl Fn(Remedy) -> &'static str) -> ErrorPayload {
        ErrorPayload { code: self.code().to_string(), message: self.message_with(words) }
    }

    /// The domain crate's error this one wraps, if any.
    fn domain(&self) -> Option<&dyn ErrorCode> {
        Some(match self {
            AppError::Media(e) => e,
            AppError::Patient(e) => e,
            AppError::Note(e) => e,
            AppError::Plan(e) => e,
            AppError::Store(e) => e,
            AppError::Series(e) => e,
            AppError::Teeth(e) => e,
            AppError::Sync(e) => e,
            AppError::Backup(e) => e,
            AppError::Users(e) => e,
            AppError::AuthRequired(_)
            | AppError::AuthFailed(_)
            | AppError::LockedOut { .. }
            | AppError::Forbidden { .. }
            | AppError::RestoreIncomplete { .. }
            | AppError::DiskSpaceLow { .. }
            | AppError::Scanner(_)
            | AppError::DataDir { .. }
            | AppError::NoDataDir
            | AppError::DatabaseMissing { .. }
            | AppError::BadUserName(_)
            | AppError::InvalidInput(_)
            | AppError::Inbox(_) => return None,
        })
    }
}

/// The serialisable form of an error: a stable code and a message for people.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
}
