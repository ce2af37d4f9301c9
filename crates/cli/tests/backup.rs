//! Backups to a folder and restores from one, through the real binary: byte-exact restores of
//! snapshots taken while an import runs and after backups killed part way, damage reported
//! precisely and never half restored, incremental copies, retention, and the refusals.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Lcg, Lib, Run, jpeg, overwrite, parse, sha256_file, walk};

/// Runs the CLI with `--json` on a library folder (or none) with `config` as the account's
/// config folder.
fn cli(data_dir: Option<&Path>, config: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(support::bin());
    if let Some(d) = data_dir {
        c.arg("--data-dir").arg(d);
    }
    let out = c
        .env("CHAIRSIDE_USER", "it.person")
        .env("CHAIRSIDE_CONFIG_DIR", config)
        .env_remove("CHAIRSIDE_DATA_DIR")
        .arg("--json")
        .args(args)
        .output()
        .expect("run chairside");
    parse(out)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Each document as (id, sha256, status), sorted, read from a library's own listing.
fn documents(dir: &Path, config: &Path) -> Vec<(String, String, String)> {
    let patients = cli(Some(dir), config, &["patient", "list"]);
    assert_eq!(patients.code, 0, "{}", patients.stderr);
    let mut out = Vec::new();
    for p in patients.json.as_array().expect("patients") {
        let id = p["id"].as_str().expect("id");
        let docs = cli(Some(dir), config, &["list", "--patient", id, "--status", "all"]);
        assert_eq!(docs.code, 0, "{}", docs.stderr);
        for d in docs.json.as_array().expect("documents") {
            out.push((
                d["id"].as_str().expect("id").to_string(),
                d["sha256"].as_str().expect("sha").to_string(),
                d["status"].as_str().expect("status").to_string(),
            ));
        }
    }
    out.sort();
    out
}

/// A restored library is whole: SQLite sound, every original re-hashed, the audit chain
/// intact, its last event the restore.
fn assert_whole(dir: &Path, config: &Path) {
    let v = cli(Some(dir), config, &["verify"]);
    assert_eq!(v.code, 0, "verify of the restored library: {}\n{}", v.stdout, v.stderr);
    assert_eq!(v.json["corrupt"].as_array().map(Vec::len), Some(0));
    assert_eq!(v.json["missing"].as_array().map(Vec::len), Some(0));
    let a = cli(Some(dir), config, &["audit", "verify"]);
    assert_eq!(a.json["ok"], true, "the restored library's audit chain: {}", a.stdout);
}

/// Every original of `restored` is byte-identical to the library's own file; `documents` of
/// them at least (a snapshot taken before the first import landed holds none).
fn assert_originals_identical(lib: &Path, restored: &Path, documents: usize) {
    let mut files = Vec::new();
    walk(&restored.join("blobs"), &mut files);
    assert!(files.len() >= documents.min(1), "the restore wrote the originals of its {documents} documents");
    for f in files {
        let rel = f.strip_prefix(restored).expect("inside");
        assert_eq!(std::fs::read(&f).expect("restored"), std::fs::read(lib.join(rel)).expect("original"), "{rel:?}");
    }
}

fn snapshots(backup: &Path, config: &Path) -> Vec<String> {
    let r = cli(None, config, &["backup", "list", s(backup)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|s| s["name"].as_str().expect("name").into())
        .collect()
}

fn photos(dir: &Path, from: u32, n: u32) -> Vec<PathBuf> {
    (from..from + n)
        .map(|i| {
            let p = dir.join(format!("IMG_{i:04}.jpg"));
            std::fs::write(&p, jpeg(i, 480, 360)).expect("write photo");
            p
        })
        .collect()
}

#[test]
fn backups_taken_while_importing_and_killed_part_way_restore_byte_exact() {
    let lib = Lib::new();
    let p = lib.patient("Ada Lovelace");
    let work = tempfile::tempdir().expect("work");
    let usb = work.path().join("usb");
    let src = work.path().join("photos");
    std::fs::create_dir(&src).expect("src");
    photos(&src, 0, 150);
    let mut rng = Lcg::from_env("backup kill");

    let mut import = lib
        .command()
        .args(["import", "--patient", &p])
        .arg(&src)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start import");
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut taken, mut killed, mut cut_mid_way) = (0, 0, 0u64);
    while import.try_wait().expect("import state").is_none() {
        assert!(Instant::now() < deadline, "the import did not finish in 120 s");
        if taken % 2 == 0 {
            // A power cut during a backup: SIGKILL at a point drawn from the seed.
            let mut b = lib.command().args(["backup", "--to"]).arg(&usb).stdout(Stdio::null()).spawn().expect("backup");
            std::thread::sleep(Duration::from_millis(rng.next(60)));
            let _ = b.kill();
            let _ = b.wait();
            killed += 1;
            let left_partial = std::fs::read_dir(usb.join("snapshots"))
                .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".partial")))
                .unwrap_or(false);
            cut_mid_way += u64::from(left_partial);
        }
        let r = lib.json(&["backup", "--to", s(&usb)]);
        assert_eq!(r.code, 0, "a backup beside the import: {}\n{}", r.stdout, r.stderr);
        taken += 1;
    }
    assert!(import.wait().expect("import").success(), "the import succeeded");
    let last = lib.ok(&["backup", "--to", s(&usb)]);
    assert!(taken >= 1 && killed >= 1, "backups ran beside the import ({taken} taken, {killed} killed)");
    eprintln!("{taken} backups beside the import; {killed} killed, {cut_mid_way} of them mid-snapshot");
    let partials: Vec<_> = std::fs::read_dir(usb.join("snapshots"))
        .expect("snapshots")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(partials.is_empty(), "a later backup removes what a killed one left");
    let verify = cli(None, lib.config.path(), &["backup", "verify", s(&usb)]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    assert_eq!(verify.json["ok"], true);

    // Every snapshot restores whole; the newest restores exactly the library as it is now.
    let names = snapshots(&usb, lib.config.path());
    assert_eq!(names.last().map(String::as_str), last["snapshot"].as_str());
    let before = documents(lib.path(), lib.config.path());
    assert_eq!(before.len(), 150);
    for (i, name) in names.iter().enumerate() {
        let into = work.path().join(format!("restored-{i}"));
        let r = cli(None, lib.config.path(), &["restore", "--from", s(&usb), "--at", name, "--into", s(&into)]);
        assert_eq!(r.code, 0, "restore {name}: {}\n{}", r.stdout, r.stderr);
        assert_whole(&into, lib.config.path());
        let restored = documents(&into, lib.config.path());
        assert_originals_identical(lib.path(), &into, restored.len());
        assert!(restored.iter().all(|d| before.contains(d)), "snapshot {name} holds only what the library holds");
        if i + 1 == names.len() {
            assert_eq!(restored, before, "the newest snapshot restores every document");
        }
    }
    // The live library's own audit chain is untouched by the restores beside it.
    assert_eq!(lib.ok(&["audit", "verify"])["ok"], true);
}

