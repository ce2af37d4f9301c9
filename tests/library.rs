//! The app API end to end: limits, thumbnails on demand and as events, viewing originals,
//! PDFs and WebP EXIF.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chairside_app::{Library, LibraryOptions};
use chairside_media::{Limits, ThumbnailEvent};
use chairside_patients::NewPatient;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn open_with(options: impl FnOnce(&mut LibraryOptions)) -> (tempfile::TempDir, Library, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut o = LibraryOptions::new(dir.path());
    options(&mut o);
    let lib = Library::open(o).expect("open");
    let p = lib.add_patient(&NewPatient { name: "Ada".into(), ..Default::default() }).expect("patient").id;
    (dir, lib, p)
}

#[test]
fn byte_and_pixel_limits_are_configurable_and_refuse_before_storing() {
    let (_d, lib, p) = open_with(|o| o.limits = Limits { max_bytes: 20_000, max_pixels: 30_000, ..Limits::default() });
    let r = lib.import_paths(&p, &[fixture("orient_1.jpg")], None, "test", &|_| {}).expect("import");
    assert_eq!(r[0].error.as_ref().map(|e| e.code.as_str()), Some("file_too_large"), "56 KB is over a 20 KB limit");
    let r = lib.import_paths(&p, &[fixture("orient_6.webp")], None, "test", &|_| {}).expect("import");
    assert_eq!(r[0].status, "imported", "128 × 128 is under 30,000 pixels");
    let r = lib.import_paths(&p, &[fixture("broken_invalid_exif.jpg")], None, "test", &|_| {}).expect("import");
    assert_eq!(
        r[0].error.as_ref().map(|e| e.code.as_str()),
        Some("too_many_pixels"),
        "200 × 200 (40,000 pixels) is over"
    );
}

#[test]
fn thumbnails_arrive_as_events_smallest_first_and_are_remade_on_demand() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let (_d, lib, p) = open_with(move |o| {
        o.on_thumbnail = Some(Arc::new(move |e: &ThumbnailEvent| sink.lock().expect("lock").push(e.clone())))
    });
    let r = lib.import_paths(&p, &[fixture("png_chelsea_pentax.png")], None, "test", &|_| {}).expect("import");
    lib.wait_for_thumbnails();
    let sha = r[0].sha256.clone().expect("sha");
    let sizes: Vec<u32> = events
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|e| match e {
            ThumbnailEvent::Ready { sha256, size } if *sha256 == sha => Some(*size),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, vec![256, 1024, 2048], "the grid size is ready first");

    let doc = r[0].document_id.clone().expect("doc");
    let t = lib.thumbnail(&doc, 1024).expect("thumbnail").expect("exists");
    std::fs::remove_file(&t.path).expect("lose it");
    let again = lib.thumbnail(&doc, 1024).expect("thumbnail").expect("remade");
    assert!(again.path.is_file(), "a missing thumbnail is remade on demand");
    assert_eq!((again.width, again.height), (451, 300), "never upscaled: the 451 × 300 photo stays its size");
}

#[test]
fn viewing_an_original_is_hash_checked_and_audited() {
    let (dir, lib, p) = open_with(|_| {});
    let r = lib.import_paths(&p, &[fixture("orient_1.jpg")], None, "test", &|_| {}).expect("import");
    let doc = r[0].document_id.clone().expect("doc");
    let (_, bytes) = lib.media().read_original(&lib.actor(), &doc).expect("view");
    assert_eq!(bytes, std::fs::read(fixture("orient_1.jpg")).expect("fixture"), "the original, byte-exact");
    let views = lib.audit_list(Some(&doc), 100).expect("audit").into_iter().filter(|e| e.action == "view").count();
    assert_eq!(views, 1, "a view of a full image is audited");

    let sha = r[0].sha256.clone().expect("sha");
    let blob = dir.path().join("blobs").join(&sha[0..2]).join(&sha[2..4]).join(&sha);
    let mut perms = std::fs::metadata(&blob).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&blob, perms).expect("chmod");
    let mut rotten = std::fs::read(&blob).expect("read");
    rotten[500] ^= 0x80;
    std::fs::write(&blob, rotten).expect("rot");
    let err =
        lib.media().read_original(&lib.actor(), &doc).expect_err("a damaged original is never shown as if intact");
    assert_eq!(err.code(), "blob_corrupt");
}

