//! `chairside sync …` as scripts use it: two real workstation processes (separate data
//! folders) converging through the real test bucket, and a wrong secret refused with exit 1
//! and nothing saved.

mod support;

use chairside_tests::s3;
use support::{Lib, jpeg};

const PASSPHRASE: &str = "a sentence only the clinic knows";

fn configure(lib: &Lib, prefix: &str, secret: &str) -> support::Run {
    configure_with(
        lib,
        &s3::server().endpoint,
        prefix,
        &[("CHAIRSIDE_S3_SECRET", secret), ("CHAIRSIDE_SYNC_PASSPHRASE", PASSPHRASE)],
        &[],
    )
}

/// `sync configure` of the test bucket under `prefix`, with these variables and flags (the
/// secret in the private-file fallback).
fn configure_with(lib: &Lib, endpoint: &str, prefix: &str, env: &[(&str, &str)], extra: &[&str]) -> support::Run {
    let s = s3::server();
    let mut c = lib.command();
    c.env("CHAIRSIDE_SECRET_STORE", "file");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c
        .args(["--json", "sync", "configure", "--endpoint", endpoint, "--bucket", &s.bucket, "--region", &s.region])
        .args(["--prefix", prefix, "--path-style", "--access-key", &s.access_key])
        .args(extra)
        .output()
        .expect("run chairside");
    support::parse(out)
}

#[test]
fn two_workstation_processes_converge_through_the_bucket() {
    let _g = s3::shared();
    let prefix = format!("cli-{}", std::process::id());
    let (a, b) = (Lib::new(), Lib::new());
    let conf = configure(&a, &prefix, &s3::server().secret);
    assert_eq!(conf.code, 0, "{}", conf.stderr);
    assert_eq!(conf.json["secret"]["kind"], "file");
    assert!(!conf.stdout.contains(&s3::server().secret), "the secret is never printed");
    // Encrypted by default: the recovery key is printed once, to the one who made the key.
    assert_eq!(conf.json["encryption"], "on", "{}", conf.stdout);
    let recovery = conf.json["recovery_key"].as_str().expect("recovery key").to_string();
    assert!(!conf.stdout.contains(PASSPHRASE) && !conf.stderr.contains(PASSPHRASE), "the passphrase is never printed");
    let p = a.patient("Ada Lovelace");
    let dir = tempfile::tempdir().expect("tmp");
    let photo = dir.path().join("p.jpg");
    std::fs::write(&photo, jpeg(5, 320, 240)).expect("write");
    assert_eq!(a.import(&p, &[&photo]).code, 0);
    let run = a.ok(&["sync", "run"]);
    assert_eq!(run["report"]["uploaded_originals"], 1);
    assert_eq!(run["status"]["state"], "up_to_date");

    let joined = configure(&b, &prefix, &s3::server().secret);
    assert_eq!(joined.code, 0, "{}", joined.stderr);
    assert!(joined.json["recovery_key"].is_null(), "only the workstation that made the key prints it");
    assert!(!joined.stdout.contains(&recovery));
    let before = b.ok(&["sync", "status"]);
    assert_eq!(before["state"], "syncing");
    assert_eq!(before["encryption"], "on");
    let run = b.ok(&["sync", "run"]);
    assert_eq!(run["report"]["downloaded_originals"], 1, "{run}");
    let docs = b.ok(&["list", "--patient", &p]);
    assert_eq!(docs.as_array().map(Vec::len), Some(1));
    let status = b.ok(&["sync", "status"]);
    assert_eq!(status["state"], "up_to_date", "{status}");
    assert_eq!(status["backlog"]["to_upload"], 0);

    // An edit on B reaches A.
    let id = docs[0]["id"].as_str().expect("id").to_string();
    b.ok(&["edit", &id, "--notes", "shade A2"]);
    b.ok(&["sync", "run"]);
    a.ok(&["sync", "run"]);
    assert_eq!(a.ok(&["show", &id])["notes"], "shade A2");
    let test = a.ok(&["sync", "test"]);
    assert_eq!(test["ok"], true, "{test}");
    let share = a.ok(&["sync", "share", &id, "--expires", "2h"]);
    assert!(share["url"].as_str().is_some_and(|u| u.contains("X-Amz-Signature") && u.contains("/shares/")), "{share}");
    assert_eq!(a.json(&["sync", "share", &id, "--expires", "8d"]).code, 2);
}