#[test]
fn damage_in_a_backup_is_named_and_nothing_is_half_restored() {
    let lib = Lib::new();
    let p = lib.patient("Grace Hopper");
    let work = tempfile::tempdir().expect("work");
    let usb = work.path().join("usb");
    let shots = photos(work.path(), 0, 3);
    assert_eq!(lib.import(&p, &shots.iter().map(PathBuf::as_path).collect::<Vec<_>>()).code, 0);
    lib.ok(&["backup", "--to", s(&usb)]);

    let mut originals = Vec::new();
    walk(&usb.join("blobs"), &mut originals);
    assert_eq!(originals.len(), 3);
    let damaged = &originals[0];
    let mut bytes = std::fs::read(damaged).expect("read");
    bytes[100] ^= 0x01;
    overwrite(damaged, &bytes);
    std::fs::remove_file(&originals[1]).expect("lose a file");
    let rel = |p: &Path| p.strip_prefix(&usb).expect("inside").to_string_lossy().into_owned();

    let v = cli(None, lib.config.path(), &["backup", "verify", s(&usb)]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert_eq!(v.json["ok"], false);
    assert_eq!(v.json["error"]["code"], "backup_damaged");
    let problems: Vec<String> = v.json["snapshots"][0]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p.as_str().expect("text").to_string())
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains(&rel(damaged)) && p.contains("damaged")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains(&rel(&originals[1])) && p.contains("missing")), "{problems:?}");

    let into = work.path().join("restored");
    let r = cli(None, lib.config.path(), &["restore", "--from", s(&usb), "--into", s(&into)]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(r.json["error"]["code"], "backup_damaged");
    let msg = r.json["error"]["message"].as_str().expect("message");
    assert!(msg.contains(&rel(damaged)) && msg.contains(&rel(&originals[1])), "{msg}");
    assert!(!into.exists(), "a refused restore leaves nothing behind");
    // Into an existing empty folder: left empty.
    std::fs::create_dir(&into).expect("empty");
    let r = cli(None, lib.config.path(), &["restore", "--from", s(&usb), "--into", s(&into)]);
    assert_eq!(r.json["error"]["code"], "backup_damaged");
    assert_eq!(std::fs::read_dir(&into).expect("into").count(), 0, "the empty folder stays empty");

    // A damaged piece of the snapshot's database is a finding too, and stops a restore.
    let snap = usb.join("snapshots").join(&snapshots(&usb, lib.config.path())[0]);
    let chunks = std::fs::read_to_string(snap.join("database.chunks")).expect("chunk list");
    let first = chunks.lines().next().expect("a chunk");
    let chunk = usb.join("dbchunks").join(&first[..2]).join(first);
    let mut db = std::fs::read(&chunk).expect("chunk");
    db[5000] ^= 0xff;
    overwrite(&chunk, &db);
    let v = cli(None, lib.config.path(), &["backup", "verify", s(&usb)]);
    assert!(v.stdout.contains(&format!("dbchunks/{}/{first} is damaged", &first[..2])), "{}", v.stdout);
    std::fs::remove_dir_all(&into).expect("clean");
    let r = cli(None, lib.config.path(), &["restore", "--from", s(&usb), "--into", s(&into)]);
    assert_eq!(r.json["error"]["code"], "backup_damaged");
    assert!(r.json["error"]["message"].as_str().expect("message").contains(first), "{}", r.stdout);
    assert!(!into.exists(), "a refused restore leaves nothing behind");
    // Grown by damage: refused without being read whole.
    overwrite(&chunk, &vec![0u8; 200_000]);
    let r = cli(None, lib.config.path(), &["restore", "--from", s(&usb), "--into", s(&into)]);
    assert!(r.json["error"]["message"].as_str().expect("message").contains("longer than a chunk"), "{}", r.stdout);
}

