//! `chairside inbox …`: watched folders and the files waiting in them.

use std::path::PathBuf;
use std::sync::Arc;

use chairside_app::{AfterImport, AppError, InboxFile, InboxFolder, InboxStatus, Library};
use clap::Subcommand;
use serde_json::json;

use super::*;
use crate::output::{Output, f};

#[derive(Subcommand)]
pub enum InboxCmd {
    /// The watched folders (the default inbox when none is configured).
    Folders,
    /// Watch a folder (or change its settings).
    Add {
        dir: PathBuf,
        /// Kind given to its files, e.g. xray for a sensor's folder.
        #[arg(long)]
        kind: Option<String>,
        /// Leave imported files in place instead of moving them to imported/.
        #[arg(long)]
        leave: bool,
    },
    /// Stop watching a folder (its files are left alone).
    Remove { dir: PathBuf },
    /// Files waiting for a patient (no active patient when they came) and files that failed.
    Files,
    /// Import waiting or failed files into a patient.
    Assign {
        #[arg(long)]
        patient: String,
        #[arg(required = true)]
        files: Vec<String>,
    },
}

pub fn run(lib: &Arc<Library>, cmd: InboxCmd) -> Result<Output, AppError> {
    match cmd {
        InboxCmd::Folders => {
            let folders = lib.inbox_folders()?;
            let text = folders
                .iter()
                .map(|f| {
                    let kind = f.kind.map(|k| k.as_str()).unwrap_or("-");
                    let after = if f.after_import == AfterImport::Move { "move" } else { "leave" };
                    format!("{}\t{kind}\t{after}", self::f(&f.path))
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(folders, text)
        }
        InboxCmd::Add { dir, kind, leave } => {
            let folder = InboxFolder {
                path: absolute(&dir)?.display().to_string(),
                kind: parse_kind(kind.as_deref())?,
                after_import: if leave { AfterImport::Leave } else { AfterImport::Move },
            };
            lib.set_inbox_folder(&folder)?;
            let text = format!("watching {}", f(&folder.path));
            Output::ok(folder, text)
        }
        InboxCmd::Remove { dir } => {
            let path = absolute(&dir)?.display().to_string();
            lib.remove_inbox_folder(&path)?;
            Output::ok(json!({"path": path, "removed": true}), format!("no longer watching {}", f(&path)))
        }
        InboxCmd::Files => {
            let files = lib.inbox_open_files()?;
            let text = files
                .iter()
                .map(|f| match &f.error {
                    Some(e) => format!("{}\t{}\t{}", f.status, self::f(&f.path), self::f(&e.message)),
                    None => format!("{}\t{}", f.status, self::f(&f.path)),
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(files, text)
        }
        InboxCmd::Assign { patient, files } => {
            let files = lib.assign_inbox_files(&patient, &files)?;
            lib.wait_for_thumbnails();
            inbox_output(files)
        }
    }
}

/// The outcome of taking in inbox files: exit 2 when some file was rejected.
pub fn inbox_output(files: Vec<InboxFile>) -> Result<Output, AppError> {
    let count = |s: InboxStatus| files.iter().filter(|f| f.status == s).count();
    let text = format!(
        "{} imported, {} duplicate, {} rejected, {} waiting for a patient",
        count(InboxStatus::Imported),
        count(InboxStatus::Duplicate),
        count(InboxStatus::Rejected),
        count(InboxStatus::Waiting)
    );
    let rejected = count(InboxStatus::Rejected);
    let mut out = Output::ok(json!({"files": files}), text)?;
    if rejected > 0 {
        out.exit = 2;
    }
    Ok(out)
}
