//! Capture at the chair: the inbox watcher, the practice-software bridge, the active patient.

use std::path::PathBuf;
use std::sync::Arc;

use chairside_app::{
    AfterImport, AppError, IMPORTED_SUBFOLDER, Inbox, InboxFolder, InboxNotice, InboxOptions, Kind, Library, inbox,
};
use clap::Subcommand;
use serde_json::{Value, json};

use super::*;
use crate::output::{Output, f};

#[derive(Subcommand)]
pub enum CaptureCmd {
    /// Watch inbox folders and import each finished file into the active patient (or
    /// --patient); runs until Ctrl-C. With --json, one JSON object per line per batch.
    Watch {
        /// Watch this folder instead of the configured ones (repeatable).
        #[arg(long = "folder", value_name = "DIR")]
        folders: Vec<PathBuf>,
        /// Import into this patient instead of the active one.
        #[arg(long)]
        patient: Option<String>,
        /// Kind for the files of --folder (default: from the file type).
        #[arg(long, requires = "folders")]
        kind: Option<String>,
        /// Leave files of --folder in place instead of moving them to imported/.
        #[arg(long, requires = "folders")]
        leave: bool,
        /// Take in what is ready now, then exit (one JSON document with --json).
        #[arg(long)]
        once: bool,
    },
    /// The practice-management bridge: make the patient with this chart number the active one
    /// (created if new); a running desktop app switches to them.
    Open {
        #[arg(long)]
        external_id: String,
        #[arg(long)]
        name: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        birth_date: Option<String>,
    },
    /// The active patient of this workstation: show it, --set ID or --clear.
    Active {
        #[arg(long, conflicts_with = "clear")]
        set: Option<String>,
        #[arg(long)]
        clear: bool,
    },
}

pub fn run(lib: &Arc<Library>, cmd: CaptureCmd, json_mode: bool) -> Result<Output, AppError> {
    match cmd {
        CaptureCmd::Watch { folders, patient, kind, leave, once } => {
            watch(Arc::clone(lib), folders, patient, parse_kind(kind.as_deref())?, leave, once, json_mode)
        }
        CaptureCmd::Open { external_id, name, birth_date } => {
            let (p, created) = lib.open_external(&external_id, &name, birth_date.as_deref())?;
            let text = format!("{}\t{}\t{}", p.id, f(&p.name), if created { "created, active" } else { "active" });
            Output::ok(json!({"patient": p, "created": created, "active": true}), text)
        }
        CaptureCmd::Active { set, clear } => {
            let p = if clear {
                lib.set_active_patient(None)?
            } else if let Some(id) = set {
                lib.set_active_patient(Some(&id))?
            } else {
                lib.active_patient()?
            };
            let text = match &p {
                Some(p) => format!("{}\t{}", p.id, f(&p.name)),
                None => "no active patient".into(),
            };
            Output::ok(json!({"patient": p}), text)
        }
    }
}

/// One line on stderr per file as it is taken in (and, with --json, one JSON object per
/// batch on stdout): the watch runs for hours and its log is read as it grows.
fn print_notice(notice: &InboxNotice, json_mode: bool) {
    if json_mode {
        println!("{}", serde_json::to_string(notice).unwrap_or_default());
    }
    match notice {
        InboxNotice::Files { files } => {
            for f in files {
                match (&f.error, &f.document_id) {
                    (Some(e), _) => say!("rejected {} ({})", f.path, e.message),
                    (None, Some(id)) => say!("{} {} {id}", f.status, f.path),
                    (None, None) => say!("{} {} (no active patient: waiting in the tray)", f.status, f.path),
                }
            }
        }
        InboxNotice::FolderUnavailable { folder, reason } => say!("folder unavailable: {folder}: {reason}"),
        InboxNotice::FolderAvailable { folder } => say!("folder available again: {folder}"),
        InboxNotice::Failed { error } => say!("import failed: {}", error.message),
    }
}

fn watch(
    lib: Arc<Library>,
    dirs: Vec<PathBuf>,
    patient: Option<String>,
    kind: Option<Kind>,
    leave: bool,
    once: bool,
    json_mode: bool,
) -> Result<Output, AppError> {
    if let Some(p) = &patient {
        lib.patient(p)?;
    }
    let folders = if dirs.is_empty() {
        None
    } else {
        let after_import = if leave { AfterImport::Leave } else { AfterImport::Move };
        Some(
            dirs.iter()
                .map(|d| Ok(InboxFolder { path: absolute(d)?.display().to_string(), kind, after_import }))
                .collect::<Result<Vec<_>, AppError>>()?,
        )
    };
    if once {
        let folders = match folders {
            Some(f) => f,
            None => lib.inbox_folders()?,
        };
        let watched: Vec<inbox::Folder> =
            folders.iter().map(|f| inbox::Folder::new(&f.path).skipping(IMPORTED_SUBFOLDER)).collect();
        let ready = inbox::ready_now(&watched, inbox::Options::default());
        let files = lib.take_in(&ready, &folders, patient.as_deref())?;
        lib.wait_for_thumbnails();
        return super::inbox::inbox_output(files);
    }
    let (stop_tx, stop_rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .map_err(|e| AppError::Inbox(format!("cannot catch Ctrl-C: {e}")))?;
    let watched = match &folders {
        Some(f) => f.clone(),
        None => lib.inbox_folders()?,
    };
    let options = InboxOptions { folders, patient, timing: inbox::Options::default() };
    let running = Inbox::start(Arc::clone(&lib), options, move |n| print_notice(&n, json_mode))?;
    let names: Vec<&str> = watched.iter().map(|f| f.path.as_str()).collect();
    say!("watching {} (Ctrl-C to stop)", names.join(", "));
    let _ = stop_rx.recv();
    running.stop();
    lib.wait_for_thumbnails();
    let mut out = Output::ok(Value::Null, "")?;
    out.streamed = true;
    Ok(out)
}