#[test]
fn pdfs_are_stored_with_their_first_page_as_preview_and_truncated_ones_refused() {
    let (dir, lib, p) = open_with(|_| {});
    // A real one-page PDF (a PDF with no pages, or only the header, is not a scanned document).
    let pdf = chairside_media::pdf::craft::pdf("", &[]);
    let good = dir.path().join("consent form.pdf");
    std::fs::write(&good, &pdf).expect("write");
    let cut = dir.path().join("cut.pdf");
    std::fs::write(&cut, &pdf[..60]).expect("write");
    let r = lib.import_paths(&p, &[good, cut], None, "test", &|_| {}).expect("import");
    lib.wait_for_thumbnails();
    assert_eq!(r[0].status, "imported");
    assert_eq!(r[1].error.as_ref().map(|e| e.code.as_str()), Some("corrupt_file"), "a cut-off PDF is refused");
    let shown = lib.show_document(r[0].document_id.as_deref().expect("doc")).expect("show");
    assert_eq!(shown.document.summary.kind.as_str(), "document", "a PDF defaults to kind document");
    assert_eq!(shown.document.summary.mime, "application/pdf");
    assert_eq!(shown.document.summary.thumbnails.sizes(), vec![256, 1024, 2048], "its (blank) first page drawn");
}

#[test]
fn exif_inside_webp_and_tiff_is_read() {
    let (_d, lib, p) = open_with(|_| {});
    let r = lib
        .import_paths(&p, &[fixture("orient_6.webp"), fixture("orient_6_g4.tif")], None, "test", &|_| {})
        .expect("import");
    for result in &r {
        let shown = lib.show_document(result.document_id.as_deref().expect("doc")).expect("show");
        assert_eq!(shown.document.summary.orientation, 6, "{}: orientation from EXIF", result.path);
        assert_eq!(shown.exif.as_ref().and_then(|e| e["orientation"].as_u64()), Some(6));
    }
}

#[test]
fn the_database_refuses_to_delete_records_the_clinic_must_keep() {
    let (dir, lib, p) = open_with(|_| {});
    let r = lib.import_paths(&p, &[fixture("orient_1.jpg")], None, "test", &|_| {}).expect("import");
    let doc = r[0].document_id.clone().expect("doc");
    lib.link(&doc, "patient", &p, None).expect("link");
    let conn = chairside_store::rusqlite::Connection::open(dir.path().join("library.sqlite3")).expect("open");
    for table in ["documents", "blobs", "document_history", "media_attachments", "audit_events", "change_log"] {
        let err = conn.execute(&format!("DELETE FROM {table}"), []).expect_err(table);
        assert!(err.to_string().contains("never") || err.to_string().contains("append-only"), "{table}: {err}");
    }
    assert!(conn.execute("UPDATE blobs SET sha256 = ?1", ["0".repeat(64)]).is_err(), "a content address never changes");
}

#[test]
fn every_replicated_change_is_in_the_change_log_in_clock_order() {
    let (_d, lib, p) = open_with(|_| {});
    let r = lib.import_paths(&p, &[fixture("orient_1.jpg")], None, "test", &|_| {}).expect("import");
    let doc = r[0].document_id.clone().expect("doc");
    let note = lib.add_note(&p, "Before photo").expect("note");
    lib.link(&doc, "clinical_note", &note.id, None).expect("link");
    lib.archive(&doc, Some("blurred")).expect("archive");
    let changes = lib.db().read(|c| chairside_store::changes_since(c, 0, 1000)).expect("changes");
    let touched: std::collections::BTreeSet<&str> = changes.iter().map(|c| c.entity_type.as_str()).collect();
    for entity in ["clinic", "patient", "document", "clinical_note", "attachment"] {
        assert!(touched.contains(entity), "{entity} changes are in the change log");
    }
    assert!(changes.windows(2).all(|w| w[0].hlc <= w[1].hlc), "the clock never goes backwards");
    assert!(changes.iter().all(|c| c.workstation == lib.actor().workstation), "stamped with this workstation");
    let status: Vec<_> =
        changes.iter().filter(|c| c.entity_id == doc && c.field == "status").map(|c| c.value.clone()).collect();
    assert_eq!(status, vec![serde_json::json!("active"), serde_json::json!("archived")], "archive is a status change");
}

/// The hostile files the hardening issue reproduced, kept small in `fixtures/hostile` (the
/// bytes the generated corpus makes; `CHAIRSIDE_WRITE_FIXTURES=1` rewrites them): each is
/// refused with its own code, and nothing of them is stored.
#[test]
fn the_committed_hostile_fixtures_are_refused_with_their_codes() {
    let expected = [
        ("dicom_nested_1000.dcm", "corrupt_file"),
        ("dicom_pixels_claim_4294967280.dcm", "corrupt_file"),
        ("png_header_9990x9990_16_6.png", "too_many_pixels"),
        ("jpeg_claim_65535x65535.jpg", "too_many_pixels"),
        ("tiff_loop_1x1.tif", "corrupt_file"),
        ("pdf_javascript.pdf", "active_content"),
        ("pdf_launch.pdf", "active_content"),
        ("pdf_embedded.pdf", "active_content"),
        ("pdf_wrapping_a_jpeg.pdf", "corrupt_file"),
        ("setup.jpg", "unsupported_format"),
    ];
    let corpus: std::collections::HashMap<String, Vec<u8>> =
        chairside_tests::hostile_corpus::corpus().into_iter().collect();
    let dir = fixture("hostile");
    if std::env::var_os("CHAIRSIDE_WRITE_FIXTURES").is_some() {
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (name, _) in expected {
            std::fs::write(dir.join(name), &corpus[name]).expect("write");
        }
    }
    let (d, lib, p) = open_with(|_| {});
    for (name, code) in expected {
        let path = dir.join(name);
        assert_eq!(std::fs::read(&path).expect(name), corpus[name], "{name} is what the generator makes");
        let r = lib.import_paths(&p, &[path], None, "test", &|_| {}).expect("import");
        assert_eq!(r[0].error.as_ref().map(|e| e.code.as_str()), Some(code), "{name}: {r:?}");
    }
    let originals = walk_files(&d.path().join("blobs"));
    assert_eq!(originals, 0, "no refused file left a blob");
}

