//! Hostile files, damaged libraries and other accounts: each case the hardening issue
//! reproduced, run against the real binary.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chairside_media::dicom_scan::craft;
use chairside_store::rusqlite::Connection;
use support::{Lib, fixture, png_header_claiming};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn db(lib: &Lib) -> Connection {
    Connection::open(lib.path().join("library.sqlite3")).expect("open db")
}

/// Runs `chairside --json ARGS`, killing it if it has not finished within `limit`.
fn run_bounded(lib: &Lib, args: &[&std::ffi::OsStr], limit: Duration) -> support::Run {
    let mut child =
        lib.command().arg("--json").args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("chairside {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    support::parse(child.wait_with_output().expect("output"))
}

#[test]
fn deeply_nested_and_lying_dicoms_are_refused_and_the_files_beside_them_imported() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let dir = tempfile::tempdir().expect("tmp");
    let nested = write(dir.path(), "a_nested.dcm", &craft::nested_sequences(1_200));
    assert!(std::fs::metadata(&nested).expect("meta").len() < 48 * 1024, "a small file");
    let _lying = write(dir.path(), "b_lying.dcm", &craft::pixel_data_claiming(0xFFFF_FFF0));
    for i in 0..3 {
        write(dir.path(), &format!("c_lying{i}.dcm"), &craft::pixel_data_claiming(0xFFFF_FFF0 - i));
    }
    std::fs::copy(fixture("orient_1.jpg"), dir.path().join("d_good.jpg")).expect("copy");
    std::fs::copy(fixture("dcm_ct_small.dcm"), dir.path().join("e_good.dcm")).expect("copy");

    let start = Instant::now();
    let run = lib.import(&p, &[dir.path()]);
    assert!(start.elapsed() < Duration::from_secs(20), "refused from the structure, not after allocating 4 GB");
    assert_eq!(run.code, 2, "{}", run.stderr);
    let results = run.json["results"].as_array().expect("results");
    let by_name = |name: &str| {
        results.iter().find(|r| r["path"].as_str().is_some_and(|s| s.ends_with(name))).cloned().expect(name)
    };
    let deep = by_name("a_nested.dcm");
    assert_eq!(deep["error"]["code"], "corrupt_file", "{deep}");
    assert!(deep["error"]["message"].as_str().expect("msg").contains("nested"), "{deep}");
    assert_eq!(by_name("b_lying.dcm")["error"]["code"], "corrupt_file");
    assert_eq!(by_name("d_good.jpg")["status"], "imported", "the good files beside them are imported");
    assert_eq!(by_name("e_good.dcm")["status"], "imported");
    // Nothing half-stored: exactly the two good originals.
    assert_eq!(lib.files_under("blobs").len(), 2, "{:?}", lib.files_under("blobs"));
}

#[test]
fn the_inbox_marks_a_hostile_file_and_imports_the_rest_without_looping() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let inbox = tempfile::tempdir().expect("inbox");
    write(inbox.path(), "deep.dcm", &craft::nested_sequences(5_000));
    std::fs::copy(fixture("orient_6.jpg"), inbox.path().join("photo.jpg")).expect("copy");
    let folder = inbox.path().to_str().expect("utf8");
    let first = lib.json(&["watch", "--once", "--folder", folder, "--leave", "--patient", &p]);
    assert_eq!(first.code, 2, "{}", first.stderr);
    let files = first.json["files"].as_array().expect("files");
    assert!(files.iter().any(|f| f["status"] == "imported"), "{files:?}");
    let bad = files.iter().find(|f| f["status"] == "rejected").expect("the hostile file is rejected");
    assert!(bad["path"].as_str().expect("path").ends_with("deep.dcm"));
    // The next pass skips it (unchanged since it failed) instead of trying it again.
    let second = lib.json(&["watch", "--once", "--folder", folder, "--leave", "--patient", &p]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.json["files"].as_array().map(Vec::len), Some(0), "{}", second.json);
    let open = lib.ok(&["inbox", "files"]);
    assert!(
        open.as_array().expect("files").iter().any(|f| f["status"] == "rejected" && f["error"]["code"].is_string())
    );
}

