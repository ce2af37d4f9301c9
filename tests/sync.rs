//! Sync against a real S3 server (radosgw on 127.0.0.1, started by `scripts/s3-server.sh`):
//! workstations converging, cut connections, a stopped server, a wrong secret, a tampered
//! object, bootstrap and disk-died restore, lifecycle tags and rule, share links.
//! Each test works under its own key prefix of the one test bucket.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chairside_app::sync_engine::{Encryption, Originals, SyncConfig, SyncError, SyncState as State};
use chairside_app::{AppError, Library, LibraryOptions};
use chairside_media::{DocumentPatch, StatusFilter, VerifyOptions};
use chairside_patients::NewPatient;
use chairside_tests::s3::{self, Fault, Proxy};
use object_store::ObjectStoreExt;

struct Ws {
    _dir: tempfile::TempDir,
    lib: Library,
}

fn workstation() -> Ws {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = open_library(&dir.path().join("lib"));
    Ws { _dir: dir, lib }
}

fn open_library(path: &std::path::Path) -> Library {
    Library::open(LibraryOptions { thumbnail_threads: Some(1), ..LibraryOptions::new(path) }).expect("open")
}

impl Ws {
    /// The app quit and started again: the library closed, then opened anew on its folder.
    fn restarted(self) -> Ws {
        let Ws { _dir, lib } = self;
        let path = lib.data_dir().to_path_buf();
        drop(lib);
        Ws { lib: open_library(&path), _dir }
    }
}

fn config(endpoint: &str, prefix: &str) -> SyncConfig {
    let s = s3::server();
    SyncConfig {
        endpoint: endpoint.to_string(),
        region: s.region.clone(),
        bucket: s.bucket.clone(),
        prefix: prefix.to_string(),
        path_style: true,
        access_key: s.access_key.clone(),
        originals: Originals::All,
        ca_cert: None,
        allow_insecure_http: false,
        encryption: None,
    }
}

fn prefix(name: &str) -> String {
    format!("t-{name}-{}", uuid())
}

fn uuid() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    )
}

const PASSPHRASE: &str = "a sentence only the clinic knows";

fn sealed() -> Encryption {
    Encryption::Passphrase(PASSPHRASE.to_string().into())
}

/// Joins with the clinic's passphrase (the clinic key made by the first to join).
fn join_sealed(ws: &Ws, endpoint: &str, prefix: &str) -> chairside_app::SyncSetUp {
    ws.lib.sync_configure(config(endpoint, prefix), &s3::server().secret, sealed()).expect("configure encrypted")
}

/// Joins with this passphrase.
fn join_with(ws: &Ws, endpoint: &str, prefix: &str, passphrase: &str) -> Result<chairside_app::SyncSetUp, AppError> {
    ws.lib.sync_configure(
        config(endpoint, prefix),
        &s3::server().secret,
        Encryption::Passphrase(passphrase.to_string().into()),
    )
}

fn join(ws: &Ws, endpoint: &str, prefix: &str) {
    ws.lib.sync_configure(config(endpoint, prefix), &s3::server().secret, Encryption::Off).expect("configure");
}

fn jpeg(seed: u32, w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x.wrapping_mul(7) ^ seed) as u8, (y.wrapping_mul(3) + seed) as u8, (x + y + seed * 13) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).expect("encode");
    out.into_inner()
}

fn import(ws: &Ws, patient: &str, files: &[(String, Vec<u8>)]) -> Vec<String> {
    let dir = ws._dir.path().join("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, bytes)| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).expect("write");
            p
        })
        .collect();
    let results = ws.lib.import_paths(patient, &paths, None, "test", &|_| {}).expect("import");
    ws.lib.wait_for_thumbnails();
    results.into_iter().map(|r| r.document_id.expect("imported")).collect()
}

fn run(ws: &Ws) -> chairside_app::sync_engine::RoundReport {
    let (report, _) = ws.lib.sync_run().expect("sync round");
    assert!(report.problems.is_empty(), "problems: {:?}", report.problems);
    report
}

/// What must be the same everywhere after convergence.
fn state(lib: &Library) -> Vec<String> {
    let mut out = Vec::new();
    for p in lib.list_patients(None).expect("patients") {
        out.push(format!("patient {} {} {:?} {:?}", p.id, p.name, p.external_id, p.birth_date));
        for d in lib.list_documents(&p.id, StatusFilter::All).expect("docs") {
            let full = lib.show_document(&d.id).expect("show");
            let doc = &full.document;
            out.push(format!(
                "  doc {} {} {:?} {:?} {:?} {:?} links={}",
                d.id,
                d.sha256,
                doc.summary.status,
                doc.notes,
                doc.summary.teeth,
                doc.summary.kind,
                full.links.iter().filter(|l| l.owner_type != "patient").count()
            ));
        }
        for n in lib.list_notes(&p.id).expect("notes") {
            out.push(format!("  note {} {}", n.id, n.text));
        }
    }
    out
}

fn local_originals_ok(ws: &Ws) {
    let (report, _) = ws.lib.verify_and_repair(VerifyOptions::default(), false).expect("verify");
    assert!(report.ok, "verify: {:?} missing, {:?} corrupt", report.missing, report.corrupt);
}

