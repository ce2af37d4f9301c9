//! `chairside health`: the workstation at a glance (disk, backups, verify, thumbnails, sync,
//! the audit chain). Exit status 1 when something needs a person now (level `problem`), so a
//! monitoring script can run it.

use std::sync::Arc;

use chairside_app::{AppError, ErrorPayload, HealthLevel, Library};
use clap::Args;
use serde_json::json;

use crate::output::{Output, f};

#[derive(Args)]
pub struct HealthCmd {
    /// Refuse imports when the library's disk would have less than this many MB free (default
    /// 2000; 0 turns the check off).
    #[arg(long, value_name = "MB")]
    min_free_mb: Option<u64>,
}

pub fn run(lib: &Arc<Library>, cmd: HealthCmd) -> Result<Output, AppError> {
    if let Some(mb) = cmd.min_free_mb {
        lib.set_min_free_bytes(mb.saturating_mul(1_000_000))?;
    }
    let h = lib.health(false)?;
    let mb = |b: u64| format!("{} MB", b / 1_000_000);
    let mut lines = vec![format!(
        "{}: {} documents, {}; database {}",
        match h.level {
            HealthLevel::Ok => "healthy",
            HealthLevel::Attention => "needs a look",
            HealthLevel::Problem => "NEEDS A PERSON",
        },
        h.documents,
        mb(h.bytes),
        mb(h.database_bytes)
    )];
    if let Some(free) = h.disk.free_bytes {
        lines.push(format!("disk: {} free (imports stop below {})", mb(free), mb(h.disk.min_free_bytes)));
    }
    lines.push(match &h.backup.last_good {
        Some(b) => format!("last good backup: {} to {}", b.at, f(&b.target)),
        None => "last good backup: never".into(),
    });
    lines.push(match &h.last_verify {
        Some(v) => format!(
            "last verify: {} ({} originals, {} damaged, {} missing)",
            v.at, v.originals_checked, v.corrupt, v.missing
        ),
        None => "last verify: never".into(),
    });
    lines.push(format!(
        "thumbnails: {} pending, {} failed; sync: {:?}; virus scanning: {}",
        h.thumbnails.pending,
        h.thumbnails.failed,
        h.sync.state,
        if h.scanning.on { "on" } else { "off" }
    ));
    for finding in &h.findings {
        let level = if finding.level == HealthLevel::Problem { "PROBLEM" } else { "attention" };
        lines.push(format!("{level} ({}): {}", finding.area, f(&finding.message)));
    }
    let problem = h.level == HealthLevel::Problem;
    let mut out = Output::ok(&h, lines.join("\n"))?;
    if problem {
        let worst = h.findings.first().map(|f| f.message.clone()).unwrap_or_default();
        say!("chairside: {worst}");
        out.json["error"] = json!(ErrorPayload { code: "health_problem".into(), message: worst });
        out.exit = 1;
    }
    Ok(out)
}