fn walk_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.file_type().is_ok_and(|t| t.is_dir()) { walk_files(&e.path()) } else { 1 }).sum()
}

/// Two handles on one library folder, as two windows (or a window and the CLI) are: what one
/// changes in users and roles, the other applies at its next action.
#[test]
fn a_role_edited_elsewhere_takes_effect_at_the_signed_in_users_next_action() {
    use chairside_app::{Permission, Secret};
    let (dir, owner, _patient) = open_with(|_| {});
    owner.add_user("Olga", "owner", "owner password 1", None).expect("owner");
    owner.sign_in("Olga", Secret::Password("owner password 1")).expect("owner in");
    owner.add_user("Fran", "front_desk", "front desk pw 2", Some("2468")).expect("front desk");
    let desk = Library::open(LibraryOptions::new(dir.path())).expect("second handle");
    desk.sign_in("Fran", Secret::Pin("2468")).expect("Fran in with her PIN");
    desk.list_patients(None).expect("front desk lists patients");
    assert_eq!(desk.audit_list(None, 10).expect_err("no audit").code(), "forbidden");
    owner.edit_role("front_desk", &[Permission::ViewAudit], &[]).expect("grant");
    desk.audit_list(None, 10).expect("granted at the next action, without signing in again");
    owner.edit_user("Fran", None, Some(true)).expect("disabled");
    assert_eq!(desk.list_patients(None).expect_err("disabled").code(), "auth_required");
}

#[test]
fn a_pin_guessed_by_brute_force_locks_the_name_out_after_five_tries() {
    use chairside_app::Secret;
    let (_dir, lib, _patient) = open_with(|_| {});
    lib.add_user("Olga", "owner", "owner password 1", Some("4711")).expect("owner");
    let mut codes = Vec::new();
    for guess in ["0000", "1111", "1234", "2222", "4710", "4711"] {
        codes.push(lib.sign_in("olga", Secret::Pin(guess)).map(|_| "ok").unwrap_or_else(|e| e.code()));
    }
    assert_eq!(codes, ["auth_failed", "auth_failed", "auth_failed", "auth_failed", "locked_out", "locked_out"]);
    assert_eq!(lib.session().expect("session").user, None, "nobody signed in");
    let failures = lib.db().read(|c| chairside_app::users::attempts(c, "Olga")).expect("attempts");
    assert_eq!(failures.failures, 5, "a locked-out attempt is refused without being checked");
}

#[test]
fn three_d_scans_are_stored_byte_exact_measured_and_drawn_from_the_occlusal_side() {
    let (dir, lib, p) = open_with(|_| {});
    let obj = dir.path().join("crown prep.obj");
    std::fs::write(
        &obj,
        "# a square of two triangles\nv 0 0 0\nv 12 0 0\nv 12 8 0\nv 0 8 0\nvn 0 0 1\nf 1//1 2//1 3//1 4//1\n",
    )
    .expect("write");
    let files = [
        fixture("mesh_stanford_bunny99_ascii.stl"),
        fixture("mesh_stanford_bunny99_binary.stl"),
        fixture("mesh_vertexcolor_binary_meshlab.ply"),
        obj,
    ];
    let r = lib.import_paths(&p, &files, None, "test", &|_| {}).expect("import");
    lib.wait_for_thumbnails();
    let expected =
        [("model/stl", 99, false), ("model/stl", 99, true), ("model/x-ply", 1610, true), ("model/obj", 2, false)];
    for (i, (mime, faces, binary)) in expected.into_iter().enumerate() {
        assert_eq!(r[i].status, "imported", "{:?}: {:?}", files[i], r[i].error);
        let doc = r[i].document_id.clone().expect("doc");
        let shown = lib.show_document(&doc).expect("show");
        assert_eq!(shown.document.summary.mime, mime);
        let mesh = &shown.document.details.as_ref().expect("details")["mesh"];
        assert_eq!(mesh["faces"], faces, "{mime}");
        assert_eq!(mesh["binary"], binary, "{mime}");
        let sizes: Vec<u32> = shown.document.summary.thumbnails.sizes();
        assert_eq!(sizes, vec![256, 1024, 2048], "{mime}: every size drawn");
        let (_, bytes) = lib.media().read_original(&lib.actor(), &doc).expect("original");
        assert_eq!(bytes, std::fs::read(&files[i]).expect("source"), "stored byte-exact");
    }
    let ply = lib.show_document(r[2].document_id.as_deref().expect("doc")).expect("show");
    assert_eq!(ply.document.details.as_ref().expect("details")["mesh"]["vertex_colours"], true);
    let square = lib.show_document(r[3].document_id.as_deref().expect("doc")).expect("show");
    let mesh = &square.document.details.as_ref().expect("details")["mesh"];
    assert_eq!(mesh["bbox_max_mm"], serde_json::json!([12.0, 8.0, 0.0]));
    // Seen from above, the 12 × 8 mm square fills the picture but for its margin.
    let t = lib.thumbnail(square.document.summary.id.as_str(), 256).expect("thumb").expect("exists");
    let img = image::open(&t.path).expect("jpeg").to_rgb8();
    assert_eq!(img.width(), 256);
    let centre = img.get_pixel(img.width() / 2, img.height() / 2);
    assert!(centre[0] > 180, "the square, lit face-on, is bright: {centre:?}");
    let corner = img.get_pixel(1, 1);
    assert!(corner[0] < 60, "the background is dark: {corner:?}");
    let report = lib.verify(chairside_media::VerifyOptions::default()).expect("verify");
    assert!(report.ok, "{report:?}");
}

