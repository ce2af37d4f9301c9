//! `chairside sync …`: configure, test, run, status, lifecycle, share.

use chairside_app::{AppError, Library};
use clap::Subcommand;
use serde_json::json;

use crate::output::Output;

#[derive(Subcommand)]
pub enum SyncCmd {
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
        /// The clinic's own certificate authority (a PEM file), trusted besides the system's,
        /// when it issued the server's certificate.
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<std::path::PathBuf>,
        /// Plain http:// to another machine (images and names cross the network unencrypted):
        /// only on a network the clinic trusts. Loopback needs no flag.
        #[arg(long)]
        allow_insecure_http: bool,
        /// Keep the bucket unencrypted: the storage provider can read every photo and name.
        /// Without it the passphrase comes from CHAIRSIDE_SYNC_PASSPHRASE or a prompt.
        #[arg(long)]
        no_encryption: bool,
        /// Join an encrypted bucket with its printed recovery key (a forgotten passphrase):
        /// from CHAIRSIDE_SYNC_RECOVERY_KEY or a prompt.
        #[arg(long, conflicts_with = "no_encryption")]
        recovery_key: bool,
    },
    /// Wrap the clinic key by a new passphrase (CHAIRSIDE_SYNC_PASSPHRASE or a prompt); the
    /// recovery key stays valid. Other workstations keep working.
    Passphrase,
    /// Seal the whole bucket again with a new clinic key, after a workstation holding it was
    /// stolen. Prints a new recovery key; the other workstations join again with the passphrase.
    /// Interrupted, the next sync round (or this command run again) carries the pass on.
    RotateKey,
    /// Encrypt an unencrypted bucket in place with a new clinic key. Interrupted, the next sync
    /// round (or this command run again) carries the pass on.
    EncryptExisting,
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
pub enum LifecycleCmd {
    /// Tier archived originals (STANDARD_IA after 30 days, DEEP_ARCHIVE after 365) and abort
    /// incomplete uploads after 7 days.
    Install,
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
    if s.state != State::Off {
        use chairside_app::sync_engine::EncryptionState as E;
        text.push_str(match s.encryption {
            E::On => "\nencryption: on",
            E::Off => "\nencryption: off (the storage provider can read the photos; `chairside sync encrypt-existing` encrypts them)",
            E::Migrating => "\nencryption: migrating (the next sync round, or the command run again, carries the re-sealing on)",
        });
    }
    for w in &s.warnings {
        text.push_str(&format!("\nwarning: {w}"));
    }
    text
}

