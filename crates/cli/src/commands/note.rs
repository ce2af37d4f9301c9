//! `chairside note …`: clinical notes.

use std::sync::Arc;

use chairside_app::{AppError, Library};
use clap::Subcommand;

use crate::output::{Output, f};

#[derive(Subcommand)]
pub enum NoteCmd {
    Add {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        text: String,
    },
    Edit {
        id: String,
        #[arg(long)]
        text: String,
    },
    List {
        #[arg(long)]
        patient: String,
    },
}

pub fn run(lib: &Arc<Library>, cmd: NoteCmd) -> Result<Output, AppError> {
    match cmd {
        NoteCmd::Add { patient, text } => {
            let n = lib.add_note(&patient, &text)?;
            let text = n.id.clone();
            Output::ok(n, text)
        }
        NoteCmd::Edit { id, text } => {
            let n = lib.edit_note(&id, &text)?;
            let text = n.id.clone();
            Output::ok(n, text)
        }
        NoteCmd::List { patient } => {
            let notes = lib.list_notes(&patient)?;
            let text = notes
                .iter()
                .map(|n| format!("{}\t{}\t{}", n.id, n.created_at, f(&n.text)))
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(notes, text)
        }
    }
}
