//! `chairside scanning`: virus scanning of imports by a ClamAV daemon. With no flag it says
//! whether scanning is on and whether the daemon answers (exit 1 when it is on and does not).

use std::sync::Arc;

use chairside_app::{AppError, ErrorPayload, Library};
use clap::Args;
use serde_json::json;

use crate::output::{Output, f};

#[derive(Args)]
pub struct ScanningCmd {
    /// Scan every import with the clamd at this address first: its local socket (Debian:
    /// /var/run/clamav/clamd.ctl) or tcp://HOST:PORT. Refused unless the daemon answers.
    #[arg(long, value_name = "SOCKET", conflicts_with = "off")]
    clamd: Option<String>,
    /// Stop scanning imports.
    #[arg(long)]
    off: bool,
}

pub fn run(lib: &Arc<Library>, cmd: ScanningCmd) -> Result<Output, AppError> {
    let state = match (cmd.clamd.as_deref(), cmd.off) {
        (Some(address), _) => lib.set_scanning(Some(address))?,
        (None, true) => lib.set_scanning(None)?,
        (None, false) => lib.scanning_state()?,
    };
    let text = match (&state.address, &state.version, &state.problem) {
        (None, _, _) => "virus scanning: off (imports are not scanned)".to_string(),
        (Some(a), Some(v), _) => format!("virus scanning: on, by {} ({v})", f(a)),
        (Some(a), None, problem) => format!(
            "virus scanning: on, by {}, but it does not answer: {}; imports are refused until it does",
            f(a),
            f(problem.as_deref().unwrap_or("no reason"))
        ),
    };
    let down = state.on && state.version.is_none();
    let mut out = Output::ok(&state, text)?;
    if down {
        let message = state.problem.clone().unwrap_or_default();
        out.json["error"] = json!(ErrorPayload { code: "scanner_unavailable".into(), message });
        out.exit = 1;
    }
    Ok(out)
}