#[test]
fn a_fifo_is_refused_at_once_given_directly_or_inside_a_folder() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let dir = tempfile::tempdir().expect("tmp");
    let fifo = dir.path().join("pipe.jpg");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    std::fs::copy(fixture("orient_1.jpg"), dir.path().join("photo.jpg")).expect("copy");
    let args = ["import".as_ref(), "--patient".as_ref(), p.as_ref(), fifo.as_os_str()];
    let direct = run_bounded(&lib, &args, Duration::from_secs(20));
    assert_eq!(direct.code, 2);
    let r = &direct.json["results"][0];
    assert_eq!(r["error"]["code"], "unreadable_file", "{r}");
    assert!(r["error"]["message"].as_str().expect("msg").contains("not a regular file"), "{r}");
    let args = ["import".as_ref(), "--patient".as_ref(), p.as_ref(), dir.path().as_os_str()];
    let folder = run_bounded(&lib, &args, Duration::from_secs(20));
    let results = folder.json["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert!(results.iter().any(|r| r["status"] == "imported"));
}

#[test]
fn a_small_png_declaring_800_mb_of_16_bit_rgba_is_refused_from_its_header() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let dir = tempfile::tempdir().expect("tmp");
    // 9990 × 9990 (99.8 MP, under the pixel limit) of 16-bit RGBA: 798 MB decoded.
    let path = write(dir.path(), "rgba16.png", &png_header_claiming(9_990, 9_990, 16, 6));
    let run = lib.import(&p, &[&path]);
    assert_eq!(run.code, 2);
    let r = &run.json["results"][0];
    assert_eq!(r["error"]["code"], "too_many_pixels", "{r}");
    assert!(r["error"]["message"].as_str().expect("msg").contains("MB to decode"), "{r}");
    // The same pixel count in 8-bit grey (100 MB) is within the budget: refused only as the
    // token file it is (its data is missing), not on its size.
    let grey = write(dir.path(), "grey8.png", &png_header_claiming(9_990, 9_990, 8, 0));
    let r = lib.import(&p, &[&grey]).json["results"][0].clone();
    assert_eq!(r["error"]["code"], "corrupt_file", "{r}");
}

#[test]
fn control_characters_in_names_are_escaped_in_text_and_exact_in_json() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let dir = tempfile::tempdir().expect("tmp");
    let name = "evil\n[9 of 9] imported passwd\t\x1b[2J\x1b]0;owned\x07.jpg";
    let path = dir.path().join(name);
    std::fs::copy(fixture("orient_1.jpg"), &path).expect("copy");
    let out = lib.command().args(["import", "--patient", &p]).arg(&path).output().expect("run");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for text in [&stderr, &stdout] {
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "no escape codes reach the terminal: {text:?}");
    }
    assert_eq!(stderr.lines().count(), 1, "one progress line for one file: {stderr:?}");
    assert!(stderr.contains("evil\\n[9 of 9]") && stderr.contains("\\x1b[2J"), "{stderr:?}");
    let list = lib.command().args(["list", "--patient", &p]).output().expect("list");
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(text.lines().count(), 1, "one line per document: {text:?}");
    assert_eq!(text.trim_end().split('\t').count(), 6, "the file name keeps to its column: {text:?}");
    let json = lib.ok(&["list", "--patient", &p]);
    assert_eq!(json[0]["original_filename"], name, "JSON carries the name exactly");

    let bad_user = lib.command().env("CHAIRSIDE_USER", "dr.x\nroot").args(["--json", "patient", "list"]).output();
    let run = support::parse(bad_user.expect("run"));
    assert_eq!(run.code, 2);
    assert_eq!(run.json["error"]["code"], "invalid_user_name");
}

