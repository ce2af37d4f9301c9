//! The command surface the UI calls. Each command is async and runs its library call on the
//! blocking pool, so neither the UI thread nor the async runtime ever waits on disk or SQLite.

use std::path::PathBuf;
use std::sync::Arc;

use chairside_app::backups::{BackupReport, BackupSchedule};
use chairside_app::clinical_notes::Note;
use chairside_app::media::{
    AdjustChange, Adjusted, Annotation, AnnotationInput, Calibration, Flip, Moved, Preset, Signature,
};
use chairside_app::media::{
    Attachment, DocumentDetails, DocumentPatch, DocumentSummary, Kind, Status, StatusFilter, Transition,
};
use chairside_app::patients::{NewPatient, Patient};
use chairside_app::series::{NewTemplate, Template};
use chairside_app::sync_engine::log::PeerChain;
use chairside_app::sync_engine::{
    Check, Encryption, LifecycleReport, SecretLocation, ShareLink, SyncConfig, SyncStatus,
};
use chairside_app::teeth::Notation;
use chairside_app::treatment_plan::{Plan, PlanItem};
use chairside_app::{
    AfterImport, AppError, AuditFilter, BackupState, CaptureOutcome, ErrorPayload, FileResult, Health, InboxFile,
    InboxFolder, Library, Permission, Remedy, Rendered, Role, SavedFrame, Secret, SeriesView, SessionState, SyncSetUp,
    ToothLabel, User,
};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use ts_rs::TS;

use crate::{EVENT_IMPORT_PROGRESS, Shared, capture};

type Reply<T> = Result<T, ErrorPayload>;

/// An error as the desktop says it: its message, then the next step as a place in the app.
pub(crate) fn payload(e: &AppError) -> ErrorPayload {
    e.payload_with(|r| match r {
        Remedy::FindPatient => "search for the patient again in the patient list",
        Remedy::FindDocument => "open the patient's documents again",
        Remedy::ListSeriesTemplates => "pick one of the templates in Settings → Series templates",
        Remedy::VerifyLibrary => {
            "ask whoever looks after this workstation to verify the library (`chairside verify`); the other images are not affected"
        }
        Remedy::ConfigureSync => "open Settings → Sync",
        Remedy::EnterSyncSecret => "open Settings → Sync and enter the secret key again",
        Remedy::AllowInsecureHttp => {
            "use an https:// address in Settings → Sync, or tick “Allow plain HTTP” there on a network the clinic trusts"
        }
        Remedy::TrustClinicCa => {
            "if the clinic issued the server's certificate, paste its authority's certificate in Settings → Sync; otherwise check the address"
        }
        Remedy::EnterSyncPassphrase => "open Settings → Sync and enter the clinic's passphrase",
        Remedy::EncryptBucket => {
            "ask whoever looks after sync to encrypt the bucket in place (`chairside sync encrypt-existing`) on one workstation"
        }
        Remedy::FinishReseal => {
            "ask whoever started the re-encryption of the bucket to run it again on that workstation until it finishes"
        }
    })
}

/// Runs `f` on the blocking pool against the open library (waiting there, not here, if the
/// library is still opening).
async fn blocking<R, T, F>(app: AppHandle<R>, f: F) -> Reply<T>
where
    R: Runtime,
    T: Send + 'static,
    F: FnOnce(&Library) -> Result<T, AppError> + Send + 'static,
{
    tauri::async_runtime::spawn_blocking(move || {
        let library: Arc<Library> = app.state::<Shared>().library()?;
        f(&library).map_err(|e| payload(&e))
    })
    .await
    .map_err(|e| ErrorPayload {
        code: "internal".into(),
        message: format!("the operation stopped unexpectedly ({e}); nothing was half-done, please try again"),
    })?
}

/// Like [`blocking`], for commands that change the library: sync uploads the change at once.
async fn changing<R, T, F>(app: AppHandle<R>, f: F) -> Reply<T>
where
    R: Runtime,
    T: Send + 'static,
    F: FnOnce(&Library) -> Result<T, AppError> + Send + 'static,
{
    let result = blocking(app.clone(), f).await;
    if result.is_ok() {
        crate::sync::nudge(&app);
    }
    result
}

/// What the status bar shows.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LibraryStatus {
    pub data_dir: String,
    pub documents: u64,
    pub thumbnails_in_progress: u64,
    pub user: String,
    pub workstation: String,
    pub version: String,
}

/// Startup figures, returned when the UI has painted its first screen.
#[derive(Debug, Clone, Serialize, TS)]
pub struct StartupInfo {
    /// From the process start to the first call of `app_ready`.
    pub startup_ms: u64,
}

/// A patient as the add/edit form sends it.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct PatientInput {
    pub name: String,
    pub external_id: Option<String>,
    pub birth_date: Option<String>,
}

impl From<PatientInput> for NewPatient {
    fn from(p: PatientInput) -> Self {
        NewPatient { name: p.name, external_id: p.external_id, birth_date: p.birth_date }
    }
}

/// Which documents the gallery lists.
#[derive(Debug, Clone, Copy, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum ListStatus {
    Active,
    Archived,
    All,
}

