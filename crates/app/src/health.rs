//! The workstation at a glance, for the clinic's IT person: what the library holds, the disk,
//! thumbnails not made, sync, the last backup and verify, the audit chain — each finding
//! graded so the status bar can turn amber (needs a look) or red (needs a person now).

use std::path::Path;

use chairside_media::health::{SizeRow, ThumbnailBacklog};
use chairside_sync::{SyncState, SyncStatus};
use serde::{Deserialize, Serialize};

use crate::backup::BackupState;
use crate::scanning::ScanningState;
use crate::{AppError, Library};

/// The free space imports leave on the library's disk unless the clinic sets otherwise.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 2_000_000_000;
const MIN_FREE_SETTING: &str = "health_min_free_bytes";
const LAST_VERIFY_SETTING: &str = "health_last_verify";

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum HealthLevel {
    Ok,
    /// Amber: something needs a look soon.
    Attention,
    /// Red: something needs a person now.
    Problem,
}

/// One thing that is not as it should be.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    pub level: HealthLevel,
    /// `disk`, `backup`, `verify`, `thumbnails`, `sync`, `audit`, `scanning`.
    pub area: String,
    pub message: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct DiskHealth {
    pub path: String,
    /// `None` where the system does not say (see the README's portability notes).
    pub free_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
    /// Imports are refused below this.
    pub min_free_bytes: u64,
}

/// What `audit verify` says now.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditState {
    pub ok: bool,
    pub events_checked: u64,
    pub problem: Option<String>,
}

/// The last `verify`, as the library remembers it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyRun {
    pub at: String,
    pub ok: bool,
    pub originals_checked: u64,
    pub corrupt: u64,
    pub missing: u64,
    pub orphans: u64,
    pub database_ok: bool,
    pub thumbnails_failed: u64,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub level: HealthLevel,
    pub findings: Vec<Finding>,
    pub documents: u64,
    pub bytes: u64,
    pub by_kind_and_year: Vec<SizeRow>,
    pub database_bytes: u64,
    pub disk: DiskHealth,
    pub thumbnails: ThumbnailBacklog,
    pub sync: SyncStatus,
    pub backup: BackupState,
    pub last_verify: Option<VerifyRun>,
    /// The chain re-checked now; `None` in the quick check the status bar polls.
    pub audit: Option<AuditState>,
    /// Virus scanning of imports: off until a ClamAV daemon is configured.
    pub scanning: ScanningState,
}

/// Free and total bytes of the filesystem holding `path`.
#[cfg(unix)]
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some((s.f_bavail.saturating_mul(s.f_frsize), s.f_blocks.saturating_mul(s.f_frsize)))
}

/// Windows and other systems: not measured here yet; imports are never refused for space.
#[cfg(not(unix))]
pub fn disk_space(_path: &Path) -> Option<(u64, u64)> {
    None
}

impl Library {
    /// The free space below which imports are refused.
    pub fn min_free_bytes(&self) -> Result<u64, AppError> {
        let v = self.db.read(|c| chairside_store::get_setting(c, MIN_FREE_SETTING))?;
        Ok(v.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_MIN_FREE_BYTES))
    }

    pub fn set_min_free_bytes(&self, bytes: u64) -> Result<(), AppError> {
        let actor = self.allow(crate::Permission::Configure)?;
        self.db.write(|tx| {
            chairside_store::set_setting(tx, MIN_FREE_SETTING, &bytes.to_string())?;
            chairside_audit::append(
                tx,
                &actor,
                "health.min_free",
                "library",
                None,
                serde_json::json!({"bytes": bytes}),
            )?;
            Ok(())
        })
    }

    /// Refuses to take in `incoming` more bytes when the disk would then be below the
    /// threshold: an import fails cleanly long before SQLite or a blob write hits a full disk.
    /// A threshold of 0 turns this off.
    pub(crate) fn check_free_space(&self, incoming: u64) -> Result<(), AppError> {
        let Some((free, _)) = disk_space(&self.data_dir) else { return Ok(()) };
        let min = self.min_free_bytes()?;
        // 0 turns the check off (the disk's own "full" is then the only limit).
        if min > 0 && free < min.saturating_add(incoming) {
            return Err(AppError::DiskSpaceLow { free, min });
        }
        Ok(())
    }

    /// Remembers a verify's findings for Health. A damaged database may refuse the write: the
    /// report still reaches the user (as verify's own audit event does).
    pub(crate) fn record_verify_quietly(&self, report: &chairside_media::VerifyReport) {
        let run = VerifyRun {
            at: chairside_store::now_rfc3339(),
            ok: report.ok,
            originals_checked: report.blobs_checked,
            corrupt: report.corrupt.len() as u64,
            missing: report.missing.len() as u64,
            orphans: report.orphans.len() as u64,
            database_ok: report.database.ok,
            thumbnails_failed: report.thumbnails_failed.len() as u64,
        };
        let text = serde_json::to_string(&run).unwrap_or_default();
        let _ = self.db.write(|tx| chairside_store::set_setting(tx, LAST_VERIFY_SETTING, &text));
    }

    /// The health of this workstation. `quick` leaves out re-checking the audit chain (what
    /// the status bar polls); the Health panel and `chairside health` check it.
    pub fn health(&self, quick: bool) -> Result<Health, AppError> {
        self.signed_in()?;
        let (by_kind_and_year, thumbnails, last_verify) = self.db.read(|c| {
            let verify =
                chairside_store::get_setting(c, LAST_VERIFY_SETTING)?.and_then(|v| serde_json::from_str(&v).ok());
            Ok::<_, AppError>((
                chairside_media::health::library_size(c)?,
                chairside_media::health::thumbnail_backlog(c)?,
                verify,
            ))
        })?;
        let space = disk_space(&self.data_dir);
        let disk = DiskHealth {
            path: self.data_dir.display().to_string(),
            free_bytes: space.map(|s| s.0),
            total_bytes: space.map(|s| s.1),
            min_free_bytes: self.min_free_bytes()?,
        };
        let database_bytes = std::fs::metadata(self.db.path()).map(|m| m.len()).unwrap_or(0);
        let sync = self.sync_status()?;
        let backup = self.backup_state()?;
        let audit = match quick {
            true => None,
            false => {
                let r = self.audit_verify()?;
                Some(AuditState { ok: r.ok, events_checked: r.events_checked, problem: r.problem })
            }
        };
        let mut health = Health {
            level: HealthLevel::Ok,
            findings: Vec::new(),
            documents: by_kind_and_year.iter().map(|r| r.documents).sum(),
            bytes: by_kind_and_year.iter().map(|r| r.bytes).sum(),
            by_kind_and_year,
            database_bytes,
            disk,
            thumbnails,
            sync,
            backup,
            last_verify,
            audit,
            scanning: self.scanning_state()?,
        };
        health.findings = findings(&health);
        health.level = health.findings.iter().map(|f| f.level).max().unwrap_or(HealthLevel::Ok);
        Ok(health)
    }
}