#[test]
fn each_kind_has_its_own_size_limit_checked_before_a_byte_is_copied() {
    let (dir, lib, p) =
        open_with(|o| o.limits = Limits { max_bytes: 1_000, max_mesh_bytes: 10_000, ..Limits::default() });
    let files = [
        fixture("mesh_stanford_bunny99_ascii.stl"),
        fixture("mesh_stanford_bunny99_binary.stl"),
        fixture("orient_1.jpg"),
        fixture("dcm_ct_small.dcm"),
    ];
    let r = lib.import_paths(&p, &files, None, "test", &|_| {}).expect("import");
    lib.wait_for_thumbnails();
    // A DICOM over the whole-file limit is walked from disk and stored, without a preview.
    assert_eq!(r[3].status, "imported", "{:?}", r[3].error);
    let ct = lib.show_document(r[3].document_id.as_deref().expect("doc")).expect("show");
    assert_eq!(ct.document.details.as_ref().expect("details")["dicom"]["modality"], "CT");
    assert_eq!((ct.document.summary.width, ct.document.summary.height), (Some(128), Some(128)));
    assert!(ct.document.summary.thumbnails.is_empty(), "no preview drawn from a stream");
    assert_eq!(
        r[0].error.as_ref().map(|e| e.code.as_str()),
        Some("file_too_large"),
        "26 KB is over a 10 KB mesh limit"
    );
    assert_eq!(r[1].status, "imported", "5 KB is under it, though over the photo limit");
    assert_eq!(r[2].error.as_ref().map(|e| e.code.as_str()), Some("file_too_large"), "a photo has the photo limit");
    // Refused files leave no staged copy behind.
    let staged: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
        .expect("blobs")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
}

#[test]
fn a_file_whose_content_is_another_kind_than_its_name_says_is_refused() {
    let (dir, lib, p) = open_with(|_| {});
    let copy = |from: &str, to: &str| {
        let path = dir.path().join(to);
        std::fs::copy(fixture(from), &path).expect("copy");
        path
    };
    let files = [
        copy("mesh_stanford_bunny99_binary.stl", "pano.dcm"),
        copy("orient_1.jpg", "upper arch.stl"),
        copy("dcm_ct_small.dcm", "photo.jpg"),
        // Within one family the content decides: a PNG named .jpg is the PNG it is.
        copy("png_chelsea_pentax.png", "cat.jpg"),
        // An extension we do not know promises nothing.
        copy("orient_1.jpg", "IMG_0001.export"),
    ];
    let r = lib.import_paths(&p, &files, None, "test", &|_| {}).expect("import");
    for (i, named) in [(0, "a DICOM file"), (1, "a 3D model"), (2, "an image")] {
        let e = r[i].error.as_ref().unwrap_or_else(|| panic!("{:?} refused", files[i]));
        assert_eq!(e.code, "content_mismatch", "{e:?}");
        assert!(e.message.contains(named), "{}", e.message);
    }
    assert_eq!(r[3].status, "imported");
    assert_eq!(r[4].status, "imported");
}