/// Metadata edits from the viewer; an absent field is left as it is, `""` clears a text.
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct DocumentEdit {
    pub kind: Option<Kind>,
    pub notes: Option<String>,
    pub teeth: Option<String>,
    pub captured_at: Option<String>,
}

/// One file done, sent as the `import-progress` event.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ImportProgressEvent {
    /// The id the UI gave the import, to tell concurrent imports apart.
    pub import_id: String,
    pub done: u64,
    pub total: u64,
    pub result: FileResult,
}

#[tauri::command(async)]
pub async fn app_ready(state: State<'_, Shared>) -> Reply<StartupInfo> {
    let mut first = false;
    let ms = *state.ready_ms.get_or_init(|| {
        first = true;
        state.started.elapsed().as_millis() as u64
    });
    // Once, for whoever looks after the workstation (and the package test, which waits for it).
    if first {
        log_line!("chairside: the window is ready, {ms} ms after start");
    }
    Ok(StartupInfo { startup_ms: ms })
}

#[tauri::command(async)]
pub async fn library_status<R: Runtime>(app: AppHandle<R>) -> Reply<LibraryStatus> {
    blocking(app, |lib| {
        Ok(LibraryStatus {
            data_dir: lib.data_dir().display().to_string(),
            documents: lib.document_count()?,
            thumbnails_in_progress: lib.thumbnails_in_progress() as u64,
            user: lib.actor().user,
            workstation: lib.actor().workstation,
            version: env!("CARGO_PKG_VERSION").to_string(),
        })
    })
    .await
}

#[tauri::command(async)]
pub async fn list_patients<R: Runtime>(app: AppHandle<R>, query: Option<String>) -> Reply<Vec<Patient>> {
    blocking(app, move |lib| lib.list_patients(query.as_deref().filter(|q| !q.trim().is_empty()))).await
}

#[tauri::command(async)]
pub async fn get_patient<R: Runtime>(app: AppHandle<R>, id: String) -> Reply<Patient> {
    blocking(app, move |lib| lib.patient(&id)).await
}

#[tauri::command(async)]
pub async fn add_patient<R: Runtime>(app: AppHandle<R>, input: PatientInput) -> Reply<Patient> {
    changing(app, move |lib| lib.add_patient(&input.into())).await
}

#[tauri::command(async)]
pub async fn update_patient<R: Runtime>(app: AppHandle<R>, id: String, input: PatientInput) -> Reply<Patient> {
    changing(app, move |lib| lib.update_patient(&id, &input.into())).await
}

/// A document as the gallery lists it: its summary, with only the sizes of its ready
/// thumbnails. The webview asks for thumbnails by document id through `media:`, never by
/// path, and the paths were half the bytes of a 5,000-photo listing.
#[derive(Debug, Serialize, TS)]
pub struct GalleryItem {
    pub id: String,
    pub sha256: String,
    pub kind: Kind,
    pub status: Status,
    pub mime: String,
    pub byte_size: u64,
    /// As displayed, after EXIF orientation.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub captured_at: Option<String>,
    pub original_filename: Option<String>,
    pub teeth: Option<String>,
    pub version: i64,
    /// Sizes of the thumbnails ready, smallest first; empty while they are being made, and for
    /// files without a preview (PDF).
    pub previews: Vec<u32>,
}

impl From<DocumentSummary> for GalleryItem {
    fn from(d: DocumentSummary) -> Self {
        GalleryItem {
            previews: d.thumbnails.sizes(),
            id: d.id,
            sha256: d.sha256,
            kind: d.kind,
            status: d.status,
            mime: d.mime.to_string(),
            byte_size: d.byte_size,
            width: d.width,
            height: d.height,
            captured_at: d.captured_at,
            original_filename: d.original_filename,
            teeth: d.teeth,
            version: d.version,
        }
    }
}

/// A patient's documents, newest first; with `limit`, only that many (the gallery asks for a
/// screenful first, so a long history paints before all of it has crossed IPC).
#[tauri::command(async)]
pub async fn list_documents<R: Runtime>(
    app: AppHandle<R>,
    patient_id: String,
    status: ListStatus,
    limit: Option<u32>,
) -> Reply<Vec<GalleryItem>> {
    let filter = match status {
        ListStatus::Active => StatusFilter::Active,
        ListStatus::Archived => StatusFilter::Archived,
        ListStatus::All => StatusFilter::All,
    };
    blocking(app, move |lib| {
        let docs = match limit {
            Some(n) => lib.list_newest_documents(&patient_id, filter, n as usize)?,
            None => lib.list_documents(&patient_id, filter)?,
        };
        Ok(docs.into_iter().map(GalleryItem::from).collect())
    })
    .await
}

#[tauri::command(async)]
pub async fn show_document<R: Runtime>(app: AppHandle<R>, id: String) -> Reply<DocumentDetails> {
    blocking(app, move |lib| lib.show_document(&id)).await
}

#[tauri::command(async)]
pub async fn update_document<R: Runtime>(app: AppHandle<R>, id: String, edit: DocumentEdit) -> Reply<Transition> {
    changing(app, move |lib| {
        let patch =
            DocumentPatch { kind: edit.kind, notes: edit.notes, teeth: edit.teeth, captured_at: edit.captured_at };
        lib.update_document(&id, &patch)
    })
    .await
}