/// Backup folders written before the database was kept in chunks (format 1: a whole copy of
/// the database in each snapshot) are still verified and restored.
#[test]
fn a_snapshot_of_the_first_format_still_verifies_and_restores() {
    let lib = Lib::new();
    let p = lib.patient("Grace Hopper");
    let work = tempfile::tempdir().expect("work");
    let usb = work.path().join("usb");
    let shots = photos(work.path(), 0, 2);
    assert_eq!(lib.import(&p, &shots.iter().map(PathBuf::as_path).collect::<Vec<_>>()).code, 0);
    lib.ok(&["backup", "--to", s(&usb)]);
    // Rewritten as format 1 wrote it: the database whole in the snapshot, no chunks.
    let snap = usb.join("snapshots").join(&snapshots(&usb, lib.config.path())[0]);
    let mut db = Vec::new();
    for c in std::fs::read_to_string(snap.join("database.chunks")).expect("chunk list").lines() {
        db.extend(std::fs::read(usb.join("dbchunks").join(&c[..2]).join(c)).expect("chunk"));
    }
    std::fs::write(snap.join("library.sqlite3"), &db).expect("database");
    std::fs::remove_file(snap.join("database.chunks")).expect("list");
    std::fs::remove_dir_all(usb.join("dbchunks")).expect("chunks");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(snap.join("manifest.json")).expect("manifest")).expect("json");
    manifest["format"] = "chairside-backup-snapshot/1".into();
    manifest["database"].as_object_mut().expect("database").remove("chunks");
    assert_eq!(
        manifest["database"]["sha256"].as_str(),
        Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&db)).as_str())
    );
    overwrite(&snap.join("manifest.json"), &serde_json::to_vec_pretty(&manifest).expect("json"));

    let v = lib.ok(&["backup", "verify", s(&usb)]);
    assert_eq!(v["ok"], true, "{v}");
    let into = work.path().join("restored");
    lib.ok(&["restore", "--from", s(&usb), "--into", s(&into)]);
    assert_whole(&into, lib.config.path());
    assert_eq!(documents(&into, lib.config.path()).len(), 2);

    // And a snapshot of a format this build does not know is named, not misread.
    manifest["format"] = "chairside-backup-snapshot/9".into();
    overwrite(&snap.join("manifest.json"), &serde_json::to_vec_pretty(&manifest).expect("json"));
    let v = cli(None, lib.config.path(), &["backup", "verify", s(&usb)]);
    assert!(v.stdout.contains("written by a newer Chairside"), "{}", v.stdout);
}

