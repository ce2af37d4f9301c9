//! Bad input gets a clear error and changes nothing: no blob, no document, no thumbnail.

mod support;

use std::path::Path;

use support::{Lib, fixture, png_claiming};

/// Asserts that importing `path` is refused with `code` and leaves the library untouched.
fn assert_rejected(lib: &Lib, patient: &str, path: &Path, code: &str) {
    let run = lib.import(patient, &[path]);
    assert_eq!(run.code, 2, "a rejected file exits 2: {} {}", run.stdout, run.stderr);
    let r = &run.json["results"][0];
    assert_eq!(r["status"], "rejected", "{r}");
    assert_eq!(r["error"]["code"], code, "{} → {r}", path.display());
    let msg = r["error"]["message"].as_str().expect("message");
    assert!(msg.contains(&path.display().to_string()), "the message names the file: {msg}");
    assert!(r["document_id"].is_null());
    assert!(lib.files_under("blobs").is_empty(), "no blob stored for {}", path.display());
    assert!(lib.files_under("thumbs").is_empty(), "no thumbnail for {}", path.display());
    assert_eq!(lib.ok(&["list", "--patient", patient, "--status", "all"]).as_array().map(Vec::len), Some(0));
}

#[test]
fn damaged_disguised_empty_and_oversized_files_are_refused() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let dir = tempfile::tempdir().expect("tmp");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    assert_rejected(&lib, &p, &fixture("broken_truncated.jpg"), "corrupt_file");
    assert_rejected(&lib, &p, &fixture("broken_truncated.png"), "corrupt_file");
    assert_rejected(&lib, &p, &fixture("broken.png"), "corrupt_file");
    assert_rejected(&lib, &p, &fixture("broken_truncated.dcm"), "corrupt_file");
    assert_rejected(&lib, &p, &fixture("broken_truncated.heic"), "corrupt_file");
    assert_rejected(&lib, &p, &fixture("png_bomb_30000x30000.png"), "too_many_pixels");
    assert_rejected(&lib, &p, &write("huge.png", &png_claiming(17_000, 7_100)), "too_many_pixels");
    let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert_rejected(&lib, &p, &write("random.jpg", &noise), "unsupported_format");
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".to_vec();
    elf.resize(512, 0);
    assert_rejected(&lib, &p, &write("setup.jpg", &elf), "unsupported_format");
    assert_rejected(&lib, &p, &write("empty.jpg", b""), "empty_file");
    // A JPEG cut in the middle of its image data (not just at the end marker).
    let good = std::fs::read(fixture("orient_1.jpg")).expect("read");
    assert_rejected(&lib, &p, &write("cut.jpg", &good[..good.len() / 2]), "corrupt_file");

    let huge = lib.json(&["import", "--patient", &p, "/definitely/not/here.jpg"]);
    assert_eq!(huge.json["results"][0]["error"]["code"], "unreadable_file");

    // Rejections are audited (what was refused and why) — and nothing else was recorded.
    let events = lib.ok(&["audit", "list"]);
    let rejected = events.as_array().expect("events").iter().filter(|e| e["action"] == "import_rejected").count();
    assert_eq!(rejected, 12);
    assert!(events.as_array().expect("events").iter().all(|e| e["action"] != "import"));
}

#[test]
fn a_file_that_vanishes_or_cannot_be_read_is_refused_and_the_rest_imported() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(fixture("orient_1.jpg"), dir.path().join("a_good.jpg")).expect("copy");
    // Listed when the folder is read, gone when the file is opened.
    std::os::unix::fs::symlink(dir.path().join("gone.jpg"), dir.path().join("b_vanished.jpg")).expect("symlink");
    // A socket can't be read, even by root.
    let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("c_socket.jpg")).expect("socket");
    let run = lib.import(&p, &[dir.path()]);
    assert_eq!(run.code, 2);
    let results = run.json["results"].as_array().expect("results");
    let status = |name: &str| {
        results
            .iter()
            .find(|r| r["path"].as_str().is_some_and(|s| s.ends_with(name)))
            .map(|r| r["status"].clone())
            .expect(name)
    };
    assert_eq!(status("a_good.jpg"), "imported", "a bad file does not stop the others");
    assert_eq!(status("b_vanished.jpg"), "rejected");
    assert_eq!(status("c_socket.jpg"), "rejected");
    assert_eq!(lib.files_under("blobs").len(), 1);
}

