//! `chairside backup …` and `chairside restore --from …`: backups to a folder (a USB disk, a
//! NAS share), their verify, and rebuilding a library from one. `backup verify`, `backup list`
//! and `restore --from` need no library: they run before one is opened.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chairside_app::backups::BackupSchedule;
use chairside_app::{AppError, ErrorPayload, Library};
use clap::{Args, Subcommand};
use serde_json::json;

use super::absolute;
use crate::output::{Output, f};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupCmd {
    #[command(subcommand)]
    action: Option<BackupAction>,
    /// The backup folder (default: the one the schedule names).
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
    /// Database snapshots to keep in the folder (default: the schedule's, 14).
    #[arg(long)]
    keep: Option<usize>,
}

#[derive(Subcommand)]
pub enum BackupAction {
    /// Re-hash every file of a backup folder against its snapshots' manifests.
    Verify { dir: PathBuf },
    /// The snapshots of a backup folder, oldest first.
    List { dir: PathBuf },
    /// When the app backs up by itself: the folder, how often, how many snapshots to keep.
    Schedule {
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        #[arg(long)]
        every_hours: Option<u32>,
        #[arg(long)]
        keep: Option<u32>,
        /// Also back up when the app closes (true or false).
        #[arg(long)]
        at_close: Option<bool>,
        /// No scheduled backups any more.
        #[arg(long, conflicts_with = "to")]
        off: bool,
    },
}

/// The backup commands that read only a backup folder, run without opening a library.
pub fn run_without_library(cmd: &BackupCmd) -> Option<Result<Output, AppError>> {
    match &cmd.action {
        Some(BackupAction::Verify { dir }) => Some(verify(dir)),
        Some(BackupAction::List { dir }) => Some(list(dir)),
        _ => None,
    }
}

pub fn run(lib: &Arc<Library>, cmd: BackupCmd) -> Result<Output, AppError> {
    match cmd.action {
        None => {
            let target = cmd.to.as_deref().map(absolute).transpose()?;
            let r = lib.backup(target.as_deref(), cmd.keep)?;
            let mut text = format!(
                "snapshot {} in {}: {} originals ({} bytes), {} files copied ({} bytes), database {} bytes ({} written), {:.1} s",
                r.snapshot,
                f(&r.target.display().to_string()),
                r.originals,
                r.originals_bytes,
                r.files_copied,
                r.bytes_copied,
                r.database_bytes,
                r.database_bytes_written,
                r.seconds
            );
            if r.originals_not_here > 0 {
                text.push_str(&format!(
                    "\n{} originals are not on this workstation (they are in the clinic's bucket)",
                    r.originals_not_here
                ));
            }
            let problems = r.problems.clone();
            let mut out = Output::ok(&r, text)?;
            if !problems.is_empty() {
                for p in &problems {
                    say!("chairside: not backed up: {p}");
                }
                out.json["error"] = json!(ErrorPayload {
                    code: "backup_incomplete".into(),
                    message: format!(
                        "{} files of the library could not be backed up (damaged or unreadable): run `chairside verify`",
                        problems.len()
                    ),
                });
                out.exit = 1;
            }
            Ok(out)
        }
        Some(BackupAction::Schedule { to, every_hours, keep, at_close, off }) => {
            let mut s = lib.backup_state()?.schedule;
            if let Some(to) = to {
                s.target = Some(absolute(&to)?.to_string_lossy().into_owned());
            }
            if off {
                s.target = None;
            }
            s.every_hours = every_hours.unwrap_or(s.every_hours);
            s.keep = keep.unwrap_or(s.keep);
            s.at_close = at_close.unwrap_or(s.at_close);
            let state = lib.set_backup_schedule(&s)?;
            Output::ok(&state, schedule_text(&state.schedule))
        }
        Some(BackupAction::Verify { dir }) => verify(&dir),
        Some(BackupAction::List { dir }) => list(&dir),
    }
}

fn schedule_text(s: &BackupSchedule) -> String {
    match &s.target {
        None => "no scheduled backup".into(),
        Some(t) => format!(
            "backup to {} every {} h{}, keeping {} snapshots",
            f(t),
            s.every_hours,
            if s.at_close { " and when the app closes" } else { "" },
            s.keep
        ),
    }
}

fn verify(dir: &Path) -> Result<Output, AppError> {
    let r = chairside_app::backups::verify(dir)?;
    let mut lines = vec![format!(
        "{} files checked ({} bytes) in {:.1} s: {}",
        r.files_checked,
        r.bytes_checked,
        r.seconds,
        if r.ok { "the backup is intact" } else { "the backup is DAMAGED" }
    )];
    for s in &r.snapshots {
        lines.push(format!("{}\t{}", s.name, if s.ok { "ok" } else { "damaged" }));
        for p in &s.problems {
            lines.push(format!("  {}", f(p)));
        }
    }
    let ok = r.ok;
    let mut out = Output::ok(&r, lines.join("\n"))?;
    if !ok {
        say!("chairside: the backup in {} is damaged", dir.display());
        out.json["error"] = json!(ErrorPayload {
            code: "backup_damaged".into(),
            message:
                "files of the backup are missing or damaged: take a new backup to another folder, and replace the disk"
                    .into(),
        });
        out.exit = 1;
    }
    Ok(out)
}

fn list(dir: &Path) -> Result<Output, AppError> {
    let snapshots = chairside_app::backups::list(dir)?;
    let text = snapshots
        .iter()
        .map(|s| format!("{}\t{}\t{} originals\t{} bytes", s.name, s.created_at, s.originals, s.originals_bytes))
        .collect::<Vec<_>>()
        .join("\n");
    Output::ok(json!({"snapshots": snapshots}), text)
}

/// `restore --from DIR [--at SNAPSHOT] --into EMPTY_DIR`.
pub fn restore(from: &Path, at: Option<&str>, into: &Path) -> Result<Output, AppError> {
    let into = absolute(into)?;
    let r = chairside_app::restore_library(from, at, &into)?;
    let mut text = format!(
        "restored snapshot {} ({}) into {}: {} files, {} bytes, every hash checked, {:.1} s",
        r.report.snapshot,
        r.report.snapshot_created_at,
        f(&into.display().to_string()),
        r.report.files_restored,
        r.report.bytes_restored,
        r.report.seconds
    );
    if r.report.originals_not_here > 0 {
        text.push_str(&format!(
            "\n{} originals were not in the backup (they are in the clinic's bucket, fetched when opened)",
            r.report.originals_not_here
        ));
    }
    text.push_str(&format!("\nit continues as a new workstation, {}", r.new_workstation));
    Output::ok(&r, text)
}
