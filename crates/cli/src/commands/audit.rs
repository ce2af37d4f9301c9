//! `chairside audit …`: the audit trail.

use std::path::PathBuf;
use std::sync::Arc;

use chairside_app::{AppError, AuditFilter, ErrorPayload, Library};
use clap::Subcommand;
use serde_json::json;

use crate::output::{Output, f};

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Events oldest first, filtered by any of the options.
    List {
        /// Only events about this entity id.
        #[arg(long)]
        entity: Option<String>,
        /// Only events about this patient and its documents, notes, plans and series.
        #[arg(long)]
        patient: Option<String>,
        /// Only events by this user.
        #[arg(long)]
        user: Option<String>,
        /// Only this action (import, view, archive, sign_in, export…).
        #[arg(long)]
        action: Option<String>,
        /// From this time on: YYYY-MM-DD or RFC 3339 (e.g. 2026-12-01T08:00:00Z).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Up to this time: YYYY-MM-DD (that whole day) or RFC 3339 (exclusive).
        #[arg(long, value_name = "T")]
        until: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Also write the events to FILE as CSV (never over an existing file).
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    Verify,
}

/// A time as the trail records it (RFC 3339 in UTC, milliseconds): a date is its first
/// instant, or with `end` the first instant of the next day.
fn time(t: &str, end: bool) -> Result<String, AppError> {
    let t = t.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let d = if end { d.succ_opt().unwrap_or(d) } else { d };
        return Ok(format!("{}T00:00:00.000Z", d.format("%Y-%m-%d")));
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .map_err(|_| AppError::InvalidInput(format!("{t:?} is not a time: use YYYY-MM-DD or RFC 3339")))
}

pub fn run(lib: &Arc<Library>, cmd: AuditCmd) -> Result<Output, AppError> {
    match cmd {
        AuditCmd::List { entity, patient, user, action, since, until, limit, csv } => {
            let filter = AuditFilter {
                entity,
                patient,
                user,
                action,
                since: since.as_deref().map(|t| time(t, false)).transpose()?,
                until: until.as_deref().map(|t| time(t, true)).transpose()?,
                limit,
                newest_first: false,
            };
            let events = lib.audit_query(&filter)?;
            if let Some(path) = &csv {
                lib.export_audit_csv(&filter, path)?;
            }
            let text = events
                .iter()
                .map(|e| {
                    format!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        e.seq,
                        e.at,
                        f(&e.actor),
                        e.action,
                        e.entity_type,
                        e.entity_id.as_deref().unwrap_or("-")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(events, text)
        }
        AuditCmd::Verify => {
            let r = lib.audit_verify()?;
            let text = match &r.problem {
                None => format!("audit chain intact: {} events", r.events_checked),
                Some(p) => format!("audit chain BROKEN: {p}"),
            };
            let mut out = Output::ok(&r, text)?;
            if !r.ok {
                say!("chairside: the audit chain is broken: {}", r.problem.as_deref().unwrap_or(""));
                out.json["error"] = json!(ErrorPayload {
                    code: "audit_chain_broken".into(),
                    message: r.problem.clone().unwrap_or_default()
                });
                out.exit = 1;
            }
            Ok(out)
        }
    }
}