#[tauri::command(async)]
pub async fn archive_document<R: Runtime>(app: AppHandle<R>, id: String, reason: Option<String>) -> Reply<Transition> {
    changing(app, move |lib| lib.archive(&id, reason.as_deref().filter(|r| !r.trim().is_empty()))).await
}

#[tauri::command(async)]
pub async fn restore_document<R: Runtime>(app: AppHandle<R>, id: String) -> Reply<Transition> {
    changing(app, move |lib| lib.restore(&id)).await
}

/// Imports files and folders (dropped or picked) for a patient; each file's outcome is sent as
/// an `import-progress` event as it lands, and all of them are returned at the end.
#[tauri::command(async)]
pub async fn import_files<R: Runtime>(
    app: AppHandle<R>,
    import_id: String,
    patient_id: String,
    paths: Vec<String>,
    kind: Option<Kind>,
) -> Reply<Vec<FileResult>> {
    let emitter = app.clone();
    changing(app, move |lib| {
        let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
        lib.import_paths(&patient_id, &paths, kind, "desktop", &|p| {
            let event = ImportProgressEvent {
                import_id: import_id.clone(),
                done: p.done as u64,
                total: p.total as u64,
                result: p.result.clone(),
            };
            let _ = emitter.emit(EVENT_IMPORT_PROGRESS, event);
        })
    })
    .await
}

#[tauri::command(async)]
pub async fn link_document<R: Runtime>(
    app: AppHandle<R>,
    document_id: String,
    owner_type: String,
    owner_id: String,
    role: Option<String>,
) -> Reply<Attachment> {
    changing(app, move |lib| lib.link(&document_id, &owner_type, &owner_id, role.as_deref())).await
}

#[tauri::command(async)]
pub async fn unlink_document<R: Runtime>(
    app: AppHandle<R>,
    document_id: String,
    owner_type: String,
    owner_id: String,
) -> Reply<Attachment> {
    changing(app, move |lib| lib.unlink(&document_id, &owner_type, &owner_id)).await
}

#[tauri::command(async)]
pub async fn owner_documents<R: Runtime>(
    app: AppHandle<R>,
    owner_type: String,
    owner_id: String,
) -> Reply<Vec<Attachment>> {
    blocking(app, move |lib| lib.owner_documents(&owner_type, &owner_id)).await
}

#[tauri::command(async)]
pub async fn list_notes<R: Runtime>(app: AppHandle<R>, patient_id: String) -> Reply<Vec<Note>> {
    blocking(app, move |lib| lib.list_notes(&patient_id)).await
}

#[tauri::command(async)]
pub async fn add_note<R: Runtime>(app: AppHandle<R>, patient_id: String, text: String) -> Reply<Note> {
    changing(app, move |lib| lib.add_note(&patient_id, &text)).await
}

#[tauri::command(async)]
pub async fn edit_note<R: Runtime>(app: AppHandle<R>, id: String, text: String) -> Reply<Note> {
    changing(app, move |lib| lib.edit_note(&id, &text)).await
}

#[tauri::command(async)]
pub async fn list_plans<R: Runtime>(app: AppHandle<R>, patient_id: String) -> Reply<Vec<Plan>> {
    blocking(app, move |lib| lib.list_plans(&patient_id)).await
}

#[tauri::command(async)]
pub async fn add_plan<R: Runtime>(app: AppHandle<R>, patient_id: String, title: String) -> Reply<Plan> {
    changing(app, move |lib| lib.add_plan(&patient_id, &title)).await
}

#[tauri::command(async)]
pub async fn add_plan_item<R: Runtime>(app: AppHandle<R>, plan_id: String, title: String) -> Reply<PlanItem> {
    changing(app, move |lib| lib.add_plan_item(&plan_id, &title)).await
}

// --- capture: the active patient, watched folders, tooth numbers ---

#[tauri::command(async)]
pub async fn get_active_patient<R: Runtime>(app: AppHandle<R>) -> Reply<Option<Patient>> {
    blocking(app, |lib| lib.active_patient()).await
}

/// Chooses whose chair this is (or, with no id, nobody's): what the inbox and the camera
/// capture go to.
#[tauri::command(async)]
pub async fn set_active_patient<R: Runtime>(app: AppHandle<R>, patient_id: Option<String>) -> Reply<Option<Patient>> {
    let state_app = app.clone();
    blocking(app, move |lib| {
        state_app.state::<Shared>().with_active(|known| {
            let p = lib.set_active_patient(patient_id.as_deref())?;
            *known = p.as_ref().map(|p| p.id.clone());
            Ok(p)
        })
    })
    .await
}

#[tauri::command(async)]
pub async fn inbox_folders<R: Runtime>(app: AppHandle<R>) -> Reply<Vec<InboxFolder>> {
    blocking(app, |lib| lib.inbox_folders()).await
}

/// A watched folder as the settings form sends it.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct InboxFolderInput {
    pub path: String,
    pub kind: Option<Kind>,
    pub after_import: AfterImport,
}