#[test]
fn two_workstations_converge_records_photos_links_notes_archive_and_audit() {
    let _g = s3::shared();
    let endpoint = s3::server().endpoint.clone();
    let prefix = prefix("two");
    let a = workstation();
    join(&a, &endpoint, &prefix);
    let p = a
        .lib
        .add_patient(&NewPatient {
            name: "Ada Lovelace".into(),
            external_id: Some("PMS-1".into()),
            ..Default::default()
        })
        .expect("p")
        .id;
    let docs = import(&a, &p, &[("a.jpg".into(), jpeg(1, 320, 240)), ("b.jpg".into(), jpeg(2, 320, 240))]);
    let note = a.lib.add_note(&p, "Crown prep 16, see photos").expect("note");
    a.lib.link(&docs[0], "clinical_note", &note.id, None).expect("link");
    let up = run(&a);
    assert_eq!(up.uploaded_originals, 2);
    assert_eq!(up.uploaded_thumbnails, 2);

    let b = workstation();
    join(&b, &endpoint, &prefix);
    let down = run(&b);
    assert!(
        down.applied_segments >= 1 && down.downloaded_thumbnails == 2 && down.downloaded_originals == 2,
        "{down:?}"
    );
    assert_eq!(state(&a.lib), state(&b.lib));
    local_originals_ok(&b);
    assert_eq!(a.lib.clinic_id(), b.lib.clinic_id(), "B joined the bucket's clinic");
    // A's audit trail came along, as its own chain.
    let remote_audit: i64 = b
        .lib
        .db()
        .read(|c| {
            Ok::<_, chairside_store::StoreError>(
                c.query_row("SELECT count(*) FROM remote_audit_events", [], |r| r.get(0))?,
            )
        })
        .expect("count");
    assert!(remote_audit >= 4, "A's audit events reached B ({remote_audit})");

    // Edits, archive and an unlink on B travel back to A.
    b.lib
        .update_document(&docs[1], &DocumentPatch { notes: Some("retake next visit".into()), ..Default::default() })
        .expect("edit");
    b.lib.archive(&docs[0], Some("duplicate")).expect("archive");
    b.lib.unlink(&docs[0], "clinical_note", &note.id).expect("unlink");
    run(&b);
    run(&a);
    assert_eq!(state(&a.lib), state(&b.lib));
    let d1 = a.lib.show_document(&docs[1]).expect("show");
    assert_eq!(d1.document.notes.as_deref(), Some("retake next visit"));
    assert_eq!(a.lib.show_document(&docs[0]).expect("show").document.summary.status, chairside_media::Status::Archived);
    // Running again changes nothing and uploads nothing.
    let idle = run(&a);
    assert_eq!((idle.uploaded_originals, idle.uploaded_segments, idle.applied_segments), (0, 0, 0), "{idle:?}");
}

