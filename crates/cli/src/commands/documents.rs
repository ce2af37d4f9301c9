//! Documents: import, list, show, edit, archive, restore, export, verify.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use chairside_app::teeth::Tooth;
use chairside_app::{AppError, ErrorPayload, FileStatus, Library};
use chairside_media::{StatusFilter, VerifyOptions};
use clap::Subcommand;
use serde_json::json;

use super::*;
use crate::output::{Output, f};

#[derive(Subcommand)]
pub enum DocumentCmd {
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
    /// Sign a document as it is now (its original and details); a later edit ends the
    /// signature's validity, which `show` reports.
    Sign { document: String },
    /// Move documents out of the active gallery (they are kept, and can be restored).
    Archive {
        #[arg(required = true)]
        documents: Vec<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Bring archived documents back to the active gallery; or, with --from, rebuild a whole
    /// library from a backup folder into an empty folder.
    Restore {
        #[arg(required_unless_present = "from", conflicts_with = "from")]
        documents: Vec<String>,
        /// A backup folder (see `chairside backup`).
        #[arg(long, value_name = "DIR", requires = "into")]
        from: Option<PathBuf>,
        /// The snapshot to restore (default: the newest; see `chairside backup list DIR`).
        #[arg(long, value_name = "SNAPSHOT", requires = "from")]
        at: Option<String>,
        /// A new or empty folder for the restored library.
        #[arg(long, value_name = "EMPTY_DIR", requires = "from")]
        into: Option<PathBuf>,
    },
    /// Write a patient's documents: `zip` (the originals at full quality, with a manifest and
    /// a FHIR bundle), `dicom` (a folder with a DICOMDIR, for a CD or a USB stick) or `pdf` (a
    /// page each, as adjusted and annotated, under a header). Never overwrites.
    Export {
        #[arg(long)]
        patient: String,
        /// Only these documents (each one of the patient's); all of them otherwise.
        #[arg(long, num_args = 1.., value_name = "ID")]
        documents: Vec<String>,
        #[arg(long, value_enum, default_value = "zip")]
        format: ExportFormat,
        #[arg(long)]
        out: PathBuf,
    },
    /// Re-hash every original, check thumbnails, quarantine stray files.
    Verify {
        /// Bring missing or corrupt originals back from the sync bucket (hash-checked).
        #[arg(long)]
        repair: bool,
        /// Re-hash only originals not verified in this long (`30d`, `12h`) or since this time
        /// (RFC 3339): with `--limit`, a nightly run over a rolling part of the library.
        #[arg(long, value_name = "AGE_OR_TIME")]
        since: Option<String>,
        /// At most this many originals (the least recently verified first); needs --since.
        #[arg(long, requires = "since")]
        limit: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Zip,
    Dicom,
    Pdf,
}

pub fn run(lib: &Arc<Library>, cmd: DocumentCmd) -> Result<Output, AppError> {
    match cmd {
        DocumentCmd::Import { patient, kind, paths } => import(lib, &patient, kind, &paths),
        DocumentCmd::List { patient, status, tooth, notation } => {
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
        DocumentCmd::Show { document } => {
            let d = lib.show_document(&document)?;
            let text = serde_json::to_string_pretty(&d).unwrap_or_default();
            Output::ok(d, text)
        }
        DocumentCmd::Edit { document, kind, notes, teeth, notation, captured_at } => {
            let patch =
                chairside_media::DocumentPatch { kind: parse_kind(kind.as_deref())?, notes, teeth, captured_at };
            let t = lib.update_document_in(&document, &patch, parse_notation(notation.as_deref())?)?;
            Output::ok(
                json!({"id": document, "changed": t == chairside_media::Transition::Changed}),
                format!("{document}\t{t:?}"),
            )
        }
        DocumentCmd::Sign { document } => {
            let sig = lib.sign_document(&document)?;
            Output::ok(
                json!({"id": sig.id, "signed_by": sig.signed_by, "signed_at": sig.signed_at, "sha256": sig.sha256, "edit_version": sig.edit_version}),
                format!("{}\tsigned by {} at {}", sig.document_id, f(&sig.signed_by), sig.signed_at),
            )
        }
        DocumentCmd::Archive { documents, reason } => {
            transition(lib, &documents, "archived", |id| lib.archive(id, reason.as_deref()))
        }
        DocumentCmd::Restore { documents, from: None, .. } => {
            transition(lib, &documents, "active", |id| lib.restore(id))
        }
        DocumentCmd::Restore { from: Some(from), at, into, .. } => {
            super::backup::restore(&from, at.as_deref(), into.as_deref().unwrap_or(Path::new("")))
        }
        DocumentCmd::Export { patient, documents, format: ExportFormat::Zip, out } => {
            let s = lib.export_patient(&patient, &documents, &out)?;
            let text = format!("{} documents, {} bytes → {}", s.documents, s.bytes, f(&s.path.display().to_string()));
            Output::ok(s, text)
        }
        DocumentCmd::Export { patient, documents, format: ExportFormat::Dicom, out } => {
            let s = lib.export_dicom(&patient, &documents, &out)?;
            let mut text = format!("{} DICOM files and a DICOMDIR, {} bytes → {}", s.documents, s.bytes, f(&s.path));
            if !s.skipped.is_empty() {
                text.push_str(&format!("\nnot sent as DICOM (no image): {}", s.skipped.join(", ")));
            }
            Output::ok(s, text)
        }
        DocumentCmd::Export { patient, documents, format: ExportFormat::Pdf, out } => {
            let s = lib.export_pdf(&patient, &documents, &out)?;
            let mut text = format!("{} pages, {} bytes → {}", s.pages, s.bytes, f(&s.path));
            if !s.skipped.is_empty() {
                text.push_str(&format!("\nnot in the PDF (no image to show): {}", s.skipped.join(", ")));
            }
            Output::ok(s, text)
        }
        DocumentCmd::Verify { repair, since, limit } => {
            let options = VerifyOptions { not_verified_since: since.as_deref().map(cutoff).transpose()?, limit };
            verify(lib, options, repair)
        }
    }
}

/// `30d` / `12h` before now, or an RFC 3339 time, as the UTC time stamps are stored.
fn cutoff(since: &str) -> Result<String, AppError> {
    let bad = || {
        AppError::InvalidInput(format!(
            "--since {since:?}: give an age such as 30d or 12h, or a time such as 2026-11-01T00:00:00Z"
        ))
    };
    let age = |n: &str, unit: i64| {
        let n = n.parse::<i64>().ok().filter(|n| *n >= 0)?;
        chrono::Duration::try_seconds(n.checked_mul(unit)?)
    };
    let ago = match since.char_indices().last() {
        Some((i, 'd')) => age(&since[..i], 86_400),
        Some((i, 'h')) => age(&since[..i], 3_600),
        _ => None,
    };
    let at = match ago {
        Some(d) => chrono::Utc::now().checked_sub_signed(d).ok_or_else(bad)?,
        None => chrono::DateTime::parse_from_rfc3339(since).map_err(|_| bad())?.with_timezone(&chrono::Utc),
    };
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Checks every original, thumbnail and the database; with `repair`, restores from the bucket.
fn verify(lib: &Library, options: VerifyOptions, repair: bool) -> Result<Output, AppError> {
    let (r, repaired) = lib.verify_and_repair(options, repair)?;
    let mut text = format!(
        "{} blobs checked ({} bytes): {} corrupt, {} missing, {} orphan file(s); {} thumbnail(s) remade",
        r.blobs_checked,
        r.bytes_checked,
        r.corrupt.len(),
        r.missing.len(),
        r.orphans.len(),
        r.thumbnails_remade
    );
    if r.blobs_skipped > 0 {
        text.push_str(&format!(
            "\n{} originals verified recently (or beyond --limit) left for a later run",
            r.blobs_skipped
        ));
    }
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

/// Imports files or folders, one progress line per file on stderr as each is committed.
fn import(lib: &Library, patient: &str, kind: Option<String>, paths: &[PathBuf]) -> Result<Output, AppError> {
    let kind = parse_kind(kind.as_deref())?;
    let results = lib.import_paths(patient, paths, kind, "cli", &|p| {
        // One line per file on stderr as soon as it is committed: a script (or a
        // person) sees progress, and every "imported" line is a durable promise.
        let r = p.result;
        match (&r.document_id, &r.error) {
            // The message of a rejection names the file already.
            (_, Some(e)) => say!("[{}/{}] rejected {}", p.done, p.total, e.message),
            (Some(id), None) => say!("[{}/{}] {} {} {id}", p.done, p.total, r.status, r.path),
            (None, None) => say!("[{}/{}] {} {}", p.done, p.total, r.status, r.path),
        }
        for w in &r.warnings {
            say!("  warning: {w}");
        }
    })?;
    lib.wait_for_thumbnails();
    let rejected = results.iter().filter(|r| r.status == FileStatus::Rejected).count();
    let imported = results.iter().filter(|r| r.status == FileStatus::Imported).count();
    let text = format!("{imported} imported, {} duplicate, {rejected} rejected", results.len() - imported - rejected);
    let mut out = Output::ok(json!({"results": results}), text)?;
    // 2 when only the files were at fault; 1 when the library failed (disk full…).
    if results.iter().any(|r| r.status == FileStatus::Rejected && !r.input_fault) {
        out.exit = 1;
    } else if rejected > 0 {
        out.exit = 2;
    }
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
        lib.check_document(id)?;
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