#[test]
fn unknown_ids_are_refused() {
    let lib = Lib::new();
    let r = lib.import("no-such-patient", &[&fixture("orient_1.jpg")]);
    assert_eq!(r.code, 2);
    assert_eq!(r.json["error"]["code"], "patient_not_found");
    assert!(lib.files_under("blobs").is_empty(), "nothing is read for an unknown patient");
    for args in [vec!["show", "nope"], vec!["archive", "nope"], vec!["restore", "nope"]] {
        let r = lib.json(&args);
        assert_eq!((r.code, r.json["error"]["code"].as_str()), (2, Some("document_not_found")), "{args:?}");
    }
    let r = lib.json(&["list", "--patient", "nope"]);
    assert_eq!(r.json["error"]["code"], "patient_not_found");
    let r = lib.json(&["note", "add", "--patient", "nope", "--text", "x"]);
    assert_eq!(r.json["error"]["code"], "patient_not_found");
    let r = lib.json(&["plan", "item-add", "--plan", "nope", "--title", "x"]);
    assert_eq!(r.json["error"]["code"], "plan_not_found");
}

#[test]
fn a_refusal_names_the_command_that_helps() {
    let lib = Lib::new();
    let r = lib.json(&["note", "add", "--patient", "nope", "--text", "x"]);
    assert_eq!(r.json["error"]["message"], "no patient with id nope: check the id with `chairside patient list`");
    let r = lib.json(&["show", "nope"]);
    assert_eq!(r.json["error"]["message"], "no document with id nope: check the id with `chairside list --patient …`");
    let r = lib.json(&["sync", "run"]);
    assert_eq!(r.json["error"]["message"], "sync is not configured: run `chairside sync configure`");
}

#[test]
fn links_to_unknown_foreign_or_malformed_owners_are_refused_naming_the_check() {
    let lib = Lib::new();
    let a = lib.patient("A");
    let b = lib.patient("B");
    let run = lib.import(&a, &[&fixture("orient_1.jpg")]);
    let doc = run.json["results"][0]["document_id"].as_str().expect("id").to_string();
    let note_b = lib.ok(&["note", "add", "--patient", &b, "--text", "B's note"]);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--owner-type".into(), "invoice".into(), "--owner-id".into(), "1".into()], "is not registered"),
        (vec!["--owner-type".into(), "x".repeat(41), "--owner-id".into(), "1".into()], "1 to 40 characters"),
        (
            vec!["--owner-type".into(), "clinical_note".into(), "--owner-id".into(), "missing".into()],
            "no clinical_note with id missing",
        ),
        (
            vec![
                "--owner-type".into(),
                "clinical_note".into(),
                "--owner-id".into(),
                note_b["id"].as_str().expect("id").into(),
            ],
            "belongs to another patient",
        ),
        (vec!["--owner-type".into(), "patient".into(), "--owner-id".into(), b.clone()], "belongs to another patient"),
    ];
    for (args, expected) in cases {
        let mut full = vec!["link".to_string(), doc.clone()];
        full.extend(args);
        let r = lib.json(&full);
        assert_eq!(r.code, 2, "{full:?}");
        assert_eq!(r.json["error"]["code"], "link_refused");
        let msg = r.json["error"]["message"].as_str().expect("msg");
        assert!(msg.contains(expected), "{full:?}: {msg:?} should say {expected:?}");
    }
    assert_eq!(lib.ok(&["show", &doc])["links"].as_array().map(Vec::len), Some(0), "no refused link was stored");
}

#[test]
fn a_folder_of_ten_thousand_files_imports_with_progress() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let dir = tempfile::tempdir().expect("tmp");
    // 10,000 distinct tiny images in nested folders.
    for i in 0..10_000u32 {
        let sub = dir.path().join(format!("day{:02}", i / 500));
        if i % 500 == 0 {
            std::fs::create_dir_all(&sub).expect("mkdir");
        }
        let img = image::GrayImage::from_fn(2, 2, |x, y| image::Luma([((i >> (8 * (x + 2 * y))) & 0xff) as u8]));
        img.save(sub.join(format!("{i:05}.png"))).expect("write png");
    }
    let run = lib.import(&p, &[dir.path()]);
    assert_eq!(run.code, 0, "{}", &run.stderr[run.stderr.len().saturating_sub(500)..]);
    let results = run.json["results"].as_array().expect("results");
    assert_eq!(results.len(), 10_000);
    assert!(results.iter().all(|r| r["status"] == "imported"));
    let progress_lines = run.stderr.lines().filter(|l| l.starts_with('[') && l.contains("/10000]")).count();
    assert_eq!(progress_lines, 10_000, "one progress line per file");
    assert!(run.stderr.contains("[10000/10000]"));
    assert_eq!(lib.ok(&["list", "--patient", &p]).as_array().map(Vec::len), Some(10_000));
}
