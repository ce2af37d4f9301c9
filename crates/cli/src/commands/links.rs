//! Links between a document and what it documents.

use std::sync::Arc;

use chairside_app::{AppError, Library};
use clap::Subcommand;

use crate::output::Output;

#[derive(Subcommand)]
pub enum LinkCmd {
    /// Attach a document to a patient, clinical note or plan item.
    Link {
        document: String,
        #[arg(long)]
        owner_type: String,
        #[arg(long)]
        owner_id: String,
        /// For plan items: before, after, xray or reference.
        #[arg(long)]
        role: Option<String>,
    },
    /// Remove a link (it stays in the history).
    Unlink {
        document: String,
        #[arg(long)]
        owner_type: String,
        #[arg(long)]
        owner_id: String,
    },
}

pub fn run(lib: &Arc<Library>, cmd: LinkCmd) -> Result<Output, AppError> {
    match cmd {
        LinkCmd::Link { document, owner_type, owner_id, role } => {
            let a = lib.link(&document, &owner_type, &owner_id, role.as_deref())?;
            let text = format!("linked {} to {} {}", a.document_id, a.owner_type, a.owner_id);
            Output::ok(a, text)
        }
        LinkCmd::Unlink { document, owner_type, owner_id } => {
            let a = lib.unlink(&document, &owner_type, &owner_id)?;
            let text = format!("unlinked {} from {} {}", a.document_id, a.owner_type, a.owner_id);
            Output::ok(a, text)
        }
    }
}