#[test]
fn three_workstations_agree_on_concurrent_edits_of_one_field_and_one_photo_imported_twice() {
    let _g = s3::shared();
    let endpoint = s3::server().endpoint.clone();
    let prefix = prefix("three");
    let (a, b, c) = (workstation(), workstation(), workstation());
    join(&a, &endpoint, &prefix);
    let p = a.lib.add_patient(&NewPatient { name: "Grace Hopper".into(), ..Default::default() }).expect("p").id;
    let doc = import(&a, &p, &[("x.jpg".into(), jpeg(7, 200, 150))])[0].clone();
    run(&a);
    for ws in [&b, &c] {
        join(ws, &endpoint, &prefix);
        run(ws);
    }
    // Concurrent: all three edit the same field before any of them syncs again.
    for (ws, text) in [(&a, "from A"), (&b, "from B"), (&c, "from C")] {
        ws.lib.update_document(&doc, &DocumentPatch { notes: Some(text.into()), ..Default::default() }).expect("edit");
    }
    a.lib.update_patient(&p, &NewPatient { name: "Grace B. Hopper".into(), ..Default::default() }).expect("rename");
    // The same link made on A and C at once: one stays live everywhere.
    let note = a.lib.add_note(&p, "Shade taken").expect("note");
    run(&a);
    run(&c);
    a.lib.link(&doc, "clinical_note", &note.id, None).expect("link on A");
    c.lib.link(&doc, "clinical_note", &note.id, None).expect("link on C");
    // The practice software opens the same new patient at two chairs: one patient.
    let on_a = a
        .lib
        .add_patient(&NewPatient {
            name: "Alan Turing".into(),
            external_id: Some("PMS-42".into()),
            ..Default::default()
        })
        .expect("a")
        .id;
    let on_b = b
        .lib
        .add_patient(&NewPatient {
            name: "Alan Turing".into(),
            external_id: Some("PMS-42".into()),
            ..Default::default()
        })
        .expect("b")
        .id;
    assert_eq!(on_a, on_b, "a chart number names one patient of the clinic");
    // The same photo imported on B and C: one document everywhere.
    let same = jpeg(99, 240, 180);
    let on_b = import(&b, &p, &[("same.jpg".into(), same.clone())])[0].clone();
    let on_c = import(&c, &p, &[("same-again.jpg".into(), same)])[0].clone();
    assert_eq!(on_b, on_c, "document ids derive from content and patient");
    for _ in 0..2 {
        for ws in [&a, &b, &c] {
            run(ws);
        }
    }
    let sa = state(&a.lib);
    assert_eq!(sa, state(&b.lib));
    assert_eq!(sa, state(&c.lib));
    let docs = a.lib.list_documents(&p, StatusFilter::All).expect("docs");
    assert_eq!(docs.len(), 2, "one photo, imported twice, is one document");
    let live = |lib: &Library| {
        lib.show_document(&doc)
            .expect("doc")
            .links
            .iter()
            .filter(|l| l.owner_type == "clinical_note")
            .map(|l| l.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(live(&a.lib).len(), 1, "one live link");
    assert_eq!(live(&a.lib), live(&b.lib));
    assert_eq!(live(&a.lib), live(&c.lib));
    assert_eq!(a.lib.list_patients(Some("PMS-42")).expect("list").len(), 1);
    let notes = a.lib.show_document(&doc).expect("show").document.notes;
    assert!(matches!(notes.as_deref(), Some("from A" | "from B" | "from C")), "{notes:?}");
    assert_eq!(a.lib.patient(&p).expect("p").name, "Grace B. Hopper");
}

#[test]
fn a_connection_cut_mid_upload_loses_nothing_and_the_next_round_finishes() {
    let _g = s3::shared();
    let proxy = Proxy::start(&s3::server().endpoint);
    let prefix = prefix("cut");
    let a = workstation();
    join(&a, &proxy.endpoint(), &prefix);
    let p = a.lib.add_patient(&NewPatient { name: "Cut".into(), ..Default::default() }).expect("p").id;
    let files: Vec<(String, Vec<u8>)> = (0..6).map(|i| (format!("c{i}.jpg"), jpeg(100 + i, 900, 700))).collect();
    let docs = import(&a, &p, &files);
    proxy.set(Fault::CutAfter(150_000));
    let (result, status) = a.lib.sync().expect("engine").round_with_status(0);
    let err = result.expect_err("the cut connection fails the round");
    assert!(err.is_transient(), "a cut connection is transient: {err}");
    assert_eq!(status.state, State::Offline);
    assert!(status.next_try.is_some() && status.backlog.to_upload > 0, "{status:?}");
    proxy.set(Fault::Pass);
    run(&a);
    assert_eq!(a.lib.sync_status().expect("status").backlog.to_upload, 0);

    let b = workstation();
    join(&b, &s3::server().endpoint, &prefix);
    run(&b);
    assert_eq!(b.lib.list_documents(&p, StatusFilter::All).expect("docs").len(), docs.len());
    local_originals_ok(&b);
}

#[test]
fn a_multipart_upload_cut_midway_resumes_from_its_last_part() {
    let _g = s3::shared();
    let proxy = Proxy::start(&s3::server().endpoint);
    let prefix = prefix("multipart");
    let a = workstation();
    // Encrypted: each part is sealed chunk by chunk, and a part sent again seals the same.
    join_sealed(&a, &proxy.endpoint(), &prefix);
    let p = a.lib.add_patient(&NewPatient { name: "Large".into(), ..Default::default() }).expect("p").id;
    // An uncompressed 36 MB BMP: above the multipart threshold (16 MB), parts of 8 MB.
    let big = {
        let img = image::RgbImage::from_fn(4000, 3000, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Bmp).expect("encode");
        out.into_inner()
    };
    let size = big.len() as u64;
    let doc = import(&a, &p, &[("pano.bmp".into(), big)])[0].clone();
    proxy.set(Fault::CutAfter(20 * 1024 * 1024));
    let err = a.lib.sync_run().expect_err("cut in the third part");
    assert!(matches!(&err, AppError::Sync(e) if e.is_transient()), "{err}");
    let parts: String = a
        .lib
        .db()
        .read(|c| {
            Ok::<_, chairside_store::StoreError>(
                c.query_row("SELECT parts_json FROM sync_multipart", [], |r| r.get(0))?,
            )
        })
        .expect("the upload in progress is kept");
    let done: Vec<String> = serde_json::from_str(&parts).expect("parts");
    assert!(!done.is_empty() && (done.len() as u64) < size.div_ceil(8 * 1024 * 1024), "parts kept: {done:?}");
    proxy.set(Fault::Pass);
    let report = run(&a);
    assert_eq!(report.uploaded_originals, 1);
    let left: i64 = a
        .lib
        .db()
        .read(|c| {
            Ok::<_, chairside_store::StoreError>(c.query_row("SELECT count(*) FROM sync_multipart", [], |r| r.get(0))?)
        })
        .expect("n");
    assert_eq!(left, 0);

    let b = workstation();
    join_sealed(&b, &s3::server().endpoint, &prefix);
    run(&b);
    let (_, bytes) = b.lib.view_original(&doc).expect("the 36 MB original arrived whole");
    assert_eq!(bytes.len() as u64, size);
}

#[test]
fn a_stopped_server_makes_sync_wait_offline_and_the_backlog_drains_when_it_returns() {
    let _g = s3::exclusive();
    let endpoint = s3::server().endpoint.clone();
    let prefix = prefix("stopped");
    let a = workstation();
    join(&a, &endpoint, &prefix);
    let p = a.lib.add_patient(&NewPatient { name: "Offline".into(), ..Default::default() }).expect("p").id;
    s3::rgw("stop-rgw");
    // Capture goes on while the server is away.
    let docs = import(&a, &p, &[("o1.jpg".into(), jpeg(31, 300, 200)), ("o2.jpg".into(), jpeg(32, 300, 200))]);
    let (result, status) = a.lib.sync().expect("engine").round_with_status(3);
    let outcome = result.map(|_| ());
    s3::rgw("restart-rgw");
    let err = outcome.expect_err("no server, no round");
    assert!(err.is_transient(), "{err}");
    assert_eq!(status.state, State::Offline, "{status:?}");
    assert!(status.since.is_some() && status.next_try.is_some());
    assert!(status.message.as_deref().is_some_and(|m| m.contains("cannot reach")), "{:?}", status.message);
    // The backlog is in the library: a restart of the app keeps it.
    let a = a.restarted();
    let report = run(&a);
    assert_eq!(report.uploaded_originals, 2);
    assert_eq!(a.lib.sync_status().expect("status").state, State::UpToDate);
    let b = workstation();
    join(&b, &endpoint, &prefix);
    run(&b);
    assert_eq!(b.lib.list_documents(&p, StatusFilter::All).expect("docs").len(), docs.len());
}

#[test]
fn a_wrong_secret_or_an_unreachable_endpoint_is_refused_and_nothing_is_saved() {
    let _g = s3::shared();
    let a = workstation();
    let p = a.lib.add_patient(&NewPatient { name: "Kept".into(), ..Default::default() }).expect("p").id;
    let err = a
        .lib
        .sync_configure(config(&s3::server().endpoint, &prefix("wrong")), "not-the-secret", Encryption::Off)
        .expect_err("refused");
    assert!(matches!(&err, AppError::Sync(SyncError::Denied { .. })), "{err}");
    assert_eq!(err.code(), "sync_denied");
    assert!(!err.to_string().contains("not-the-secret"), "the secret never appears in a message");
    assert!(a.lib.sync_configured().expect("cfg").is_none());
    assert!(!a.lib.data_dir().join("sync-secret").exists());

    // A port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let err = a.lib.sync_configure(config(&format!("http://{free}"), "x"), "s", Encryption::Off).expect_err("refused");
    assert!(matches!(&err, AppError::Sync(SyncError::Unreachable { .. })), "{err}");
    assert!(a.lib.sync_configured().expect("cfg").is_none());
    assert_eq!(a.lib.patient(&p).expect("the library is untouched").name, "Kept");
    assert_eq!(a.lib.sync_status().expect("status").state, State::Off);
}

fn raw_store(prefix: &str) -> (object_store::aws::AmazonS3, String) {
    let s = s3::server();
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&s.endpoint)
        .with_region(&s.region)
        .with_bucket_name(&s.bucket)
        .with_access_key_id(&s.access_key)
        .with_secret_access_key(&s.secret)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
        .expect("store");
    (store, format!("{prefix}/"))
}

#[test]
fn a_tampered_original_in_the_bucket_is_detected_and_never_accepted() {
    let _g = s3::shared();
    let endpoint = s3::server().endpoint.clone();
    let prefix = prefix("tamper");
    let a = workstation();
    join(&a, &endpoint, &prefix);
    let p = a.lib.add_patient(&NewPatient { name: "Tamper".into(), ..Default::default() }).expect("p").id;
    let doc = import(&a, &p, &[("t.jpg".into(), jpeg(55, 300, 200))])[0].clone();
    run(&a);
    let sha = a.lib.show_document(&doc).expect("doc").document.summary.sha256;
    let (store, pre) = raw_store(&prefix);
    let key = object_store::path::Path::from(format!("{pre}{}", chairside_app::sync_engine::blob_key(&sha)));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(store.put(&key, jpeg(56, 300, 200).into())).expect("overwrite behind Chairside's back");

    let b = workstation();
    join(&b, &endpoint, &prefix);
    let (report, _) = b.lib.sync_run().expect("the round itself goes on");
    assert!(report.problems.iter().any(|p| p.contains("does not match its checksum")), "{:?}", report.problems);
    assert_eq!(report.downloaded_originals, 0);
    let path = b.lib.data_dir().join("blobs").join(&sha[0..2]).join(&sha[2..4]).join(&sha);
    assert!(!path.exists(), "the tampered bytes were not stored");
    // Viewing fetches on demand and refuses the same way.
    let err = b.lib.view_original(&doc).expect_err("refused");
    assert_eq!(err.code(), "sync_tampered", "{err}");
    assert!(err.to_string().contains("does not match its checksum"), "{err}");
}

#[test]
fn an_empty_workstation_bootstraps_and_a_dead_disk_is_restored_with_every_hash_checked() {
    let _g = s3::shared();
    let endpoint = s3::server().endpoint.clone();
    let prefix = prefix("restore");
    let a = workstation();
    join(&a, &endpoint, &prefix);
    let p = a.lib.add_patient(&NewPatient { name: "Restore".into(), ..Default::default() }).expect("p").id;
    let files: Vec<(String, Vec<u8>)> = (0..8).map(|i| (format!("r{i}.jpg"), jpeg(200 + i, 400, 300))).collect();
    import(&a, &p, &files);
    let plan = a.lib.add_plan(&p, "Implant 36").expect("plan");
    a.lib.add_plan_item(&plan.id, "Extraction").expect("item");
    run(&a);

    // The disk died: a new, empty library, pointed at the bucket.
    let fresh = workstation();
    join(&fresh, &endpoint, &prefix);
    let report = run(&fresh);
    assert_eq!(report.downloaded_originals, 8);
    assert_eq!(state(&a.lib), state(&fresh.lib));
    assert_eq!(fresh.lib.list_plans(&p).expect("plans").len(), 1);
    let (v, _) = fresh.lib.verify_and_repair(VerifyOptions::default(), false).expect("verify");
    assert!(v.ok && v.blobs_checked == 8, "{v:?}");

    // A corrupt and a missing original on A are brought back by verify --repair.
    let shas: Vec<String> =
        a.lib.list_documents(&p, StatusFilter::All).expect("docs").into_iter().map(|d| d.sha256).collect();
    let path = |sha: &str| a.lib.data_dir().join("blobs").join(&sha[0..2]).join(&sha[2..4]).join(sha);
    make_writable(&path(&shas[0]));
    std::fs::write(path(&shas[0]), b"bit rot").expect("corrupt");
    make_writable(&path(&shas[1]));
    std::fs::remove_file(path(&shas[1])).expect("lose");
    let (v, repair) = a.lib.verify_and_repair(VerifyOptions::default(), true).expect("repair");
    let repair = repair.expect("sync is set up");
    assert_eq!(repair.repaired.len(), 2, "{repair:?}");
    assert!(v.ok, "after repair: {v:?}");
    assert!(
        std::fs::read_dir(a.lib.data_dir().join("quarantine")).expect("q").count() >= 1,
        "the corrupt file was kept aside"
    );
}

fn make_writable(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        let mut perms = meta.permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        let _ = std::fs::set_permissions(path, perms);
    }
}

