//! The capture commands of the CLI: `open` (the practice-management bridge), `active`,
//! `watch` (one-shot and running until Ctrl-C), `inbox`, and tooth numbers on `edit`/`list`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Lib, jpeg};

#[test]
fn open_creates_the_patient_once_and_makes_them_active() {
    let lib = Lib::new();
    let first = lib.ok(&["open", "--external-id", "C-1001", "--name", "Ada Lovelace", "--birth-date", "1990-12-10"]);
    assert_eq!(first["created"], true);
    let id = first["patient"]["id"].as_str().expect("id").to_string();
    assert_eq!(lib.ok(&["active"])["patient"]["id"], id.as_str());
    let again = lib.ok(&["open", "--external-id", "C-1001", "--name", "Ada Lovelace"]);
    assert_eq!(again["created"], false);
    assert_eq!(again["patient"]["id"], id.as_str());
    assert_eq!(lib.ok(&["patient", "list"]).as_array().map(Vec::len), Some(1));
    // Missing name: refused by the argument parser, exit 2, nothing created.
    let bad = lib.json(&["open", "--external-id", "C-2"]);
    assert_eq!(bad.code, 2);
    assert_eq!(lib.ok(&["active", "--clear"])["patient"], serde_json::Value::Null);
    let audit = lib.ok(&["audit", "list"]);
    let actions: Vec<&str> = audit.as_array().expect("events").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"active_patient_set"), "{actions:?}");
}

#[test]
fn watch_once_takes_in_what_is_ready_into_the_given_patient() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let sensor = tempfile::tempdir().expect("tmp");
    std::fs::write(sensor.path().join("bw1.jpg"), jpeg(1, 64, 48)).expect("write");
    std::fs::write(sensor.path().join("bw2.jpg"), jpeg(2, 64, 48)).expect("write");
    std::fs::write(sensor.path().join("bw3.jpg.part"), jpeg(3, 64, 48)).expect("write");
    let folder = sensor.path().to_str().expect("utf-8 path");
    let out = lib.ok(&["watch", "--once", "--folder", folder, "--kind", "xray", "--patient", &p]);
    let files = out["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "the .part file is not taken: {out}");
    assert!(files.iter().all(|f| f["status"] == "imported"));
    assert!(sensor.path().join("imported/bw1.jpg").is_file());
    assert!(sensor.path().join("bw3.jpg.part").is_file());
    let docs = lib.ok(&["list", "--patient", &p]);
    assert!(docs.as_array().expect("docs").iter().all(|d| d["kind"] == "xray"));

    // No patient given and none active: the files wait, exit 0, nothing imported.
    std::fs::write(sensor.path().join("bw4.jpg"), jpeg(4, 64, 48)).expect("write");
    let out = lib.ok(&["watch", "--once", "--folder", folder]);
    assert_eq!(out["files"][0]["status"], "waiting");
    let tray = lib.ok(&["inbox", "files"]);
    assert_eq!(tray.as_array().map(Vec::len), Some(1));
    let waiting = tray[0]["path"].as_str().expect("path").to_string();
    let out = lib.ok(&["inbox", "assign", "--patient", &p, &waiting]);
    assert_eq!(out["files"][0]["status"], "imported");
    assert_eq!(lib.ok(&["inbox", "files"]).as_array().map(Vec::len), Some(0));
}

#[test]
fn watch_runs_until_interrupted_and_reports_each_file_as_a_json_line() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    lib.ok(&["active", "--set", &p]);
    let mut child = lib
        .command()
        .args(["--json", "watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch");
    let lines = |from: Box<dyn std::io::Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(from).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        rx
    };
    let rx = lines(Box::new(child.stdout.take().expect("stdout")));
    let errors = lines(Box::new(child.stderr.take().expect("stderr")));
    // `watch` says so once its watcher runs: only then is a new file an event it must see.
    let said = errors.recv_timeout(Duration::from_secs(20)).expect("watch says it is watching");
    assert!(said.starts_with("watching "), "{said}");
    let inbox = lib.path().join("inbox");
    std::fs::write(inbox.join("IMG_1.jpg"), jpeg(9, 64, 48)).expect("write");
    let line = rx.recv_timeout(Duration::from_secs(20)).expect("a line for the file");
    let event: serde_json::Value = serde_json::from_str(&line).expect("one JSON object per line");
    assert_eq!(event["event"], "files");
    assert_eq!(event["files"][0]["status"], "imported", "{event}");
    assert_eq!(event["files"][0]["patient_id"], p.as_str());
    // The signal Ctrl-C sends.
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let start = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s.code();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "watch did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
    assert_eq!(lib.ok(&["list", "--patient", &p]).as_array().map(Vec::len), Some(1));
}