/// Adds or changes a watched folder; the inbox restarts on the new set.
#[tauri::command(async)]
pub async fn set_inbox_folder<R: Runtime>(app: AppHandle<R>, folder: InboxFolderInput) -> Reply<Vec<InboxFolder>> {
    let restart = app.clone();
    blocking(app, move |lib| {
        let folder =
            InboxFolder { path: folder.path.trim().to_string(), kind: folder.kind, after_import: folder.after_import };
        lib.set_inbox_folder(&folder)?;
        restart_inbox(&restart);
        lib.inbox_folders()
    })
    .await
}

#[tauri::command(async)]
pub async fn remove_inbox_folder<R: Runtime>(app: AppHandle<R>, path: String) -> Reply<Vec<InboxFolder>> {
    let restart = app.clone();
    blocking(app, move |lib| {
        lib.remove_inbox_folder(&path)?;
        restart_inbox(&restart);
        lib.inbox_folders()
    })
    .await
}

fn restart_inbox<R: Runtime>(app: &AppHandle<R>) {
    if let Ok(lib) = app.state::<Shared>().library() {
        capture::start_inbox(app, &lib);
    }
}

/// The Unassigned tray and the files that failed.
#[tauri::command(async)]
pub async fn inbox_files<R: Runtime>(app: AppHandle<R>) -> Reply<Vec<InboxFile>> {
    blocking(app, |lib| lib.inbox_open_files()).await
}

/// Files from the tray dropped onto a patient.
#[tauri::command(async)]
pub async fn assign_inbox_files<R: Runtime>(
    app: AppHandle<R>,
    patient_id: String,
    paths: Vec<String>,
) -> Reply<Vec<InboxFile>> {
    changing(app, move |lib| lib.assign_inbox_files(&patient_id, &paths)).await
}

/// The clinic's tooth notation and every tooth labelled in it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ToothChart {
    pub notation: Notation,
    pub teeth: Vec<ToothLabel>,
}

#[tauri::command(async)]
pub async fn tooth_chart<R: Runtime>(app: AppHandle<R>) -> Reply<ToothChart> {
    blocking(app, |lib| {
        let notation = lib.tooth_notation()?;
        Ok(ToothChart { notation, teeth: lib.tooth_chart(Some(notation))? })
    })
    .await
}

#[tauri::command(async)]
pub async fn set_tooth_notation<R: Runtime>(app: AppHandle<R>, notation: Notation) -> Reply<ToothChart> {
    blocking(app, move |lib| {
        lib.set_tooth_notation(notation)?;
        Ok(ToothChart { notation, teeth: lib.tooth_chart(Some(notation))? })
    })
    .await
}

// --- series, mounts and the capture session ---

#[tauri::command(async)]
pub async fn series_templates<R: Runtime>(app: AppHandle<R>) -> Reply<Vec<Template>> {
    blocking(app, |lib| lib.series_templates()).await
}

/// A clinic's own template; each slot's teeth in the clinic's notation.
#[tauri::command(async)]
pub async fn add_series_template<R: Runtime>(app: AppHandle<R>, template: NewTemplate) -> Reply<Template> {
    changing(app, move |lib| lib.add_series_template(&template)).await
}

/// One series with what is in each slot.
#[tauri::command(async)]
pub async fn show_series<R: Runtime>(app: AppHandle<R>, id: String) -> Reply<SeriesView> {
    blocking(app, move |lib| lib.series_view(&id)).await
}

#[tauri::command(async)]
pub async fn list_series<R: Runtime>(app: AppHandle<R>, patient_id: String) -> Reply<Vec<SeriesView>> {
    blocking(app, move |lib| lib.list_series(&patient_id)).await
}

/// Starts a series and makes it the capture session, with its patient in the chair.
#[tauri::command(async)]
pub async fn start_capture<R: Runtime>(
    app: AppHandle<R>,
    patient_id: String,
    template_id: String,
) -> Reply<SeriesView> {
    let state_app = app.clone();
    changing(app, move |lib| {
        state_app.state::<Shared>().with_active(|known| {
            let v = lib.start_capture(&patient_id, &template_id, None)?;
            *known = Some(patient_id.clone());
            Ok(v)
        })
    })
    .await
}

#[tauri::command(async)]
pub async fn capture_session<R: Runtime>(app: AppHandle<R>) -> Reply<Option<SeriesView>> {
    blocking(app, |lib| lib.capture_session()).await
}

/// Makes a series the capture session again, or ends the session (`null`).
#[tauri::command(async)]
pub async fn resume_capture<R: Runtime>(app: AppHandle<R>, series_id: Option<String>) -> Reply<Option<SeriesView>> {
    blocking(app, move |lib| lib.resume_capture(series_id.as_deref())).await
}

#[tauri::command(async)]
pub async fn place_in_series<R: Runtime>(
    app: AppHandle<R>,
    series_id: String,
    slot: u32,
    document_id: String,
) -> Reply<SeriesView> {
    changing(app, move |lib| lib.place_in_series(&series_id, slot as usize, &document_id)).await
}

/// A still from the camera, sent as the raw bytes of a JPEG (no base64): imported into the
/// patient in the chair and placed in the capture session's next slot.
#[tauri::command(async)]
pub async fn capture_still<R: Runtime>(app: AppHandle<R>, request: tauri::ipc::Request<'_>) -> Reply<CaptureOutcome> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(ErrorPayload {
            code: "invalid_input".into(),
            message: "the still must be sent as raw JPEG bytes".into(),
        });
    };
    let bytes = bytes.clone();
    changing(app, move |lib| lib.capture_still(&bytes)).await
}