#[test]
fn heic_and_avif_from_phones_are_imported_with_their_exif_and_a_cut_one_is_refused() {
    let (dir, lib, p) = open_with(|_| {});
    let heic = std::fs::read(fixture("heic_iphone14pro_ccbysa.heic")).expect("fixture");
    let cut = dir.path().join("cut.heic");
    std::fs::write(&cut, &heic[..heic.len() * 2 / 3]).expect("write");
    let files = [
        fixture("heic_iphone14pro_ccbysa.heic"),
        fixture("avif_libheif_example.avif"),
        cut,
        fixture("broken_truncated.heic"),
    ];
    let r = lib.import_paths(&p, &files, None, "test", &|_| {}).expect("import");
    lib.wait_for_thumbnails();
    for (i, mime, size) in [(0, "image/heic", (1652, 1791)), (1, "image/avif", (800, 533))] {
        assert_eq!(r[i].status, "imported", "{:?}: {:?}", files[i], r[i].error);
        let shown = lib.show_document(r[i].document_id.as_deref().expect("doc")).expect("show");
        assert_eq!(shown.document.summary.mime, mime);
        assert_eq!((shown.document.summary.width, shown.document.summary.height), (Some(size.0), Some(size.1)));
        assert_eq!(shown.document.summary.thumbnails.sizes(), vec![256, 1024, 2048], "{mime}: every size");
        // The viewer's adjusted rendition decodes it too.
        let jpeg = lib.view_adjusted(&shown.document.summary.id, 1024, false, 0).expect("rendition");
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    }
    let iphone = lib.show_document(r[0].document_id.as_deref().expect("doc")).expect("show");
    assert_eq!(
        iphone.exif.as_ref().map(|e| e["make"].clone()),
        Some(serde_json::json!("Apple")),
        "EXIF read from the HEIF container"
    );
    for i in [2, 3] {
        assert_eq!(r[i].error.as_ref().map(|e| e.code.as_str()), Some("corrupt_file"), "{:?}: {:?}", files[i], r[i]);
    }
}

#[test]
fn a_heic_larger_than_the_largest_thumbnail_is_shown_from_a_full_resolution_rendition_made_in_the_background() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let (_d, lib, p) = open_with(move |o| {
        o.on_thumbnail = Some(Arc::new(move |e: &ThumbnailEvent| sink.lock().expect("lock").push(e.clone())))
    });
    let files = [fixture("heic_generated_2400x1800.heic"), fixture("heic_iphone14pro_ccbysa.heic")];
    let r = lib.import_paths(&p, &files, None, "test", &|_| {}).expect("import");
    lib.wait_for_thumbnails();
    let (big, small) = (r[0].document_id.clone().expect("doc"), r[1].document_id.clone().expect("doc"));
    let sha = r[0].sha256.clone().expect("sha");
    let full_ready = |sha: &str| {
        events.lock().expect("lock").iter().any(|e| matches!(e, ThumbnailEvent::FullReady { sha256 } if sha256 == sha))
    };
    assert!(full_ready(&sha), "the app hears that the full-size picture is ready");
    assert!(!full_ready(r[1].sha256.as_deref().expect("sha")), "1652 × 1791 fits the largest thumbnail");

    let jpeg = lib.view_full(&big).expect("view").expect("made");
    let full = image::load_from_memory(&jpeg).expect("a JPEG").into_rgb8();
    assert_eq!(full.dimensions(), (2400, 1800), "every pixel of the photo");
    // The same picture as the thumbnail, at four times its pixels: compare a few points.
    let thumb_path = lib.thumbnail(&big, 2048).expect("thumb").expect("made").path;
    let thumb = image::open(&thumb_path).expect("thumb").into_rgb8();
    for (x, y) in [(300, 200), (1200, 900), (2100, 1600)] {
        let (a, b) = (full.get_pixel(x, y), thumb.get_pixel(x * 2048 / 2400, y * 2048 / 2400));
        for c in 0..3 {
            assert!((i32::from(a[c]) - i32::from(b[c])).abs() < 24, "({x}, {y}): {a:?} vs the thumbnail's {b:?}");
        }
    }
    assert_eq!(lib.view_full(&small).expect("view"), None, "a photo within 2048 px is shown from its thumbnail");
    let full_views = || {
        lib.audit_list(Some(&big), 100)
            .expect("audit")
            .into_iter()
            .filter(|e| e.action == "view" && e.detail.get("full").is_some())
            .count()
    };
    assert_eq!(full_views(), 1, "showing it is an audited view");

    // A derived file: removed, it is asked for again (the thumbnail is shown meanwhile) and remade.
    let made = thumb_path.parent().and_then(|p| p.parent()).and_then(|p| p.parent()).expect("thumbs root");
    let full_path = made.join("full").join(&sha[..2]).join(format!("{sha}.jpg"));
    assert!(full_path.is_file(), "{} is where it is kept", full_path.display());
    std::fs::remove_file(&full_path).expect("remove");
    assert_eq!(lib.view_full(&big).expect("view"), None, "not there: being made again");
    lib.wait_for_thumbnails();
    assert!(lib.view_full(&big).expect("view").is_some(), "made again from the original");
    let report = lib.verify(Default::default()).expect("verify");
    assert!(report.ok && report.orphans.is_empty(), "the original is untouched, the rendition no stray: {report:?}");
}

