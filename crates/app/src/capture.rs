//! Capture at the chair: whose chair it is (the active patient), the practice-management
//! bridge that sets it, and the watched inbox folders whose finished files land in that
//! patient's record — or wait in the Unassigned tray when nobody is in the chair.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, mpsc};
use std::time::UNIX_EPOCH;

use chairside_inbox::records::{self, FileRecord, FolderSetting, imported_destination, modified_ms, move_aside};
use chairside_inbox::{Folder, InboxWatcher, ReadyFile};
use chairside_media::Kind;
use chairside_patients::{NewPatient, Patient};
use serde::Serialize;
use serde_json::json;

use crate::{AppError, ErrorPayload, FileResult, FileStatus, Library, Permission};

pub use chairside_inbox::records::{AfterImport, IMPORTED_SUBFOLDER, InboxStatus};

/// One watched folder of this workstation.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxFolder {
    pub path: String,
    /// The kind given to its files (an X-ray sensor's folder → `xray`); none: from the file.
    pub kind: Option<Kind>,
    pub after_import: AfterImport,
}

/// What became of one file found in a watched folder.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxFile {
    pub path: String,
    pub folder: String,
    pub status: InboxStatus,
    pub patient_id: Option<String>,
    pub document_id: Option<String>,
    pub error: Option<ErrorPayload>,
    pub moved_to: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub byte_size: u64,
    pub updated_at: String,
    /// The capture session's slot (from 0) it was placed in, as it was taken in.
    pub series_slot: Option<u32>,
}

/// What the running inbox tells its shell.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum InboxNotice {
    /// Files were taken in (each with its status: imported, duplicate, rejected or waiting).
    Files {
        files: Vec<InboxFile>,
    },
    FolderUnavailable {
        folder: String,
        reason: String,
    },
    FolderAvailable {
        folder: String,
    },
    /// Importing a batch failed as a whole (the library, not the files); they stay put.
    Failed {
        error: ErrorPayload,
    },
}

impl Library {
    // --- the active patient ---

    /// The id of the patient in the chair: one settings read, for callers that poll it.
    pub fn active_patient_id(&self) -> Result<Option<String>, AppError> {
        Ok(self.db.read(records::active_patient)?)
    }

