//! `chairside patient …`: add, edit, list.

use std::sync::Arc;

use chairside_app::{AppError, Library};
use chairside_patients::NewPatient;
use clap::Subcommand;

use crate::output::{Output, f};

#[derive(Subcommand)]
pub enum PatientCmd {
    Add {
        #[arg(long)]
        name: String,
        /// The chart number in the practice-management system.
        #[arg(long)]
        external_id: Option<String>,
        /// YYYY-MM-DD.
        #[arg(long)]
        birth_date: Option<String>,
    },
    Edit {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        external_id: Option<String>,
        #[arg(long)]
        birth_date: Option<String>,
    },
    List {
        /// Part of a name or chart number.
        #[arg(long)]
        query: Option<String>,
    },
}

pub fn run(lib: &Arc<Library>, cmd: PatientCmd) -> Result<Output, AppError> {
    match cmd {
        PatientCmd::Add { name, external_id, birth_date } => {
            let p = lib.add_patient(&NewPatient { name, external_id, birth_date })?;
            let text = format!("{}\t{}", p.id, f(&p.name));
            Output::ok(p, text)
        }
        PatientCmd::Edit { id, name, external_id, birth_date } => {
            let p = lib.update_patient(&id, &NewPatient { name: name.unwrap_or_default(), external_id, birth_date })?;
            let text = format!("{}\t{}", p.id, f(&p.name));
            Output::ok(p, text)
        }
        PatientCmd::List { query } => {
            let list = lib.list_patients(query.as_deref())?;
            let text = list
                .iter()
                .map(|p| {
                    format!(
                        "{}\t{}\t{}\t{}",
                        p.id,
                        f(&p.name),
                        f(p.external_id.as_deref().unwrap_or("-")),
                        f(p.birth_date.as_deref().unwrap_or("-"))
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(list, text)
        }
    }
}
