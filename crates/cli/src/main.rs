//! `chairside`: the command line over the same app API as the desktop app. With `--json`,
//! stdout carries exactly one JSON document; errors also go to stderr. Exit status: 0 success,
//! 2 invalid input or rejected file(s) (nothing changed for those), 1 any other failure.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use std::sync::Arc;

use chairside_app::teeth::{Notation, Tooth};
use chairside_app::{
    AfterImport, AppError, ErrorPayload, IMPORTED_SUBFOLDER, Inbox, InboxFile, InboxFolder, InboxNotice, InboxOptions,
    Kind, Library, LibraryOptions, SeriesView, inbox,
};
use chairside_media::{StatusFilter, VerifyOptions};
use chairside_patients::NewPatient;
use clap::{Parser, Subcommand};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "chairside", version, about = "Chairside: clinical photos and X-rays, kept safe on this workstation")]
struct Cli {
    /// The library folder (default: the OS's data folder for Chairside).
    #[arg(long, global = true, env = chairside_app::DATA_DIR_ENV, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print exactly one JSON document on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Patients: add, edit, list.
    #[command(subcommand)]
    Patient(PatientCmd),
    /// Import files or folders (recursively) for a patient; waits for the thumbnails.
    Import {
        #[arg(long)]
        patient: String,
        /// intraoral, extraoral, xray, document or other (default: from the file type).
        #[arg(long)]
        kind: Option<String>,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// A patient's documents, newest first.
    List {
        #[arg(long)]
        patient: String,
        /// active, archived or all.
        #[arg(long, default_value = "active")]
        status: String,
        /// Only documents tagged with this tooth (in --notation, else the clinic's notation).
        #[arg(long)]
        tooth: Option<String>,
        /// fdi, universal or palmer (default: the clinic's, see `teeth notation`).
        #[arg(long)]
        notation: Option<String>,
    },
    /// One document with its EXIF, links and history.
    Show { document: String },
    /// Change a document's kind, notes, teeth or captured time (never the original).
    Edit {
        document: String,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        /// Teeth, e.g. "16, 26" (FDI), "3 14" (Universal), "UR6 UL6" (Palmer); "" clears.
        #[arg(long)]
        teeth: Option<String>,
        /// The notation --teeth is written in: fdi, universal or palmer (default: the clinic's).
        #[arg(long)]
        notation: Option<String>,
        /// RFC 3339, e.g. 2026-03-01T10:30:00Z.
        #[arg(long)]
        captured_at: Option<String>,
    },
    /// Move documents out of the active gallery (they are kept, and can be restored).
    Archive {
        #[arg(required = true)]
        documents: Vec<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Bring archived documents back to the active gallery.
    Restore {
        #[arg(required = true)]
        documents: Vec<String>,
    },
    /// Clinical notes.
    #[command(subcommand)]
    Note(NoteCmd),
    /// Treatment plans and their items.
    #[command(subcommand)]
    Plan(PlanCmd),
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
    /// Write a patient's documents at full quality to a ZIP with a manifest.
    Export {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Re-hash every original, check thumbnails, quarantine stray files.
    Verify {
        /// Bring missing or corrupt originals back from the sync bucket (hash-checked).
        #[arg(long)]
        repair: bool,
    },
    /// Sync with an S3-compatible bucket: configure, test, run a round, status, lifecycle, share.
    #[command(subcommand)]
    Sync(SyncCmd),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Watch inbox folders and import each finished file into the active patient (or
    /// --patient); runs until Ctrl-C. With --json, one JSON object per line per batch.
    Watch {
        /// Watch this folder instead of the configured ones (repeatable).
        #[arg(long = "folder", value_name = "DIR")]
        folders: Vec<PathBuf>,
        /// Import into this patient instead of the active one.
        #[arg(long)]
        patient: Option<String>,
        /// Kind for the files of --folder (default: from the file type).
        #[arg(long, requires = "folders")]
        kind: Option<String>,
        /// Leave files of --folder in place instead of moving them to imported/.
        #[arg(long, requires = "folders")]
        leave: bool,
        /// Take in what is ready now, then exit (one JSON document with --json).
        #[arg(long)]
        once: bool,
    },
    /// The practice-management bridge: make the patient with this chart number the active one
    /// (created if new); a running desktop app switches to them.
    Open {
        #[arg(long)]
        external_id: String,
        #[arg(long)]
        name: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        birth_date: Option<String>,
    },
    /// The active patient of this workstation: show it, --set ID or --clear.
    Active {
        #[arg(long, conflicts_with = "clear")]
        set: Option<String>,
        #[arg(long)]
        clear: bool,
    },
    /// Watched inbox folders of this workstation and the files waiting in them.
    #[command(subcommand)]
    Inbox(InboxCmd),
    /// Tooth numbering: the clinic's notation, and conversions.
    #[command(subcommand)]
    Teeth(TeethCmd),
    /// Photo series and X-ray mounts: templates, series, slots, the capture session.
    #[command(subcommand)]
    Series(SeriesCmd),
}

#[derive(Subcommand)]
enum SeriesCmd {
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
    /// Show the capture session, make a series the capture session again, or --end it.
    Capture {
        #[arg(conflicts_with = "end")]
        series: Option<String>,
        #[arg(long)]
        end: bool,
    },
}

#[derive(Subcommand)]
enum InboxCmd {
    /// The watched folders (the default inbox when none is configured).
    Folders,
    /// Watch a folder (or change its settings).
    Add {
        dir: PathBuf,
        /// Kind given to its files, e.g. xray for a sensor's folder.
        #[arg(long)]
        kind: Option<String>,
        /// Leave imported files in place instead of moving them to imported/.
        #[arg(long)]
        leave: bool,
    },
    /// Stop watching a folder (its files are left alone).
    Remove { dir: PathBuf },
    /// Files waiting for a patient (no active patient when they came) and files that failed.
    Files,
    /// Import waiting or failed files into a patient.
    Assign {
        #[arg(long)]
        patient: String,
        #[arg(required = true)]
        files: Vec<String>,
    },
}

#[derive(Subcommand)]
enum SyncCmd {
    /// Check the bucket (reachable, credentials, writable) and save the settings. The secret
    /// comes from CHAIRSIDE_S3_SECRET or is asked for; it goes to the OS keychain.
    Configure {
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "")]
        region: String,
        #[arg(long, default_value = "")]
        prefix: String,
        /// Path-style addresses (endpoint/bucket/key): MinIO, Ceph and most on-site servers.
        #[arg(long)]
        path_style: bool,
        #[arg(long)]
        access_key: String,
        /// When peers' originals are downloaded: all (default) or on-open.
        #[arg(long, default_value = "all")]
        originals: String,
    },
    /// Report what the server supports: list, put, conditional put, tagging, lifecycle, clock.
    Test,
    /// One full round: upload everything pending, apply everything new, then exit.
    Run,
    /// Off / offline / syncing / up to date / error, with the backlog.
    Status,
    /// Lifecycle rules of the bucket.
    #[command(subcommand)]
    Lifecycle(LifecycleCmd),
    /// A time-limited link to one document's original (audited).
    Share {
        document: String,
        /// How long the link works: e.g. 30m, 1h, 2d (at most 7d).
        #[arg(long, default_value = "1h")]
        expires: String,
    },
}

#[derive(Subcommand)]
enum LifecycleCmd {
    /// Tier archived originals (STANDARD_IA after 30 days, DEEP_ARCHIVE after 365) and abort
    /// incomplete uploads after 7 days.
    Install,
}

#[derive(Subcommand)]
enum TeethCmd {
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

#[derive(Subcommand)]
enum PatientCmd {
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

#[derive(Subcommand)]
enum NoteCmd {
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

#[derive(Subcommand)]
enum PlanCmd {
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

#[derive(Subcommand)]
enum AuditCmd {
    List {
        /// Only events about this entity id.
        #[arg(long)]
        entity: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    Verify,
}

/// One line on stderr, its control characters escaped: file names and messages come from
/// outside and must neither break the line format nor reach the terminal as escape codes.
macro_rules! say {
    ($($t:tt)*) => {
        eprintln!("{}", chairside_store::text::escape_controls(&format!($($t)*)))
    };
}

/// A field of a text line (a name, a path, a title): its tabs and line breaks escaped too.
fn f(s: &str) -> std::borrow::Cow<'_, str> {
    chairside_store::text::escape_controls(s)
}

/// What a command produced: its JSON, its human text, and whether it counts as a failure.
struct Output {
    json: Value,
    text: String,
    exit: u8,
    /// Already printed as it happened (`watch`): nothing more at the end.
    streamed: bool,
}

impl Output {
    fn ok(value: impl Serialize, text: impl Into<String>) -> Result<Output, AppError> {
        Ok(Output {
            json: serde_json::to_value(value).unwrap_or(Value::Null),
            text: text.into(),
            exit: 0,
            streamed: false,
        })
    }
}

fn error_exit(e: &AppError) -> u8 {
    if e.is_invalid_input() { 2 } else { 1 }
}

// Listing thousands of documents is allocation-heavy; mimalloc makes it measurably faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let wants_json = std::env::args().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::from(if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    2
                } else {
                    0
                });
            }
            if wants_json {
                let msg = e.kind().to_string();
                println!(
                    "{}",
                    json!({"error": {"code": "invalid_arguments", "message": format!("{msg}: {}", first_line(&e.to_string()))}})
                );
            }
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let json_mode = cli.json;
    match run(cli) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            let _ = if out.streamed {
                Ok(())
            } else if json_mode {
                writeln!(stdout, "{}", serde_json::to_string_pretty(&out.json).unwrap_or_default())
            } else if out.text.is_empty() {
                Ok(())
            } else {
                writeln!(stdout, "{}", chairside_store::text::escape_controls_in_block(out.text.trim_end()))
            };
            ExitCode::from(out.exit)
        }
        Err(e) => {
            say!("chairside: {e}");
            if json_mode {
                println!("{}", json!({"error": e.to_payload()}));
            }
            ExitCode::from(error_exit(&e))
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim_start_matches("error: ")
}

fn open(data_dir: Option<PathBuf>) -> Result<Library, AppError> {
    let dir = match data_dir {
        Some(d) => d,
        None => chairside_app::default_data_dir()?,
    };
    Library::open(LibraryOptions::new(dir))
}

fn parse_kind(kind: Option<&str>) -> Result<Option<Kind>, AppError> {
    kind.map(|k| Kind::from_str(k).map_err(AppError::from)).transpose()
}

fn parse_notation(n: Option<&str>) -> Result<Option<Notation>, AppError> {
    n.map(|n| Notation::from_str(n).map_err(AppError::from)).transpose()
}

fn run(cli: Cli) -> Result<Output, AppError> {
    let json_mode = cli.json;
    let lib = Arc::new(open(cli.data_dir)?);
    match cli.command {
        Command::Patient(PatientCmd::Add { name, external_id, birth_date }) => {
            let p = lib.add_patient(&NewPatient { name, external_id, birth_date })?;
            let text = format!("{}\t{}", p.id, f(&p.name));
            Output::ok(p, text)
        }
        Command::Patient(PatientCmd::Edit { id, name, external_id, birth_date }) => {
            let p = lib.update_patient(&id, &NewPatient { name: name.unwrap_or_default(), external_id, birth_date })?;
            let text = format!("{}\t{}", p.id, f(&p.name));
            Output::ok(p, text)
        }
        Command::Patient(PatientCmd::List { query }) => {
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
        Command::Import { patient, kind, paths } => {
            let kind = parse_kind(kind.as_deref())?;
            let results = lib.import_paths(&patient, &paths, kind, "cli", &|p| {
                // One line per file on stderr as soon as it is committed: a script (or a
                // person) sees progress, and every "imported" line is a durable promise.
                let r = p.result;
                match (&r.document_id, &r.error) {
                    // The message of a rejection names the file already.
                    (_, Some(e)) => say!("[{}/{}] rejected {}", p.done, p.total, e.message),
                    (Some(id), None) => say!("[{}/{}] {} {} {id}", p.done, p.total, r.status, r.path),
                    (None, None) => say!("[{}/{}] {} {}", p.done, p.total, r.status, r.path),
                }
            })?;
            lib.wait_for_thumbnails();
            let rejected = results.iter().filter(|r| r.status == "rejected").count();
            let imported = results.iter().filter(|r| r.status == "imported").count();
            let text =
                format!("{imported} imported, {} duplicate, {rejected} rejected", results.len() - imported - rejected);
            let mut out = Output::ok(json!({"results": results}), text)?;
            // 2 when only the files were at fault; 1 when the library failed (disk full…).
            if results.iter().any(|r| r.status == "rejected" && !r.input_fault) {
                out.exit = 1;
            } else if rejected > 0 {
                out.exit = 2;
            }
            Ok(out)
        }
        Command::List { patient, status, tooth, notation } => {
            let filter = StatusFilter::from_str(&status)?;
            let mut docs = lib.list_documents(&patient, filter)?;
            if let Some(t) = tooth {
                let notation = match parse_notation(notation.as_deref())? {
                    Some(n) => n,
                    None => lib.tooth_notation()?,
                };
                let tooth = Tooth::parse(&t, notation)?;
                docs.retain(|d| chairside_app::shows_tooth(d, tooth));
            }
            let text = docs
                .iter()
                .map(|d| {
                    format!(
                        "{}\t{}\t{}\t{}\t{}x{}\t{}",
                        d.id,
                        d.kind.as_str(),
                        d.status.as_str(),
                        d.captured_at.as_deref().unwrap_or("-"),
                        d.width.map(|w| w.to_string()).unwrap_or("-".into()),
                        d.height.map(|h| h.to_string()).unwrap_or("-".into()),
                        f(d.original_filename.as_deref().unwrap_or("-"))
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(docs, text)
        }
        Command::Show { document } => {
            let d = lib.show_document(&document)?;
            let text = serde_json::to_string_pretty(&d).unwrap_or_default();
            Output::ok(d, text)
        }
        Command::Edit { document, kind, notes, teeth, notation, captured_at } => {
            let patch =
                chairside_media::DocumentPatch { kind: parse_kind(kind.as_deref())?, notes, teeth, captured_at };
            let t = lib.update_document_in(&document, &patch, parse_notation(notation.as_deref())?)?;
            Output::ok(
                json!({"id": document, "changed": t == chairside_media::Transition::Changed}),
                format!("{document}\t{t:?}"),
            )
        }
        Command::Archive { documents, reason } => {
            transition(&lib, &documents, "archived", |id| lib.archive(id, reason.as_deref()))
        }
        Command::Restore { documents } => transition(&lib, &documents, "active", |id| lib.restore(id)),
        Command::Note(NoteCmd::Add { patient, text }) => {
            let n = lib.add_note(&patient, &text)?;
            let text = n.id.clone();
            Output::ok(n, text)
        }
        Command::Note(NoteCmd::Edit { id, text }) => {
            let n = lib.edit_note(&id, &text)?;
            let text = n.id.clone();
            Output::ok(n, text)
        }
        Command::Note(NoteCmd::List { patient }) => {
            let notes = lib.list_notes(&patient)?;
            let text = notes
                .iter()
                .map(|n| format!("{}\t{}\t{}", n.id, n.created_at, f(&n.text)))
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(notes, text)
        }
        Command::Plan(PlanCmd::Add { patient, title }) => {
            let p = lib.add_plan(&patient, &title)?;
            let text = p.id.clone();
            Output::ok(p, text)
        }
        Command::Plan(PlanCmd::ItemAdd { plan, title }) => {
            let i = lib.add_plan_item(&plan, &title)?;
            let text = i.id.clone();
            Output::ok(i, text)
        }
        Command::Plan(PlanCmd::List { patient }) => {
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
        Command::Link { document, owner_type, owner_id, role } => {
            let a = lib.link(&document, &owner_type, &owner_id, role.as_deref())?;
            let text = format!("linked {} to {} {}", a.document_id, a.owner_type, a.owner_id);
            Output::ok(a, text)
        }
        Command::Unlink { document, owner_type, owner_id } => {
            let a = lib.unlink(&document, &owner_type, &owner_id)?;
            let text = format!("unlinked {} from {} {}", a.document_id, a.owner_type, a.owner_id);
            Output::ok(a, text)
        }
        Command::Export { patient, out } => {
            let s = lib.export_patient(&patient, &out)?;
            let text = format!("{} documents, {} bytes → {}", s.documents, s.bytes, f(&s.path.display().to_string()));
            Output::ok(s, text)
        }
        Command::Sync(cmd) => sync(&lib, cmd),
        Command::Verify { repair } => {
            let (r, repaired) = lib.verify_and_repair(VerifyOptions::default(), repair)?;
            let mut text = format!(
                "{} blobs checked ({} bytes): {} corrupt, {} missing, {} orphan file(s); {} thumbnail(s) remade",
                r.blobs_checked,
                r.bytes_checked,
                r.corrupt.len(),
                r.missing.len(),
                r.orphans.len(),
                r.thumbnails_remade
            );
            if !r.database.ok {
                for line in r.database.integrity.iter().chain(&r.database.dangling) {
                    text.push_str(&format!("\ndatabase: {}", f(line)));
                }
                text.push_str(&format!("\ndatabase: {}", r.database.advice.as_deref().unwrap_or("damaged")));
            }
            for t in &r.thumbnails_damaged {
                text.push_str(&format!("\nthumbnail remade: {t}"));
            }
            for c in &r.cleaned_up {
                text.push_str(&format!(
                    "\ncleaned up: {} ({})",
                    f(&c.path.display().to_string()),
                    c.note.as_deref().unwrap_or("")
                ));
            }
            for p in &r.corrupt {
                text.push_str(&format!("\ncorrupt: {} ({})", p.sha256, f(&p.path.display().to_string())));
            }
            for p in &r.missing {
                text.push_str(&format!("\nmissing: {} ({})", p.sha256, f(&p.path.display().to_string())));
            }
            for o in &r.orphans {
                match &o.quarantined_to {
                    Some(q) => text.push_str(&format!(
                        "\norphan: {} → {}",
                        f(&o.path.display().to_string()),
                        f(&q.display().to_string())
                    )),
                    None => text.push_str(&format!(
                        "\norphan: {} ({})",
                        f(&o.path.display().to_string()),
                        o.note.as_deref().unwrap_or("")
                    )),
                }
            }
            if let Some(rep) = &repaired {
                text.push_str(&format!(
                    "\nrepaired from the bucket: {}; could not repair: {}; not downloaded yet: {}",
                    rep.repaired.len(),
                    rep.failed.len(),
                    rep.not_downloaded_yet
                ));
                for f in &rep.failed {
                    text.push_str(&format!("\nnot repaired: {f}"));
                }
            }
            let exit = if r.ok { 0 } else { 1 };
            if !r.ok {
                say!("chairside: verify found problems in the library (see the report)");
            }
            let mut out = Output::ok(&r, text)?;
            if let Some(rep) = repaired {
                out.json["repair"] = json!(rep);
            }
            out.exit = exit;
            if !r.ok {
                out.json["error"] = json!(ErrorPayload {
                    code: "integrity_problems".into(),
                    message: "verify found a damaged database or corrupt, missing or stray files: see database, corrupt, missing and orphans".into()
                });
            }
            Ok(out)
        }
        Command::Audit(AuditCmd::List { entity, limit }) => {
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
        Command::Audit(AuditCmd::Verify) => {
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
        Command::Watch { folders, patient, kind, leave, once } => {
            watch(lib, folders, patient, parse_kind(kind.as_deref())?, leave, once, json_mode)
        }
        Command::Open { external_id, name, birth_date } => {
            let (p, created) = lib.open_external(&external_id, &name, birth_date.as_deref())?;
            let text = format!("{}\t{}\t{}", p.id, f(&p.name), if created { "created, active" } else { "active" });
            Output::ok(json!({"patient": p, "created": created, "active": true}), text)
        }
        Command::Active { set, clear } => {
            let p = if clear {
                lib.set_active_patient(None)?
            } else if let Some(id) = set {
                lib.set_active_patient(Some(&id))?
            } else {
                lib.active_patient()?
            };
            let text = match &p {
                Some(p) => format!("{}\t{}", p.id, f(&p.name)),
                None => "no active patient".into(),
            };
            Output::ok(json!({"patient": p}), text)
        }
        Command::Inbox(InboxCmd::Folders) => {
            let folders = lib.inbox_folders()?;
            let text = folders
                .iter()
                .map(|f| {
                    let kind = f.kind.map(|k| k.as_str()).unwrap_or("-");
                    let after = if f.after_import == AfterImport::Move { "move" } else { "leave" };
                    format!("{}\t{kind}\t{after}", self::f(&f.path))
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(folders, text)
        }
        Command::Inbox(InboxCmd::Add { dir, kind, leave }) => {
            let folder = InboxFolder {
                path: absolute(&dir)?.display().to_string(),
                kind: parse_kind(kind.as_deref())?,
                after_import: if leave { AfterImport::Leave } else { AfterImport::Move },
            };
            lib.set_inbox_folder(&folder)?;
            let text = format!("watching {}", f(&folder.path));
            Output::ok(folder, text)
        }
        Command::Inbox(InboxCmd::Remove { dir }) => {
            let path = absolute(&dir)?.display().to_string();
            lib.remove_inbox_folder(&path)?;
            Output::ok(json!({"path": path, "removed": true}), format!("no longer watching {}", f(&path)))
        }
        Command::Inbox(InboxCmd::Files) => {
            let files = lib.inbox_open_files()?;
            let text = files
                .iter()
                .map(|f| match &f.error {
                    Some(e) => format!("{}\t{}\t{}", f.status, self::f(&f.path), self::f(&e.message)),
                    None => format!("{}\t{}", f.status, self::f(&f.path)),
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(files, text)
        }
        Command::Inbox(InboxCmd::Assign { patient, files }) => {
            let files = lib.assign_inbox_files(&patient, &files)?;
            lib.wait_for_thumbnails();
            inbox_output(files)
        }
        Command::Series(cmd) => series(&lib, cmd),
        Command::Teeth(TeethCmd::Notation { set }) => {
            if let Some(n) = set {
                lib.set_tooth_notation(Notation::from_str(&n)?)?;
            }
            let n = lib.tooth_notation()?;
            Output::ok(json!({"notation": n}), n.as_str())
        }
        Command::Teeth(TeethCmd::Convert { teeth, from, to }) => {
            let to = Notation::from_str(&to)?;
            let set = lib.parse_teeth(&teeth, parse_notation(from.as_deref())?)?;
            let written = set.format(to, ", ");
            let fdi: Vec<u8> = set.as_slice().iter().map(|t| t.fdi()).collect();
            Output::ok(json!({"fdi": fdi, "notation": to, "teeth": written}), written)
        }
    }
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

fn series(lib: &Library, cmd: SeriesCmd) -> Result<Output, AppError> {
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

fn absolute(p: &std::path::Path) -> Result<PathBuf, AppError> {
    std::path::absolute(p).map_err(|e| AppError::InvalidInput(format!("{}: {e}", p.display())))
}

/// The outcome of taking in inbox files: exit 2 when some file was rejected.
fn inbox_output(files: Vec<InboxFile>) -> Result<Output, AppError> {
    let count = |s: &str| files.iter().filter(|f| f.status == s).count();
    let text = format!(
        "{} imported, {} duplicate, {} rejected, {} waiting for a patient",
        count("imported"),
        count("duplicate"),
        count("rejected"),
        count("waiting")
    );
    let rejected = count("rejected");
    let mut out = Output::ok(json!({"files": files}), text)?;
    if rejected > 0 {
        out.exit = 2;
    }
    Ok(out)
}

/// One line on stderr per file as it is taken in (and, with --json, one JSON object per
/// batch on stdout): the watch runs for hours and its log is read as it grows.
fn print_notice(notice: &InboxNotice, json_mode: bool) {
    if json_mode {
        println!("{}", serde_json::to_string(notice).unwrap_or_default());
    }
    match notice {
        InboxNotice::Files { files } => {
            for f in files {
                match (&f.error, &f.document_id) {
                    (Some(e), _) => say!("rejected {} ({})", f.path, e.message),
                    (None, Some(id)) => say!("{} {} {id}", f.status, f.path),
                    (None, None) => say!("{} {} (no active patient: waiting in the tray)", f.status, f.path),
                }
            }
        }
        InboxNotice::FolderUnavailable { folder, reason } => say!("folder unavailable: {folder}: {reason}"),
        InboxNotice::FolderAvailable { folder } => say!("folder available again: {folder}"),
        InboxNotice::Failed { error } => say!("import failed: {}", error.message),
    }
}

fn watch(
    lib: Arc<Library>,
    dirs: Vec<PathBuf>,
    patient: Option<String>,
    kind: Option<Kind>,
    leave: bool,
    once: bool,
    json_mode: bool,
) -> Result<Output, AppError> {
    if let Some(p) = &patient {
        lib.patient(p)?;
    }
    let folders = if dirs.is_empty() {
        None
    } else {
        let after_import = if leave { AfterImport::Leave } else { AfterImport::Move };
        Some(
            dirs.iter()
                .map(|d| Ok(InboxFolder { path: absolute(d)?.display().to_string(), kind, after_import }))
                .collect::<Result<Vec<_>, AppError>>()?,
        )
    };
    if once {
        let folders = match folders {
            Some(f) => f,
            None => lib.inbox_folders()?,
        };
        let watched: Vec<inbox::Folder> =
            folders.iter().map(|f| inbox::Folder::new(&f.path).skipping(IMPORTED_SUBFOLDER)).collect();
        let ready = inbox::ready_now(&watched, inbox::Options::default());
        let files = lib.take_in(&ready, &folders, patient.as_deref())?;
        lib.wait_for_thumbnails();
        return inbox_output(files);
    }
    let (stop_tx, stop_rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .map_err(|e| AppError::Inbox(format!("cannot catch Ctrl-C: {e}")))?;
    let watched = match &folders {
        Some(f) => f.clone(),
        None => lib.inbox_folders()?,
    };
    let options = InboxOptions { folders, patient, timing: inbox::Options::default() };
    let running = Inbox::start(Arc::clone(&lib), options, move |n| print_notice(&n, json_mode))?;
    let names: Vec<&str> = watched.iter().map(|f| f.path.as_str()).collect();
    say!("watching {} (Ctrl-C to stop)", names.join(", "));
    let _ = stop_rx.recv();
    running.stop();
    lib.wait_for_thumbnails();
    let mut out = Output::ok(Value::Null, "")?;
    out.streamed = true;
    Ok(out)
}

/// Archive/restore of several documents: all ids are checked first, so one unknown id
/// changes nothing at all.
fn transition(
    lib: &Library,
    ids: &[String],
    target: &str,
    apply: impl Fn(&str) -> Result<chairside_media::Transition, AppError>,
) -> Result<Output, AppError> {
    for id in ids {
        lib.show_document(id)?;
    }
    let mut results = Vec::new();
    let mut text = String::new();
    for id in ids {
        let changed = apply(id)? == chairside_media::Transition::Changed;
        text.push_str(&format!("{id}\t{target}{}\n", if changed { "" } else { " (unchanged)" }));
        results.push(json!({"id": id, "status": target, "changed": changed}));
    }
    Output::ok(json!({"results": results}), text)
}

/// "90s", "30m", "1h", "2d" or plain seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, AppError> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| AppError::InvalidInput(format!("{text:?} is not a duration: write e.g. 30m, 1h or 2d")))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(AppError::InvalidInput(format!("{text:?} is not a duration: write e.g. 30m, 1h or 2d"))),
    };
    Ok(std::time::Duration::from_secs(seconds))
}

fn sync_status_text(s: &chairside_app::sync_engine::SyncStatus) -> String {
    use chairside_app::sync_engine::SyncState as State;
    let b = &s.backlog;
    let mut text = match s.state {
        State::Off => "off: no bucket configured (run `chairside sync configure`)".to_string(),
        State::Offline => format!(
            "offline since {}; next try {}: {}",
            s.since.as_deref().unwrap_or("?"),
            s.next_try.as_deref().unwrap_or("soon"),
            s.message.as_deref().unwrap_or("")
        ),
        State::Syncing => {
            format!("syncing: {} to upload, {} to apply, {} to download", b.to_upload, b.to_apply, b.to_download)
        }
        State::UpToDate => format!("up to date (last round {})", s.last_success_at.as_deref().unwrap_or("?")),
        State::Error => {
            format!("error since {}: {}", s.since.as_deref().unwrap_or("?"), s.message.as_deref().unwrap_or(""))
        }
    };
    for w in &s.warnings {
        text.push_str(&format!("\nwarning: {w}"));
    }
    text
}

fn sync(lib: &Library, cmd: SyncCmd) -> Result<Output, AppError> {
    use chairside_app::sync_engine::{Originals, SHARE_DEFAULT, SyncConfig, SyncState as State};
    match cmd {
        SyncCmd::Configure { endpoint, bucket, region, prefix, path_style, access_key, originals } => {
            let originals = match originals.as_str() {
                "all" => Originals::All,
                "on-open" => Originals::OnOpen,
                other => return Err(AppError::InvalidInput(format!("--originals {other:?}: use all or on-open"))),
            };
            let secret = match std::env::var("CHAIRSIDE_S3_SECRET") {
                Ok(s) if !s.is_empty() => s,
                _ => rpassword::prompt_password(format!("Secret key for {access_key}: ")).map_err(|e| {
                    AppError::InvalidInput(format!(
                        "no secret key: set CHAIRSIDE_S3_SECRET or type it at the prompt ({e})"
                    ))
                })?,
            };
            let config = SyncConfig { endpoint, region, bucket, prefix, path_style, access_key, originals };
            let location = lib.sync_configure(config, &secret)?;
            let saved = lib.sync_configured()?;
            let mut text = format!(
                "sync configured: {}",
                saved.as_ref().map(|c| format!("{}/{}", c.endpoint, c.bucket)).unwrap_or_default()
            );
            if let chairside_app::sync_engine::SecretLocation::File { path } = &location {
                say!(
                    "chairside: warning: no OS keychain is available; the secret key is stored in {path} (readable only by you)"
                );
                text.push_str(&format!("\nwarning: the secret key is in {path}, not in a keychain"));
            }
            Output::ok(json!({"config": saved, "secret": location, "clinic_id": lib.clinic_id()}), text)
        }
        SyncCmd::Test => {
            let checks = lib.sync_test()?;
            let text = checks
                .iter()
                .map(|c| format!("{} {:<16} {}", if c.ok { "ok  " } else { "FAIL" }, c.name, c.detail))
                .collect::<Vec<_>>()
                .join("\n");
            let all_ok = checks.iter().all(|c| c.ok);
            let mut out = Output::ok(json!({"ok": all_ok, "checks": checks}), text)?;
            if !all_ok {
                out.exit = 1;
            }
            Ok(out)
        }
        SyncCmd::Run => {
            let (report, status) = lib.sync_run()?;
            let text = format!(
                "uploaded {} originals ({} bytes), {} thumbnails, {} segments; applied {} segments ({} records); downloaded {} thumbnails, {} originals; {} ms\n{}",
                report.uploaded_originals,
                report.uploaded_bytes,
                report.uploaded_thumbnails,
                report.uploaded_segments,
                report.applied_segments,
                report.applied_entities,
                report.downloaded_thumbnails,
                report.downloaded_originals,
                report.ms,
                sync_status_text(&status)
            );
            for p in &report.problems {
                say!("chairside: sync: {p}");
            }
            let mut out = Output::ok(json!({"report": report, "status": status}), text)?;
            if !report.problems.is_empty() {
                out.exit = 1;
            }
            Ok(out)
        }
        SyncCmd::Status => {
            let status = lib.sync_status()?;
            let text = sync_status_text(&status);
            let mut out = Output::ok(&status, text)?;
            if status.state == State::Error {
                out.exit = 1;
            }
            Ok(out)
        }
        SyncCmd::Lifecycle(LifecycleCmd::Install) => {
            let r = lib.sync_lifecycle_install()?;
            let mut text = String::from("lifecycle rule installed: archived originals");
            for t in &r.transitions {
                text.push_str(&format!(" → {} after {} days", t.storage_class, t.days));
            }
            if r.transitions.is_empty() {
                text.push_str(" stay in their storage class (the server refused every tiering class)");
            }
            text.push_str(&format!("; incomplete uploads aborted after {} days", r.abort_incomplete_multipart_days));
            for refused in &r.refused {
                text.push_str(&format!("\nleft out, the server refused it: {refused}"));
            }
            Output::ok(r, text)
        }
        SyncCmd::Share { document, expires } => {
            let expires = if expires.is_empty() { SHARE_DEFAULT } else { parse_duration(&expires)? };
            let link = lib.sync_share(&document, expires)?;
            let text = format!("{}\n(valid until {})", link.url, link.expires_at);
            Output::ok(link, text)
        }
    }
}