#[test]
fn archived_originals_are_tagged_the_lifecycle_rule_reads_back_and_share_links_work() {
    let _g = s3::shared();
    let endpoint = s3::server().endpoint.clone();
    let prefix = prefix("lifecycle");
    let a = workstation();
    join(&a, &endpoint, &prefix);
    let p = a.lib.add_patient(&NewPatient { name: "Tiers".into(), ..Default::default() }).expect("p").id;
    let docs = import(&a, &p, &[("l1.jpg".into(), jpeg(71, 300, 200)), ("l2.jpg".into(), jpeg(72, 300, 200))]);
    let err = a.lib.sync_share(&docs[0], std::time::Duration::from_secs(3600)).expect_err("not uploaded yet");
    assert_eq!(err.code(), "sync_not_uploaded");
    run(&a);
    let sha = |id: &str| a.lib.show_document(id).expect("doc").document.summary.sha256;
    let engine = Arc::clone(a.lib.sync().expect("engine"));
    assert!(engine.blob_tags(&sha(&docs[0])).expect("tags").is_empty());
    a.lib.archive(&docs[0], Some("superseded")).expect("archive");
    run(&a);
    assert_eq!(
        engine.blob_tags(&sha(&docs[0])).expect("tags"),
        vec![("chairside-status".to_string(), "archived".to_string())]
    );
    assert!(engine.blob_tags(&sha(&docs[1])).expect("tags").is_empty());
    a.lib.restore(&docs[0]).expect("restore");
    run(&a);
    assert!(engine.blob_tags(&sha(&docs[0])).expect("tags").is_empty(), "untagged on restore");

    let rule = a.lib.sync_lifecycle_install().expect("install");
    let classes: Vec<&str> = rule.transitions.iter().map(|t| t.storage_class.as_str()).collect();
    assert_eq!(classes, ["STANDARD_IA", "DEEP_ARCHIVE"], "refused: {:?}", rule.refused);
    assert!(
        rule.installed_xml.contains("chairside-status") && rule.installed_xml.contains("DEEP_ARCHIVE"),
        "{}",
        rule.installed_xml
    );
    assert!(rule.installed_xml.contains("AbortIncompleteMultipartUpload"), "{}", rule.installed_xml);

    let link = a.lib.sync_share(&docs[1], std::time::Duration::from_secs(600)).expect("share");
    let body = http_get(&link.url);
    assert_eq!(
        body,
        std::fs::read(
            a.lib.data_dir().join("blobs").join(&sha(&docs[1])[0..2]).join(&sha(&docs[1])[2..4]).join(sha(&docs[1]))
        )
        .expect("local")
    );
    let too_long = a.lib.sync_share(&docs[1], std::time::Duration::from_secs(8 * 24 * 3600)).expect_err("over 7 days");
    assert_eq!(too_long.code(), "invalid_input");
    let audited = a.lib.audit_list(Some(&docs[1]), 10).expect("audit");
    assert!(audited.iter().any(|e| e.action == "share_link"), "share links are audited");
    assert!(
        !serde_json::to_string(&audited).expect("json").contains("Signature"),
        "the link itself is not in the audit"
    );
}