#[test]
fn a_missing_or_empty_database_beside_originals_is_refused_and_nothing_is_quarantined() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    lib.import(&p, &[&fixture("orient_1.jpg"), &fixture("orient_6.jpg")]);
    let blobs = lib.files_under("blobs");
    assert_eq!(blobs.len(), 2);
    let db_path = lib.path().join("library.sqlite3");
    for damage in ["emptied", "deleted"] {
        match damage {
            "emptied" => std::fs::write(&db_path, b"").expect("empty it"),
            _ => std::fs::remove_file(&db_path).expect("delete it"),
        }
        for args in [&["list", "--patient", &p][..], &["verify"][..]] {
            let run = lib.json(args);
            assert_eq!(run.code, 1, "{damage}: {args:?} {}", run.stderr);
            assert_eq!(run.json["error"]["code"], "library_database_missing", "{damage}: {}", run.json);
            let msg = run.json["error"]["message"].as_str().expect("message");
            assert!(msg.contains("backup") && msg.contains("bucket"), "says how to restore: {msg}");
        }
        assert_eq!(lib.files_under("blobs"), blobs, "{damage}: every original stays where it is");
        assert!(lib.files_under("quarantine").is_empty(), "{damage}: nothing is quarantined");
        let size = std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0);
        assert_eq!(size, 0, "{damage}: no new library was written over the old one");
    }
}

#[test]
fn verify_reports_a_damaged_database_page_and_records_removed_behind_its_back() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    lib.import(&p, &[&fixture("orient_1.jpg")]);
    lib.ok(&["note", "add", "--patient", &p, "--text", "caries 16"]);
    let clean = lib.json(&["verify"]);
    assert_eq!(clean.code, 0, "{}", clean.stdout);
    assert_eq!(clean.json["database"]["ok"], true);

    // A patient removed by hand, with the trigger dropped first and foreign keys off (the
    // sqlite3 shell's default): verify names the dangling rows.
    {
        let c = db(&lib);
        c.execute_batch("PRAGMA foreign_keys = OFF; DROP TRIGGER patients_no_delete; DELETE FROM patients;")
            .expect("tamper");
    }
    let run = lib.json(&["verify"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json["database"]["ok"], false, "{}", run.json["database"]);
    assert!(!run.json["database"]["dangling"].as_array().expect("dangling").is_empty());

    // One page overwritten: SQLite's integrity check fails, and verify says what to do.
    let lib = Lib::new();
    let p = lib.patient("Ada");
    for i in 0..40 {
        lib.ok(&["note", "add", "--patient", &p, "--text", &format!("note {i} {}", "x".repeat(400))]);
    }
    let path = lib.path().join("library.sqlite3");
    let mut bytes = std::fs::read(&path).expect("read db");
    let page = 4096;
    assert!(bytes.len() > 8 * page, "a database of several pages");
    let at = bytes.len() - 3 * page;
    for (i, b) in bytes[at..at + page].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x5a;
    }
    std::fs::write(&path, &bytes).expect("overwrite a page");
    let run = lib.json(&["verify"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json["ok"], false);
    assert_eq!(run.json["database"]["ok"], false, "{}", run.json);
    assert!(!run.json["database"]["integrity"].as_array().expect("integrity").is_empty());
    assert!(run.json["database"]["advice"].as_str().expect("advice").contains("backup"));
}

#[test]
fn verify_checks_every_thumbnail_against_its_recorded_hash() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    lib.import(&p, &[&fixture("orient_1.jpg"), &fixture("orient_6.jpg"), &fixture("png_chelsea_pentax.png")]);
    let thumbs = lib.files_under("thumbs");
    assert_eq!(thumbs.len(), 9);
    let mut flipped = std::fs::read(&thumbs[0]).expect("read");
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    std::fs::write(&thumbs[0], &flipped).expect("flip a bit");
    let len = std::fs::metadata(&thumbs[4]).expect("meta").len();
    std::fs::File::options().write(true).open(&thumbs[4]).expect("open").set_len(len / 2).expect("truncate");
    // Another (valid) image in a thumbnail's place.
    let other = std::fs::read(&thumbs[8]).expect("read");
    let swapped =
        thumbs.iter().position(|t| std::fs::read(t).expect("read") != other && t != &thumbs[0] && t != &thumbs[4]);
    let swapped = &thumbs[swapped.expect("a third thumbnail")];
    std::fs::write(swapped, &other).expect("swap");

    let run = lib.json(&["verify"]);
    assert_eq!(run.code, 0, "damaged thumbnails are remade from their originals: {}", run.stdout);
    let damaged = run.json["thumbnails_damaged"].as_array().expect("damaged");
    assert_eq!(damaged.len(), 3, "{damaged:?}");
    assert!(run.json["thumbnails_remade"].as_u64() >= Some(2));
    let again = lib.json(&["verify"]);
    assert_eq!(again.json["thumbnails_damaged"].as_array().map(Vec::len), Some(0), "remade thumbnails verify");
    assert_eq!(again.json["thumbnails_remade"], 0);
}