    /// The patient whose chair this workstation is at, if one was chosen.
    pub fn active_patient(&self) -> Result<Option<Patient>, AppError> {
        match self.active_patient_id()? {
            // Behind a locked window nobody is told who is in the chair.
            Some(id) => match self.patient(&id) {
                Ok(p) => Ok(Some(p)),
                Err(e) if e.is_access_refused() => Err(e),
                Err(_) => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// Chooses (or, with `None`, clears) the active patient; recorded in the audit trail.
    pub fn set_active_patient(&self, id: Option<&str>) -> Result<Option<Patient>, AppError> {
        let actor = self.allow(Permission::Acquire)?;
        let patient = id.map(|id| self.patient(id)).transpose()?;
        self.db.write(|tx| {
            let new = patient.as_ref().map(|p| p.id.clone());
            if let Some(old) = records::set_active_patient(tx, new.as_deref())? {
                chairside_audit::append(
                    tx,
                    &actor,
                    "active_patient_set",
                    "patient",
                    new.as_deref(),
                    json!({"previous": old}),
                )?;
            }
            Ok::<_, AppError>(())
        })?;
        Ok(patient)
    }

    /// The practice-management bridge: the patient with this chart number (created when the
    /// number is new) becomes the active patient. An existing patient is not renamed — the
    /// names may differ in spelling, and a chart is never silently rewritten. Returns the
    /// patient and whether it was created.
    pub fn open_external(
        &self,
        external_id: &str,
        name: &str,
        birth_date: Option<&str>,
    ) -> Result<(Patient, bool), AppError> {
        self.signed_in()?;
        let external_id = external_id.trim();
        if external_id.is_empty() {
            return Err(AppError::InvalidInput("the chart number (the patient's external id) is empty".into()));
        }
        let found = self.db.read(|c| chairside_patients::find_by_external_id(c, &self.clinic_id(), external_id))?;
        let (patient, created) = match found {
            Some(p) => (p, false),
            None => {
                let new = NewPatient {
                    name: name.to_string(),
                    external_id: Some(external_id.to_string()),
                    birth_date: birth_date.map(str::to_string),
                };
                (self.add_patient(&new)?, true)
            }
        };
        self.set_active_patient(Some(&patient.id))?;
        Ok((patient, created))
    }

    // --- watched folders ---

    /// The default inbox, `<data dir>/inbox`, watched when no folder is configured.
    pub fn default_inbox(&self) -> PathBuf {
        self.data_dir.join("inbox")
    }

    /// This workstation's watched folders (the default inbox when none is configured).
    pub fn inbox_folders(&self) -> Result<Vec<InboxFolder>, AppError> {
        let rows = self.db.read(records::folders)?;
        if rows.is_empty() {
            return Ok(vec![InboxFolder {
                path: self.default_inbox().display().to_string(),
                kind: None,
                after_import: AfterImport::Move,
            }]);
        }
        rows.into_iter()
            .map(|f| {
                Ok(InboxFolder {
                    path: f.path,
                    kind: f.kind.map(|k| Kind::from_str(&k)).transpose().map_err(AppError::from)?,
                    after_import: f.after_import,
                })
            })
            .collect()
    }

    /// Adds a watched folder (or changes its settings). The folder need not exist now — a
    /// USB stick may be plugged in later — but it must be an absolute path.
    pub fn set_inbox_folder(&self, folder: &InboxFolder) -> Result<(), AppError> {
        let path = Path::new(&folder.path);
        if !path.is_absolute() {
            return Err(AppError::InvalidInput(format!(
                "the inbox folder must be given as a full path, not “{}”",
                folder.path
            )));
        }
        let actor = self.allow(Permission::Configure)?;
        self.db.write(|tx| {
            records::set_folder(
                tx,
                &FolderSetting {
                    path: folder.path.clone(),
                    kind: folder.kind.map(|k| k.as_str().to_string()),
                    after_import: folder.after_import,
                },
            )?;
            chairside_audit::append(
                tx,
                &actor,
                "inbox_folder_set",
                "workstation",
                Some(&actor.workstation),
                json!({"path": folder.path, "kind": folder.kind.map(|k| k.as_str()), "after_import": folder.after_import.as_str()}),
            )?;
            Ok::<_, AppError>(())
        })
    }

    /// Stops watching a folder (its files are left alone).
    pub fn remove_inbox_folder(&self, path: &str) -> Result<(), AppError> {
        let actor = self.allow(Permission::Configure)?;
        self.db.write(|tx| {
            if !records::remove_folder(tx, path)? {
                return Err(AppError::InvalidInput(format!("{path} is not a watched folder")));
            }
            chairside_audit::append(
                tx,
                &actor,
                "inbox_folder_removed",
                "workstation",
                Some(&actor.workstation),
                json!({"path": path}),
            )?;
            Ok(())
        })
    }

    /// Files waiting for a patient (the Unassigned tray) and files that failed, newest first.
    /// Entries whose file has since gone (moved away by hand) are left out.
    pub fn inbox_open_files(&self) -> Result<Vec<InboxFile>, AppError> {
        self.signed_in()?;
        Ok(self.db.read(records::open_files)?.into_iter().map(InboxFile::from).collect())
    }

    /// Takes in files a watched folder reported ready: into `patient` (else the active
    /// patient), each with its folder's kind; moved aside or left per folder; recorded so a
    /// file left in place is never imported twice. With no patient, they wait (the tray).
    pub fn take_in(
        &self,
        files: &[ReadyFile],
        folders: &[InboxFolder],
        patient: Option<&str>,
    ) -> Result<Vec<InboxFile>, AppError> {
        // The sensor's files are taken in behind a locked window too: nothing is shown, and
        // an X-ray just taken is never lost to a lock.
        crate::auth::in_background(|| self.take_in_files(files, folders, patient, false))
    }

    /// [`Library::take_in`]; with `assigned`, files someone chose from the tray (refused ones
    /// included, to retry) are taken whatever became of them before.
    fn take_in_files(
        &self,
        files: &[ReadyFile],
        folders: &[InboxFolder],
        patient: Option<&str>,
        assigned: bool,
    ) -> Result<Vec<InboxFile>, AppError> {
        let folders: HashMap<&str, &InboxFolder> = folders.iter().map(|f| (f.path.as_str(), f)).collect();
        let mut fresh = Vec::new();
        for f in files {
            let done = !assigned && self.db.read(|c| records::is_settled(c, f, patient.is_some()))?;
            if !done {
                fresh.push(f);
            }
        }
        let patient_id = match patient {
            Some(p) => Some(self.patient(p)?.id),
            None => self.active_patient()?.map(|p| p.id),
        };
        let Some(patient_id) = patient_id else {
            let mut out = Vec::new();
            for f in fresh {
                out.push(self.record_inbox_file(f, InboxStatus::Waiting, None, None, None)?);
            }
            return Ok(out);
        };
        let mut by_kind: HashMap<Option<Kind>, Vec<&ReadyFile>> = HashMap::new();
        for f in fresh {
            let kind = folders.get(f.folder.display().to_string().as_str()).and_then(|c| c.kind);
            by_kind.entry(kind).or_default().push(f);
        }
        let mut out = Vec::new();
        for (kind, group) in by_kind {
            let paths: Vec<PathBuf> = group.iter().map(|f| f.path.clone()).collect();
            let results = self.import_paths(&patient_id, &paths, kind, "inbox", &|_| {})?;
            let by_path: HashMap<&str, &FileResult> = results.iter().map(|r| (r.path.as_str(), r)).collect();
            for f in group {
                let Some(r) = by_path.get(f.path.display().to_string().as_str()) else { continue };
                let after = folders
                    .get(f.folder.display().to_string().as_str())
                    .map(|c| c.after_import)
                    .unwrap_or(AfterImport::Move);
                let mut moved_to = None;
                if r.status != FileStatus::Rejected && after == AfterImport::Move {
                    let dest = imported_destination(&f.folder, &f.path);
                    match move_aside(&f.path, &dest) {
                        Ok(()) => moved_to = Some(dest.display().to_string()),
                        // Imported safely; only the tidy-up failed. Recorded, so it is not
                        // imported again while it sits there.
                        Err(e) => {
                            let _ = self.db.write(|tx| {
                                chairside_audit::append(
                                    tx,
                                    &self.background_actor(),
                                    "inbox_move_failed",
                                    "document",
                                    r.document_id.as_deref(),
                                    json!({"path": r.path, "to": dest.display().to_string(), "error": e.to_string()}),
                                )
                            });
                        }
                    }
                }
                out.push(self.record_inbox_file(f, r.status.into(), Some(&patient_id), Some(r), moved_to)?);
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        // A capture session for this patient: the files fill its next slots, in name order
        // (the order cameras and sensors number their shots).
        if let Some(session) = self.capture_session()?.filter(|s| s.series.patient_id == patient_id) {
            for f in &mut out {
                if let (Some(doc), true) = (f.document_id.as_deref(), f.status.is_in_library()) {
                    f.series_slot = self.fill_next(&session.series.id, doc)?;
                }
            }
        }
        Ok(out)
    }

    /// Files from the Unassigned tray (or failed ones, to retry) dropped onto a patient.
    pub fn assign_inbox_files(&self, patient_id: &str, paths: &[String]) -> Result<Vec<InboxFile>, AppError> {
        self.allow(Permission::Acquire)?;
        self.patient(patient_id)?;
        let mut ready = Vec::new();
        for p in paths {
            let folder = self.db.read(|c| records::folder_of(c, p))?;
            let Some(folder) = folder else {
                return Err(AppError::InvalidInput(format!("{p} is not a file of a watched folder")));
            };
            let meta = std::fs::metadata(p).map_err(|e| {
                AppError::InvalidInput(format!("{p} cannot be read ({e}); it may have been moved or deleted"))
            })?;
            ready.push(ReadyFile {
                folder: PathBuf::from(folder),
                path: PathBuf::from(p),
                size: meta.len(),
                modified: meta.modified().unwrap_or(UNIX_EPOCH),
            });
        }
        self.take_in_files(&ready, &self.inbox_folders()?, Some(patient_id), true)
    }

    fn record_inbox_file(
        &self,
        f: &ReadyFile,
        status: InboxStatus,
        patient_id: Option<&str>,
        result: Option<&FileResult>,
        moved_to: Option<String>,
    ) -> Result<InboxFile, AppError> {
        let file = InboxFile {
            path: f.path.display().to_string(),
            folder: f.folder.display().to_string(),
            status,
            patient_id: patient_id.map(str::to_string),
            document_id: result.and_then(|r| r.document_id.clone()),
            error: result.and_then(|r| r.error.clone()),
            moved_to,
            byte_size: f.size,
            updated_at: chairside_store::now_rfc3339(),
            series_slot: None,
        };
        let record = FileRecord {
            path: file.path.clone(),
            folder: file.folder.clone(),
            status: file.status,
            patient_id: file.patient_id.clone(),
            document_id: file.document_id.clone(),
            error: file.error.as_ref().map(|e| (e.code.clone(), e.message.clone())),
            moved_to: file.moved_to.clone(),
            byte_size: f.size,
            modified_ms: modified_ms(f.modified),
            updated_at: file.updated_at.clone(),
        };
        self.db.write(|tx| records::record(tx, &record))?;
        Ok(file)
    }
}

impl From<FileRecord> for InboxFile {
    fn from(r: FileRecord) -> InboxFile {
        InboxFile {
            path: r.path,
            folder: r.folder,
            status: r.status,
            patient_id: r.patient_id,
            document_id: r.document_id,
            error: r.error.map(|(code, message)| ErrorPayload { code, message }),
            moved_to: r.moved_to,
            byte_size: r.byte_size,
            updated_at: r.updated_at,
            series_slot: None,
        }
    }
}

/// Options for a running inbox.
#[derive(Debug, Clone, Default)]
pub struct InboxOptions {
    /// Watch these folders instead of the configured ones (`chairside watch --folder`).
    pub folders: Option<Vec<InboxFolder>>,
    /// Import into this patient instead of the active one (`chairside watch --patient`).
    pub patient: Option<String>,
    pub timing: chairside_inbox::Options,
}

/// The watched folders at work: a watcher thread finds ready files, an importer thread takes
/// them in, `on_notice` hears about every outcome. Stops when dropped.
pub struct Inbox {
    watcher: Option<InboxWatcher>,
    importer: Option<std::thread::JoinHandle<()>>,
}

impl Inbox {
    pub fn start(
        lib: Arc<Library>,
        options: InboxOptions,
        on_notice: impl Fn(InboxNotice) + Send + 'static,
    ) -> Result<Inbox, AppError> {
        let configured = match options.folders {
            Some(f) => f,
            None => lib.inbox_folders()?,
        };
        let folders: Vec<Folder> =
            configured.iter().map(|f| Folder::new(&f.path).skipping(IMPORTED_SUBFOLDER)).collect();
        let (tx, rx) = mpsc::channel::<chairside_inbox::Event>();
        let worker_lib = Arc::clone(&lib);
        let configured_for_worker = configured.clone();
        let patient = options.patient;
        let importer = std::thread::Builder::new()
            .name("inbox-import".into())
            .spawn(move || {
                // Events that arrived while a batch was read off the queue, kept in order.
                let mut later = std::collections::VecDeque::new();
                while let Some(ev) = later.pop_front().or_else(|| rx.recv().ok()) {
                    let notice = match ev {
                        chairside_inbox::Event::Ready(mut files) => {
                            // Batches that queued up while importing go in together.
                            while let Ok(more) = rx.try_recv() {
                                match more {
                                    chairside_inbox::Event::Ready(more) => files.extend(more),
                                    other => later.push_back(other),
                                }
                            }
                            match worker_lib.take_in(&files, &configured_for_worker, patient.as_deref()) {
                                // All of them seen before and left as they were: nothing to say.
                                Ok(files) if files.is_empty() => continue,
                                Ok(files) => InboxNotice::Files { files },
                                Err(e) => InboxNotice::Failed { error: e.to_payload() },
                            }
                        }
                        chairside_inbox::Event::FolderUnavailable { folder, reason } => {
                            InboxNotice::FolderUnavailable { folder: folder.display().to_string(), reason }
                        }
                        chairside_inbox::Event::FolderAvailable { folder } => {
                            InboxNotice::FolderAvailable { folder: folder.display().to_string() }
                        }
                    };
                    on_notice(notice);
                }
            })
            .map_err(|e| AppError::Inbox(e.to_string()))?;
        let watcher = InboxWatcher::start(folders, options.timing, move |ev| {
            let _ = tx.send(ev);
        })
        .map_err(|e| AppError::Inbox(e.to_string()))?;
        Ok(Inbox { watcher: Some(watcher), importer: Some(importer) })
    }

    /// Stops watching and waits for the import in progress to finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Dropping the watcher closes the channel, which ends the importer after its batch.
        if let Some(w) = self.watcher.take() {
            w.stop();
        }
        if let Some(t) = self.importer.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.shutdown();
    }
}