#[test]
fn each_backup_copies_only_what_is_new_and_keeps_the_newest_snapshots() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let work = tempfile::tempdir().expect("work");
    let usb = work.path().join("usb");
    let first = photos(work.path(), 0, 4);
    assert_eq!(lib.import(&p, &first.iter().map(PathBuf::as_path).collect::<Vec<_>>()).code, 0);
    lib.ok(&["verify"]);
    let a = lib.ok(&["backup", "--to", s(&usb), "--keep", "2"]);
    assert_eq!(a["originals"], 4);
    assert!(a["files_copied"].as_u64().expect("copied") >= 4);
    let b = lib.ok(&["backup", "--to", s(&usb), "--keep", "2"]);
    assert_eq!(b["files_copied"], 0, "nothing new, nothing copied: {b}");
    assert_eq!(b["bytes_copied"], 0);
    // Only the database's changed chunks are written again (the last run's record, its audit
    // event), not the whole database (a few of the few chunks of a small one; 0.02% of a
    // million-document one, in the benchmark).
    let written = b["database_bytes_written"].as_u64().expect("written");
    assert_eq!(a["database_bytes_written"], a["database_bytes"], "{a}");
    assert!(written > 0 && written < b["database_bytes"].as_u64().expect("bytes"), "{b}");

    let more = photos(work.path(), 10, 1);
    assert_eq!(lib.import(&p, &[more[0].as_path()]).code, 0);
    lib.ok(&["verify"]);
    let c = lib.ok(&["backup", "--to", s(&usb), "--keep", "2"]);
    let new_bytes = std::fs::metadata(&more[0]).expect("meta").len();
    let copied = c["files_copied"].as_u64().expect("copied");
    assert!((1..=4).contains(&copied), "the new original and its thumbnails only: {c}");
    assert!(c["bytes_copied"].as_u64().expect("bytes") >= new_bytes);
    assert_eq!(c["snapshots_removed"].as_array().map(Vec::len), Some(1), "{c}");
    assert_eq!(snapshots(&usb, lib.config.path()).len(), 2);
    let mut originals = Vec::new();
    walk(&usb.join("blobs"), &mut originals);
    assert_eq!(originals.len(), 5, "originals are never removed from a backup");
    // The database chunks only the pruned snapshot named went with it.
    let mut named = std::collections::HashSet::new();
    for snap in snapshots(&usb, lib.config.path()) {
        let list = std::fs::read_to_string(usb.join("snapshots").join(snap).join("database.chunks")).expect("list");
        named.extend(list.lines().map(str::to_string));
    }
    let mut chunks = Vec::new();
    walk(&usb.join("dbchunks"), &mut chunks);
    let on_disk: std::collections::HashSet<String> =
        chunks.iter().map(|c| c.file_name().and_then(|n| n.to_str()).expect("name").to_string()).collect();
    assert_eq!(on_disk, named);
    for f in &originals {
        assert_eq!(&sha256_file(f), f.file_name().and_then(|n| n.to_str()).expect("name"));
    }
}

