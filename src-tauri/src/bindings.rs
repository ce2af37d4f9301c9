//! TypeScript declarations of everything the command surface sends and receives, generated
//! from the Rust types and committed as `ui/src/lib/bindings.ts`. A test fails when the
//! committed file is stale; `UPDATE_BINDINGS=1 cargo test -p chairside-desktop bindings`
//! rewrites it.

use chairside_app::backups::{BackupReport, BackupRun, BackupSchedule};
use chairside_app::clinical_notes::Note;
use chairside_app::media::health::{SizeRow, ThumbnailBacklog};
use chairside_app::media::{
    Adjusted, Adjustments, Annotation, AnnotationInput, AnnotationType, Attachment, Calibration, CalibrationSource,
    ChangedAfter, Document, DocumentDetails, Flip, HistoryEntry, Kind, Measurement, MoveStatus, Moved, Preset,
    Signature, Status, ThumbnailEvent, ThumbnailRef, Transition, VideoInfo,
};
use chairside_app::patients::Patient;
use chairside_app::series::{NewTemplate, Series, Slot, Template};
use chairside_app::teeth::Notation;
use chairside_app::treatment_plan::{Plan, PlanItem};
use chairside_app::{
    AfterImport, AuditState, BackupState, CaptureOutcome, DiskHealth, ErrorPayload, FileResult, FileStatus, Finding,
    Health, HealthLevel, InboxFile, InboxFolder, InboxNotice, InboxStatus, Permission, Rendered, Role, SavedFrame,
    ScanningState, SeriesView, SessionState, SlotView, ToothLabel, User, VerifyRun,
};
use ts_rs::{Config, TS};

use crate::capture::ActivePatientEvent;
use crate::commands::{
    AdjustInput, AuditCheck, AuditQueryInput, AuditRow, DocumentEdit, Exported, GalleryItem, ImportProgressEvent,
    InboxFolderInput, LibraryStatus, ListStatus, NewUserInput, PatientInput, ResealStarted, StartupInfo, SyncSettings,
    ToothChart, VideoSource,
};
use crate::sync::SyncEvent;
use chairside_app::SyncSetUp;
use chairside_app::sync_engine::log::PeerChain;
use chairside_app::sync_engine::{
    Backlog, Check, EncryptionState, LifecycleReport, Originals, SecretLocation, ShareLink, SyncConfig, SyncState,
    SyncStatus, TierTransition,
};

/// Where the UI keeps the generated file, relative to this crate.
pub const PATH: &str = "../ui/src/lib/bindings.ts";

macro_rules! declarations {
    ($cfg:expr; $($t:ty),* $(,)?) => {
        vec![$(format!("export {}", <$t as TS>::decl($cfg))),*]
    };
}

/// The whole file's text.
pub fn typescript() -> String {
    // Every integer we send fits a JS number (sizes, counts, versions).
    let cfg = Config::new().with_large_int("number");
    let decls = declarations!(&cfg;
        ErrorPayload, Kind, Status, Transition, ThumbnailRef, ThumbnailEvent, GalleryItem, Document,
        HistoryEntry, Attachment, DocumentDetails, Patient, Note, PlanItem, Plan, FileStatus, FileResult, LibraryStatus,
        StartupInfo, PatientInput, ListStatus, DocumentEdit, ImportProgressEvent, ActivePatientEvent, AfterImport,
        InboxFolder, InboxFolderInput, InboxStatus, InboxFile, InboxNotice, Notation, ToothLabel, ToothChart, Slot, Template, Series,
        SlotView, SeriesView, CaptureOutcome, NewTemplate, Originals, SyncConfig, SecretLocation, SyncState, Backlog,
        EncryptionState, SyncStatus, SyncSetUp, ResealStarted, SyncEvent, SyncSettings, Check, TierTransition, LifecycleReport, ShareLink, HealthLevel, Finding,
        DiskHealth, VerifyRun, AuditState, SizeRow, ThumbnailBacklog, BackupSchedule, BackupRun, BackupState,
        BackupReport, ScanningState, Health, Permission, Role, User, SessionState, Signature, ChangedAfter,
        NewUserInput, AuditRow, AuditQueryInput, PeerChain, AuditCheck, Flip, Adjustments, AnnotationType,
        Measurement, Annotation, CalibrationSource, Calibration, AnnotationInput, Adjusted, Preset, MoveStatus, Moved,
        Rendered, AdjustInput, Exported, VideoInfo, VideoSource, SavedFrame,
    );
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/src/bindings.rs: do not edit by hand.\n\
         // Regenerate with `UPDATE_BINDINGS=1 cargo test -p chairside-desktop bindings`.\n\n\
         export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;\n",
    );
    for d in decls {
        out.push('\n');
        out.push_str(&d);
        out.push('\n');
    }
    // The commands the backend answers: the client and the e2e mock are typed by it.
    let names: Vec<String> = crate::COMMANDS.iter().map(|c| format!("\"{c}\"")).collect();
    out.push_str(&format!("\nexport type Command = {};\n", names.join(" | ")));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bindings_are_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(super::PATH);
        let fresh = super::typescript();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).expect("write bindings");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is stale: a type the UI uses changed. Run `UPDATE_BINDINGS=1 cargo test -p chairside-desktop bindings` and commit the result",
            path.display()
        );
    }
}
