//! What the library remembers about its backups (local to this workstation, in `settings`):
//! where and how often the clinic wants them, and how the last run went.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::{BackupError, DEFAULT_KEEP};

const SCHEDULE: &str = "backup_schedule";
const LAST_RUN: &str = "backup_last_run";
const LAST_GOOD: &str = "backup_last_good";
const LIBRARY_ID: &str = "backup_library_id";

/// Where and how often this workstation backs up.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupSchedule {
    /// The backup folder (a USB disk, a mounted NAS share); `None`: no scheduled backup.
    pub target: Option<String>,
    /// Hours between backups (default 24).
    pub every_hours: u32,
    /// Also back up when the app closes.
    pub at_close: bool,
    /// Database snapshots kept in the folder.
    pub keep: u32,
}

impl Default for BackupSchedule {
    fn default() -> Self {
        BackupSchedule { target: None, every_hours: 24, at_close: true, keep: DEFAULT_KEEP as u32 }
    }
}

/// One run, as remembered.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupRun {
    pub at: String,
    pub target: String,
    pub ok: bool,
    pub snapshot: Option<String>,
    /// Why it failed, or the files it could not back up.
    pub error: Option<String>,
    pub error_code: Option<String>,
    pub seconds: f64,
}

pub fn schedule(conn: &Connection) -> Result<BackupSchedule, BackupError> {
    Ok(get_json(conn, SCHEDULE)?.unwrap_or_default())
}

pub fn set_schedule(conn: &Connection, s: &BackupSchedule) -> Result<(), BackupError> {
    set_json(conn, SCHEDULE, s)
}

/// The last run, and the last run that succeeded.
pub fn last_runs(conn: &Connection) -> Result<(Option<BackupRun>, Option<BackupRun>), BackupError> {
    Ok((get_json(conn, LAST_RUN)?, get_json(conn, LAST_GOOD)?))
}

pub fn record_run(conn: &Connection, run: &BackupRun) -> Result<(), BackupError> {
    set_json(conn, LAST_RUN, run)?;
    if run.ok {
        set_json(conn, LAST_GOOD, run)?;
    }
    Ok(())
}

/// The id a backup folder knows this library by: made at the first backup and kept through a
/// restore (which may give the workstation a new id), so backups go on into the same folder.
pub fn library_id(conn: &Connection) -> Result<String, BackupError> {
    if let Some(id) = chairside_store::get_setting(conn, LIBRARY_ID)? {
        return Ok(id);
    }
    let id = chairside_store::new_id();
    chairside_store::set_setting(conn, LIBRARY_ID, &id)?;
    Ok(id)
}

fn get_json<T: for<'de> Deserialize<'de>>(conn: &Connection, key: &str) -> Result<Option<T>, BackupError> {
    // A value this build cannot read (written by a newer one) reads as unset, never as a failure.
    Ok(chairside_store::get_setting(conn, key)?.and_then(|v| serde_json::from_str(&v).ok()))
}

fn set_json<T: Serialize>(conn: &Connection, key: &str, value: &T) -> Result<(), BackupError> {
    let text = serde_json::to_string(value).unwrap_or_default();
    Ok(chairside_store::set_setting(conn, key, &text)?)
}
