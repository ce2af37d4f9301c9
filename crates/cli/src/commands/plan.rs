//! `chairside plan …`: treatment plans and their items.

use std::sync::Arc;

use chairside_app::{AppError, Library};
use clap::Subcommand;

use crate::output::{Output, f};

#[derive(Subcommand)]
pub enum PlanCmd {
    Add {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        title: String,
    },
    ItemAdd {
        #[arg(long)]
        plan: String,
        #[arg(long)]
        title: String,
    },
    List {
        #[arg(long)]
        patient: String,
    },
}

pub fn run(lib: &Arc<Library>, cmd: PlanCmd) -> Result<Output, AppError> {
    match cmd {
        PlanCmd::Add { patient, title } => {
            let p = lib.add_plan(&patient, &title)?;
            let text = p.id.clone();
            Output::ok(p, text)
        }
        PlanCmd::ItemAdd { plan, title } => {
            let i = lib.add_plan_item(&plan, &title)?;
            let text = i.id.clone();
            Output::ok(i, text)
        }
        PlanCmd::List { patient } => {
            let plans = lib.list_plans(&patient)?;
            let mut text = String::new();
            for p in &plans {
                text.push_str(&format!("{}\t{}\n", p.id, f(&p.title)));
                for i in &p.items {
                    text.push_str(&format!("  {}\t{}. {}\n", i.id, i.position, f(&i.title)));
                }
            }
            Output::ok(plans, text)
        }
    }
}