#[test]
fn a_wrong_passphrase_or_no_encryption_is_said_with_its_code() {
    let _g = s3::shared();
    let prefix = format!("cli-pass-{}", std::process::id());
    let (a, b) = (Lib::new(), Lib::new());
    assert_eq!(configure(&a, &prefix, &s3::server().secret).code, 0);
    let s = s3::server();
    let secret = ("CHAIRSIDE_S3_SECRET", s.secret.as_str());
    let join = |lib: &Lib, passphrase: Option<&str>, extra: &[&str]| {
        let mut env = vec![secret];
        env.extend(passphrase.map(|p| ("CHAIRSIDE_SYNC_PASSPHRASE", p)));
        configure_with(lib, &s.endpoint, &prefix, &env, extra)
    };
    let wrong = join(&b, Some("not the clinic's sentence"), &[]);
    assert_eq!(
        (wrong.code, wrong.json["error"]["code"].as_str()),
        (2, Some("sync_wrong_passphrase")),
        "{}",
        wrong.stdout
    );
    assert!(!wrong.stdout.contains("not the clinic's sentence"));
    let plain = join(&b, None, &["--no-encryption"]);
    assert_eq!(plain.json["error"]["code"], "sync_passphrase_needed", "{}", plain.stdout);
    assert_eq!(b.ok(&["sync", "status"])["state"], "off", "nothing saved");
    // An empty prefix of its own: --no-encryption is allowed, and warned about.
    // The key rotated from the command line: the recovery key said first (stderr) and in the
    // JSON; the status back to "on"; a new passphrase set for it.
    let with_passphrase = |lib: &Lib, passphrase: &str, args: &[&str]| {
        let out = lib
            .command()
            .env("CHAIRSIDE_SECRET_STORE", "file")
            .env("CHAIRSIDE_SYNC_PASSPHRASE", passphrase)
            .arg("--json")
            .args(args)
            .output()
            .expect("run chairside");
        support::parse(out)
    };
    let rotated = with_passphrase(&a, "the sentence after the theft", &["sync", "rotate-key"]);
    assert_eq!(rotated.code, 0, "{} {}", rotated.stdout, rotated.stderr);
    let recovery = rotated.json["recovery_key"].as_str().expect("recovery key");
    assert!(rotated.stderr.contains(recovery) && rotated.stderr.contains("re-sealed"), "{}", rotated.stderr);
    assert!(rotated.json["resealed"].as_u64().is_some_and(|n| n >= 2), "{}", rotated.stdout);
    assert_eq!(a.ok(&["sync", "status"])["encryption"], "on");
    let changed = with_passphrase(&a, "and a third sentence", &["sync", "passphrase"]);
    assert_eq!((changed.code, changed.json["passphrase_changed"].as_bool()), (0, Some(true)), "{}", changed.stdout);
    let c = Lib::new();
    assert_eq!(join(&c, Some("and a third sentence"), &[]).code, 0, "the new passphrase joins");

    let alone = Lib::new();
    let r = configure_with(&alone, &s.endpoint, &format!("{prefix}-plain"), &[secret], &["--no-encryption"]);
    assert_eq!((r.code, r.json["encryption"].as_str()), (0, Some("off")), "{}", r.stdout);
    assert!(r.stderr.contains("can read every photo"), "{}", r.stderr);
    assert_eq!(alone.ok(&["sync", "status"])["encryption"], "off");
}

#[test]
fn a_wrong_secret_is_refused_with_exit_1_and_nothing_is_saved() {
    let _g = s3::shared();
    let a = Lib::new();
    let r = configure(&a, "cli-wrong", "definitely-wrong");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(r.json["error"]["code"], "sync_denied");
    assert!(!r.stdout.contains("definitely-wrong") && !r.stderr.contains("definitely-wrong"));
    let status = a.ok(&["sync", "status"]);
    assert_eq!(status["state"], "off");
    assert_eq!(a.json(&["sync", "run"]).json["error"]["code"], "sync_not_configured");
}

#[test]
fn the_clinic_authority_is_given_with_ca_cert_and_plain_http_elsewhere_needs_allow_insecure_http() {
    let _g = s3::shared();
    let s = s3::server();
    let a = Lib::new();
    let env = [("CHAIRSIDE_S3_SECRET", s.secret.as_str()), ("CHAIRSIDE_SYNC_PASSPHRASE", PASSPHRASE)];
    let run = |endpoint: &str, extra: &[&str]| configure_with(&a, endpoint, "cli-tls", &env, extra);
    let lan = run("http://192.0.2.10:7480", &[]);
    assert_eq!((lan.code, lan.json["error"]["code"].as_str()), (2, Some("sync_insecure_http")), "{}", lan.stdout);
    assert!(lan.stdout.contains("--allow-insecure-http"), "the remedy names the flag: {}", lan.stdout);
    let untrusted = run(&s.tls_endpoint, &[]);
    assert_eq!(untrusted.json["error"]["code"], "sync_tls_refused", "{}", untrusted.stdout);
    assert!(untrusted.stdout.contains("--ca-cert"), "the remedy names the flag: {}", untrusted.stdout);
    let missing = run(&s.tls_endpoint, &["--ca-cert", "/nonexistent/ca.pem"]);
    assert_eq!((missing.code, missing.json["error"]["code"].as_str()), (2, Some("invalid_input")));
    let ca = s.ca_cert.display().to_string();
    let ok = run(&s.tls_endpoint, &["--ca-cert", &ca]);
    assert_eq!(ok.code, 0, "{} {}", ok.stdout, ok.stderr);
    assert!(ok.json["config"]["ca_cert"].as_str().is_some_and(|p| p.starts_with("-----BEGIN CERTIFICATE-----")));
    assert_eq!(a.ok(&["sync", "run"])["status"]["state"], "up_to_date");
}