/// A plain HTTP/1.1 GET (the presigned link, as a browser would fetch it).
fn http_get(url: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_at(rest.find('/').expect("path"));
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("send");
    let mut response = Vec::new();
    s.read_to_end(&mut response).expect("read");
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("headers") + 4;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    response[split..].to_vec()
}

#[test]
fn users_roles_and_signatures_replicate_and_one_login_works_on_every_workstation() {
    use chairside_app::{Permission, Secret};
    let _g = s3::shared();
    let endpoint = s3::server().endpoint.clone();
    let prefix = prefix("users");
    let a = workstation();
    join(&a, &endpoint, &prefix);
    let p = a.lib.add_patient(&NewPatient { name: "Ada Lovelace".into(), ..Default::default() }).expect("p").id;
    let docs = import(&a, &p, &[("a.jpg".into(), jpeg(7, 320, 240))]);
    a.lib.add_user("Olga", "owner", "owner password 1", None).expect("owner");
    a.lib.sign_in("Olga", Secret::Password("owner password 1")).expect("sign in on A");
    a.lib.add_user("Dirk", "dentist", "dentist password", Some("1357")).expect("dentist");
    a.lib.edit_role("hygienist", &[Permission::Sign], &[]).expect("role edit");
    a.lib.sign_in("Dirk", Secret::Pin("1357")).expect("Dirk on A");
    let sig = a.lib.sign_document(&docs[0]).expect("signed on A");
    run(&a);

    // A new workstation joins before it has users of its own: afterwards it has the clinic's.
    let b = workstation();
    join(&b, &endpoint, &prefix);
    run(&b);
    assert!(b.lib.has_users().expect("users"), "the clinic's users arrived");
    let refused = b.lib.list_patients(None).expect_err("sign-in needed now");
    assert_eq!(refused.code(), "auth_required");
    b.lib.sign_in("dirk", Secret::Password("dentist password")).expect("the same login works on B");
    let shown = b.lib.show_document(&docs[0]).expect("show on B");
    assert_eq!(shown.signatures.len(), 1);
    assert_eq!((shown.signatures[0].id.as_str(), shown.signatures[0].valid), (sig.id.as_str(), true));
    b.lib.sign_in("Olga", Secret::Password("owner password 1")).expect("Olga on B");
    let hygienist = b.lib.list_roles().expect("roles").into_iter().find(|r| r.name == "hygienist").expect("role");
    assert!(hygienist.permissions.contains(&Permission::Sign), "the role edit arrived");

    // Concurrent edits of one user on two workstations converge field by field.
    b.lib.edit_user("Dirk", Some("assistant"), None).expect("role on B");
    a.lib.sign_in("Olga", Secret::Password("owner password 1")).expect("Olga on A");
    a.lib.edit_user("Dirk", None, Some(true)).expect("disabled on A");
    run(&b);
    run(&a);
    run(&b);
    for ws in [&a, &b] {
        let dirk = ws.lib.list_users().expect("users").into_iter().find(|u| u.name == "Dirk").expect("Dirk");
        assert_eq!((dirk.role.as_str(), dirk.disabled), ("assistant", true), "both edits everywhere");
    }
    let e = b.lib.sign_in("Dirk", Secret::Password("dentist password")).expect_err("disabled everywhere");
    assert_eq!(e.code(), "auth_failed");
}

