//! The composition root and the one API every shell calls. Opens the data folder, registers
//! the attachment owner types, starts the thumbnail workers, and exposes each capability as a
//! method that runs on the calling thread (shells keep it off their UI thread).

mod auth;
mod backup;
mod capture;
mod error;
mod health;
mod import;
mod mounts;
mod scanning;
mod sync;
mod tooth_numbers;
mod viewer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chairside_audit::{AuditEvent, ChainReport};
use chairside_clinical_notes::{Note, NoteOwner};
use chairside_media::thumbs::ThumbnailListener;
use chairside_media::{
    Attachment, Document, DocumentDetails, DocumentPatch, DocumentSummary, ExportSummary, Limits, Media, MediaPaths,
    OwnerRegistry, OwnerSpec, Signature, StatusFilter, ThumbnailRef, Transition, VerifyOptions, VerifyReport,
};
use chairside_patients::{NewPatient, Patient, PatientOwner};
use chairside_store::{Actor, Db};
use chairside_treatment_plan::{Plan, PlanItem, PlanItemOwner};

pub use chairside_media::{ImportStatus, Kind};
/// Escaping of outside text for terminals and logs, for the shells.
pub use chairside_store::text;
// The domain crates, for shells that name their types (the desktop's TypeScript bindings).
pub use auth::{DEFAULT_LOCK_AFTER_SECONDS, Role, Secret, SessionState};
pub use backup::{BackupState, RestoreOutcome, restore_library};
pub use capture::{
    AfterImport, IMPORTED_SUBFOLDER, Inbox, InboxFile, InboxFolder, InboxNotice, InboxOptions, InboxStatus,
};
pub use chairside_store::Remedy;
pub use chairside_users::{Permission, User};
pub use error::{AppError, ErrorPayload};
pub use health::{AuditState, DEFAULT_MIN_FREE_BYTES, DiskHealth, Finding, Health, HealthLevel, VerifyRun, disk_space};
pub use import::{FileResult, FileStatus, ImportProgress};
pub use mounts::{CaptureOutcome, SeriesView, SlotView};
pub use scanning::ScanningState;
pub use sync::{RepairReport, SyncSetUp};
pub use tooth_numbers::{ToothLabel, shows_tooth};
pub use viewer::{PdfExport, RenderFormat, Rendered, SavedFrame};
pub use {
    chairside_audit as audit, chairside_backup as backups, chairside_clinical_notes as clinical_notes,
    chairside_inbox as inbox, chairside_media as media, chairside_patients as patients, chairside_series as series,
    chairside_sync as sync_engine, chairside_teeth as teeth, chairside_treatment_plan as treatment_plan,
    chairside_users as users,
};

/// What the audit screen and `audit list` filter by (see [`Library::audit_query`]).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Events about this entity id only.
    pub entity: Option<String>,
    pub patient: Option<String>,
    pub user: Option<String>,
    pub action: Option<String>,
    /// RFC 3339 times in UTC, as the trail records them; `until` is exclusive.
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: usize,
    pub newest_first: bool,
}

/// The preview size the viewer shows (X-rays, PDFs): its requests are audited as views.
pub const VIEWER_PREVIEW_SIZE: u32 = 2048;

/// Environment variable naming the data folder.
pub const DATA_DIR_ENV: &str = "CHAIRSIDE_DATA_DIR";

/// How to open a library.
pub struct LibraryOptions {
    pub data_dir: PathBuf,
    /// Thumbnail worker threads (default: one per core).
    pub thumbnail_threads: Option<usize>,
    /// Who acts while the library has no users (default: `CHAIRSIDE_USER`, else the OS
    /// user). Once it has users, they sign in ([`Library::sign_in`]).
    pub user: Option<String>,
    pub limits: Limits,
    /// Called from worker threads as thumbnails are made.
    pub on_thumbnail: Option<ThumbnailListener>,
}

impl LibraryOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        LibraryOptions {
            data_dir: data_dir.into(),
            thumbnail_threads: None,
            user: None,
            limits: Limits::default(),
            on_thumbnail: None,
        }
    }
}

