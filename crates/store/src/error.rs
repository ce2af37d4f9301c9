use std::path::PathBuf;

/// What can go wrong reaching the library database, phrased so a user knows what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the library database {path}: {source}. Check that the folder exists and that you may write to it"
    )]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "the library {path} was written by a newer Chairside (schema version {found}, this build knows up to {known}): update Chairside before opening it"
    )]
    TooNew { path: PathBuf, found: u32, known: u32 },
    #[error(
        "upgrading the library to schema {version} ({name}) failed: {source}. The library was left at the previous version"
    )]
    Migration { version: u32, name: String, source: rusqlite::Error },
    #[error("the disk holding the library is full: free some space and try again (nothing was saved)")]
    DiskFull,
    #[error("the library folder is read-only: check its permissions or choose another data folder (nothing was saved)")]
    ReadOnly,
    #[error("the library is busy: another Chairside process held it too long; try again")]
    Busy,
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("cannot write the audit trail's anchor {0}: check that the folder is writable")]
    Anchor(String),
}

/// What every error a domain crate returns offers the shells: a stable code for scripts and
/// the UI (never changed once released) and whether the caller's input was at fault (nothing
/// was changed). Its message (`Display`) says what happened and what to do about it.
pub trait ErrorCode: std::error::Error {
    fn code(&self) -> &'static str;
    fn is_invalid_input(&self) -> bool;
}

impl ErrorCode for StoreError {
    fn code(&self) -> &'static str {
        match self {
            StoreError::DiskFull => "disk_full",
            StoreError::ReadOnly => "read_only",
            StoreError::Busy => "busy",
            StoreError::TooNew { .. } => "library_too_new",
            StoreError::Open { .. } => "cannot_open_library",
            _ => "database_error",
        }
    }
    fn is_invalid_input(&self) -> bool {
        false
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::DiskFull,
            Some(ErrorCode::ReadOnly) | Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) => {
                StoreError::ReadOnly
            }
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Busy,
            _ => StoreError::Sqlite(e),
        }
    }
}