pub fn run(lib: &Library, cmd: SyncCmd) -> Result<Output, AppError> {
    use chairside_app::sync_engine::{Originals, SHARE_DEFAULT, SyncConfig, SyncState as State};
    match cmd {
        SyncCmd::Configure {
            endpoint,
            bucket,
            region,
            prefix,
            path_style,
            access_key,
            originals,
            ca_cert,
            allow_insecure_http,
            no_encryption,
            recovery_key,
        } => {
            let ca_cert = ca_cert.as_deref().map(read_ca_cert).transpose()?;
            let config = SyncConfig {
                endpoint,
                region,
                bucket,
                prefix,
                path_style,
                access_key,
                originals: Originals::All,
                ca_cert,
                allow_insecure_http,
                encryption: None,
            };
            let encryption = if no_encryption {
                Encryption::Off
            } else if recovery_key {
                Encryption::RecoveryKey(ask("CHAIRSIDE_SYNC_RECOVERY_KEY", "The clinic's recovery key: ")?)
            } else {
                Encryption::Passphrase(ask("CHAIRSIDE_SYNC_PASSPHRASE", "The clinic's sync passphrase: ")?)
            };
            configure(lib, config, &originals, encryption)
        }
        SyncCmd::Passphrase => {
            let passphrase = ask("CHAIRSIDE_SYNC_PASSPHRASE", "New sync passphrase: ")?;
            lib.sync_change_passphrase(&passphrase)?;
            Output::ok(
                json!({"passphrase_changed": true}),
                "the clinic key is now wrapped by the new passphrase; the recovery key is unchanged".to_string(),
            )
        }
        SyncCmd::RotateKey | SyncCmd::EncryptExisting => {
            let rotate = matches!(cmd, SyncCmd::RotateKey);
            // A pass already under way is resumed: its key and recovery key were made when it
            // started, so no passphrase is asked again.
            let started = match lib.sync_migration()? {
                Some(m) if m.from.is_some() != rotate => {
                    return Err(chairside_app::sync_engine::SyncError::Migrating {
                        encrypting: m.from.is_none(),
                        to: m.to,
                    }
                    .into());
                }
                Some(_) => None,
                None => {
                    let passphrase = ask("CHAIRSIDE_SYNC_PASSPHRASE", "The clinic's sync passphrase: ")?;
                    let s = if rotate {
                        lib.sync_rotate_key(&passphrase)?
                    } else {
                        lib.sync_encrypt_existing(&passphrase)?
                    };
                    // Said before the pass: it is the one moment it is shown.
                    say!("{}", recovery_text(&s.recovery_key).trim_start());
                    Some(s)
                }
            };
            let progress = |done: u64, total: u64| say!("chairside: re-sealed {done}/{total} objects");
            let r = lib
                .sync_finish_reseal(&progress)?
                .ok_or_else(|| AppError::InvalidInput("no re-sealing pass is under way".into()))?;
            let mut text = format!(
                "the bucket is sealed with clinic key {} ({} objects re-sealed, {} already were)",
                r.key_id, r.resealed, r.already
            );
            for l in &r.left {
                text.push_str(&format!("\nleft as it was: {l}"));
            }
            if rotate {
                text.push_str("\nthe other workstations: run `chairside sync configure` again with the passphrase");
            }
            Output::ok(
                json!({"key_id": r.key_id, "resealed": r.resealed, "already": r.already, "left": r.left,
                       "recovery_key": started.as_ref().map(|s| s.recovery_key.as_str()), "encryption": "on"}),
                text,
            )
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

use chairside_app::sync_engine::{Encryption, Originals, SyncConfig};
use zeroize::Zeroizing;

/// Checks the bucket and saves the settings; the secret comes from the environment or a prompt.
/// A CA certificate file, read whole (a certificate is a few kilobytes; a bundle at most a
/// few hundred).
fn read_ca_cert(path: &std::path::Path) -> Result<String, AppError> {
    use std::io::Read;
    let cannot =
        |e: std::io::Error| AppError::InvalidInput(format!("--ca-cert {}: cannot read it ({e})", path.display()));
    let mut text = String::new();
    std::fs::File::open(path).map_err(cannot)?.take(1 << 20).read_to_string(&mut text).map_err(cannot)?;
    Ok(text)
}

/// A passphrase or recovery key: from the environment (scripts), else typed without echo.
fn ask(var: &str, prompt: &str) -> Result<Zeroizing<String>, AppError> {
    match std::env::var(var) {
        Ok(s) if !s.is_empty() => Ok(Zeroizing::new(s)),
        _ => rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| AppError::InvalidInput(format!("nothing given: set {var} or type it at the prompt ({e})"))),
    }
}

/// The recovery key, said once with what it is for.
fn recovery_text(key: &str) -> String {
    format!(
        "\n\nRECOVERY KEY (shown only now; print it and keep it with the clinic's papers — with the passphrase lost, it is the only way back into the bucket):\n{key}"
    )
}

fn configure(
    lib: &Library,
    mut config: SyncConfig,
    originals: &str,
    encryption: Encryption,
) -> Result<Output, AppError> {
    config.originals = match originals {
        "all" => Originals::All,
        "on-open" => Originals::OnOpen,
        other => return Err(AppError::InvalidInput(format!("--originals {other:?}: use all or on-open"))),
    };
    let secret = match std::env::var("CHAIRSIDE_S3_SECRET") {
        Ok(s) if !s.is_empty() => s,
        _ => rpassword::prompt_password(format!("Secret key for {}: ", config.access_key)).map_err(|e| {
            AppError::InvalidInput(format!("no secret key: set CHAIRSIDE_S3_SECRET or type it at the prompt ({e})"))
        })?,
    };
    let insecure = config.endpoint.trim().starts_with("http://") && config.allow_insecure_http;
    let unencrypted = matches!(encryption, Encryption::Off);
    let set_up = lib.sync_configure(config, &secret, encryption)?;
    let location = set_up.secret.clone();
    if insecure {
        say!("chairside: warning: plain HTTP: the patients' images and names cross the network unencrypted");
    }
    if unencrypted {
        say!(
            "chairside: warning: --no-encryption: the storage provider (and anyone with the bucket's keys) can read every photo and patient name"
        );
    }
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
    text.push_str(if set_up.encryption { "\nencryption: on" } else { "\nencryption: off" });
    if let Some(k) = &set_up.recovery_key {
        text.push_str(&recovery_text(k));
    }
    Output::ok(
        json!({"config": saved, "secret": location, "clinic_id": lib.clinic_id(),
               "encryption": if set_up.encryption { "on" } else { "off" }, "key_id": set_up.key_id,
               "recovery_key": set_up.recovery_key}),
        text,
    )
}