#[test]
fn what_a_killed_import_left_is_cleaned_without_a_false_alarm() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    lib.import(&p, &[&fixture("orient_1.jpg")]);
    // A temp file of a write killed half way, and an original linked but never committed.
    let shard = lib.path().join("blobs/ab/cd");
    chairside_store::private::create_dir_all(&shard).expect("mkdir");
    std::fs::write(shard.join(".tmp-0b7c0c3e-dead-beef-0000-000000000000"), b"half a photo").expect("temp");
    let bytes = std::fs::read(fixture("orient_6.jpg")).expect("read");
    let sha = support::sha256_file(&fixture("orient_6.jpg"));
    let uncommitted = lib.path().join("blobs").join(&sha[0..2]).join(&sha[2..4]);
    chairside_store::private::create_dir_all(&uncommitted).expect("mkdir");
    std::fs::write(uncommitted.join(&sha), &bytes).expect("uncommitted original");

    let run = lib.json(&["verify"]);
    assert_eq!(run.code, 0, "expected leftovers of a crash are not a problem: {}", run.stdout);
    assert_eq!(run.json["orphans"].as_array().map(Vec::len), Some(0));
    let cleaned = run.json["cleaned_up"].as_array().expect("cleaned");
    assert_eq!(cleaned.len(), 2, "{cleaned:?}");
    let moved = cleaned.iter().find_map(|c| c["quarantined_to"].as_str()).expect("the original was moved");
    assert_eq!(std::fs::read(moved).expect("kept"), bytes, "an original is never deleted");
    assert!(!shard.join(".tmp-0b7c0c3e-dead-beef-0000-000000000000").exists());
}

#[test]
fn a_verify_running_beside_imports_reports_no_orphans() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let src = tempfile::tempdir().expect("src");
    let files: Vec<PathBuf> =
        (0..60).map(|i| write(src.path(), &format!("{i:02}.jpg"), &support::jpeg(i, 1600, 1200))).collect();
    let mut import = lib
        .command()
        .args(["--json", "import", "--patient", &p])
        .args(&files)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut runs = 0;
    while import.try_wait().expect("wait").is_none() {
        let run = lib.json(&["verify"]);
        assert_eq!(run.json["orphans"].as_array().map(Vec::len), Some(0), "no false alarm: {}", run.json);
        assert_eq!(run.code, 0, "{}", run.stdout);
        runs += 1;
    }
    assert!(runs >= 1, "verify ran while the import did");
    assert_eq!(lib.ok(&["list", "--patient", &p]).as_array().map(Vec::len), Some(60), "every file imported");
}

#[test]
fn an_export_killed_half_way_leaves_nothing_after_the_next_start() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let src = tempfile::tempdir().expect("src");
    let files: Vec<PathBuf> = (0..40).map(|i| write(src.path(), &format!("{i:02}.bmp"), &bmp(i, 700, 500))).collect();
    let run = lib.import(&p, &files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out_dir = tempfile::tempdir().expect("out");
    let out = out_dir.path().join("ada.zip");
    let mut child = lib.command().args(["export", "--patient", &p, "--out"]).arg(&out).spawn().expect("spawn");
    let part = |dir: &Path| {
        std::fs::read_dir(dir).expect("ls").flatten().map(|e| e.path()).find(|p| p.to_string_lossy().contains(".part-"))
    };
    let start = Instant::now();
    let seen = loop {
        if let Some(p) = part(out_dir.path()) {
            break p;
        }
        assert!(child.try_wait().expect("wait").is_none(), "the export finished before it could be killed");
        assert!(start.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(1));
    };
    child.kill().expect("kill");
    let _ = child.wait();
    assert!(seen.exists(), "the kill left the partial archive");
    assert_eq!(support::mode_of(&seen) & 0o077, 0, "even a partial export is private");
    lib.ok(&["patient", "list"]);
    assert!(part(out_dir.path()).is_none(), "the next start removed the partial archive of patient data");
    assert!(!out.exists());
}