#[test]
fn refusals_have_their_codes_and_change_nothing() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let work = tempfile::tempdir().expect("work");
    let usb = work.path().join("usb");
    let shot = photos(work.path(), 0, 1);
    assert_eq!(lib.import(&p, &[shot[0].as_path()]).code, 0);
    let cfg = lib.config.path();

    let code = |r: &Run| r.json["error"]["code"].as_str().unwrap_or("").to_string();
    let r = cli(None, cfg, &["backup", "verify", s(work.path())]);
    assert_eq!((r.code, code(&r)), (2, "backup_not_found".into()));
    let r = lib.json(&["backup", "--to", s(&work.path().join("no/such/disk"))]);
    assert_eq!((r.code, code(&r)), (1, "backup_target_missing".into()));
    lib.ok(&["backup", "--to", s(&usb)]);

    // Another library may not write into this one's backup folder.
    let other = Lib::new();
    other.patient("Someone else");
    let r = other.json(&["backup", "--to", s(&usb)]);
    assert_eq!((r.code, code(&r)), (2, "backup_other_library".into()));

    // A restore never goes over anything.
    let r = cli(None, cfg, &["restore", "--from", s(&usb), "--into", s(lib.path())]);
    assert_eq!((r.code, code(&r)), (2, "restore_target_not_empty".into()));
    let r = cli(
        None,
        cfg,
        &["restore", "--from", s(&usb), "--at", "19990101T000000Z", "--into", s(&work.path().join("x"))],
    );
    assert_eq!((r.code, code(&r)), (2, "backup_snapshot_not_found".into()));
    // `restore DOC_ID…` still restores archived documents.
    let doc = lib.ok(&["list", "--patient", &p])[0]["id"].as_str().expect("id").to_string();
    lib.ok(&["archive", &doc]);
    let r = lib.ok(&["restore", &doc]);
    assert_eq!(r["results"][0]["status"], "active");

    // A restore cut short leaves a folder no one opens by mistake.
    let into = work.path().join("half");
    let r = cli(None, cfg, &["restore", "--from", s(&usb), "--into", s(&into)]);
    assert_eq!(r.code, 0);
    std::fs::write(into.join(chairside_backup_marker()), b"").expect("marker");
    let r = cli(Some(&into), cfg, &["patient", "list"]);
    assert_eq!((r.code, code(&r)), (1, "restore_incomplete".into()));
}

fn chairside_backup_marker() -> &'static str {
    ".chairside-restore-incomplete"
}

#[test]
fn the_schedule_names_the_folder_and_an_unplugged_disk_is_reported() {
    let lib = Lib::new();
    lib.patient("Ada");
    let work = tempfile::tempdir().expect("work");
    let usb = work.path().join("usb");
    let r = lib.json(&["backup"]);
    assert_eq!(r.json["error"]["code"], "invalid_input", "no folder, no schedule");
    let state: Value = lib.ok(&["backup", "schedule", "--to", s(&usb), "--every-hours", "24", "--keep", "3"]);
    assert_eq!(state["schedule"]["keep"], 3);
    assert_eq!(state["due"], true);
    let b = lib.ok(&["backup"]);
    assert_eq!(b["target"], s(&usb));
    // The disk is unplugged: the mount point is there, empty.
    std::fs::rename(&usb, work.path().join("elsewhere")).expect("unplug");
    std::fs::create_dir(&usb).expect("empty mount point");
    let r = lib.json(&["backup"]);
    assert_eq!((r.code, r.json["error"]["code"].as_str()), (1, Some("backup_target_missing")), "{}", r.stdout);
    assert_eq!(std::fs::read_dir(&usb).expect("mount point").count(), 0, "nothing written onto the empty mount point");
    let events = lib.ok(&["audit", "list"]);
    let actions: Vec<&str> = events.as_array().expect("events").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"library.backup") && actions.contains(&"library.backup_failed"), "{actions:?}");
}

