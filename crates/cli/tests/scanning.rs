//! Virus scanning of imports against a real clamd (Debian's clamav-daemon) with a signature
//! written by the test for the EICAR test file: refused raw, inside a ZIP and inside a valid
//! JPEG; kept in quarantine with its signature; audited; a clean file still imported; a daemon
//! that went away refuses imports (and Health says so) until scanning is off again.

mod support;

use chairside_scan::testing::{SIGNATURE, TestClamd, eicar, zip_with};
use support::{Lib, jpeg};

/// A valid JPEG carrying EICAR in a comment segment: every decoder accepts it as a photo.
fn jpeg_with_eicar() -> Vec<u8> {
    let photo = jpeg(7, 64, 48);
    let body = eicar();
    let mut out = photo[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&photo[2..]);
    out
}

#[test]
fn infected_imports_are_refused_quarantined_and_audited_and_clean_ones_still_land() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let files = tempfile::tempdir().expect("files");
    let write = |name: &str, bytes: &[u8]| {
        let path = files.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    let off = lib.ok(&["scanning"]);
    assert_eq!(off["on"], false, "{off}");
    assert_eq!(lib.ok(&["health"])["scanning"]["on"], false);

    let clamd_dir = tempfile::tempdir().expect("clamd dir");
    let mut daemon = TestClamd::start(clamd_dir.path());
    let on = lib.ok(&["scanning", "--clamd", &daemon.socket().display().to_string()]);
    assert_eq!(on["on"], true, "{on}");
    assert!(on["version"].as_str().is_some_and(|v| v.starts_with("ClamAV")), "{on}");

    let clean = write("clean.jpg", &jpeg(1, 64, 48));
    let r = lib.import(&p, &[&clean]);
    assert_eq!(r.json["results"][0]["status"], "imported", "{}", r.stdout);

    let infected_jpeg = write("smile.jpg", &jpeg_with_eicar());
    let zipped = write("xray.jpg", &zip_with("inside/readme.txt", &[eicar(), b"padding ".repeat(40)].concat()));
    let raw = write("eicar.com", &eicar());
    for path in [&infected_jpeg, &zipped, &raw] {
        let r = lib.import(&p, &[path]);
        let res = &r.json["results"][0];
        assert_eq!(res["status"], "rejected", "{}", r.stdout);
        assert_eq!(res["error"]["code"], "virus_found", "{res}");
        let msg = res["error"]["message"].as_str().expect("message");
        assert!(msg.contains(SIGNATURE) && msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("quarantine"), "{msg}");
        assert_ne!(r.code, 0);
    }
    assert_eq!(lib.files_under("blobs").len(), 1, "only the clean photo is stored");
    assert_eq!(lib.ok(&["list", "--patient", &p, "--status", "all"]).as_array().map(Vec::len), Some(1));

    // Each refused file is kept, byte for byte, with a note naming the signature.
    let kept = lib.files_under("quarantine");
    for path in [&infected_jpeg, &zipped, &raw] {
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        let copy = kept.iter().find(|k| k.file_name().is_some_and(|n| n.to_string_lossy() == name)).expect("kept");
        assert!(copy.components().any(|c| c.as_os_str() == "infected"), "{}", copy.display());
        assert_eq!(std::fs::read(copy).expect("copy"), std::fs::read(path).expect("orig"));
        assert_eq!(support::mode_of(copy) & 0o077, 0, "private");
        let why: serde_json::Value =
            serde_json::from_slice(&std::fs::read(copy.with_file_name(format!("{name}.why.json"))).expect("why"))
                .expect("json");
        assert_eq!(why["signature"], SIGNATURE);
        assert_eq!(why["from"], path.display().to_string());
        assert!(path.exists(), "the source is left where it was");
    }
    let events = lib.ok(&["audit", "list"]);
    let infected: Vec<_> = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "import_rejected" && e["detail"]["code"] == "virus_found")
        .collect();
    assert_eq!(infected.len(), 3, "{events}");
    assert!(infected.iter().all(|e| e["detail"]["signature"] == SIGNATURE && e["detail"]["quarantined"].is_string()));
    assert!(events.as_array().expect("events").iter().any(|e| e["action"] == "scanning.on"));

    // The daemon goes away: imports are refused (not let through), Health is red.
    daemon.stop();
    let second = write("second.jpg", &jpeg(2, 64, 48));
    let r = lib.import(&p, &[&second]);
    assert_eq!(r.json["results"][0]["error"]["code"], "scanner_unavailable", "{}", r.stdout);
    assert_eq!(lib.files_under("blobs").len(), 1);
    let h = lib.json(&["health"]);
    assert_eq!(h.code, 1, "{}", h.stdout);
    assert!(
        h.json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["area"] == "scanning" && f["level"] == "problem"),
        "{}",
        h.stdout
    );
    let s = lib.json(&["scanning"]);
    assert_eq!((s.code, s.json["error"]["code"].as_str()), (1, Some("scanner_unavailable")), "{}", s.stdout);
    // A daemon that does not answer is not accepted as the scanner.
    let refused = lib.json(&["scanning", "--clamd", "/nonexistent/clamd.ctl"]);
    assert_eq!(refused.json["error"]["code"], "scanner_unavailable", "{}", refused.stdout);
    assert_eq!(lib.json(&["health"]).json["scanning"]["address"], daemon.socket().display().to_string());

    // Off again: imports work as before — including the JPEG only the scanner refused.
    assert_eq!(lib.ok(&["scanning", "--off"])["on"], false);
    for path in [&second, &infected_jpeg] {
        let r = lib.import(&p, &[path]);
        assert_eq!(r.json["results"][0]["status"], "imported", "{}", r.stdout);
    }
}