#[test]
fn the_library_is_private_whatever_the_umask() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    lib.import(&p, &[&fixture("orient_1.jpg")]);
    let out = lib.path().parent().expect("parent").join(format!("export-{}.zip", std::process::id()));
    lib.ok(&["export", "--patient", &p, "--out", out.to_str().expect("utf8")]);
    assert_eq!(support::mode_of(&out), 0o600, "exports");
    std::fs::remove_file(&out).expect("tidy");
    assert_eq!(support::mode_of(lib.path()), 0o700, "the library folder");
    assert_eq!(support::mode_of(&lib.path().join("library.sqlite3")), 0o600, "the database");
    for b in lib.files_under("blobs") {
        assert_eq!(support::mode_of(&b), 0o400, "originals: {}", b.display());
    }
    for t in lib.files_under("thumbs") {
        assert_eq!(support::mode_of(&t), 0o600, "thumbnails: {}", t.display());
    }
    // A library written under a loose umask by an older build is tightened on open.
    for (path, mode) in [(lib.path().to_path_buf(), 0o755), (lib.path().join("library.sqlite3"), 0o644)] {
        chairside_store::private::set_mode(&path, mode).expect("loosen");
    }
    for t in lib.files_under("thumbs") {
        chairside_store::private::set_mode(&t, 0o644).expect("loosen");
    }
    lib.ok(&["patient", "list"]);
    assert_eq!(support::mode_of(lib.path()), 0o700);
    assert_eq!(support::mode_of(&lib.path().join("library.sqlite3")), 0o600);
    assert!(lib.files_under("thumbs").iter().all(|t| support::mode_of(t) == 0o600));
}

/// The audit trail's hash, as an attacker who read the source would recompute it.
/// An audit row as stored: seq, at, actor, workstation, action, entity type, entity id, detail.
type AuditRow = (i64, String, String, String, String, String, Option<String>, String);

fn event_hash(prev: &str, row: &AuditRow) -> String {
    use sha2::Digest;
    let (seq, at, actor, ws, action, et, eid, detail) = row;
    let canonical = serde_json::json!([prev, seq, at, actor, ws, action, et, eid, detail]);
    hex::encode(sha2::Sha256::digest(canonical.to_string().as_bytes()))
}

