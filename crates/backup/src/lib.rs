//! Backups without a bucket: a folder on a USB disk or a mounted NAS share that holds
//! point-in-time snapshots of the library database and every original and thumbnail they
//! name, checked by SHA-256 when written, when verified and when restored.
//!
//! The layout of a backup folder (`DIR`):
//!
//! ```text
//! DIR/chairside-backup.json            which library backs up here (one library per folder)
//! DIR/blobs/ab/cd/<sha256>             originals, content-addressed as in the library: each
//! DIR/thumbs/<size>/ab/<sha256>.jpg    run copies only what the folder lacks
//! DIR/dbchunks/ab/<sha256>             the databases' pages, 64 KiB chunks, content-addressed:
//!                                      a run writes only the chunks that changed
//! DIR/snapshots/<UTC stamp>/database.chunks   the database as of one moment: its chunks in order
//! DIR/snapshots/<UTC stamp>/files.tsv         every file that database names, with its hash
//! DIR/snapshots/<UTC stamp>/manifest.json     the snapshot's facts and its files' hashes
//! ```
//!
//! A snapshot is written under `snapshots/<stamp>.partial/` and renamed into place only once
//! every file it names has been copied and checked and its manifest is durable, so a backup
//! cut short (a power cut, a pulled disk) leaves no snapshot that looks whole; the next run
//! removes the partial one. Originals are never removed from a backup folder; only database
//! snapshots beyond the newest `keep` are.

mod check;
mod files;
mod restore;
pub mod settings;
mod take;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use check::{list, verify};
pub use restore::{RESTORE_MARKER, abandon as abandon_restore, finish as finish_restore, restore};
pub use settings::{BackupRun, BackupSchedule};
pub use take::{BackupSource, backup};

/// The marker naming the library a backup folder belongs to.
pub const FOLDER_FILE: &str = "chairside-backup.json";
const FOLDER_FORMAT: &str = "chairside-backup/1";
/// Format 2 keeps the database as content-addressed chunks (`dbchunks/`) named by a list in
/// the snapshot; format 1 kept a whole copy in each snapshot. Both are read.
const SNAPSHOT_FORMAT: &str = "chairside-backup-snapshot/2";
const SNAPSHOT_FORMATS_READ: [&str; 2] = ["chairside-backup-snapshot/1", SNAPSHOT_FORMAT];
/// The database snapshots kept when the clinic has not said otherwise (two weeks of dailies).
pub const DEFAULT_KEEP: usize = 14;

/// How to take a backup.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Database snapshots to keep (the newest; at least 1).
    pub keep: usize,
    /// The folder must already be a backup of this library: set for scheduled runs, so an
    /// unplugged USB disk is reported as missing instead of a new backup starting on the
    /// empty mount point beneath it.
    pub require_existing: bool,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions { keep: DEFAULT_KEEP, require_existing: false }
    }
}

/// What one backup run did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupReport {
    pub target: PathBuf,
    /// The new snapshot's name (its UTC time, `20261202T134501Z`; `…Z-002` for a second one
    /// in the same second).
    pub snapshot: String,
    pub created_at: String,
    pub originals: u64,
    pub originals_bytes: u64,
    /// Originals this workstation has never downloaded (kept in the clinic's bucket): named by
    /// the snapshot, not in the folder.
    pub originals_not_here: u64,
    pub thumbnails: u64,
    /// Files copied by this run (the others were in the folder already).
    pub files_copied: u64,
    pub bytes_copied: u64,
    pub database_bytes: u64,
    /// Bytes of the database written by this run: only the parts that changed since the last.
    pub database_bytes_written: u64,
    /// Snapshots removed because more than `keep` were there.
    pub snapshots_removed: Vec<String>,
    /// Files of the library that could not be backed up (damaged or unreadable originals):
    /// the snapshot is still written, and names them as missing.
    pub problems: Vec<String>,
    pub seconds: f64,
}

/// A snapshot in a backup folder.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotInfo {
    pub name: String,
    pub created_at: String,
    pub originals: u64,
    pub originals_bytes: u64,
    pub database_bytes: u64,
}

/// What `backup verify` found.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyReport {
    pub target: PathBuf,
    pub ok: bool,
    pub snapshots: Vec<SnapshotCheck>,
    pub files_checked: u64,
    pub bytes_checked: u64,
    pub seconds: f64,
}

/// One snapshot's state in a verify.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotCheck {
    pub name: String,
    pub ok: bool,
    /// Each file missing or damaged, by path inside the backup folder, and what is wrong.
    pub problems: Vec<String>,
}

/// What a restore rebuilt.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RestoreReport {
    pub from: PathBuf,
    pub into: PathBuf,
    pub snapshot: String,
    pub snapshot_created_at: String,
    /// The workstation whose library this was.
    pub workstation: String,
    pub files_restored: u64,
    pub bytes_restored: u64,
    pub originals_not_here: u64,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "the backup folder {0} is missing: plug in or mount the backup disk (or choose the folder again in the backup settings)"
    )]
    TargetMissing(PathBuf),
    #[error("{0} is not a Chairside backup folder (it has no {FOLDER_FILE}): check the path")]
    NotABackup(PathBuf),
    #[error(
        "the backup folder {path} belongs to another library ({found}): give each workstation its own backup folder"
    )]
    OtherLibrary { path: PathBuf, found: String },
    #[error("another backup of this folder is running ({0}): wait for it to finish")]
    InProgress(PathBuf),
    #[error("the backup folder {0} has no complete snapshot yet: take a backup first")]
    NoSnapshot(PathBuf),
    #[error(
        "the backup folder has no snapshot named {0:?} (snapshots are named by their UTC time, such as 20261202T134501Z)"
    )]
    SnapshotNotFound(String),
    #[error("{0} is not empty: restore into a new or empty folder, never over a library")]
    TargetNotEmpty(PathBuf),
    #[error(
        "the backup cannot be restored as it is, and nothing was restored: {}{}",
        .problems.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
        if .problems.len() > 5 { format!(" (and {} more)", .problems.len() - 5) } else { String::new() }
    )]
    Damaged { problems: Vec<String> },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] chairside_store::StoreError),
    #[error(transparent)]
    Media(#[from] chairside_media::MediaError),
}

impl From<rusqlite::Error> for BackupError {
    fn from(e: rusqlite::Error) -> Self {
        BackupError::Store(e.into())
    }
}

impl BackupError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        BackupError::Io { context: context.into(), source }
    }
}

impl chairside_store::ErrorCode for BackupError {
    fn code(&self) -> &'static str {
        match self {
            BackupError::TargetMissing(_) => "backup_target_missing",
            BackupError::NotABackup(_) => "backup_not_found",
            BackupError::OtherLibrary { .. } => "backup_other_library",
            BackupError::InProgress(_) => "backup_in_progress",
            BackupError::NoSnapshot(_) => "backup_no_snapshot",
            BackupError::SnapshotNotFound(_) => "backup_snapshot_not_found",
            BackupError::TargetNotEmpty(_) => "restore_target_not_empty",
            BackupError::Damaged { .. } => "backup_damaged",
            BackupError::Io { source, .. } if source.raw_os_error() == Some(28) => "backup_disk_full",
            BackupError::Io { .. } => "backup_io",
            BackupError::Store(e) => e.code(),
            BackupError::Media(e) => e.code(),
        }
    }

    fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            BackupError::NotABackup(_)
                | BackupError::OtherLibrary { .. }
                | BackupError::SnapshotNotFound(_)
                | BackupError::TargetNotEmpty(_)
        )
    }
}