/// The sync settings (no secret), and where the secret is kept.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SyncSettings {
    pub config: Option<SyncConfig>,
    pub secret: SecretLocation,
}

#[tauri::command(async)]
pub async fn sync_settings<R: Runtime>(app: AppHandle<R>) -> Reply<SyncSettings> {
    blocking(app, |lib| {
        let engine = lib.sync()?;
        Ok(SyncSettings { config: engine.config()?, secret: engine.secret_location() })
    })
    .await
}

#[tauri::command(async)]
pub async fn sync_status<R: Runtime>(app: AppHandle<R>) -> Reply<SyncStatus> {
    blocking(app, |lib| lib.sync_status()).await
}

/// Checks the bucket and saves the settings (nothing saved if the check fails); the secret
/// goes to the OS keychain.
#[tauri::command(async)]
pub async fn sync_configure<R: Runtime>(
    app: AppHandle<R>,
    config: SyncConfig,
    secret: String,
    passphrase: Option<String>,
) -> Reply<SyncSetUp> {
    // No passphrase is the window's "keep the bucket unencrypted", asked for by name there.
    let encryption = match passphrase {
        Some(p) if !p.is_empty() => Encryption::Passphrase(p.into()),
        _ => Encryption::Off,
    };
    let result = blocking(app.clone(), move |lib| lib.sync_configure(config, &secret, encryption)).await;
    if result.is_ok() {
        crate::sync::now(&app);
    }
    result
}

/// Rewraps the clinic key in the bucket under a new passphrase (the key itself stays).
#[tauri::command(async)]
pub async fn sync_change_passphrase<R: Runtime>(app: AppHandle<R>, passphrase: String) -> Reply<()> {
    blocking(app, move |lib| lib.sync_change_passphrase(&passphrase)).await
}

/// A re-sealing pass just started: the new key's id and its recovery key, shown once. (No
/// `Debug`: the recovery key is never printed.)
#[derive(Clone, Serialize, TS)]
pub struct ResealStarted {
    pub key_id: String,
    pub recovery_key: String,
}

/// Starts sealing the bucket again under a new clinic key wrapped by `passphrase` (after a
/// workstation is lost), or — `encrypt` — encrypting an unencrypted one; the background rounds
/// carry the pass to its end.
#[tauri::command(async)]
pub async fn sync_reseal<R: Runtime>(app: AppHandle<R>, passphrase: String, encrypt: bool) -> Reply<ResealStarted> {
    let result = blocking(app.clone(), move |lib| {
        let started = if encrypt { lib.sync_encrypt_existing(&passphrase)? } else { lib.sync_rotate_key(&passphrase)? };
        Ok(ResealStarted { key_id: started.key_id, recovery_key: started.recovery_key.to_string() })
    })
    .await;
    if result.is_ok() {
        crate::sync::now(&app);
    }
    result
}

#[tauri::command(async)]
pub async fn sync_test<R: Runtime>(app: AppHandle<R>) -> Reply<Vec<Check>> {
    blocking(app, |lib| lib.sync_test()).await
}

#[tauri::command(async)]
pub async fn sync_now<R: Runtime>(app: AppHandle<R>) -> Reply<()> {
    crate::sync::now(&app);
    Ok(())
}

#[tauri::command(async)]
pub async fn sync_share<R: Runtime>(app: AppHandle<R>, document_id: String, seconds: u64) -> Reply<ShareLink> {
    blocking(app, move |lib| lib.sync_share(&document_id, std::time::Duration::from_secs(seconds))).await
}

#[tauri::command(async)]
pub async fn sync_lifecycle_install<R: Runtime>(app: AppHandle<R>) -> Reply<LifecycleReport> {
    blocking(app, |lib| lib.sync_lifecycle_install()).await
}

/// The workstation's health; `quick` skips re-checking the audit chain (the status bar's poll).
#[tauri::command(async)]
pub async fn health<R: Runtime>(app: AppHandle<R>, quick: bool) -> Reply<Health> {
    blocking(app, move |lib| lib.health(quick)).await
}

/// Imports are refused when the library's disk has less than this free.
#[tauri::command(async)]
pub async fn set_min_free_space<R: Runtime>(app: AppHandle<R>, megabytes: u64) -> Reply<Health> {
    blocking(app, move |lib| {
        lib.set_min_free_bytes(megabytes.saturating_mul(1_000_000))?;
        lib.health(true)
    })
    .await
}

/// Virus scanning on (the clamd address; refused unless it answers) or off (`None`).
#[tauri::command(async)]
pub async fn set_scanning<R: Runtime>(app: AppHandle<R>, clamd: Option<String>) -> Reply<Health> {
    blocking(app, move |lib| {
        lib.set_scanning(clamd.as_deref().map(str::trim).filter(|a| !a.is_empty()))?;
        lib.health(true)
    })
    .await
}

#[tauri::command(async)]
pub async fn backup_state<R: Runtime>(app: AppHandle<R>) -> Reply<BackupState> {
    blocking(app, |lib| lib.backup_state()).await
}

