//! `chairside audit …`: the audit trail.

use std::sync::Arc;

use chairside_app::{AppError, ErrorPayload, Library};
use clap::Subcommand;
use serde_json::json;

use crate::output::{Output, f};

#[derive(Subcommand)]
pub enum AuditCmd {
    List {
        /// Only events about this entity id.
        #[arg(long)]
        entity: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    Verify,
}

pub fn run(lib: &Arc<Library>, cmd: AuditCmd) -> Result<Output, AppError> {
    match cmd {
        AuditCmd::List { entity, limit } => {
            let events = lib.audit_list(entity.as_deref(), limit)?;
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