#[test]
fn the_audit_chain_cannot_be_cut_dropped_or_recomputed_unnoticed() {
    let setup = || {
        let lib = Lib::new();
        let p = lib.patient("Ada");
        lib.import(&p, &[&fixture("orient_1.jpg")]);
        lib.ok(&["note", "add", "--patient", &p, "--text", "seen"]);
        let ok = lib.json(&["audit", "verify"]);
        assert_eq!(ok.code, 0, "{}", ok.stdout);
        assert!(ok.json["anchor"]["anchored_seq"].as_i64() >= Some(3), "{}", ok.json);
        lib
    };
    let broken = |lib: &Lib, what: &str| {
        let run = lib.json(&["audit", "verify"]);
        assert_eq!(run.code, 1, "{what} must be detected: {}", run.stdout);
        assert_eq!(run.json["ok"], false);
        run.json["problem"].as_str().unwrap_or_default().to_string()
    };

    let lib = setup();
    db(&lib)
        .execute_batch("DROP TRIGGER audit_events_no_delete; DELETE FROM audit_events WHERE seq >= 3;")
        .expect("cut");
    assert!(broken(&lib, "a removed tail").contains("removed"));

    let lib = setup();
    db(&lib).execute_batch("DROP TRIGGER audit_events_no_delete; DELETE FROM audit_events;").expect("empty");
    broken(&lib, "an emptied trail");

    let lib = setup();
    db(&lib).execute_batch("DROP TABLE audit_events;").expect("drop");
    assert!(broken(&lib, "a dropped table").contains("gone"));

    // Event 2 changed and every hash after it recomputed: the chain itself is consistent.
    let lib = setup();
    {
        let c = db(&lib);
        c.execute_batch("DROP TRIGGER audit_events_no_update;").expect("drop trigger");
        c.execute("UPDATE audit_events SET actor = 'someone else' WHERE seq = 2", []).expect("rewrite");
        let mut stmt = c
            .prepare("SELECT seq, at, actor, workstation, action, entity_type, entity_id, detail_json FROM audit_events ORDER BY seq")
            .expect("prepare");
        let rows: Vec<AuditRow> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let mut prev = chairside_audit::GENESIS.to_string();
        for row in &rows {
            let hash = event_hash(&prev, row);
            c.execute("UPDATE audit_events SET prev_hash = ?2, hash = ?3 WHERE seq = ?1", (row.0, &prev, &hash))
                .expect("rehash");
            prev = hash;
        }
    }
    assert!(broken(&lib, "a recomputed chain").contains("rewritten"));

    // The head beside the database edited to match: its signature (key outside the folder) fails.
    let head_path = lib.path().join(chairside_audit::HEAD_FILE);
    let mut head: serde_json::Value = serde_json::from_slice(&std::fs::read(&head_path).expect("head")).expect("json");
    let last: String =
        db(&lib).query_row("SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1", [], |r| r.get(0)).expect("last");
    head["hash"] = last.into();
    std::fs::write(&head_path, serde_json::to_vec(&head).expect("json")).expect("forge");
    assert!(broken(&lib, "a forged head").contains("signature"));

    // Removing the head beside the database is noticed as well.
    let lib = setup();
    std::fs::remove_file(lib.path().join(chairside_audit::HEAD_FILE)).expect("remove head");
    assert!(broken(&lib, "a removed head").contains("missing"));
}

#[test]
fn no_record_can_be_deleted_or_moved_to_another_patient_by_hand() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let q = lib.patient("Bob");
    let doc =
        lib.import(&p, &[&fixture("orient_1.jpg")]).json["results"][0]["document_id"].as_str().expect("id").to_string();
    lib.ok(&["note", "add", "--patient", &p, "--text", "x"]);
    let plan = lib.ok(&["plan", "add", "--patient", &p, "--title", "crowns"])["id"].as_str().expect("plan").to_string();
    lib.ok(&["plan", "item-add", "--plan", &plan, "--title", "16"]);
    let c = db(&lib);
    for table in ["patients", "clinics", "clinical_notes", "treatment_plans", "plan_items", "documents", "audit_events"]
    {
        assert!(c.execute(&format!("DELETE FROM {table}"), []).is_err(), "DELETE FROM {table} must be refused");
    }
    let refused = |sql: &str| assert!(c.execute(sql, []).is_err(), "{sql} must be refused");
    refused(&format!("UPDATE documents SET patient_id = '{q}' WHERE id = '{doc}'"));
    refused(&format!("UPDATE documents SET status = 'archived' WHERE id = '{doc}'"));
    refused(&format!("UPDATE clinical_notes SET patient_id = '{q}'"));
    refused("UPDATE blobs SET sha256 = 'x'");
    // The API path still archives (it bumps the version and writes history).
    lib.ok(&["archive", &doc, "--reason", "duplicate"]);
    lib.ok(&["restore", &doc]);
}

/// A 24-bit BMP of noise (uncompressed, so an export of a few dozen takes a moment).
fn bmp(seed: u32, w: u32, h: u32) -> Vec<u8> {
    let row = (w * 3).div_ceil(4) * 4;
    let size = 54 + row * h;
    let mut out = Vec::with_capacity(size as usize);
    out.extend_from_slice(b"BM");
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0]);
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&[1, 0, 24, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&(row * h).to_le_bytes());
    out.extend_from_slice(&[0x13, 0x0b, 0, 0, 0x13, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    for _ in 0..row * h {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push(x as u8);
    }
    out
}