#[tauri::command(async)]
pub async fn set_backup_schedule<R: Runtime>(app: AppHandle<R>, schedule: BackupSchedule) -> Reply<BackupState> {
    blocking(app, move |lib| lib.set_backup_schedule(&schedule)).await
}

/// A backup to the scheduled folder now (the schedule's thread takes the same lock, so the two
/// never run at once: the second is refused as in progress).
#[tauri::command(async)]
pub async fn backup_now<R: Runtime>(app: AppHandle<R>) -> Reply<BackupReport> {
    blocking(app, |lib| lib.backup(None, None)).await
}

// --- who is at the keyboard ---

#[tauri::command(async)]
pub async fn session<R: Runtime>(app: AppHandle<R>) -> Reply<SessionState> {
    blocking(app, |lib| lib.session()).await
}

/// Signs in, switches user, or unlocks the window: with the password, or with the PIN.
#[tauri::command(async)]
pub async fn sign_in<R: Runtime>(app: AppHandle<R>, name: String, secret: String, pin: bool) -> Reply<SessionState> {
    blocking(app, move |lib| lib.sign_in(&name, if pin { Secret::Pin(&secret) } else { Secret::Password(&secret) }))
        .await
}

#[tauri::command(async)]
pub async fn sign_out<R: Runtime>(app: AppHandle<R>) -> Reply<SessionState> {
    blocking(app, |lib| lib.sign_out()).await
}

/// Locks the window (`reason`: "idle" or "key"): nothing is shown or served until sign-in.
#[tauri::command(async)]
pub async fn lock_window<R: Runtime>(app: AppHandle<R>, reason: String) -> Reply<SessionState> {
    let reason = if reason == "idle" { "idle" } else { "key" };
    blocking(app, move |lib| lib.lock(reason)).await
}

#[tauri::command(async)]
pub async fn set_lock_after<R: Runtime>(app: AppHandle<R>, seconds: u64) -> Reply<SessionState> {
    changing(app, move |lib| lib.set_lock_after_seconds(seconds)).await
}

/// A user as the Users settings send one.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct NewUserInput {
    pub name: String,
    pub role: String,
    pub password: String,
    pub pin: Option<String>,
}

#[tauri::command(async)]
pub async fn add_user<R: Runtime>(app: AppHandle<R>, input: NewUserInput) -> Reply<User> {
    changing(app, move |lib| {
        let pin = input.pin.as_deref().filter(|p| !p.is_empty());
        lib.add_user(&input.name, &input.role, &input.password, pin)
    })
    .await
}

#[tauri::command(async)]
pub async fn list_users<R: Runtime>(app: AppHandle<R>) -> Reply<Vec<User>> {
    blocking(app, |lib| lib.list_users()).await
}

#[tauri::command(async)]
pub async fn edit_user<R: Runtime>(
    app: AppHandle<R>,
    name: String,
    role: Option<String>,
    disabled: Option<bool>,
) -> Reply<User> {
    changing(app, move |lib| lib.edit_user(&name, role.as_deref(), disabled)).await
}

/// Sets a user's password (and PIN, when given; "" removes it).
#[tauri::command(async)]
pub async fn set_user_secrets<R: Runtime>(
    app: AppHandle<R>,
    name: String,
    password: Option<String>,
    pin: Option<String>,
) -> Reply<User> {
    changing(app, move |lib| {
        let pin = pin.as_deref().map(|p| Some(p).filter(|p| !p.is_empty()));
        lib.set_user_secrets(&name, password.as_deref().filter(|p| !p.is_empty()), pin)
    })
    .await
}

#[tauri::command(async)]
pub async fn list_roles<R: Runtime>(app: AppHandle<R>) -> Reply<Vec<Role>> {
    blocking(app, |lib| lib.list_roles()).await
}

#[tauri::command(async)]
pub async fn edit_role<R: Runtime>(
    app: AppHandle<R>,
    role: String,
    allow: Vec<Permission>,
    deny: Vec<Permission>,
) -> Reply<Role> {
    changing(app, move |lib| lib.edit_role(&role, &allow, &deny)).await
}

/// A patient opened in the window: audited, as every access to a record.
#[tauri::command(async)]
pub async fn open_patient<R: Runtime>(app: AppHandle<R>, id: String) -> Reply<Patient> {
    changing(app, move |lib| lib.open_patient(&id)).await
}

#[tauri::command(async)]
pub async fn sign_document<R: Runtime>(app: AppHandle<R>, id: String) -> Reply<Signature> {
    changing(app, move |lib| lib.sign_document(&id)).await
}

/// One event of the audit trail as the audit screen lists it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub user: String,
    pub workstation: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    /// The event's details as JSON text.
    pub detail: String,
}

/// What the audit screen filters by; empty fields match all. Times are RFC 3339 (UTC).
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct AuditQueryInput {
    pub patient: Option<String>,
    pub user: Option<String>,
    pub action: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<u32>,
}

fn audit_filter(query: AuditQueryInput) -> AuditFilter {
    let some = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    AuditFilter {
        entity: None,
        patient: some(query.patient),
        user: some(query.user),
        action: some(query.action),
        since: some(query.since),
        until: some(query.until),
        limit: query.limit.unwrap_or(500).min(100_000) as usize,
        newest_first: true,
    }
}

