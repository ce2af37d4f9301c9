//! `chairside teeth …`: the clinic's notation, and conversions.

use std::str::FromStr;
use std::sync::Arc;

use chairside_app::teeth::Notation;
use chairside_app::{AppError, Library};
use clap::Subcommand;
use serde_json::json;

use super::*;
use crate::output::Output;

#[derive(Subcommand)]
pub enum TeethCmd {
    /// Show the clinic's notation, or set it (fdi, universal or palmer).
    Notation { set: Option<String> },
    /// Write teeth in another notation, e.g. `teeth convert "UR6 UL6" --from palmer --to fdi`.
    Convert {
        teeth: String,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: String,
    },
}

pub fn run(lib: &Arc<Library>, cmd: TeethCmd) -> Result<Output, AppError> {
    match cmd {
        TeethCmd::Notation { set } => {
            if let Some(n) = set {
                lib.set_tooth_notation(Notation::from_str(&n)?)?;
            }
            let n = lib.tooth_notation()?;
            Output::ok(json!({"notation": n}), n.as_str())
        }
        TeethCmd::Convert { teeth, from, to } => {
            let to = Notation::from_str(&to)?;
            let set = lib.parse_teeth(&teeth, parse_notation(from.as_deref())?)?;
            let written = set.format(to, ", ");
            let fdi: Vec<u8> = set.as_slice().iter().map(|t| t.fdi()).collect();
            Output::ok(json!({"fdi": fdi, "notation": to, "teeth": written}), written)
        }
    }
}