#[test]
fn health_grades_each_state_and_a_low_disk_refuses_imports() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let work = tempfile::tempdir().expect("work");
    let shots = photos(work.path(), 0, 2);
    assert_eq!(lib.import(&p, &[shots[0].as_path()]).code, 0);
    // This machine's own free space must not colour the grades below (a CI disk under 6 GB
    // would add a disk finding): the threshold is the clinic's, so the test sets it.
    lib.ok(&["health", "--min-free-mb", "1"]);
    let areas = |h: &Value| -> Vec<(String, String)> {
        h["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| (f["level"].as_str().expect("level").into(), f["area"].as_str().expect("area").into()))
            .collect()
    };

    // New: never backed up, never verified — a look, not an alarm.
    let h = lib.json(&["health"]);
    assert_eq!(h.code, 0, "{}", h.stdout);
    assert_eq!(h.json["level"], "attention");
    assert_eq!(areas(&h.json), vec![("attention".into(), "backup".into()), ("attention".into(), "verify".into())]);
    assert_eq!(h.json["documents"], 1);
    assert_eq!(h.json["audit"]["ok"], true);
    assert_eq!(h.json["scanning"]["on"], false, "scanning is off until a daemon is set");
    assert!(h.json["disk"]["free_bytes"].as_u64().expect("free") > 0);

    let usb = work.path().join("usb");
    lib.ok(&["verify"]);
    lib.ok(&["backup", "schedule", "--to", s(&usb)]);
    lib.ok(&["backup"]);
    let h = lib.ok(&["health"]);
    assert_eq!(h["level"], "ok", "{h}");
    assert_eq!(h["last_verify"]["originals_checked"], 1);
    assert_eq!(h["backup"]["last_good"]["target"], s(&usb));

    // Below the clinic's threshold: red, and imports refused before anything is written.
    let free = h["disk"]["free_bytes"].as_u64().expect("free");
    let above = (free / 1_000_000 + 1000).to_string();
    let r = lib.json(&["health", "--min-free-mb", &above]);
    assert_eq!((r.code, r.json["error"]["code"].as_str()), (1, Some("health_problem")));
    assert_eq!(areas(&r.json)[0], ("problem".into(), "disk".into()));
    let blobs_before = lib.files_under("blobs").len();
    let r = lib.import(&p, &[shots[1].as_path()]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(r.json["results"][0]["error"]["code"], "disk_space_low");
    assert_eq!(lib.files_under("blobs").len(), blobs_before, "nothing stored");
    lib.ok(&["health", "--min-free-mb", "1"]);
    assert_eq!(lib.import(&p, &[shots[1].as_path()]).code, 0);

    // The backup disk unplugged: red.
    std::fs::rename(&usb, work.path().join("unplugged")).expect("unplug");
    let r = lib.json(&["health"]);
    assert_eq!(r.code, 1);
    assert!(areas(&r.json).contains(&("problem".into(), "backup".into())), "{}", r.stdout);
    std::fs::rename(work.path().join("unplugged"), &usb).expect("plug in");

    // A damaged original found by verify: red until it is dealt with.
    overwrite(&lib.files_under("blobs")[0], b"not the photo any more");
    assert_eq!(lib.json(&["verify"]).code, 1);
    let r = lib.json(&["health"]);
    assert_eq!(r.code, 1);
    assert!(areas(&r.json).contains(&("problem".into(), "verify".into())), "{}", r.stdout);
}

#[test]
fn verify_since_rehashes_a_rolling_part_of_the_library() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let work = tempfile::tempdir().expect("work");
    let shots = photos(work.path(), 0, 5);
    assert_eq!(lib.import(&p, &shots.iter().map(PathBuf::as_path).collect::<Vec<_>>()).code, 0);
    // Nothing verified yet: the least recently verified first, two per run.
    let a = lib.ok(&["verify", "--since", "30d", "--limit", "2"]);
    assert_eq!((a["blobs_checked"].as_u64(), a["blobs_skipped"].as_u64()), (Some(2), Some(3)), "{a}");
    let b = lib.ok(&["verify", "--since", "30d", "--limit", "2"]);
    assert_eq!(b["blobs_checked"], 2);
    let c = lib.ok(&["verify", "--since", "30d"]);
    assert_eq!(
        (c["blobs_checked"].as_u64(), c["blobs_skipped"].as_u64()),
        (Some(1), Some(4)),
        "the fifth, then none: {c}"
    );
    let d = lib.ok(&["verify", "--since", "30d"]);
    assert_eq!(d["blobs_checked"], 0, "all verified within 30 days");
    // Damage in the part a rolling run checks is found like a full verify finds it.
    overwrite(&lib.files_under("blobs")[0], b"damaged");
    let e = lib.json(&["verify", "--since", "0h"]);
    assert_eq!(e.code, 1);
    assert_eq!(e.json["corrupt"].as_array().map(Vec::len), Some(1));
    let r = lib.json(&["verify", "--since", "soon"]);
    assert_eq!((r.code, r.json["error"]["code"].as_str()), (2, Some("invalid_input")));
}