#[test]
fn edits_annotations_calibrations_and_moves_replicate_and_a_move_converges_with_an_edit() {
    use chairside_media::{AdjustChange, AnnotationInput, AnnotationType, CalibrationSource, Status};
    let _g = s3::shared();
    let endpoint = s3::server().endpoint.clone();
    let prefix = prefix("viewer");
    let a = workstation();
    join(&a, &endpoint, &prefix);
    let ana = a.lib.add_patient(&NewPatient { name: "Ana".into(), ..Default::default() }).expect("p").id;
    let bruno = a.lib.add_patient(&NewPatient { name: "Bruno".into(), ..Default::default() }).expect("p").id;
    let docs = import(&a, &ana, &[("a.jpg".into(), jpeg(3, 320, 240)), ("b.jpg".into(), jpeg(4, 320, 240))]);
    a.lib
        .adjust(&docs[0], &AdjustChange { rotate: Some(90), contrast: Some(20), ..Default::default() })
        .expect("adjust");
    let line = AnnotationInput {
        kind: AnnotationType::Length,
        points: vec![[10.0, 10.0], [110.0, 10.0]],
        text: None,
        color: None,
        width: None,
    };
    a.lib.annotate(&docs[0], &[line]).expect("annotate");
    a.lib.calibrate(&docs[0], Some(([0.0, 0.0], [100.0, 0.0], 20.0))).expect("calibrate");
    run(&a);

    let b = workstation();
    join(&b, &endpoint, &prefix);
    run(&b);
    let shown = b.lib.show_document(&docs[0]).expect("on B");
    assert_eq!((shown.adjustments.rotate, shown.adjustments.contrast), (90, 20), "the edit record arrived");
    assert_eq!(shown.annotations.len(), 1, "the annotation arrived");
    assert_eq!(shown.calibration.source, CalibrationSource::User);
    assert_eq!(shown.annotations[0].measurement.as_ref().map(|m| m.value), Some(20.0), "measured in mm on B too");

    // A moves the second photo to Bruno while B edits its teeth: both workstations agree.
    let moved = a.lib.move_documents(std::slice::from_ref(&docs[1]), &bruno, "wrong chart").expect("move");
    b.lib
        .update_document(&docs[1], &chairside_media::DocumentPatch { teeth: Some("16".into()), ..Default::default() })
        .expect("teeth on B");
    run(&a);
    run(&b);
    run(&a);
    for ws in [&a, &b] {
        let source = ws.lib.show_document(&docs[1]).expect("source");
        assert_eq!(source.document.summary.status, Status::Archived);
        assert_eq!(source.moved_to.as_deref(), Some(moved[0].new_id.as_str()));
        assert_eq!(source.document.summary.teeth.as_deref(), Some("16"), "B's edit kept on the source");
        let copy = ws.lib.show_document(&moved[0].new_id).expect("copy");
        assert_eq!(copy.document.patient_id, bruno);
        assert_eq!(copy.document.summary.status, Status::Active);
    }
}

#[test]
fn tls_is_verified_a_clinic_authority_is_trusted_and_a_wrong_one_or_a_wrong_host_is_refused() {
    let _g = s3::shared();
    let s = s3::server();
    let prefix = prefix("tls");
    let pem = |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let tls = |endpoint: &str, ca: Option<String>| SyncConfig { ca_cert: ca, ..config(endpoint, &prefix) };
    let a = workstation();
    let refused = |c: SyncConfig, why: &str| {
        let e = a.lib.sync_configure(c, &s.secret, Encryption::Off).expect_err("refused");
        assert!(
            matches!(&e, AppError::Sync(SyncError::Tls { reason, .. }) if reason.contains(why)),
            "expected a TLS refusal ({why}), got {e:?}"
        );
        assert!(!e.to_string().contains(&s.secret), "no secret in {e}");
        assert!(a.lib.sync_configured().expect("read").is_none(), "nothing saved after a refusal");
    };
    // This server's authority is not one the system trusts; another authority is not it either.
    refused(tls(&s.tls_endpoint, None), "authority this workstation does not trust");
    refused(tls(&s.tls_endpoint, Some(pem(&s.other_ca_cert))), "authority this workstation does not trust");
    // The right authority, but an address the certificate is not for (it names localhost).
    let by_ip = s.tls_endpoint.replace("localhost", "127.0.0.1");
    refused(tls(&by_ip, Some(pem(&s.ca_cert))), "another host name");

    // With the clinic's authority: two workstations converge over TLS, through an encrypted bucket.
    let set_up = a
        .lib
        .sync_configure(tls(&s.tls_endpoint, Some(pem(&s.ca_cert))), &s.secret, sealed())
        .expect("configure over TLS");
    assert!(set_up.encryption && set_up.recovery_key.is_some(), "{set_up:?}");
    let p = a.lib.add_patient(&NewPatient { name: "Tess Ellis".into(), ..Default::default() }).expect("p").id;
    import(&a, &p, &[("tls.jpg".into(), jpeg(41, 320, 240))]);
    assert_eq!(run(&a).uploaded_originals, 1);
    let b = workstation();
    let joined = b
        .lib
        .sync_configure(tls(&s.tls_endpoint, Some(pem(&s.ca_cert))), &s.secret, sealed())
        .expect("second over TLS");
    assert_eq!((joined.key_id, joined.recovery_key), (set_up.key_id, None), "the same clinic key, no new recovery key");
    let down = run(&b);
    assert_eq!(down.downloaded_originals, 1, "{down:?}");
    assert_eq!(state(&a.lib), state(&b.lib));
    local_originals_ok(&b);
    // Plain HTTP to another machine must be asked for by name; loopback needs nothing.
    let lan = SyncConfig { endpoint: "http://192.0.2.10:7480".into(), ..config(&s.endpoint, &prefix) };
    let e = b.lib.sync_configure(lan, &s.secret, Encryption::Off).expect_err("plain http to another host");
    assert!(matches!(e, AppError::Sync(SyncError::InsecureTransport { .. })), "{e:?}");
}

/// Every object under `prefix`: its key (under the prefix) and its bytes as stored.
fn bucket_objects(prefix: &str) -> Vec<(String, Vec<u8>)> {
    use futures::TryStreamExt;
    use object_store::ObjectStore;
    let (store, pre) = raw_store(prefix);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let listed: Vec<_> =
            store.list(Some(&object_store::path::Path::from(pre.as_str()))).try_collect().await.expect("list");
        let mut out = Vec::new();
        for meta in listed {
            let bytes = store.get(&meta.location).await.expect("get").bytes().await.expect("bytes");
            let key = meta.location.as_ref().strip_prefix(pre.as_str()).unwrap_or(meta.location.as_ref()).to_string();
            out.push((key, bytes.to_vec()));
        }
        out
    })
}

fn put_raw(prefix: &str, key: &str, bytes: Vec<u8>) {
    let (store, pre) = raw_store(prefix);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(store.put(&object_store::path::Path::from(format!("{pre}{key}")), bytes.into())).expect("put");
}