#[test]
fn videos_get_a_poster_their_container_facts_a_proxy_when_unplayable_and_frames_saved_as_photos() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let (_d, lib, p) = open_with(move |o| {
        o.on_thumbnail = Some(Arc::new(move |e: &ThumbnailEvent| sink.lock().expect("lock").push(e.clone())))
    });
    let files = [fixture("vid_h264_rot90.mp4"), fixture("vid_hevc.mov"), fixture("vid_vp9.webm")];
    let r = lib.import_paths(&p, &files, Some(chairside_media::Kind::Extraoral), "test", &|_| {}).expect("import");
    lib.wait_for_thumbnails();
    let expected = [
        ("video/mp4", "h264", (240, 320), 270, true),
        ("video/quicktime", "hevc", (320, 240), 0, false),
        ("video/webm", "vp9", (320, 240), 0, true),
    ];
    let mut ids = Vec::new();
    for (i, (mime, codec, size, rotation, playable)) in expected.into_iter().enumerate() {
        assert_eq!(r[i].status, "imported", "{:?}: {:?}", files[i], r[i].error);
        let doc = r[i].document_id.clone().expect("doc");
        let shown = lib.show_document(&doc).expect("show");
        assert_eq!(shown.document.summary.mime, mime);
        let video = &shown.document.details.as_ref().expect("details")["video"];
        assert_eq!(video["codec"], codec, "{mime}");
        assert_eq!(video["rotation"], rotation, "{mime}");
        assert_eq!(video["playable"], playable, "{mime}");
        assert!((video["duration_s"].as_f64().expect("duration") - 2.0).abs() < 0.05, "{mime}: {video}");
        assert_eq!(video["fps"], 25.0, "{mime}");
        assert_eq!((shown.document.summary.width, shown.document.summary.height), (Some(size.0), Some(size.1)));
        assert_eq!(shown.document.summary.thumbnails.sizes(), vec![256, 1024, 2048], "{mime}: every size drawn");
        // The poster is the first frame that is not black (each clip starts with half a
        // second of black), upright: taller than wide for the clip filmed on its side.
        let t = lib.thumbnail(&doc, 256).expect("thumb").expect("exists");
        let img = image::open(&t.path).expect("jpeg").to_rgb8();
        let mean = img.pixels().map(|p| p.0.iter().map(|&c| c as u64).sum::<u64>()).sum::<u64>()
            / (3 * img.pixels().len() as u64);
        assert!(mean > 40, "{mime}: the poster is not the black lead-in (mean {mean})");
        assert_eq!(img.width() < img.height(), size.0 < size.1, "{mime}: turned as displayed");
        ids.push(doc);
    }
    let mp4 = lib.show_document(&ids[0]).expect("show");
    assert_eq!(mp4.document.summary.captured_at.as_deref(), Some("2024-03-05T09:30:00.000Z"), "from the container");

    // What plays: the original when the webview can, else the H.264 proxy made in the
    // background; every byte served is hash-checked, and starting playback is a view.
    let played = lib.video_file(&ids[0], true).expect("plays");
    assert!(!played.proxy);
    assert_eq!(std::fs::read(&played.path).expect("read"), std::fs::read(&files[0]).expect("source"));
    let proxy = lib.video_file(&ids[1], true).expect("the proxy is ready once the workers are idle");
    assert!(proxy.proxy);
    assert_eq!(proxy.mime, "video/mp4");
    #[cfg(unix)]
    assert_eq!(chairside_store::private::mode_of(&proxy.path).expect("mode") & 0o777, 0o600, "patient data");
    let (info, _, _) =
        chairside_media::video::inspect(&proxy.path, &Limits::default(), 256).expect("the proxy is a sound video");
    assert_eq!((info.codec.as_str(), info.playable, info.rotation), ("h264", true, 0));
    assert!((info.duration_s - 2.0).abs() < 0.1, "{info:?}");
    let sha = r[1].sha256.clone().expect("sha");
    assert!(
        events
            .lock()
            .expect("lock")
            .iter()
            .any(|e| matches!(e, ThumbnailEvent::ProxyReady { sha256 } if *sha256 == sha)),
        "the app hears that the proxy is ready"
    );
    let views = |doc: &str| {
        lib.audit_list(Some(doc), 100)
            .expect("audit")
            .into_iter()
            .filter(|e| e.action == "view" && e.detail.get("video").is_some())
            .count()
    };
    assert_eq!((views(&ids[0]), views(&ids[1])), (1, 1));
    lib.video_file(&ids[0], false).expect("a later range of the same playback");
    assert_eq!(views(&ids[0]), 1, "only the request that starts playback is a view");
    let not_a_video = lib.import_paths(&p, &[fixture("orient_1.jpg")], None, "test", &|_| {}).expect("import");
    let e = lib.video_file(not_a_video[0].document_id.as_deref().expect("doc"), false).expect_err("a photo");
    assert_eq!(e.code(), "not_a_video");

    // "Save this frame as a photo": a new document of the same patient and kind, upright,
    // dated when the frame was filmed, linked to the video; the same frame twice is one photo.
    let saved = lib.save_video_frame(&ids[0], 1.0).expect("frame");
    assert!(saved.new);
    assert_eq!((saved.width, saved.height), (240, 320));
    let photo = lib.show_document(&saved.document_id).expect("show");
    assert_eq!(photo.document.summary.mime, "image/jpeg");
    assert_eq!(photo.document.summary.kind, chairside_media::Kind::Extraoral);
    assert_eq!(photo.document.patient_id, p);
    assert_eq!(photo.document.summary.captured_at.as_deref(), Some("2024-03-05T09:30:01.000Z"));
    let linked = lib.owner_documents(chairside_media::DOCUMENT_OWNER_TYPE, &ids[0]).expect("links");
    assert_eq!(linked.len(), 1);
    assert_eq!(
        (linked[0].document_id.as_str(), linked[0].role.as_deref()),
        (saved.document_id.as_str(), Some("frame"))
    );
    let again = lib.save_video_frame(&ids[0], 1.0).expect("frame");
    assert_eq!((again.new, again.document_id.as_str()), (false, saved.document_id.as_str()));
    let e = lib.save_video_frame(&ids[0], f64::NAN).expect_err("not a time");
    assert_eq!(e.code(), "invalid_edit");
    let report = lib.verify(chairside_media::VerifyOptions::default()).expect("verify");
    assert!(report.ok, "{report:?}");
}