/// The audit trail, newest first (at most 500 events unless `limit` says otherwise).
#[tauri::command(async)]
pub async fn audit_events<R: Runtime>(app: AppHandle<R>, query: AuditQueryInput) -> Reply<Vec<AuditRow>> {
    blocking(app, move |lib| {
        Ok(lib
            .audit_query(&audit_filter(query))?
            .into_iter()
            .map(|e| AuditRow {
                seq: e.seq,
                at: e.at,
                user: e.actor,
                workstation: e.workstation,
                action: e.action,
                entity_type: e.entity_type,
                entity_id: e.entity_id,
                detail: e.detail.to_string(),
            })
            .collect())
    })
    .await
}

/// What *Verify chain* shows: this workstation's chain (anchored heads included) and each
/// peer's as received through sync.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AuditCheck {
    pub ok: bool,
    pub events_checked: u64,
    pub problem: Option<String>,
    pub peers: Vec<PeerChain>,
}

#[tauri::command(async)]
pub async fn audit_verify<R: Runtime>(app: AppHandle<R>) -> Reply<AuditCheck> {
    blocking(app, |lib| {
        let r = lib.audit_verify()?;
        Ok(AuditCheck {
            ok: r.ok,
            events_checked: r.events_checked,
            problem: r.problem,
            peers: lib.audit_verify_peers()?,
        })
    })
    .await
}

/// Writes the filtered events to `path` as CSV (never over an existing file); how many.
#[tauri::command(async)]
pub async fn audit_export_csv<R: Runtime>(app: AppHandle<R>, query: AuditQueryInput, path: String) -> Reply<u64> {
    blocking(app, move |lib| {
        let path = PathBuf::from(path.trim());
        if !path.is_absolute() {
            return Err(AppError::InvalidInput(format!(
                "give the CSV file as a full path, not {:?}",
                path.display().to_string()
            )));
        }
        Ok(lib.export_audit_csv(&audit_filter(query), &path)? as u64)
    })
    .await
}

// --- the clinical viewer ---

/// A change of adjustments from the viewer: a field left out stays as it is; `crop` and
/// `window` set to null are removed.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct AdjustInput {
    pub reset: bool,
    #[ts(optional)]
    pub preset: Option<String>,
    #[ts(optional)]
    pub rotate: Option<u16>,
    #[ts(optional)]
    pub flip: Option<Flip>,
    #[ts(optional)]
    pub straighten: Option<f64>,
    #[serde(deserialize_with = "present")]
    #[ts(optional)]
    pub crop: Option<Option<[u32; 4]>>,
    #[serde(deserialize_with = "present")]
    #[ts(optional)]
    pub window: Option<Option<[f64; 2]>>,
    #[ts(optional)]
    pub brightness: Option<i32>,
    #[ts(optional)]
    pub contrast: Option<i32>,
    #[ts(optional)]
    pub gamma: Option<f64>,
    #[ts(optional)]
    pub invert: Option<bool>,
    #[ts(optional)]
    pub sharpen: Option<u32>,
}

/// A field given as null is `Some(None)` (remove it); left out, `None` (keep it).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[tauri::command(async)]
pub async fn adjust_document<R: Runtime>(app: AppHandle<R>, id: String, change: AdjustInput) -> Reply<Adjusted> {
    let change = AdjustChange {
        reset: change.reset,
        preset: change.preset,
        rotate: change.rotate,
        flip: change.flip,
        straighten: change.straighten,
        crop: change.crop,
        window: change.window,
        brightness: change.brightness,
        contrast: change.contrast,
        gamma: change.gamma,
        invert: change.invert,
        sharpen: change.sharpen,
    };
    changing(app, move |lib| lib.adjust(&id, &change)).await
}

#[tauri::command(async)]
pub async fn adjust_presets<R: Runtime>(app: AppHandle<R>) -> Reply<Vec<Preset>> {
    blocking(app, |lib| lib.adjust_presets()).await
}

#[tauri::command(async)]
pub async fn annotate_document<R: Runtime>(
    app: AppHandle<R>,
    id: String,
    items: Vec<AnnotationInput>,
) -> Reply<Vec<Annotation>> {
    changing(app, move |lib| lib.annotate(&id, &items)).await
}

#[tauri::command(async)]
pub async fn remove_annotation<R: Runtime>(app: AppHandle<R>, id: String, annotation_id: String) -> Reply<()> {
    changing(app, move |lib| lib.remove_annotation(&id, &annotation_id)).await
}

/// Calibrates from a line over something `mm` long; with no line, clears the user's one.
#[tauri::command(async)]
pub async fn calibrate_document<R: Runtime>(
    app: AppHandle<R>,
    id: String,
    line: Option<([f64; 2], [f64; 2], f64)>,
) -> Reply<Calibration> {
    changing(app, move |lib| lib.calibrate(&id, line)).await
}

#[tauri::command(async)]
pub async fn move_documents<R: Runtime>(
    app: AppHandle<R>,
    ids: Vec<String>,
    to_patient: String,
    reason: String,
) -> Reply<Vec<Moved>> {
    changing(app, move |lib| lib.move_documents(&ids, &to_patient, &reason)).await
}

