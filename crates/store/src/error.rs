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
    /// The database's pages did not come out whole and in order (`db::read_pages`).
    #[error("the library database could not be read whole as of one moment ({0}): verify the library, then try again")]
    TornRead(String),
}

/// What every error a domain crate returns offers the shells: a stable code for scripts and
/// the UI (never changed once released) and whether the caller's input was at fault (nothing
/// was changed). Its message (`Display`) says what happened and, where no shell is involved,
/// what to do; when the next step is something a shell offers, [`ErrorCode::remedy`] names it
/// and each shell says it in its own words (the CLI a command, the desktop a screen).
pub trait ErrorCode: std::error::Error {
    fn code(&self) -> &'static str;
    fn is_invalid_input(&self) -> bool;
    fn remedy(&self) -> Option<Remedy> {
        None
    }
}

/// A next step a shell offers, named by a domain crate that knows nothing of shells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Look the patient up again (the id is wrong or the record is not here).
    FindPatient,
    /// Look the document up again in the patient's documents.
    FindDocument,
    /// Pick one of the series templates the clinic has.
    ListSeriesTemplates,
    /// Verify the library: it re-hashes every original and says what to do about each.
    VerifyLibrary,
    /// Set sync up (the bucket's address, name and keys).
    ConfigureSync,
    /// Enter the bucket's secret key again.
    EnterSyncSecret,
    /// Use an https:// address, or allow plain HTTP by name for a network the clinic trusts.
    AllowInsecureHttp,
    /// Trust the clinic's own certificate authority, when it issued the server's certificate.
    TrustClinicCa,
    /// Set sync up again with the clinic's passphrase (the bucket's key is not this one's).
    EnterSyncPassphrase,
    /// Encrypt the unencrypted bucket in place, with a new clinic key.
    EncryptBucket,
    /// Finish the re-sealing pass (encrypting, or rotating the key) where it was started.
    FinishReseal,
}

impl Remedy {
    /// The step in words that name no shell's command, for any shell without its own.
    pub fn advice(self) -> &'static str {
        match self {
            Remedy::FindPatient => "check the id in the patient list",
            Remedy::FindDocument => "check the id in the patient's documents",
            Remedy::ListSeriesTemplates => "pick one of the clinic's series templates",
            Remedy::VerifyLibrary => "verify the library, which checks every original and says what to do",
            Remedy::ConfigureSync => "set sync up with the bucket's address, name and keys",
            Remedy::EnterSyncSecret => "set sync up again, with the bucket's secret key",
            Remedy::AllowInsecureHttp => {
                "use an https:// address, or allow plain HTTP explicitly, only on a network the clinic trusts"
            }
            Remedy::TrustClinicCa => {
                "if the clinic issued the server's certificate, set sync up with its certificate authority; otherwise check the address's host name"
            }
            Remedy::EnterSyncPassphrase => "set sync up again with the clinic's passphrase",
            Remedy::EncryptBucket => "encrypt the bucket in place, which makes the clinic key and its passphrase",
            Remedy::FinishReseal => "run the same re-sealing again on the workstation that started it",
        }
    }
}

impl ErrorCode for StoreError {
    fn code(&self) -> &'static str {
        match self {
            StoreError::DiskFull => "disk_full",
            StoreError::ReadOnly => "read_only",
            StoreError::Busy => "busy",
            StoreError::TooNew { .. } => "library_too_new",
            StoreError::Open { .. } => "cannot_open_library",
            StoreError::TornRead(_) => "database_torn_read",
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