#[test]
fn a_cut_off_or_disguised_video_is_refused_and_nothing_is_stored() {
    let (dir, lib, p) = open_with(|o| o.limits = Limits { max_video_bytes: 50_000, ..Limits::default() });
    let renamed = dir.path().join("scan.stl");
    std::fs::copy(fixture("vid_vp9.webm"), &renamed).expect("copy");
    let files = [fixture("broken_truncated.mp4"), fixture("vid_h264_rot90.mp4"), renamed];
    let r = lib.import_paths(&p, &files, None, "test", &|_| {}).expect("import");
    let code = |i: usize| r[i].error.as_ref().map(|e| e.code.clone());
    assert_eq!(code(0).as_deref(), Some("corrupt_file"), "{:?}", r[0].error);
    assert!(r[0].error.as_ref().expect("error").message.contains("cut off"), "{:?}", r[0].error);
    assert_eq!(code(1).as_deref(), Some("file_too_large"), "62 KB is over a 50 KB video limit");
    assert_eq!(code(2).as_deref(), Some("content_mismatch"), "{:?}", r[2].error);
    assert_eq!(lib.media().count().expect("count"), 0);
}

#[test]
fn dicom_in_every_encoding_is_previewed_multi_frame_files_are_scrolled_and_a_stranger_is_flagged() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = Library::open(LibraryOptions::new(dir.path())).expect("open");
    // The chart of the patient the CT file names (Patient ID 1CT1, "CompressedSamples^CT1").
    let own = lib
        .add_patient(&NewPatient {
            name: "CT1 Compressedsamples".into(),
            external_id: Some("1CT1".into()),
            ..Default::default()
        })
        .expect("patient")
        .id;
    let other = lib
        .add_patient(&NewPatient { name: "Ada Lovelace".into(), external_id: Some("C-1".into()), ..Default::default() })
        .expect("patient")
        .id;
    let import = |patient: &str, name: &str| {
        let r = lib.import_paths(patient, &[fixture(name)], None, "test", &|_| {}).expect("import");
        assert_eq!(r[0].status, "imported", "{name}: {:?}", r[0].error);
        (r[0].document_id.clone().expect("id"), r[0].warnings.clone())
    };

    // Uncompressed, JPEG-LS lossless, JPEG lossless (process 14), JPEG baseline colour cine,
    // 12-bit lossy JPEG (extended, process 4).
    let (ct, warnings) = import(&own, "dcm_ct_small.dcm");
    assert!(warnings.is_empty(), "the file's own chart: {warnings:?}");
    let mut ids = vec![ct.clone()];
    for name in [
        "dcm_mr_jpegls_lossless.dcm",
        "dcm_us_jpeg_lossless.dcm",
        "dcm_us_jpeg_30frames.dcm",
        "dcm_mr_enhanced_10frames.dcm",
    ] {
        ids.push(import(&other, name).0);
    }
    lib.wait_for_thumbnails();
    for id in &ids {
        let d = lib.show_document(id).expect("show");
        assert!(!d.document.summary.thumbnails.is_empty(), "{:?} has a preview", d.document.summary.original_filename);
        lib.view_adjusted(id, 512, false, 0).expect("a rendition of the first frame");
    }

    // The attributes a reader wants, kept and shown.
    let mr = lib.show_document(&ids[1]).expect("show");
    let dicom = &mr.document.details.as_ref().expect("details")["dicom"];
    assert_eq!(dicom["modality"], "MR");
    assert_eq!(dicom["patient_id"], "4MR1");
    assert_eq!(dicom["transfer_syntax"], "JPEG-LS Lossless Image Compression");
    assert_eq!(dicom["pixel_spacing_mm"], serde_json::json!([0.3125, 0.3125]));
    assert!(dicom["windows"].as_array().is_some_and(|w| !w.is_empty()), "its window presets: {dicom}");
    // Imported into another chart: flagged at import and in the viewer.
    let (_, warnings) = import(&other, "dcm_ct_small.dcm");
    assert!(
        warnings.len() == 1 && warnings[0].contains("1CT1") && warnings[0].contains("Ada Lovelace"),
        "the CT in Ada's chart: {warnings:?}"
    );
    let flagged = mr.patient_mismatch.expect("the MR names another patient");
    assert!(flagged.contains("4MR1") && flagged.contains("C-1"), "{flagged}");
    assert!(lib.show_document(&ct).expect("show").patient_mismatch.is_none());

    // A cine: 30 frames, its frame time, each frame rendered on its own.
    let us = &ids[3];
    let d = lib.show_document(us).expect("show");
    let dicom = &d.document.details.as_ref().expect("details")["dicom"];
    assert_eq!(dicom["frames"], 30);
    assert!(dicom["frame_ms"].as_f64().is_some_and(|ms| (ms - 33.333).abs() < 0.01), "{dicom}");
    let first = lib.view_adjusted(us, 256, false, 0).expect("frame 1");
    let middle = lib.view_adjusted(us, 256, false, 15).expect("frame 16");
    assert_ne!(first, middle, "another frame is another picture");
    let refused = lib.view_adjusted(us, 256, false, 30).expect_err("there is no frame 31");
    assert!(refused.to_string().contains("30 frame"), "{refused}");

    // A grey multi-frame: the live window reads the frame asked for at full depth.
    let enhanced = &ids[4];
    let g0 = lib.view_grey(enhanced, 64, 0).expect("grey").expect("a grey view");
    let g9 = lib.view_grey(enhanced, 64, 9).expect("grey").expect("a grey view");
    assert_ne!(g0, g9, "slices differ");

    // Scrolling through frames is one viewing in the audit, not one event a frame.
    let views = || lib.audit_list(Some(us), 1000).expect("audit").iter().filter(|e| e.action == "view").count();
    let before = views();
    for frame in 1..30 {
        lib.view_adjusted(us, 256, false, frame).expect("frame");
    }
    assert!(views() - before <= 1, "{} events for one scroll", views() - before);
}