fn shas(ws: &Ws, docs: &[String]) -> Vec<String> {
    docs.iter().map(|d| ws.lib.show_document(d).expect("doc").document.summary.sha256).collect()
}

/// What the storage provider sees of an encrypted bucket: no image or DICOM, no name, no hash.
fn assert_nothing_readable(objects: &[(String, Vec<u8>)], names: &[&str], shas: &[String]) {
    assert!(objects.len() > 5, "{} objects", objects.len());
    for (key, bytes) in objects {
        assert!(!shas.iter().any(|s| key.contains(s.as_str())), "{key} is named by a photo's SHA-256");
        if key == "keys/clinic-key.json" {
            let text = String::from_utf8_lossy(bytes);
            assert!(text.contains("argon2id") && !names.iter().any(|n| text.contains(n)), "{text}");
            continue;
        }
        assert!(bytes.starts_with(b"CHS1"), "{key} is not sealed");
        assert!(!bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && !bytes.starts_with(b"\x89PNG"), "{key} is an image");
        assert!(bytes.get(128..132) != Some(b"DICM"), "{key} is a DICOM file");
        for needle in names.iter().map(|n| n.as_bytes()).chain(shas.iter().map(|s| s.as_bytes())) {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{key} holds {:?}",
                String::from_utf8_lossy(needle)
            );
        }
    }
}

#[test]
fn an_encrypted_bucket_shows_no_photo_name_or_hash_and_refuses_what_was_swapped_or_replayed() {
    let _g = s3::shared();
    let endpoint = s3::server().endpoint.clone();
    let prefix = prefix("sealed");
    let a = workstation();
    let set_up = join_sealed(&a, &endpoint, &prefix);
    assert!(set_up.encryption && set_up.recovery_key.as_deref().is_some_and(|k| k.len() > 40), "{set_up:?}");
    let name = "Evelyn Quarrington";
    let p = a.lib.add_patient(&NewPatient { name: name.into(), ..Default::default() }).expect("p").id;
    let png = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 9]))
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("png");
        out.into_inner()
    };
    let dicom = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dcm_ct_small.dcm")).expect("dicom");
    let docs =
        import(&a, &p, &[("e1.jpg".into(), jpeg(91, 320, 240)), ("e2.png".into(), png), ("e3.dcm".into(), dicom)]);
    a.lib
        .update_document(&docs[0], &DocumentPatch { notes: Some(format!("{name}: shade A2")), ..Default::default() })
        .expect("edit");
    run(&a);
    assert_eq!(a.lib.sync_status().expect("status").encryption, chairside_app::sync_engine::EncryptionState::On);
    let b = workstation();
    let joined = join_sealed(&b, &endpoint, &prefix);
    assert_eq!((joined.key_id.as_deref(), joined.recovery_key.as_deref()), (set_up.key_id.as_deref(), None));
    run(&b);
    assert_eq!(state(&a.lib), state(&b.lib));
    local_originals_ok(&b);
    let shas = shas(&a, &docs);
    assert_nothing_readable(&bucket_objects(&prefix), &[name, "Quarrington", "shade A2"], &shas);

    // A share link serves a decrypted copy under a random name, removed once the link expired.
    let link = a.lib.sync_share(&docs[0], std::time::Duration::from_secs(2)).expect("share");
    assert!(link.url.contains("/shares/") && !link.url.contains(&shas[0]), "{}", link.url);
    let original = a.lib.view_original(&docs[0]).expect("local").1;
    assert_eq!(http_get(&link.url), original, "the link gives the photo itself");
    let audited = a.lib.audit_list(Some(&docs[0]), 20).expect("audit");
    assert!(audited.iter().any(|e| e.action == "share_link" && e.detail["decrypted_copy"] == true), "{audited:?}");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    run(&a);
    assert!(!bucket_objects(&prefix).iter().any(|(k, _)| k.starts_with("shares/")), "the copy is gone after expiry");

    // A wrong passphrase, a typo in the recovery key: refused, nothing saved, no key material said.
    let c = workstation();
    let wrong = join_with(&c, &endpoint, &prefix, "not the clinic's one").expect_err("wrong passphrase");
    assert_eq!(wrong.code(), "sync_wrong_passphrase", "{wrong}");
    let recovery = set_up.recovery_key.clone().expect("recovery key");
    // One character mistyped (as another valid one): the checksum catches it.
    let typo = match recovery.chars().next() {
        Some('A') => format!("B{}", &recovery[1..]),
        _ => format!("A{}", &recovery[1..]),
    };
    let e = c
        .lib
        .sync_configure(config(&endpoint, &prefix), &s3::server().secret, Encryption::RecoveryKey(typo.into()))
        .expect_err("typo");
    assert_eq!(e.code(), "sync_recovery_key_typo", "{e}");
    assert!(!e.to_string().contains(&recovery), "{e}");
    assert!(c.lib.sync_configured().expect("read").is_none(), "nothing saved after a refusal");
    // The printed recovery key joins as well as the passphrase.
    c.lib
        .sync_configure(config(&endpoint, &prefix), &s3::server().secret, Encryption::RecoveryKey(recovery.into()))
        .expect("recovery key");
    run(&c);
    assert_eq!(state(&a.lib), state(&c.lib));

    // One original's sealed bytes put under another's name, and an old segment replayed under a
    // new name: neither opens, both are reported, nothing is stored.
    let objects = bucket_objects(&prefix);
    let blobs: Vec<&(String, Vec<u8>)> = objects.iter().filter(|(k, _)| k.starts_with("blobs/")).collect();
    assert_eq!(blobs.len(), 3);
    put_raw(&prefix, &blobs[1].0, blobs[0].1.clone());
    let (seg_key, seg) = objects.iter().find(|(k, _)| k.starts_with("ops/") && k.ends_with(".seg")).expect("a segment");
    let ws_dir = &seg_key[..seg_key.rfind('/').expect("folder")];
    put_raw(&prefix, &format!("{ws_dir}/999999999990-999999999999.seg"), seg.clone());
    // And a thumbnail cut short: its last chunk never authenticates.
    let (thumb_key, thumb) = objects.iter().find(|(k, _)| k.starts_with("thumbs/")).expect("a thumbnail");
    put_raw(&prefix, thumb_key, thumb[..thumb.len() - 7].to_vec());
    let d = workstation();
    join_sealed(&d, &endpoint, &prefix);
    let (report, _) = d.lib.sync_run().expect("the round goes on");
    for what in [blobs[1].0.as_str(), thumb_key.as_str(), "999999999990-999999999999.seg"] {
        assert!(
            report.problems.iter().any(|p| p.contains(what) && p.contains("was not accepted")),
            "{what}: {:?}",
            report.problems
        );
    }
    assert_eq!(report.downloaded_originals, 2, "{report:?}");
    let refused = docs.iter().filter(|doc| d.lib.view_original(doc).is_err()).count();
    assert_eq!(refused, 1, "the swapped original is refused on view too");
}

