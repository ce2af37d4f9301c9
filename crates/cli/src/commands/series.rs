//! `chairside series …`: templates, series, slots, the capture session.

use std::path::PathBuf;

use chairside_app::{AppError, Library, SeriesView};
use clap::Subcommand;
use serde_json::json;

use crate::output::{Output, f};

#[derive(Subcommand)]
pub enum SeriesCmd {
    /// The templates: built-in (abo-8, fmx-18, bitewings-4, compare-2) and the clinic's own.
    Templates,
    /// Add a clinic template from a JSON file: {"name", "columns", "rows", "slots": [{"name",
    /// "kind", "teeth", "rotation", "row", "col"}]} (teeth in the clinic's notation).
    TemplateAdd { file: PathBuf },
    /// Start a series for a patient; with --capture it becomes this workstation's capture
    /// session (and the patient the one in the chair): the inbox fills its slots in order.
    Start {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        template: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        capture: bool,
    },
    /// A series with what is in each slot.
    Show { id: String },
    /// A patient's series, newest first.
    List {
        #[arg(long)]
        patient: String,
    },
    /// Put a document in a slot (numbered from 1); what was there stays in the gallery.
    Place {
        series: String,
        #[arg(long)]
        slot: usize,
        document: String,
    },
    /// Sign every image mounted in a series (the whole mount), as `sign` signs one.
    Sign { series: String },
    /// Print a mount: its slots in their grid, each as adjusted, to a PNG, JPEG or a PDF page
    /// headed with the clinic, the patient, the chart number, the dates and the teeth.
    Print {
        series: String,
        #[arg(long, value_name = "FILE.{png,jpg,pdf}")]
        out: PathBuf,
        #[arg(long)]
        annotations: bool,
    },
    /// Show the capture session, make a series the capture session again, or --end it.
    Capture {
        #[arg(conflicts_with = "end")]
        series: Option<String>,
        #[arg(long)]
        end: bool,
    },
}

fn series_text(v: &SeriesView) -> String {
    let mut text = format!("{}\t{}\t{}\n", v.series.id, f(&v.series.title), v.series.started_at);
    for s in &v.slots {
        let doc = s.document_id.as_deref().unwrap_or("-");
        let earlier = if s.earlier.is_empty() { String::new() } else { format!("\t({} earlier)", s.earlier.len()) };
        text.push_str(&format!("  {:>2}. {}\t{}\t{doc}{earlier}\n", s.index + 1, f(&s.slot.name), s.slot.kind));
    }
    text
}

pub fn run(lib: &Library, cmd: SeriesCmd) -> Result<Output, AppError> {
    match cmd {
        SeriesCmd::Templates => {
            let all = lib.series_templates()?;
            let text = all
                .iter()
                .map(|t| {
                    format!(
                        "{}\t{}\t{} slots{}",
                        t.id,
                        f(&t.name),
                        t.slots.len(),
                        if t.builtin { "" } else { "\t(clinic)" }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(all, text)
        }
        SeriesCmd::TemplateAdd { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| AppError::InvalidInput(format!("{}: {e}", file.display())))?;
            let new: chairside_app::series::NewTemplate = serde_json::from_str(&text)
                .map_err(|e| AppError::InvalidInput(format!("{} is not a template: {e}", file.display())))?;
            let t = lib.add_series_template(&new)?;
            let text = format!("{}\t{}", t.id, t.name);
            Output::ok(t, text)
        }
        SeriesCmd::Start { patient, template, title, capture } => {
            let v = if capture {
                lib.start_capture(&patient, &template, title.as_deref())?
            } else {
                lib.start_series(&patient, &template, title.as_deref())?
            };
            let text = series_text(&v);
            Output::ok(v, text)
        }
        SeriesCmd::Show { id } => {
            let v = lib.series_view(&id)?;
            let text = series_text(&v);
            Output::ok(v, text)
        }
        SeriesCmd::List { patient } => {
            let all = lib.list_series(&patient)?;
            let text = all.iter().map(series_text).collect::<Vec<_>>().join("\n");
            Output::ok(all, text)
        }
        SeriesCmd::Place { series, slot, document } => {
            let index =
                slot.checked_sub(1).ok_or_else(|| AppError::InvalidInput("slots are numbered from 1".into()))?;
            let v = lib.place_in_series(&series, index, &document)?;
            let text = series_text(&v);
            Output::ok(v, text)
        }
        SeriesCmd::Print { series, out, annotations } => {
            let r = lib.render_series(&series, &out, annotations)?;
            let text = format!("{} × {} → {} ({} bytes)", r.width, r.height, f(&r.path), r.bytes);
            Output::ok(r, text)
        }
        SeriesCmd::Sign { series } => {
            let sigs = lib.sign_series(&series)?;
            let text = sigs
                .iter()
                .map(|s| format!("{}\tsigned by {} at {}", s.document_id, f(&s.signed_by), s.signed_at))
                .collect::<Vec<_>>()
                .join("\n");
            let json: Vec<_> = sigs
                .iter()
                .map(|s| json!({"id": s.id, "document_id": s.document_id, "signed_by": s.signed_by, "signed_at": s.signed_at, "sha256": s.sha256, "edit_version": s.edit_version}))
                .collect();
            Output::ok(json!({"signatures": json}), text)
        }
        SeriesCmd::Capture { series, end } => {
            let v = if end {
                lib.resume_capture(None)?
            } else if let Some(id) = series {
                let v = lib.series_view(&id)?;
                lib.set_active_patient(Some(&v.series.patient_id))?;
                lib.resume_capture(Some(&id))?
            } else {
                lib.capture_session()?
            };
            let text = v.as_ref().map(series_text).unwrap_or_else(|| "no capture session".into());
            Output::ok(json!({"session": v}), text)
        }
    }
}
