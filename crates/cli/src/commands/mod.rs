//! One module per noun of the command line: its arguments (a clap `Subcommand`) and a `run`
//! that calls the app API and returns an [`Output`](crate::output::Output) — what to print and
//! the exit status are decided in `main.rs` and `output.rs` alone.

pub mod audit;
pub mod backup;
pub mod capture;
pub mod documents;
pub mod health;
pub mod inbox;
pub mod links;
pub mod note;
pub mod patient;
pub mod plan;
pub mod scanning;
pub mod series;
pub mod sync;
pub mod teeth;
pub mod users;
pub mod viewer;

use std::path::PathBuf;
use std::str::FromStr;

use chairside_app::teeth::Notation;
use chairside_app::{AppError, Kind};

pub fn parse_kind(kind: Option<&str>) -> Result<Option<Kind>, AppError> {
    kind.map(|k| Kind::from_str(k).map_err(AppError::from)).transpose()
}

pub fn parse_notation(n: Option<&str>) -> Result<Option<Notation>, AppError> {
    n.map(|n| Notation::from_str(n).map_err(AppError::from)).transpose()
}

pub fn absolute(p: &std::path::Path) -> Result<PathBuf, AppError> {
    std::path::absolute(p).map_err(|e| AppError::InvalidInput(format!("{}: {e}", p.display())))
}
