//! A read-only library folder and a full disk: a clear error, and the library stays
//! consistent. These need `mount` (root, as on CI): where it fails they fail, unless whoever
//! runs them says this machine cannot mount (`CHAIRSIDE_SKIP_MOUNT_TESTS=1`); then each skip is
//! written to `CHAIRSIDE_SKIPPED_LOG`, which `scripts/test.sh` counts in its summary.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Lib, fixture};

fn mount(args: &[&str]) -> bool {
    Command::new("mount").args(args).status().map(|s| s.success()).unwrap_or(false)
}

/// A mount this test needs could not be made: a failure, or a skip that is counted.
fn cannot_mount(test: &str, what: &str) {
    if std::env::var_os("CHAIRSIDE_SKIP_MOUNT_TESTS").is_none() {
        panic!(
            "{test}: {what} failed, and this test cannot check anything without it. Run the tests as root (as CI does), or set CHAIRSIDE_SKIP_MOUNT_TESTS=1 to skip it knowingly"
        );
    }
    eprintln!("SKIPPED {test}: {what} failed and CHAIRSIDE_SKIP_MOUNT_TESTS is set");
    if let Some(log) = std::env::var_os("CHAIRSIDE_SKIPPED_LOG") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("skipped log");
        writeln!(f, "storage_failures::{test}").expect("write skipped log");
    }
}

fn umount(path: &Path) {
    let _ = Command::new("umount").arg(path).status();
}

/// Every document's original is present and hashes to its address.
fn assert_consistent(lib: &Lib) {
    let conn = chairside_store::rusqlite::Connection::open(lib.path().join("library.sqlite3")).expect("open db");
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
    assert_eq!(check, "ok", "SQLite integrity");
    let mut stmt = conn.prepare("SELECT sha256 FROM documents").expect("prepare");
    let shas: Vec<String> = stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows");
    for sha in shas {
        let blob = lib.path().join("blobs").join(&sha[0..2]).join(&sha[2..4]).join(&sha);
        assert_eq!(support::sha256_file(&blob), sha, "document's original is present and intact");
    }
}

#[test]
fn a_read_only_library_folder_is_a_clear_error_and_changes_nothing() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    lib.import(&p, &[&fixture("orient_1.jpg")]);
    let ro = tempfile::tempdir().expect("mountpoint");
    if !mount(&["--bind", lib.path().to_str().expect("utf8"), ro.path().to_str().expect("utf8")]) {
        return cannot_mount("a_read_only_library_folder_is_a_clear_error_and_changes_nothing", "a bind mount");
    }
    let remounted = mount(&["-o", "remount,bind,ro", ro.path().to_str().expect("utf8")]);
    let out = Command::new(support::bin())
        .args(["--json", "--data-dir", ro.path().to_str().expect("utf8"), "import", "--patient", &p])
        .arg(fixture("orient_6.jpg"))
        .output()
        .expect("run");
    umount(ro.path());
    assert!(remounted, "remounting read-only failed");
    let run = support::parse(out);
    assert_eq!(run.code, 1, "a read-only library is not the user's input error: {}", run.stderr);
    assert_eq!(run.json["error"]["code"], "read_only", "{}", run.json);
    assert!(run.stderr.contains("read-only"), "the message says what is wrong: {}", run.stderr);
    assert_eq!(lib.ok(&["list", "--patient", &p]).as_array().map(Vec::len), Some(1), "nothing changed");
    assert_consistent(&lib);
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_library_stays_consistent() {
    let mnt = tempfile::tempdir().expect("mountpoint");
    if !mount(&["-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt.path().to_str().expect("utf8")]) {
        return cannot_mount("a_full_disk_is_a_clear_error_and_the_library_stays_consistent", "a tmpfs mount");
    }
    let lib = Lib::in_dir(tempfile::tempdir_in(mnt.path()).expect("lib dir"));
    let p = lib.patient("Ada");
    let src = tempfile::tempdir().expect("src");
    // Noisy 600×600 JPEGs are ~300 KB each: a 4 MB disk fills up part-way.
    let files: Vec<_> = (0..30)
        .map(|i| {
            let path = src.path().join(format!("{i:02}.jpg"));
            std::fs::write(&path, noisy_jpeg(i)).expect("write");
            path
        })
        .collect();
    // With the clinic's threshold (2 GB by default), a 4 MB disk refuses imports before a byte
    // is written.
    let early = lib.import(&p, &files[..2].iter().map(|f| f.as_path()).collect::<Vec<_>>());
    assert_eq!(early.code, 1);
    for r in early.json["results"].as_array().expect("results") {
        assert_eq!(r["error"]["code"], "disk_space_low", "{r}");
    }
    assert_eq!(lib.files_under("blobs").len(), 0, "nothing stored");
    // Without it, the disk itself fills up part-way: that failure must be clean too.
    lib.ok(&["health", "--min-free-mb", "0"]);
    let run = lib.import(&p, &files.iter().map(|f| f.as_path()).collect::<Vec<_>>());
    let results = run.json["results"].as_array().expect("results").clone();
    let full: Vec<_> = results.iter().filter(|r| r["status"] == "rejected").collect();
    assert!(!full.is_empty(), "the disk should have filled up");
    assert_eq!(run.code, 1, "a full disk is a failure of the library, not of the files");
    for r in &full {
        assert_eq!(r["error"]["code"], "disk_full", "{r}");
        assert!(r["error"]["message"].as_str().expect("m").contains("free"), "the message says what to do: {r}");
    }
    assert_consistent(&lib);

    // Space comes back: the same files import, nothing was half-stored.
    assert!(mount(&["-o", "remount,size=64m", mnt.path().to_str().expect("utf8")]), "grow tmpfs");
    let again = lib.import(&p, &files.iter().map(|f| f.as_path()).collect::<Vec<_>>());
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(lib.ok(&["list", "--patient", &p]).as_array().map(Vec::len), Some(30));
    assert_consistent(&lib);
    drop(lib);
    umount(mnt.path());
}

#[test]
fn an_export_to_a_full_disk_names_the_destination_and_leaves_nothing() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let src = tempfile::tempdir().expect("src");
    let files: Vec<_> = (0..12)
        .map(|i| {
            let path = src.path().join(format!("{i:02}.jpg"));
            std::fs::write(&path, noisy_jpeg(100 + i)).expect("write");
            path
        })
        .collect();
    let run = lib.import(&p, &files.iter().map(|f| f.as_path()).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mnt = tempfile::tempdir().expect("mountpoint");
    if !mount(&["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt.path().to_str().expect("utf8")]) {
        return cannot_mount("an_export_to_a_full_disk_names_the_destination_and_leaves_nothing", "a tmpfs mount");
    }
    let out = mnt.path().join("ada.zip");
    let run = lib.json(&["export", "--patient", &p, "--out", out.to_str().expect("utf8")]);
    let left: Vec<_> = std::fs::read_dir(mnt.path()).expect("ls").flatten().map(|e| e.path()).collect();
    umount(mnt.path());
    assert_eq!(run.code, 1, "a full destination is not the user's input error: {}", run.stdout);
    assert_eq!(run.json["error"]["code"], "disk_full", "{}", run.json);
    let msg = run.json["error"]["message"].as_str().expect("message");
    assert!(msg.contains(out.to_str().expect("utf8")), "the message names the destination: {msg}");
    assert!(left.is_empty(), "nothing partial is left on the destination: {left:?}");
}

fn noisy_jpeg(seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(747_796_405).wrapping_add(1);
    let img = image::RgbImage::from_fn(600, 600, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        image::Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Jpeg).expect("encode");
    out.into_inner()
}
