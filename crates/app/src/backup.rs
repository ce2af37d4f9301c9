//! Backups without a bucket, as the shells see them: a run recorded in the audit trail and in
//! the library's settings, the clinic's schedule, and a restore that finishes the library it
//! rebuilt (its audit trail records the restore before anything else can be written).

use std::path::{Path, PathBuf};

use chairside_backup::{BackupOptions, BackupReport, BackupRun, BackupSchedule, BackupSource, RestoreReport};
use chairside_store::{Actor, Db, ErrorCode};
use serde::Serialize;
use serde_json::json;

use crate::{AppError, Library, Permission};

/// A restore's report, and the workstation the rebuilt library continues as.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    #[serde(flatten)]
    pub report: RestoreReport,
    /// A restored library always continues as a new workstation. Its old self may still exist
    /// (a restore drill on the same machine) and its audit heads must stay true for it; and a
    /// bucket may hold changes the old self made after the snapshot, which two histories under
    /// one workstation id would collide with. The old self's changes come back like a peer's.
    pub new_workstation: String,
}

/// When a backup is due, from the schedule and the last good run.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct BackupState {
    pub schedule: BackupSchedule,
    pub last_run: Option<BackupRun>,
    pub last_good: Option<BackupRun>,
    /// A scheduled backup should run now.
    pub due: bool,
    /// The last good backup is older than the schedule allows (by more than an hour's grace),
    /// or there never was one while a target is set.
    pub overdue: bool,
    /// The target folder is not there (a USB disk unplugged, a share not mounted).
    pub target_missing: bool,
}

impl Library {
    /// Backs the library up into `target` (default: the scheduled folder). Recorded in the
    /// audit trail (a backup is a copy of every record) and as the last run.
    pub fn backup(&self, target: Option<&Path>, keep: Option<usize>) -> Result<BackupReport, AppError> {
        let actor = self.allow(Permission::Configure)?;
        self.backup_as(&actor, target, keep)
    }

    /// The schedule's backup, run by the background whoever is at the keyboard (the schedule
    /// was set by someone allowed to configure).
    pub fn scheduled_backup(&self) -> Result<BackupReport, AppError> {
        self.backup_as(&self.background_actor(), None, None)
    }

    fn backup_as(&self, actor: &Actor, target: Option<&Path>, keep: Option<usize>) -> Result<BackupReport, AppError> {
        let schedule = self.db.read(chairside_backup::settings::schedule)?;
        let scheduled = target.is_none();
        let target: PathBuf = match target {
            Some(t) => t.to_path_buf(),
            None => schedule.target.as_deref().map(PathBuf::from).ok_or_else(|| {
                AppError::InvalidInput("no backup folder is set: give one, or set the backup schedule first".into())
            })?,
        };
        let opts = BackupOptions {
            keep: keep.unwrap_or(schedule.keep as usize).max(1),
            // The scheduled folder was a backup before: if it is gone, the disk is unplugged.
            require_existing: scheduled
                && self
                    .db
                    .read(chairside_backup::settings::last_runs)?
                    .1
                    .is_some_and(|good| Path::new(&good.target) == target),
        };
        let source = BackupSource { db: &self.db, library_dir: &self.data_dir, workstation: &actor.workstation };
        let started = std::time::Instant::now();
        let result = chairside_backup::backup(&source, &target, &opts);
        // Another run of this folder is under way (the schedule and "Back up now" at once): not
        // a failed backup, and nothing to remember.
        if let Err(e @ chairside_backup::BackupError::InProgress(_)) = result {
            return Err(e.into());
        }
        let run = BackupRun {
            at: chairside_store::now_rfc3339(),
            target: target.to_string_lossy().into_owned(),
            ok: result.as_ref().is_ok_and(|r| r.problems.is_empty()),
            snapshot: result.as_ref().ok().map(|r| r.snapshot.clone()),
            error: match &result {
                Ok(r) if r.problems.is_empty() => None,
                Ok(r) => Some(r.problems.join("; ")),
                Err(e) => Some(e.to_string()),
            },
            error_code: result.as_ref().err().map(|e| e.code().to_string()),
            seconds: started.elapsed().as_secs_f64(),
        };
        self.db.write(|tx| {
            chairside_backup::settings::record_run(tx, &run)?;
            chairside_audit::append(
                tx,
                actor,
                if run.ok { "library.backup" } else { "library.backup_failed" },
                "library",
                None,
                json!({"target": run.target, "snapshot": run.snapshot, "error": run.error}),
            )?;
            Ok::<_, AppError>(())
        })?;
        Ok(result?)
    }

