//! What the inbox remembers, in the library database: this workstation's watched folders,
//! what became of each file found in them (so a file left in place is imported once and a
//! refused one is not retried until it changes), and whose chair it is (the active patient).
//! Local to the workstation, never replicated. This crate's code alone names these tables.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use chairside_store::rusqlite::{Connection, OptionalExtension, params};
use chairside_store::{StoreError, get_setting, set_setting};

use crate::ReadyFile;

/// The tables this crate owns (`tests/architecture.rs` holds the rule).
pub const TABLES: &[&str] = &["inbox_files", "inbox_folders"];

const ACTIVE_PATIENT: &str = "active_patient_id";
/// Where files go once imported, inside each watched folder (never reported again).
pub const IMPORTED_SUBFOLDER: &str = "imported";

/// What happens to a file of a watched folder once it is in the library.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterImport {
    /// Moved to the folder's `imported/` subfolder (the default): the inbox shows what is left.
    Move,
    /// Left where it is (software that keeps its own files); remembered so it is imported once.
    Leave,
}

impl AfterImport {
    pub fn as_str(self) -> &'static str {
        match self {
            AfterImport::Move => "move",
            AfterImport::Leave => "leave",
        }
    }

    pub fn parse(s: &str) -> Option<AfterImport> {
        match s {
            "move" => Some(AfterImport::Move),
            "leave" => Some(AfterImport::Leave),
            _ => None,
        }
    }
}

/// What became of a file found in a watched folder.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InboxStatus {
    /// Nobody was in the chair: it waits in the Unassigned tray.
    Waiting,
    Imported,
    /// Already in the library (same SHA-256): nothing new was stored.
    Duplicate,
    /// Refused; the file stays where it is and its error says why.
    Rejected,
}

impl InboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Waiting => "waiting",
            InboxStatus::Imported => "imported",
            InboxStatus::Duplicate => "duplicate",
            InboxStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<InboxStatus> {
        [InboxStatus::Waiting, InboxStatus::Imported, InboxStatus::Duplicate, InboxStatus::Rejected]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// The file's content is in the library (imported now or already there).
    pub fn is_in_library(self) -> bool {
        matches!(self, InboxStatus::Imported | InboxStatus::Duplicate)
    }
}

/// A status equals its name (`"waiting"`), as scripts and tests write it.
impl PartialEq<&str> for InboxStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for InboxStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A watched folder as stored: its kind is the name of a document kind, or none.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderSetting {
    pub path: String,
    pub kind: Option<String>,
    pub after_import: AfterImport,
}

/// What became of one file, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRecord {
    pub path: String,
    pub folder: String,
    pub status: InboxStatus,
    pub patient_id: Option<String>,
    pub document_id: Option<String>,
    /// The refusal's code and message, for a rejected file.
    pub error: Option<(String, String)>,
    pub moved_to: Option<String>,
    pub byte_size: u64,
    pub modified_ms: i64,
    pub updated_at: String,
}

pub fn modified_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

// ---------------------------------------------------------------- the active patient

/// The id of the patient in the chair, if one was chosen.
pub fn active_patient(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(get_setting(conn, ACTIVE_PATIENT)?.filter(|s| !s.is_empty()))
}

/// Sets (or clears) the patient in the chair; returns the previous one when it changed,
/// `None` when it did not (nothing to record).
pub fn set_active_patient(tx: &Connection, id: Option<&str>) -> Result<Option<Option<String>>, StoreError> {
    let old = active_patient(tx)?;
    if old.as_deref() == id {
        return Ok(None);
    }
    set_setting(tx, ACTIVE_PATIENT, id.unwrap_or(""))?;
    Ok(Some(old))
}

// ---------------------------------------------------------------- watched folders

/// The configured folders, by path (none: the caller watches its default inbox).
pub fn folders(conn: &Connection) -> Result<Vec<FolderSetting>, StoreError> {
    let mut st = conn.prepare("SELECT path, kind, after_import FROM inbox_folders ORDER BY path")?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .map(|(path, kind, after)| FolderSetting {
            path,
            kind,
            // The schema allows only these two; anything else reads as the default.
            after_import: AfterImport::parse(&after).unwrap_or(AfterImport::Move),
        })
        .collect())
}

/// Adds a folder or changes its settings.
pub fn set_folder(tx: &Connection, folder: &FolderSetting) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO inbox_folders (path, kind, after_import, added_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (path) DO UPDATE SET kind = excluded.kind, after_import = excluded.after_import",
        params![folder.path, folder.kind, folder.after_import.as_str(), chairside_store::now_rfc3339()],
    )?;
    Ok(())
}

/// Stops watching a folder; `false` when it was not watched.
pub fn remove_folder(tx: &Connection, path: &str) -> Result<bool, StoreError> {
    Ok(tx.execute("DELETE FROM inbox_folders WHERE path = ?1", [path])? > 0)
}

