//! Importing paths as a user gives them: files and folders (recursively), in parallel on
//! every core, each file's outcome reported as it lands.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chairside_media::{ImportRequest, ImportStatus, KeptCopy, Kind, Limits, MediaError};
use serde::Serialize;
use serde_json::json;

use chairside_store::Actor;

use crate::{AppError, ErrorPayload, Library, Permission};

/// What became of one file offered for import.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Imported,
    /// Already in the library (same SHA-256): nothing new was stored.
    Duplicate,
    /// Refused, nothing stored; the result's error says why.
    Rejected,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Imported => "imported",
            FileStatus::Duplicate => "duplicate",
            FileStatus::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for FileStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status equals its name (`"imported"`), as scripts and tests write it.
impl PartialEq<&str> for FileStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<ImportStatus> for FileStatus {
    fn from(s: ImportStatus) -> FileStatus {
        match s {
            ImportStatus::Imported => FileStatus::Imported,
            ImportStatus::Duplicate => FileStatus::Duplicate,
        }
    }
}

impl From<FileStatus> for chairside_inbox::records::InboxStatus {
    fn from(s: FileStatus) -> Self {
        use chairside_inbox::records::InboxStatus;
        match s {
            FileStatus::Imported => InboxStatus::Imported,
            FileStatus::Duplicate => InboxStatus::Duplicate,
            FileStatus::Rejected => InboxStatus::Rejected,
        }
    }
}

/// The outcome for one file, in the shape of the CLI contract.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileResult {
    pub path: String,
    pub status: FileStatus,
    pub document_id: Option<String>,
    pub sha256: Option<String>,
    pub error: Option<ErrorPayload>,
    /// What is worth a look although the file was stored (a DICOM naming another patient).
    pub warnings: Vec<String>,
    /// For a rejection: whether the file itself was at fault (damaged, unsupported…), as
    /// opposed to the library (disk full, read-only folder).
    #[serde(skip)]
    pub input_fault: bool,
}

/// Reported after each file.
#[derive(Debug, Clone, Copy)]
pub struct ImportProgress<'a> {
    pub done: usize,
    pub total: usize,
    pub result: &'a FileResult,
}

/// Files named directly are always tried; inside folders, hidden files (`.DS_Store`, editor
/// temp files…) are skipped. Symlinked folders are not followed (no loops). A DICOMDIR (a
/// CD or USB stick from a radiology centre) is an index, not an image: named directly, it
/// stands for the files it lists; met in a folder, it is passed over, the folder's files
/// being imported anyway.
fn expand(paths: &[PathBuf], limits: &Limits, out: &mut Vec<PathBuf>, problems: &mut Vec<FileResult>) {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<FileResult>) {
        let mut entries: Vec<_> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.flatten().collect(),
            Err(e) => {
                problems.push(rejected(
                    dir,
                    "unreadable_file",
                    format!("{}: cannot list the folder: {e}", dir.display()),
                    true,
                ));
                return;
            }
        };
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&path, out, problems),
                _ if chairside_media::dicom::is_dicomdir(&path) => {}
                _ => out.push(path),
            }
        }
    }
    for p in paths {
        if p.is_dir() {
            walk(p, out, problems);
        } else if chairside_media::dicom::is_dicomdir(p) {
            match chairside_media::dicom::dicomdir_files(p, limits) {
                Ok(files) => out.extend(files),
                Err(e) => problems.push(rejected(
                    p,
                    "corrupt_file",
                    format!("{}: the DICOMDIR cannot be read: {e}", p.display()),
                    true,
                )),
            }
        } else {
            out.push(p.clone());
        }
    }
}

fn rejected(path: &Path, code: &str, message: String, input_fault: bool) -> FileResult {
    FileResult {
        path: path.display().to_string(),
        status: FileStatus::Rejected,
        document_id: None,
        sha256: None,
        error: Some(ErrorPayload { code: code.into(), message }),
        warnings: Vec::new(),
        input_fault,
    }
}

impl Library {
    /// Imports files and folders for a patient. A bad file is rejected on its own (with its
    /// reason) and the others go on; an unknown patient fails the whole call before anything
    /// is read. New documents get their thumbnails queued at once.
    pub fn import_paths(
        &self,
        patient_id: &str,
        paths: &[PathBuf],
        kind: Option<Kind>,
        source: &str,
        on_progress: &(dyn Fn(ImportProgress<'_>) + Sync),
    ) -> Result<Vec<FileResult>, AppError> {
        let actor = self.allow(Permission::Acquire)?;
        self.patient(patient_id)?;
        let mut files = Vec::new();
        let mut problems = Vec::new();
        expand(paths, self.media.limits(), &mut files, &mut problems);
        let total = files.len() + problems.len();
        let done = AtomicUsize::new(0);
        let report = Mutex::new(());
        let progress = |r: &FileResult| {
            let _serialised = report.lock().unwrap_or_else(|p| p.into_inner());
            on_progress(ImportProgress { done: done.fetch_add(1, Ordering::SeqCst) + 1, total, result: r });
        };
        for p in &problems {
            progress(p);
        }
        let results: Vec<Mutex<Option<FileResult>>> = files.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(files.len()).max(1);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(path) = files.get(i) else { break };
                        let r = self.import_one(&actor, patient_id, path, kind, source);
                        progress(&r);
                        *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                    }
                });
            }
        });
        let mut out = problems;
        out.extend(results.into_iter().filter_map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner())));
        Ok(out)
    }

    fn import_one(&self, actor: &Actor, patient_id: &str, path: &Path, kind: Option<Kind>, source: &str) -> FileResult {
        let incoming = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let imported = self.check_free_space(incoming).and_then(|()| self.scanner()).and_then(|scanner| {
            let scanner = scanner.as_ref().map(|s| s as &dyn chairside_scan::Scanner);
            let req = ImportRequest { patient_id, path, kind, source, scanner };
            self.media.import(actor, &req).map_err(AppError::from)
        });
        match imported {
            Ok(outcome) => FileResult {
                path: path.display().to_string(),
                status: outcome.status.into(),
                warnings: self.patient_mismatch(&outcome.document_id).ok().flatten().into_iter().collect(),
                document_id: Some(outcome.document_id),
                sha256: Some(outcome.sha256),
                error: None,
                input_fault: false,
            },
            Err(e) => {
                // The rejection is worth keeping in the audit trail (what was refused, why);
                // failing to write it must not hide the rejection itself.
                let mut details =
                    json!({"path": path.display().to_string(), "code": e.code(), "message": e.to_string()});
                if let AppError::Media(MediaError::Infected { signature, kept, .. }) = &e {
                    details["signature"] = json!(signature);
                    if let KeptCopy::Quarantined(p) = kept {
                        details["quarantined"] = json!(p.display().to_string());
                    }
                }
                let _ = self.db.write(|tx| {
                    chairside_audit::append(tx, actor, "import_rejected", "patient", Some(patient_id), details)
                });
                rejected(path, e.code(), e.to_string(), e.is_invalid_input())
            }
        }
    }
}