/// What an export wrote.
#[derive(Debug, Serialize, TS)]
pub struct Exported {
    pub path: String,
    pub documents: usize,
    pub bytes: u64,
    /// Documents with no image to put on a page (a PDF export of a scanned PDF).
    pub skipped: Vec<String>,
}

/// A patient's documents (`documents`, or all of them when empty) to `out`: `pdf`, a page each
/// as adjusted and annotated under the print header; `zip`, the originals with a manifest and
/// a FHIR bundle; `dicom`, a folder with a DICOMDIR.
#[tauri::command(async)]
pub async fn export_documents<R: Runtime>(
    app: AppHandle<R>,
    patient_id: String,
    documents: Vec<String>,
    format: String,
    out: String,
) -> Reply<Exported> {
    changing(app, move |lib| {
        let out = absolute_path(&out)?;
        match format.as_str() {
            "pdf" => lib.export_pdf(&patient_id, &documents, &out).map(|e| Exported {
                path: e.path,
                documents: e.documents,
                bytes: e.bytes,
                skipped: e.skipped,
            }),
            "zip" => lib.export_patient(&patient_id, &documents, &out).map(|e| Exported {
                path: e.path.display().to_string(),
                documents: e.documents,
                bytes: e.bytes,
                skipped: Vec::new(),
            }),
            "dicom" => lib.export_dicom(&patient_id, &documents, &out).map(|e| Exported {
                path: e.path,
                documents: e.documents,
                bytes: e.bytes,
                skipped: e.skipped,
            }),
            other => Err(AppError::InvalidInput(format!("export format {other:?}: use pdf, zip or dicom"))),
        }
    })
    .await
}

/// Writes a document as adjusted (PNG, JPEG or a PDF page with the header) to `out`.
#[tauri::command(async)]
pub async fn render_document<R: Runtime>(
    app: AppHandle<R>,
    id: String,
    out: String,
    annotations: bool,
) -> Reply<Rendered> {
    changing(app, move |lib| lib.render_document(&id, &absolute_path(&out)?, annotations, None)).await
}

/// A grey image's values at full depth through its geometry, for windowing live in the
/// viewer, as raw bytes (an `ArrayBuffer` in the webview; see `chairside_media::render::GreyView`);
/// `not_grey` for a colour image. Over IPC, not the `media:` scheme: WebKitGTK's `fetch` does
/// not read custom schemes from the app's page.
#[tauri::command(async)]
pub async fn grey_view<R: Runtime>(
    app: AppHandle<R>,
    id: String,
    size: u32,
    frame: Option<u32>,
) -> Reply<tauri::ipc::Response> {
    let bytes = blocking(app, move |lib| lib.view_grey(&id, size, frame.unwrap_or(0))).await?;
    bytes.map(tauri::ipc::Response::new).ok_or_else(|| ErrorPayload {
        code: "not_grey".into(),
        message: "a colour image has no grey values to window; its brightness and contrast are previewed instead"
            .into(),
    })
}

/// Whether a video can be played now: `ready` (from its original, or from its H.264 proxy),
/// or `preparing` while the proxy of a codec the webview cannot play is being made.
#[derive(Debug, Clone, Serialize, TS)]
pub struct VideoSource {
    pub state: &'static str,
    pub proxy: bool,
    /// Where the player reads it: the app's loopback video server (`video_server.rs`).
    pub url: String,
}

/// Where the viewer's player stands for a video, and where it reads it.
#[tauri::command(async)]
pub async fn video_source<R: Runtime>(app: AppHandle<R>, id: String) -> Reply<VideoSource> {
    let url = app.state::<Shared>().video_url(&id)?;
    blocking(app, move |lib| match lib.video_file(&id, false) {
        Ok(file) => Ok(VideoSource { state: "ready", proxy: file.proxy, url }),
        Err(AppError::Media(chairside_app::media::MediaError::VideoPreparing { .. })) => {
            Ok(VideoSource { state: "preparing", proxy: true, url })
        }
        Err(e) => Err(e),
    })
    .await
}

/// "Save this frame as a photo": the frame at `at_s` seconds becomes a new document linked
/// to the video.
#[tauri::command(async)]
pub async fn save_video_frame<R: Runtime>(app: AppHandle<R>, id: String, at_s: f64) -> Reply<SavedFrame> {
    changing(app, move |lib| lib.save_video_frame(&id, at_s)).await
}

/// Prints a mount (a series) to a PDF page, PNG or JPEG at `out`.
#[tauri::command(async)]
pub async fn print_series<R: Runtime>(
    app: AppHandle<R>,
    id: String,
    out: String,
    annotations: bool,
) -> Reply<Rendered> {
    changing(app, move |lib| lib.render_series(&id, &absolute_path(&out)?, annotations)).await
}

/// Output paths typed in the window must be whole: a relative one would land wherever the
/// app was started.
fn absolute_path(out: &str) -> Result<PathBuf, AppError> {
    let path = PathBuf::from(out.trim());
    if !path.is_absolute() {
        return Err(AppError::InvalidInput(format!(
            "{out:?}: give the whole path, for example /home/you/referral.pdf"
        )));
    }
    Ok(path)
}
