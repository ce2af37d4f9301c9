//! `chairside`: the command line over the same app API as the desktop app. With `--json`,
//! stdout carries exactly one JSON document; errors also go to stderr. Exit status: 0 success,
//! 2 invalid input or rejected file(s) (nothing changed for those), 3 not signed in, a wrong
//! password, locked out or not permitted (nothing changed), 1 any other failure.
//!
//! Each noun's arguments and `run` are in `commands/<noun>.rs`; how an outcome is printed and
//! which exit status it gives, here and in `output.rs` alone.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chairside_app::{AppError, Library, LibraryOptions};
use clap::{Parser, Subcommand};
use serde_json::json;

#[macro_use]
mod output;
mod commands;

use output::{Output, error_exit};

#[derive(Parser)]
#[command(name = "chairside", version, about = "Chairside: clinical photos and X-rays, kept safe on this workstation")]
struct Cli {
    /// The library folder (default: the OS's data folder for Chairside).
    #[arg(long, global = true, env = chairside_app::DATA_DIR_ENV, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print exactly one JSON document on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Who you are, given before the command: once the library has users, sign in as NAME
    /// (the password from CHAIRSIDE_PASSWORD or a prompt). Before that, the name the audit
    /// trail records. (Not global: `audit list --user` filters by user.)
    #[arg(long, env = "CHAIRSIDE_USER", value_name = "NAME")]
    user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Patients: add, edit, list.
    #[command(subcommand)]
    Patient(commands::patient::PatientCmd),
    #[command(flatten)]
    Documents(commands::documents::DocumentCmd),
    /// Clinical notes.
    #[command(subcommand)]
    Note(commands::note::NoteCmd),
    /// Treatment plans and their items.
    #[command(subcommand)]
    Plan(commands::plan::PlanCmd),
    #[command(flatten)]
    Links(commands::links::LinkCmd),
    #[command(flatten)]
    Viewer(commands::viewer::ViewerCmd),
    /// Sync with an S3-compatible bucket: configure, test, run a round, status, lifecycle, share.
    #[command(subcommand)]
    Sync(commands::sync::SyncCmd),
    /// The audit trail.
    #[command(subcommand)]
    Audit(commands::audit::AuditCmd),
    #[command(flatten)]
    Capture(commands::capture::CaptureCmd),
    /// Watched inbox folders of this workstation and the files waiting in them.
    #[command(subcommand)]
    Inbox(commands::inbox::InboxCmd),
    /// Back the library up to a folder (a USB disk, a NAS share); verify or list a backup.
    Backup(commands::backup::BackupCmd),
    /// The workstation at a glance: disk, backups, verify, thumbnails, sync, the audit chain.
    Health(commands::health::HealthCmd),
    /// Virus scanning of imports by a ClamAV daemon: on (--clamd SOCKET), off, or its state.
    Scanning(commands::scanning::ScanningCmd),
    /// Tooth numbering: the clinic's notation, and conversions.
    #[command(subcommand)]
    Teeth(commands::teeth::TeethCmd),
    /// Photo series and X-ray mounts: templates, series, slots, the capture session.
    #[command(subcommand)]
    Series(commands::series::SeriesCmd),
    /// Users: add, list, edit, set a password or PIN.
    #[command(subcommand)]
    User(commands::users::UserCmd),
    /// Roles and their permissions.
    #[command(subcommand)]
    Role(commands::users::RoleCmd),
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
            say!("chairside: {}", output::message(&e));
            if json_mode {
                println!("{}", json!({"error": output::payload(&e)}));
            }
            ExitCode::from(error_exit(&e))
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim_start_matches("error: ")
}

fn open(data_dir: Option<PathBuf>, user: Option<String>) -> Result<Library, AppError> {
    let dir = match data_dir {
        Some(d) => d,
        None => chairside_app::default_data_dir()?,
    };
    let mut options = LibraryOptions::new(dir);
    options.user = user.clone();
    let lib = Library::open(options)?;
    // A library with users is used by one of them: signed in for this one command.
    if lib.has_users()? {
        let Some(name) = user.filter(|u| !u.trim().is_empty()) else {
            return Err(AppError::AuthRequired(
                "this library has users: give --user NAME (or CHAIRSIDE_USER) and the password in CHAIRSIDE_PASSWORD or at the prompt".into(),
            ));
        };
        let password = match std::env::var("CHAIRSIDE_PASSWORD") {
            Ok(p) if !p.is_empty() => p,
            _ => rpassword::prompt_password(format!("Password for {name}: ")).map_err(|e| {
                AppError::AuthRequired(format!(
                    "no password for {name}: set CHAIRSIDE_PASSWORD or type it at the prompt ({e})"
                ))
            })?,
        };
        lib.sign_in(&name, chairside_app::Secret::Password(&password))?;
    }
    Ok(lib)
}

fn run(cli: Cli) -> Result<Output, AppError> {
    let json_mode = cli.json;
    // What reads or writes only a backup folder never opens (or creates) a library.
    match &cli.command {
        Command::Backup(cmd) => {
            if let Some(out) = commands::backup::run_without_library(cmd) {
                return out;
            }
        }
        Command::Documents(commands::documents::DocumentCmd::Restore { from: Some(from), at, into, .. }) => {
            return commands::backup::restore(from, at.as_deref(), into.as_deref().unwrap_or(std::path::Path::new("")));
        }
        _ => {}
    }
    let lib = Arc::new(open(cli.data_dir, cli.user)?);
    match cli.command {
        Command::Patient(cmd) => commands::patient::run(&lib, cmd),
        Command::Documents(cmd) => commands::documents::run(&lib, cmd),
        Command::Note(cmd) => commands::note::run(&lib, cmd),
        Command::Plan(cmd) => commands::plan::run(&lib, cmd),
        Command::Links(cmd) => commands::links::run(&lib, cmd),
        Command::Viewer(cmd) => commands::viewer::run(&lib, cmd),
        Command::Sync(cmd) => commands::sync::run(&lib, cmd),
        Command::Audit(cmd) => commands::audit::run(&lib, cmd),
        Command::Capture(cmd) => commands::capture::run(&lib, cmd, json_mode),
        Command::Inbox(cmd) => commands::inbox::run(&lib, cmd),
        Command::Backup(cmd) => commands::backup::run(&lib, cmd),
        Command::Health(cmd) => commands::health::run(&lib, cmd),
        Command::Scanning(cmd) => commands::scanning::run(&lib, cmd),
        Command::Teeth(cmd) => commands::teeth::run(&lib, cmd),
        Command::Series(cmd) => commands::series::run(&lib, cmd),
        Command::User(cmd) => commands::users::run_user(&lib, cmd),
        Command::Role(cmd) => commands::users::run_role(&lib, cmd),
    }
}