    pub fn backup_state(&self) -> Result<BackupState, AppError> {
        self.signed_in()?;
        self.backup_state_now()
    }

    /// The schedule's state for the background's timer, which runs whoever is signed in.
    pub fn backup_state_now(&self) -> Result<BackupState, AppError> {
        let (schedule, (last_run, last_good)) = self.db.read(|c| {
            Ok::<_, AppError>((chairside_backup::settings::schedule(c)?, chairside_backup::settings::last_runs(c)?))
        })?;
        let age_hours = last_good
            .as_ref()
            .and_then(|r| chrono::DateTime::parse_from_rfc3339(&r.at).ok())
            .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().max(0) as f64 / 3600.0);
        let every = f64::from(schedule.every_hours.max(1));
        let set = schedule.target.is_some();
        Ok(BackupState {
            due: set && age_hours.is_none_or(|h| h >= every),
            overdue: set && age_hours.is_none_or(|h| h >= every + 1.0),
            target_missing: schedule.target.as_deref().is_some_and(|t| {
                // A folder never backed up to is made by the first backup, if its disk is there.
                let backed_up_there = last_good.as_ref().is_some_and(|g| g.target == t);
                let parent_there = Path::new(t).parent().is_some_and(Path::is_dir);
                !Path::new(t).is_dir() && (backed_up_there || !parent_there)
            }),
            schedule,
            last_run,
            last_good,
        })
    }

    pub fn set_backup_schedule(&self, schedule: &BackupSchedule) -> Result<BackupState, AppError> {
        if schedule.every_hours == 0 || schedule.keep == 0 {
            return Err(AppError::InvalidInput(
                "backups run at least every hour and keep at least one snapshot".into(),
            ));
        }
        if let Some(t) = &schedule.target
            && !Path::new(t).is_absolute()
        {
            return Err(AppError::InvalidInput(format!("the backup folder {t:?} must be an absolute path")));
        }
        let actor = self.allow(Permission::Configure)?;
        self.db.write(|tx| {
            chairside_backup::settings::set_schedule(tx, schedule)?;
            chairside_audit::append(tx, &actor, "backup.schedule", "library", None, json!(schedule))?;
            Ok::<_, AppError>(())
        })?;
        self.backup_state_now()
    }
}

/// Rebuilds a library from a backup into an empty folder, every hash checked, and finishes
/// it: the restore is the first thing its audit trail records after the snapshot, by the new
/// workstation the library continues as, and the trail is anchored there.
pub fn restore_library(from: &Path, at: Option<&str>, into: &Path) -> Result<RestoreOutcome, AppError> {
    let report = chairside_backup::restore(from, at, into)?;
    let db = Db::open(&into.join("library.sqlite3"))?;
    let check = db.read(chairside_store::check_database)?;
    if !check.ok {
        drop(db);
        chairside_backup::abandon_restore(into);
        let problems = check.integrity.into_iter().chain(check.dangling).collect();
        return Err(AppError::Backup(chairside_backup::BackupError::Damaged { problems }));
    }
    let workstation = chairside_store::new_id();
    let actor = Actor { user: crate::current_user(), workstation: workstation.clone() };
    let anchor = chairside_audit::Anchor::new(into, crate::witness_dir().as_deref(), &workstation);
    db.write(|tx| {
        chairside_store::set_setting(tx, "workstation_id", &workstation)?;
        chairside_audit::append(
            tx,
            &actor,
            "library.restored",
            "library",
            None,
            json!({
                "from": from.to_string_lossy(),
                "snapshot": report.snapshot,
                "snapshot_created_at": report.snapshot_created_at,
                "previous_workstation": report.workstation,
            }),
        )?;
        Ok::<_, AppError>(())
    })?;
    db.read(|c| anchor.rebase(c))?;
    drop(db);
    chairside_backup::finish_restore(into)?;
    Ok(RestoreOutcome { report, new_workstation: workstation })
}