/// The OS's data folder for Chairside, when no folder is given.
pub fn default_data_dir() -> Result<PathBuf, AppError> {
    directories::ProjectDirs::from("org", "Chairside", "Chairside")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or(AppError::NoDataDir)
}

/// An open library: everything a shell needs.
pub struct Library {
    data_dir: PathBuf,
    db: Arc<Db>,
    media: Media,
    /// The library's own identity: who acts while it has no users, and who the background's
    /// work (sync, a scheduled backup) is recorded under when nobody is signed in.
    identity: Actor,
    session: std::sync::RwLock<auth::Session>,
    clinic_id: std::sync::RwLock<String>,
    sync: std::sync::OnceLock<Arc<chairside_sync::SyncEngine>>,
    anchor: Arc<chairside_audit::Anchor>,
    /// When each user's view of a multi-frame document was last recorded (see
    /// [`Library::audit_frame_view`]).
    frame_views: std::sync::Mutex<std::collections::HashMap<(String, String), std::time::Instant>>,
}

/// Scrolling or playing through a multi-frame DICOM is one viewing: a frame shown within this
/// long of a recorded view of the same document by the same user is part of it.
const FRAME_VIEW_SPAN: std::time::Duration = std::time::Duration::from_secs(600);

/// The replicated tables of every domain crate: what sync applies from peers, and nothing
/// else. A crate with a new replicated table adds it to its `REPLICATED`; a new crate is
/// one more line here.
pub fn replicated() -> Arc<chairside_store::replicated::Registry> {
    static REGISTRY: std::sync::LazyLock<Arc<chairside_store::replicated::Registry>> = std::sync::LazyLock::new(|| {
        let declared = [
            chairside_patients::REPLICATED,
            chairside_users::REPLICATED,
            chairside_media::REPLICATED,
            chairside_series::REPLICATED,
            chairside_clinical_notes::REPLICATED,
            chairside_treatment_plan::REPLICATED,
        ];
        // The declarations are constants: tests/architecture.rs builds this registry, so a
        // bad one fails there, never at a clinic.
        Arc::new(
            chairside_store::replicated::Registry::new(&declared)
                .expect("the replicated tables are declared consistently"),
        )
    });
    Arc::clone(&REGISTRY)
}

/// Environment variable naming the folder that holds the audit trail's signing key and the
/// witness copy of its head (default: the OS account's config folder for Chairside).
pub const CONFIG_DIR_ENV: &str = "CHAIRSIDE_CONFIG_DIR";

/// Where the audit heads' key and witness copies live: outside every library folder.
fn witness_dir() -> Option<PathBuf> {
    let base = std::env::var_os(CONFIG_DIR_ENV).map(PathBuf::from).or_else(|| {
        directories::ProjectDirs::from("org", "Chairside", "Chairside").map(|d| d.config_dir().to_path_buf())
    })?;
    Some(base.join("audit-heads"))
}

/// Who is at the keyboard: `CHAIRSIDE_USER`, else the login name, else (services, sandboxes
/// without a login environment) the account of the process's uid, so the audit trail never
/// records an anonymous change where the OS knows better.
fn current_user() -> String {
    ["CHAIRSIDE_USER", "USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .or_else(account_of_this_process)
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(unix)]
fn account_of_this_process() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_string())
    })
}

#[cfg(not(unix))]
fn account_of_this_process() -> Option<String> {
    None
}

/// The attachment owner types this build knows. Adding a module that owns attachable
/// records means one line here, and nothing in media.
fn owner_registry() -> Result<OwnerRegistry, AppError> {
    let mut registry = OwnerRegistry::new();
    registry.register(OwnerSpec { owner_type: "patient".into(), resolver: Box::new(PatientOwner) })?;
    registry.register(OwnerSpec {
        owner_type: chairside_clinical_notes::OWNER_TYPE.into(),
        resolver: Box::new(NoteOwner),
    })?;
    registry.register(OwnerSpec {
        owner_type: chairside_treatment_plan::OWNER_TYPE.into(),
        resolver: Box::new(PlanItemOwner),
    })?;
    registry.register(OwnerSpec {
        owner_type: chairside_media::DOCUMENT_OWNER_TYPE.into(),
        resolver: Box::new(chairside_media::DocumentOwner),
    })?;
    registry.register(OwnerSpec {
        owner_type: chairside_series::OWNER_TYPE.into(),
        resolver: Box::new(chairside_series::SeriesOwner),
    })?;
    Ok(registry)
}