#[test]
fn a_dicomdir_imports_the_files_it_lists_as_one_action_and_never_a_file_outside_its_folder() {
    let (d, lib, p) = open_with(|_| {});
    let r = lib.import_paths(&p, &[fixture("dicomdir/DICOMDIR")], None, "test", &|_| {}).expect("import");
    assert_eq!(r.len(), 31, "the 31 instances it lists");
    assert!(r.iter().all(|f| f.status == "imported"), "{:?}", r.iter().find(|f| f.status != "imported"));
    assert!(r.iter().all(|f| !f.path.ends_with("DICOMDIR")), "the index is not a document");
    // The same folder imported as a folder: the DICOMDIR is passed over, the rest are known.
    let r = lib.import_paths(&p, &[fixture("dicomdir")], None, "test", &|_| {}).expect("import");
    assert_eq!((r.len(), r.iter().filter(|f| f.status == "duplicate").count()), (31, 31));

    // An index naming files outside its folder is refused whole; nothing is read or stored.
    let bad = d.path().join("cd");
    std::fs::create_dir_all(&bad).expect("mkdir");
    let index = std::fs::read(fixture("dicomdir/DICOMDIR")).expect("fixture");
    let mut escaped = index.clone();
    let mut at = 0;
    while let Some(i) = escaped[at..].windows(8).position(|w| w == b"77654033") {
        escaped[at + i..at + i + 8].copy_from_slice(b"..\\..\\..");
        at += i + 8;
    }
    assert_eq!(escaped.len(), index.len(), "same length, same structure");
    std::fs::write(bad.join("DICOMDIR"), escaped).expect("write");
    let before = lib.document_count().expect("count");
    let r = lib.import_paths(&p, &[bad.join("DICOMDIR")], None, "test", &|_| {}).expect("import");
    assert_eq!(r.len(), 1);
    let e = r[0].error.as_ref().expect("refused");
    assert_eq!(e.code, "corrupt_file");
    assert!(e.message.contains("outside its folder"), "{}", e.message);
    assert_eq!(lib.document_count().expect("count"), before);
}