// ---------------------------------------------------------------- files

/// Whether a file reported ready needs nothing done: seen before and unchanged, and either in
/// the library already (a file left in place, seen again at start), refused (never tried
/// again until it changes, so a hostile file cannot make the inbox loop), or waiting in the
/// tray while there is still nobody to give it to. A waiting file does not go to whoever is
/// in the chair next on its own: only `assigned` (someone chose it from the tray) takes it.
pub fn is_settled(conn: &Connection, f: &ReadyFile, has_patient: bool) -> Result<bool, StoreError> {
    let known: Option<(String, i64, i64)> = conn
        .query_row(
            "SELECT status, byte_size, modified_ms FROM inbox_files WHERE path = ?1",
            [f.path.display().to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(known.is_some_and(|(status, size, ms)| {
        let unchanged = size == f.size as i64 && ms == modified_ms(f.modified);
        let settled = match InboxStatus::parse(&status) {
            Some(InboxStatus::Waiting) | None => !has_patient,
            Some(_) => true,
        };
        unchanged && settled
    }))
}

/// The watched folder a recorded file was found in.
pub fn folder_of(conn: &Connection, path: &str) -> Result<Option<String>, StoreError> {
    Ok(conn.query_row("SELECT folder FROM inbox_files WHERE path = ?1", [path], |r| r.get(0)).optional()?)
}

/// Records (or updates) what became of a file.
pub fn record(tx: &Connection, file: &FileRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO inbox_files (path, folder, byte_size, modified_ms, status, patient_id, document_id,
             error_code, error_message, moved_to, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (path) DO UPDATE SET folder = excluded.folder, byte_size = excluded.byte_size,
             modified_ms = excluded.modified_ms, status = excluded.status, patient_id = excluded.patient_id,
             document_id = excluded.document_id, error_code = excluded.error_code,
             error_message = excluded.error_message, moved_to = excluded.moved_to,
             updated_at = excluded.updated_at",
        params![
            file.path,
            file.folder,
            file.byte_size as i64,
            file.modified_ms,
            file.status.as_str(),
            file.patient_id,
            file.document_id,
            file.error.as_ref().map(|e| e.0.clone()),
            file.error.as_ref().map(|e| e.1.clone()),
            file.moved_to,
            file.updated_at
        ],
    )?;
    Ok(())
}

/// Files waiting for a patient (the Unassigned tray) and files that failed, newest first.
/// Entries whose file has since gone (moved away by hand) are left out.
pub fn open_files(conn: &Connection) -> Result<Vec<FileRecord>, StoreError> {
    let mut st = conn.prepare(
        "SELECT path, folder, status, patient_id, document_id, error_code, error_message, moved_to,
                byte_size, updated_at, modified_ms
         FROM inbox_files WHERE status IN ('waiting', 'rejected') ORDER BY updated_at DESC, path",
    )?;
    let rows = st
        .query_map([], |r| {
            let code: Option<String> = r.get(5)?;
            let message: Option<String> = r.get(6)?;
            let status: String = r.get(2)?;
            // The table's CHECK allows only the four; anything else is shown as a refusal.
            let status = InboxStatus::parse(&status).unwrap_or(InboxStatus::Rejected);
            Ok(FileRecord {
                path: r.get(0)?,
                folder: r.get(1)?,
                status,
                patient_id: r.get(3)?,
                document_id: r.get(4)?,
                error: code.map(|c| (c, message.unwrap_or_default())),
                moved_to: r.get(7)?,
                byte_size: r.get::<_, i64>(8)?.max(0) as u64,
                updated_at: r.get(9)?,
                modified_ms: r.get(10)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows.into_iter().filter(|f| Path::new(&f.path).is_file()).collect())
}

// ---------------------------------------------------------------- moving aside

/// Where `path` (inside `root`) goes once imported: `root/imported/<same relative path>`, with
/// ` (2)`, ` (3)`… before the extension when that name is taken. Never overwrites.
pub fn imported_destination(root: &Path, path: &Path) -> PathBuf {
    let rel = path.strip_prefix(root).unwrap_or(path.file_name().map(Path::new).unwrap_or(path));
    let target = root.join(IMPORTED_SUBFOLDER).join(rel);
    if !target.exists() {
        return target;
    }
    let stem = target.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = target.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (2..).map(|n| target.with_file_name(format!("{stem} ({n}){ext}"))).find(|p| !p.exists()).unwrap_or(target)
}

/// Moves a file without ever replacing another (hard link then unlink on the same disk).
pub fn move_aside(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::hard_link(from, to) {
        Ok(()) => std::fs::remove_file(from),
        // File systems without hard links (FAT on a stick): a rename, after the exists check.
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => std::fs::rename(from, to),
        Err(e) => Err(e),
    }
}