impl Library {
    pub fn open(options: LibraryOptions) -> Result<Library, AppError> {
        let dir = options.data_dir;
        let paths = MediaPaths::in_folder(&dir);
        for d in [&dir, &paths.blobs, &paths.thumbs, &paths.quarantine, &dir.join("inbox")] {
            chairside_store::private::create_dir_all(d)
                .map_err(|source| AppError::DataDir { path: d.clone(), source })?;
        }
        // Patient data is this account's only, whatever the umask was when it was written.
        chairside_store::private::tighten_library(&dir)
            .map_err(|source| AppError::DataDir { path: dir.clone(), source })?;
        // A restore into this folder was cut short: some originals may be missing.
        if dir.join(chairside_backup::RESTORE_MARKER).exists() {
            return Err(AppError::RestoreIncomplete { dir });
        }
        let db_path = dir.join("library.sqlite3");
        // A folder with originals and no (or an empty) database is a library that lost its
        // records, never a new one: creating an empty database over it would hide every photo
        // (and a verify would quarantine them all).
        let db_empty = std::fs::metadata(&db_path).map(|m| m.len() == 0).unwrap_or(true);
        if db_empty && chairside_media::LocalBlobStore::new(&paths.blobs).holds_any() {
            return Err(AppError::DatabaseMissing { dir });
        }
        let user = options.user.unwrap_or_else(current_user);
        if user.chars().any(char::is_control) {
            return Err(AppError::BadUserName(user));
        }
        let db = Arc::new(Db::open(&db_path)?);
        // Read first: only the very first open of a library writes (and fsyncs) here.
        let settings = |c: &chairside_store::rusqlite::Connection| -> Result<_, AppError> {
            Ok((
                chairside_store::get_setting(c, "workstation_id")?,
                chairside_store::get_setting(c, "default_clinic_id")?,
            ))
        };
        let (workstation, clinic_id) = match db.read(settings)? {
            (Some(ws), Some(clinic)) => (ws, clinic),
            _ => db.write(|tx| {
                let ws = match chairside_store::get_setting(tx, "workstation_id")? {
                    Some(ws) => ws,
                    None => {
                        let ws = chairside_store::new_id();
                        chairside_store::set_setting(tx, "workstation_id", &ws)?;
                        ws
                    }
                };
                let actor = Actor { user: user.clone(), workstation: ws.clone() };
                let clinic = match chairside_store::get_setting(tx, "default_clinic_id")? {
                    Some(c) => c,
                    None => {
                        let c = chairside_patients::create_clinic(tx, &actor, "My clinic")?;
                        chairside_store::set_setting(tx, "default_clinic_id", &c.id)?;
                        c.id
                    }
                };
                Ok::<_, AppError>((ws, clinic))
            })?,
        };
        let anchor = Arc::new(chairside_audit::Anchor::new(&dir, witness_dir().as_deref(), &workstation));
        {
            let anchor = Arc::clone(&anchor);
            // A failed anchor write never fails the commit it follows; `audit verify` tells.
            db.set_after_write(Box::new(move |c| {
                let _ = anchor.refresh(c);
            }));
        }
        // Events written by a build without anchors get their first head now.
        // (A damaged database is left for verify to report, not refused here.)
        let _ = db.read(|c| anchor.refresh(c));
        let media = Media::new(Arc::clone(&db), paths, owner_registry()?, options.limits);
        // An export killed half way left a hidden partial file of patient data: gone now.
        // (Failing here, on a damaged database, is left for verify to report.)
        let _ = media.clean_interrupted_exports();
        let threads = options
            .thumbnail_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
        media.start_thumbnail_workers(threads, options.on_thumbnail)?;
        Ok(Library {
            data_dir: dir,
            db,
            media,
            identity: Actor { user, workstation },
            session: std::sync::RwLock::new(auth::Session::default()),
            clinic_id: std::sync::RwLock::new(clinic_id),
            sync: std::sync::OnceLock::new(),
            anchor,
            frame_views: std::sync::Mutex::new(std::collections::HashMap::new()),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Who acts now: the signed-in user, else the library's identity.
    pub fn actor(&self) -> Actor {
        self.background_actor()
    }

    /// The clinic new patients join: the library's own, or the bucket's once sync joined it.
    pub fn clinic_id(&self) -> String {
        self.clinic_id.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn media(&self) -> &Media {
        &self.media
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    // --- patients ---

    pub fn add_patient(&self, new: &NewPatient) -> Result<Patient, AppError> {
        self.add_patient_to(&self.clinic_id(), new)
    }

    pub fn add_patient_to(&self, clinic_id: &str, new: &NewPatient) -> Result<Patient, AppError> {
        let actor = self.allow(Permission::ManagePatients)?;
        Ok(self.db.write(|tx| chairside_patients::add(tx, &actor, clinic_id, new))?)
    }

    pub fn update_patient(&self, id: &str, changes: &NewPatient) -> Result<Patient, AppError> {
        let actor = self.allow(Permission::ManagePatients)?;
        Ok(self.db.write(|tx| chairside_patients::update(tx, &actor, id, changes))?)
    }

    pub fn patient(&self, id: &str) -> Result<Patient, AppError> {
        self.signed_in()?;
        Ok(self.db.read(|c| chairside_patients::get(c, id))?)
    }

    /// A patient opened by a user (their chart shown): audited, as every access to a record.
    pub fn open_patient(&self, id: &str) -> Result<Patient, AppError> {
        let actor = self.signed_in()?;
        self.db.write(|tx| {
            let p = chairside_patients::get(tx, id)?;
            chairside_audit::append(tx, &actor, "patient_open", "patient", Some(id), serde_json::json!({}))?;
            Ok::<_, AppError>(p)
        })
    }

    pub fn list_patients(&self, query: Option<&str>) -> Result<Vec<Patient>, AppError> {
        self.signed_in()?;
        Ok(self.db.read(|c| chairside_patients::list(c, query))?)
    }

    // --- documents ---

    pub fn list_documents(&self, patient_id: &str, filter: StatusFilter) -> Result<Vec<DocumentSummary>, AppError> {
        self.allow(Permission::ViewImages)?;
        Ok(self.media.list(patient_id, filter)?)
    }

    /// The newest `limit` documents, in [`Library::list_documents`]'s order.
    pub fn list_newest_documents(
        &self,
        patient_id: &str,
        filter: StatusFilter,
        limit: usize,
    ) -> Result<Vec<DocumentSummary>, AppError> {
        self.allow(Permission::ViewImages)?;
        Ok(self.media.list_newest(patient_id, filter, Some(limit))?)
    }

    pub fn show_document(&self, id: &str) -> Result<DocumentDetails, AppError> {
        self.allow(Permission::ViewImages)?;
        let mut details = self.media.show(id)?;
        details.patient_mismatch = self.patient_mismatch(id)?;
        Ok(details)
    }

    /// Why a document's file may be another patient's than its chart's (a DICOM's own Patient
    /// ID or Name disagreeing with the chart), if it may.
    pub(crate) fn patient_mismatch(&self, id: &str) -> Result<Option<String>, AppError> {
        let doc = self.media.get(id)?;
        let Some(details) = doc.details.as_ref() else { return Ok(None) };
        let patient = self.patient(&doc.patient_id)?;
        Ok(chairside_media::dicom::patient_mismatch(details, &patient.name, patient.external_id.as_deref()))
    }

    /// Fails with `document_not_found` unless the document is here (a shell checking a list
    /// of ids before changing any).
    pub fn check_document(&self, id: &str) -> Result<(), AppError> {
        self.signed_in()?;
        self.media.get(id)?;
        Ok(())
    }

    /// Changes a document's kind, notes, teeth (in the clinic's notation) or captured time.
    pub fn update_document(&self, id: &str, patch: &DocumentPatch) -> Result<Transition, AppError> {
        self.update_document_in(id, patch, None)
    }

    pub fn archive(&self, id: &str, reason: Option<&str>) -> Result<Transition, AppError> {
        let actor = self.allow(Permission::Archive)?;
        Ok(self.media.archive(&actor, id, reason)?)
    }

    pub fn restore(&self, id: &str) -> Result<Transition, AppError> {
        let actor = self.allow(Permission::Restore)?;
        Ok(self.media.restore(&actor, id)?)
    }

    /// Documents in the library, archived ones included.
    pub fn document_count(&self) -> Result<u64, AppError> {
        Ok(self.media.count()?)
    }

    /// A document's original for display: its hash checked and the view audited.
    /// With sync, an original only a peer has yet is fetched (hash-checked) first.
    pub fn view_original(&self, id: &str) -> Result<(Document, Vec<u8>), AppError> {
        let actor = self.allow(Permission::ViewImages)?;
        match self.media.read_original(&actor, id) {
            Err(chairside_media::MediaError::BlobMissing { sha256 }) if self.fetch_from_bucket(&sha256)? => {
                Ok(self.media.read_original(&actor, id)?)
            }
            other => Ok(other?),
        }
    }

    /// A HEIC/AVIF photo at full resolution, an audited view, once the background workers
    /// have made it; `None` until then (or when it needs none): show its largest thumbnail.
    pub fn view_full(&self, id: &str) -> Result<Option<Vec<u8>>, AppError> {
        let actor = self.allow(Permission::ViewImages)?;
        Ok(self.media.full_view(&actor, id)?)
    }

    /// Records that a document's pixels were shown (`details`: which rendition).
    fn audit_view(&self, actor: &Actor, id: &str, details: serde_json::Value) -> Result<(), AppError> {
        self.db.write(|tx| chairside_audit::append(tx, actor, "view", "document", Some(id), details))?;
        Ok(())
    }

    /// Records the view of a frame of a document, unless it is part of a viewing already
    /// recorded. A single image is recorded at each display, as ever; once another frame than
    /// the first is asked for, the scroll or cine through that document by the same user is
    /// one viewing, recorded again only when its last record is [`FRAME_VIEW_SPAN`] old (a
    /// cine loop would otherwise write an event per frame).
    pub(crate) fn audit_frame_view(
        &self,
        actor: &Actor,
        id: &str,
        frame: u32,
        details: serde_json::Value,
    ) -> Result<(), AppError> {
        let key = (id.to_string(), actor.user.clone());
        let now = std::time::Instant::now();
        {
            let mut viewing = self.frame_views.lock().unwrap_or_else(|p| p.into_inner());
            viewing.retain(|_, at| now.duration_since(*at) < FRAME_VIEW_SPAN);
            if viewing.contains_key(&key) {
                return Ok(());
            }
            if frame > 0 {
                viewing.insert(key, now);
            }
        }
        self.audit_view(actor, id, details)
    }

    /// A thumbnail of a document, made on the spot if missing. The viewer's size (an X-ray or
    /// a PDF shown as its preview) is a view the audit trail records, as an original is.
    pub fn thumbnail(&self, document_id: &str, size: u32) -> Result<Option<ThumbnailRef>, AppError> {
        let actor = self.allow(Permission::ViewImages)?;
        self.media.get(document_id)?;
        if size >= VIEWER_PREVIEW_SIZE {
            self.audit_view(&actor, document_id, serde_json::json!({"preview": size}))?;
        }
        // An edited document shows as edited (its thumbnails are made from the adjustments).
        match self.media.document_thumbnail(document_id, size) {
            Err(chairside_media::MediaError::BlobMissing { sha256 }) if self.fetch_from_bucket(&sha256)? => {
                Ok(self.media.document_thumbnail(document_id, size)?)
            }
            other => Ok(other?),
        }
    }

    /// Blocks until the thumbnail workers have nothing left to do.
    pub fn wait_for_thumbnails(&self) {
        self.media.wait_for_thumbnails();
    }

    /// Blobs whose thumbnails are queued or being made.
    pub fn thumbnails_in_progress(&self) -> usize {
        self.media.thumbnails_in_progress()
    }

    // --- links ---

    pub fn link(
        &self,
        document_id: &str,
        owner_type: &str,
        owner_id: &str,
        role: Option<&str>,
    ) -> Result<Attachment, AppError> {
        let actor = self.allow(Permission::EditMetadata)?;
        Ok(self.media.link(&actor, document_id, owner_type, owner_id, role)?)
    }

    pub fn unlink(&self, document_id: &str, owner_type: &str, owner_id: &str) -> Result<Attachment, AppError> {
        let actor = self.allow(Permission::EditMetadata)?;
        Ok(self.media.unlink(&actor, document_id, owner_type, owner_id)?)
    }

    pub fn owner_documents(&self, owner_type: &str, owner_id: &str) -> Result<Vec<Attachment>, AppError> {
        self.allow(Permission::ViewImages)?;
        Ok(self.media.links_for_owner(owner_type, owner_id)?)
    }

    // --- clinical notes ---

    pub fn add_note(&self, patient_id: &str, text: &str) -> Result<Note, AppError> {
        let actor = self.allow(Permission::EditMetadata)?;
        Ok(self.db.write(|tx| chairside_clinical_notes::create(tx, &actor, patient_id, text))?)
    }

    pub fn edit_note(&self, id: &str, text: &str) -> Result<Note, AppError> {
        let actor = self.allow(Permission::EditMetadata)?;
        Ok(self.db.write(|tx| chairside_clinical_notes::edit(tx, &actor, id, text))?)
    }

    pub fn list_notes(&self, patient_id: &str) -> Result<Vec<Note>, AppError> {
        self.patient(patient_id)?;
        Ok(self.db.read(|c| chairside_clinical_notes::list_for_patient(c, patient_id))?)
    }

    // --- treatment plans ---

    pub fn add_plan(&self, patient_id: &str, title: &str) -> Result<Plan, AppError> {
        let actor = self.allow(Permission::EditMetadata)?;
        Ok(self.db.write(|tx| chairside_treatment_plan::create_plan(tx, &actor, patient_id, title))?)
    }

    pub fn add_plan_item(&self, plan_id: &str, title: &str) -> Result<PlanItem, AppError> {
        let actor = self.allow(Permission::EditMetadata)?;
        Ok(self.db.write(|tx| chairside_treatment_plan::add_item(tx, &actor, plan_id, title))?)
    }

    pub fn list_plans(&self, patient_id: &str) -> Result<Vec<Plan>, AppError> {
        self.patient(patient_id)?;
        Ok(self.db.read(|c| chairside_treatment_plan::list_for_patient(c, patient_id))?)
    }

    // --- export, integrity, audit ---

    /// A patient's documents (all, or `documents`) as a ZIP with the originals and a manifest.
    pub fn export_patient(
        &self,
        patient_id: &str,
        documents: &[String],
        out: &Path,
    ) -> Result<ExportSummary, AppError> {
        let actor = self.allow(Permission::Export)?;
        Ok(self.media.export_patient(&actor, patient_id, documents, out)?)
    }

    /// A referral on a CD or a USB stick: a folder with `DICOMDIR` and one DICOM file per
    /// document (X-rays as imported, photos as VL Photographic Images from the chart).
    pub fn export_dicom(
        &self,
        patient_id: &str,
        documents: &[String],
        out: &Path,
    ) -> Result<chairside_media::dicom_export::DicomExport, AppError> {
        let actor = self.allow(Permission::Export)?;
        let patient = self.patient(patient_id)?;
        Ok(self.media.export_dicom(&actor, &patient, documents, out)?)
    }

    pub fn verify(&self, options: VerifyOptions) -> Result<VerifyReport, AppError> {
        let actor = self.allow(Permission::Configure)?;
        Ok(self.media.verify(&actor, options)?)
    }

    pub fn audit_list(&self, entity: Option<&str>, limit: usize) -> Result<Vec<AuditEvent>, AppError> {
        self.allow(Permission::ViewAudit)?;
        Ok(self.db.read(|c| chairside_audit::list(c, entity, limit))?)
    }

    /// The audit trail filtered (the audit screen, `audit list` with filters). A patient's
    /// events are those about the patient and about each of its documents, notes, plans and
    /// series.
    pub fn audit_query(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, AppError> {
        self.allow(Permission::ViewAudit)?;
        let entities = match &filter.patient {
            None => None,
            Some(p) => {
                let patient = self.db.read(|c| chairside_patients::get(c, p))?;
                let mut ids = vec![patient.id.clone()];
                ids.extend(self.media.list(&patient.id, StatusFilter::All)?.into_iter().map(|d| d.id));
                self.db.read(|c| {
                    ids.extend(chairside_clinical_notes::list_for_patient(c, &patient.id)?.into_iter().map(|n| n.id));
                    for plan in chairside_treatment_plan::list_for_patient(c, &patient.id)? {
                        ids.extend(plan.items.into_iter().map(|i| i.id));
                        ids.push(plan.id);
                    }
                    ids.extend(chairside_series::list(c, &patient.id)?.into_iter().map(|s| s.id));
                    Ok::<_, AppError>(())
                })?;
                Some(ids)
            }
        };
        let entities = match (&filter.entity, entities) {
            (None, e) => e,
            (Some(id), None) => Some(vec![id.clone()]),
            (Some(id), Some(ids)) => Some(ids.into_iter().filter(|i| i == id).collect()),
        };
        let query = chairside_audit::Query {
            entities,
            actor: filter.user.clone(),
            action: filter.action.clone(),
            since: filter.since.clone(),
            until: filter.until.clone(),
            limit: filter.limit,
            newest_first: filter.newest_first,
        };
        Ok(self.db.read(|c| chairside_audit::query(c, &query))?)
    }

    /// Each peer's audit chain as received through sync, re-checked link by link.
    pub fn audit_verify_peers(&self) -> Result<Vec<chairside_sync::log::PeerChain>, AppError> {
        if !self.may(Permission::Configure) {
            self.allow(Permission::ViewAudit)?;
        }
        Ok(self.db.read(chairside_sync::log::verify_peer_chains)?)
    }

    /// Writes the events a filter picks to `path` as CSV (never over an existing file; a
    /// leading `=`, `+`, `-` or `@` is defused so a spreadsheet never runs a field). Audited.
    pub fn export_audit_csv(&self, filter: &AuditFilter, path: &Path) -> Result<usize, AppError> {
        let events = self.audit_query(filter)?;
        let field = |s: &str| {
            let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
            format!("\"{}\"", s.replace('"', "\"\""))
        };
        let mut out = String::from("seq,at,user,workstation,action,entity_type,entity_id,detail\n");
        for e in &events {
            let row = [
                e.seq.to_string(),
                e.at.clone(),
                e.actor.clone(),
                e.workstation.clone(),
                e.action.clone(),
                e.entity_type.clone(),
                e.entity_id.clone().unwrap_or_default(),
                e.detail.to_string(),
            ];
            out.push_str(&row.iter().map(|v| field(v)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        let fail = |e: std::io::Error| AppError::InvalidInput(format!("cannot write {}: {e}", path.display()));
        chairside_store::private::write_new(path, out.as_bytes()).map_err(fail)?;
        let actor = self.signed_in()?;
        self.db.write(|tx| {
            chairside_audit::append(
                tx,
                &actor,
                "audit_export",
                "library",
                None,
                serde_json::json!({"path": path.display().to_string(), "events": events.len()}),
            )
        })?;
        Ok(events.len())
    }

    // --- signatures ---

    /// Signs a document as it is now: who, when, its original's SHA-256 and its details.
    pub fn sign_document(&self, id: &str) -> Result<Signature, AppError> {
        let actor = self.allow(Permission::Sign)?;
        Ok(self.media.sign(&actor, id)?)
    }

    /// Signs every document mounted in a series (a whole mount), in slot order.
    pub fn sign_series(&self, id: &str) -> Result<Vec<Signature>, AppError> {
        let actor = self.allow(Permission::Sign)?;
        let view = self.series_view(id)?;
        let docs: Vec<String> = view.slots.iter().filter_map(|s| s.document_id.clone()).collect();
        if docs.is_empty() {
            return Err(AppError::InvalidInput("this series has no image to sign yet".into()));
        }
        docs.iter().map(|d| Ok(self.media.sign(&actor, d)?)).collect()
    }

    pub fn audit_verify(&self) -> Result<ChainReport, AppError> {
        if !self.may(Permission::Configure) {
            self.allow(Permission::ViewAudit)?;
        }
        Ok(self.db.read(|c| chairside_audit::verify_anchored(c, &self.anchor))?)
    }
}