fn gib(b: u64) -> String {
    format!("{:.1} GB", b as f64 / 1e9)
}

/// What needs a person, worst first.
fn findings(h: &Health) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut say = |level, area: &str, message: String| out.push(Finding { level, area: area.into(), message });
    if let Some(free) = h.disk.free_bytes {
        if free < h.disk.min_free_bytes {
            say(
                HealthLevel::Problem,
                "disk",
                format!(
                    "only {} free on the library's disk: imports are refused below {}; free some space or move the library to a larger disk",
                    gib(free),
                    gib(h.disk.min_free_bytes)
                ),
            );
        } else if free < h.disk.min_free_bytes.saturating_mul(3) {
            say(
                HealthLevel::Attention,
                "disk",
                format!("{} free on the library's disk: imports stop below {}", gib(free), gib(h.disk.min_free_bytes)),
            );
        }
    }
    if let (true, Some(problem)) = (h.scanning.on, &h.scanning.problem) {
        say(
            HealthLevel::Problem,
            "scanning",
            format!(
                "virus scanning is on but {problem}: every import is refused until it answers; start the ClamAV daemon, or turn scanning off"
            ),
        );
    }
    let b = &h.backup;
    match (&b.schedule.target, &b.last_good) {
        (None, _) => say(
            HealthLevel::Attention,
            "backup",
            "no backup folder is set: choose a USB disk or a NAS folder in the backup settings".into(),
        ),
        (Some(t), _) if b.target_missing => say(
            HealthLevel::Problem,
            "backup",
            format!("the backup folder {t} is missing: plug in or mount the backup disk"),
        ),
        (Some(_), None) => say(HealthLevel::Attention, "backup", "no backup has succeeded yet".into()),
        (Some(_), Some(good)) if b.overdue => say(
            HealthLevel::Problem,
            "backup",
            format!("the last good backup was at {}, longer ago than the schedule allows", good.at),
        ),
        _ => {}
    }
    if let Some(run) = b.last_run.as_ref().filter(|r| !r.ok) {
        say(
            HealthLevel::Attention,
            "backup",
            format!("the last backup ({}) failed: {}", run.at, run.error.as_deref().unwrap_or("no reason recorded")),
        );
    }
    match &h.last_verify {
        None => say(
            HealthLevel::Attention,
            "verify",
            "the library has never been verified: run a verify (it re-hashes every original)".into(),
        ),
        Some(v) if !v.database_ok || v.corrupt > 0 || v.missing > 0 => say(
            HealthLevel::Problem,
            "verify",
            format!(
                "the last verify ({}) found {} damaged and {} missing originals{}",
                v.at,
                v.corrupt,
                v.missing,
                if v.database_ok { "" } else { " and a damaged database" }
            ),
        ),
        Some(v) if !v.ok => say(
            HealthLevel::Attention,
            "verify",
            format!(
                "the last verify ({}) found {} stray files and {} thumbnails it could not make",
                v.at, v.orphans, v.thumbnails_failed
            ),
        ),
        _ => {}
    }
    if h.thumbnails.failed > 0 {
        say(
            HealthLevel::Attention,
            "thumbnails",
            format!(
                "{} documents have no thumbnail (their preview failed): run a verify to try again",
                h.thumbnails.failed
            ),
        );
    }
    match h.sync.state {
        SyncState::Error => say(
            HealthLevel::Problem,
            "sync",
            h.sync.message.clone().unwrap_or_else(|| "sync stopped with an error".into()),
        ),
        SyncState::Offline => say(
            HealthLevel::Attention,
            "sync",
            h.sync.message.clone().unwrap_or_else(|| "the bucket cannot be reached".into()),
        ),
        _ => {}
    }
    if let Some(a) = h.audit.as_ref().filter(|a| !a.ok) {
        say(
            HealthLevel::Problem,
            "audit",
            format!("the audit chain is broken: {}", a.problem.as_deref().unwrap_or("see audit verify")),
        );
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.level));
    out
}