#[test]
fn inbox_folders_are_configured_per_workstation() {
    let lib = Lib::new();
    let default = lib.ok(&["inbox", "folders"]);
    assert_eq!(default[0]["path"], lib.path().join("inbox").to_str().expect("utf-8"));
    let sensor = tempfile::tempdir().expect("tmp");
    let dir = sensor.path().to_str().expect("utf-8");
    lib.ok(&["inbox", "add", dir, "--kind", "xray", "--leave"]);
    let folders = lib.ok(&["inbox", "folders"]);
    assert_eq!(folders.as_array().map(Vec::len), Some(1), "a configured folder replaces the default: {folders}");
    assert_eq!(folders[0]["kind"], "xray");
    assert_eq!(folders[0]["after_import"], "leave");
    let bad = lib.json(&["inbox", "add", dir, "--kind", "selfie"]);
    assert_eq!(bad.code, 2);
    lib.ok(&["inbox", "remove", dir]);
    assert_eq!(lib.json(&["inbox", "remove", dir]).code, 2, "removing an unknown folder is refused");
}

#[test]
fn teeth_are_entered_in_the_clinics_notation_stored_canonically_and_filtered() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let dir = tempfile::tempdir().expect("tmp");
    let a = dir.path().join("a.jpg");
    let b = dir.path().join("b.jpg");
    std::fs::write(&a, jpeg(1, 64, 48)).expect("write");
    std::fs::write(&b, jpeg(2, 64, 48)).expect("write");
    let run = lib.import(&p, &[&a, &b]);
    let ids: Vec<String> = run.json["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["document_id"].as_str().expect("id").into())
        .collect();

    assert_eq!(lib.ok(&["teeth", "notation"])["notation"], "fdi");
    lib.ok(&["teeth", "notation", "universal"]);
    lib.ok(&["edit", &ids[0], "--teeth", "3, 14"]);
    lib.ok(&["edit", &ids[1], "--teeth", "UL6", "--notation", "palmer"]);
    let shown = lib.ok(&["show", &ids[0]]);
    assert_eq!(shown["teeth"], "16,26", "stored as FDI whatever the notation");
    let by_14 = lib.ok(&["list", "--patient", &p, "--tooth", "14"]);
    assert_eq!(by_14.as_array().map(Vec::len), Some(2), "Universal 14 is FDI 26, on both");
    let by_16 = lib.ok(&["list", "--patient", &p, "--tooth", "16", "--notation", "fdi"]);
    assert_eq!(by_16.as_array().map(Vec::len), Some(1));
    assert_eq!(by_16[0]["id"], ids[0].as_str());

    let bad = lib.json(&["edit", &ids[0], "--teeth", "33"]);
    assert_eq!(bad.code, 2, "33 is no tooth in Universal");
    assert_eq!(bad.json["error"]["code"], "invalid_teeth");
    assert!(bad.stderr.contains("1–32"), "{}", bad.stderr);
    assert_eq!(lib.ok(&["show", &ids[0]])["teeth"], "16,26", "nothing changed");

    let conv = lib.ok(&["teeth", "convert", "UR8 LRE", "--from", "palmer", "--to", "universal"]);
    assert_eq!(conv["teeth"], "1, T");
    assert_eq!(conv["fdi"], serde_json::json!([18, 85]));
}

#[test]
fn a_series_is_started_filled_by_watch_and_shown_slot_by_slot() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let templates = lib.ok(&["series", "templates"]);
    let ids: Vec<&str> = templates.as_array().expect("list").iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, ["abo-8", "fmx-18", "bitewings-4", "compare-2"]);
    let started = lib.ok(&["series", "start", "--patient", &p, "--template", "bitewings-4", "--capture"]);
    let id = started["series"]["id"].as_str().expect("id").to_string();
    assert_eq!(started["next"], 0);
    assert_eq!(lib.ok(&["active"])["patient"]["id"], p.as_str(), "the patient is in the chair");
    let inbox = lib.path().join("inbox");
    for i in 0..3 {
        std::fs::write(inbox.join(format!("BW_{i}.jpg")), jpeg(20 + i, 64, 48)).expect("write");
    }
    let out = lib.ok(&["watch", "--once"]);
    let slots: Vec<i64> =
        out["files"].as_array().expect("files").iter().filter_map(|f| f["series_slot"].as_i64()).collect();
    assert_eq!(slots, [0, 1, 2]);
    let shown = lib.ok(&["series", "show", &id]);
    assert_eq!(shown["next"], 3);
    assert_eq!(shown["slots"][0]["slot"]["name"], "Right molar bitewing");
    let first = shown["slots"][0]["document_id"].as_str().expect("doc").to_string();
    assert_eq!(lib.ok(&["show", &first])["kind"], "xray");
    // A retake by hand into slot 1: the earlier image is listed, not lost.
    std::fs::write(inbox.join("BW_retake.jpg"), jpeg(30, 64, 48)).expect("write");
    lib.ok(&["series", "capture", "--end"]);
    let retake = lib.ok(&["watch", "--once"])["files"][0]["document_id"].as_str().expect("doc").to_string();
    let placed = lib.ok(&["series", "place", &id, "--slot", "1", &retake]);
    assert_eq!(placed["slots"][0]["document_id"], retake.as_str());
    assert_eq!(placed["slots"][0]["earlier"][0], first.as_str());
    assert_eq!(lib.json(&["series", "place", &id, "--slot", "9", &retake]).code, 2);
    let listed = lib.ok(&["series", "list", "--patient", &p]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(lib.ok(&["series", "capture"])["session"], serde_json::Value::Null);
}