#[test]
fn a_plaintext_bucket_is_encrypted_in_place_and_a_rotated_key_locks_the_old_one_out() {
    let _g = s3::shared();
    let endpoint = s3::server().endpoint.clone();
    let prefix = prefix("migrate");
    let (a, b) = (workstation(), workstation());
    join(&a, &endpoint, &prefix);
    let name = "Ottilie Plaintext";
    let p = a.lib.add_patient(&NewPatient { name: name.into(), ..Default::default() }).expect("p").id;
    let docs = import(&a, &p, &[("m1.jpg".into(), jpeg(81, 320, 240)), ("m2.jpg".into(), jpeg(82, 320, 240))]);
    run(&a);
    join(&b, &endpoint, &prefix);
    run(&b);
    // A new set-up asking for encryption is told how to migrate, not silently left plaintext.
    let c = workstation();
    let e =
        c.lib.sync_configure(config(&endpoint, &prefix), &s3::server().secret, sealed()).expect_err("plaintext bucket");
    assert_eq!(e.code(), "sync_bucket_not_encrypted", "{e}");

    use chairside_app::sync_engine::EncryptionState;
    let started = a.lib.sync_encrypt_existing(PASSPHRASE).expect("start");
    assert!(started.recovery_key.len() > 40);
    assert_eq!(a.lib.sync_status().expect("status").encryption, EncryptionState::Migrating);
    assert_eq!(a.lib.sync_rotate_key(PASSPHRASE).map(|_| ()).expect_err("one pass at a time").code(), "sync_migrating");
    let seen = std::sync::Mutex::new(Vec::new());
    let done = a
        .lib
        .sync_finish_reseal(&|d, t| seen.lock().expect("lock").push((d, t)))
        .expect("encrypt")
        .expect("a pass under way");
    assert!(done.resealed >= 6 && done.left.is_empty(), "{} resealed, left {:?}", done.resealed, done.left);
    assert_eq!(seen.lock().expect("lock").last().map(|(d, t)| d == t), Some(true));
    assert_eq!(a.lib.sync_status().expect("status").encryption, EncryptionState::On);
    let shas = shas(&a, &docs);
    assert_nothing_readable(&bucket_objects(&prefix), &[name], &shas);
    assert!(a.lib.sync_finish_reseal(&|_, _| {}).expect("nothing to do").is_none());
    assert_eq!(a.lib.sync_encrypt_existing(PASSPHRASE).map(|_| ()).expect_err("already").code(), "invalid_input");

    // B still holds no key: its round says so and what to do; it joins with the passphrase.
    let e = b.lib.sync_run().expect_err("the bucket changed under it");
    assert_eq!(e.code(), "sync_key_changed", "{e}");
    join_sealed(&b, &endpoint, &prefix);
    import(&a, &p, &[("m3.jpg".into(), jpeg(83, 320, 240))]);
    run(&a);
    run(&b);
    assert_eq!(state(&a.lib), state(&b.lib));
    local_originals_ok(&b);

    // B is stolen: A rotates the key. Every object is sealed with the new key; B's old key
    // opens nothing and its rounds stop until it joins with the new passphrase.
    let old = a.lib.sync_configured().expect("cfg").expect("configured").encryption.expect("key id");
    // Started here, finished by the next round in the background (as the app's loop would).
    let rotated = a.lib.sync_rotate_key("a new sentence after the theft").expect("rotate");
    assert_ne!(rotated.key_id, old);
    assert_eq!(a.lib.sync_status().expect("status").encryption, EncryptionState::Migrating);
    run(&a);
    assert!(a.lib.sync_migration().expect("state").is_none(), "the round finished the pass");
    assert_eq!(a.lib.sync_status().expect("status").encryption, EncryptionState::On);
    let objects = bucket_objects(&prefix);
    for (key, bytes) in &objects {
        if key != "keys/clinic-key.json" {
            assert_eq!(
                chairside_app::sync_engine::vault_key_id(bytes).as_deref(),
                Some(rotated.key_id.as_str()),
                "{key}"
            );
        }
    }
    assert_eq!(b.lib.sync_run().expect_err("old key").code(), "sync_key_changed");
    let e =
        b.lib.sync_configure(config(&endpoint, &prefix), &s3::server().secret, sealed()).expect_err("old passphrase");
    assert_eq!(e.code(), "sync_wrong_passphrase");
    join_with(&b, &endpoint, &prefix, "a new sentence after the theft").expect("rejoin");
    import(&a, &p, &[("m4.jpg".into(), jpeg(84, 320, 240))]);
    run(&a);
    run(&b);
    assert_eq!(state(&a.lib), state(&b.lib));

    // A new passphrase rewraps the same key: the old one no longer joins, the new one does.
    a.lib.sync_change_passphrase("the third sentence of the year").expect("passphrase");
    let d = workstation();
    let e = join_with(&d, &endpoint, &prefix, "a new sentence after the theft").expect_err("old");
    assert_eq!(e.code(), "sync_wrong_passphrase");
    join_with(&d, &endpoint, &prefix, "the third sentence of the year").expect("new passphrase");
    run(&d);
    assert_eq!(state(&a.lib), state(&d.lib));
}
