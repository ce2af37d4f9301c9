//! The clinical viewer's tools through the app API: adjustments that never touch the original,
//! thumbnails that follow the edit, measurements from a DICOM's Pixel Spacing and from a user's
//! calibration, a move to another patient with its edits and links, printing, and the refusals.

use std::path::PathBuf;

use chairside_app::{AuditFilter, Library, LibraryOptions};
use chairside_media::{AdjustChange, AnnotationInput, AnnotationType, CalibrationSource, MoveStatus};
use chairside_patients::NewPatient;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn open() -> (tempfile::TempDir, Library, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = Library::open(LibraryOptions::new(dir.path())).expect("open");
    let ana = lib.add_patient(&NewPatient {
        name: "Ana Kovač".into(),
        external_id: Some("C-1".into()),
        ..Default::default()
    });
    let bruno = lib.add_patient(&NewPatient { name: "Bruno Díaz".into(), ..Default::default() });
    (dir, lib, ana.expect("patient").id, bruno.expect("patient").id)
}

fn import(lib: &Library, patient: &str, name: &str) -> (String, String) {
    let r = lib.import_paths(patient, &[fixture(name)], None, "test", &|_| {}).expect("import");
    (r[0].document_id.clone().expect("imported"), r[0].sha256.clone().expect("sha"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn item(kind: AnnotationType, points: Vec<[f64; 2]>) -> AnnotationInput {
    AnnotationInput { kind, points, text: None, color: None, width: None }
}

fn code(e: chairside_app::AppError) -> String {
    e.code().to_string()
}

#[test]
fn an_adjusted_photo_keeps_its_original_and_its_thumbnails_follow_the_edit() {
    let (_d, lib, ana, _) = open();
    let (doc, sha) = import(&lib, &ana, "orient_6.jpg");
    lib.wait_for_thumbnails();
    let plain = lib.thumbnail(&doc, 256).expect("thumb").expect("ready");
    let a =
        lib.adjust(&doc, &AdjustChange { rotate: Some(90), invert: Some(true), ..Default::default() }).expect("adjust");
    assert_eq!((a.adjustments.rotate, a.adjustments.invert), (90, true));
    let edited = lib.thumbnail(&doc, 256).expect("thumb").expect("ready");
    assert_ne!(edited.path, plain.path, "an edited document shows its edited thumbnail");
    assert_eq!((edited.width, edited.height), (plain.height, plain.width), "turned a quarter");
    // The original is the same bytes with the same hash, read back.
    let (_, bytes) = lib.view_original(&doc).expect("original");
    assert_eq!(sha256_hex(&bytes), sha);
    let details = lib.show_document(&doc).expect("show");
    assert!(details.history.iter().any(|h| h.action == "adjust"));
    assert_eq!(details.adjustments.rotate, 90);
    // Reset: the original's thumbnail again, and one more history row.
    let reset = lib.adjust(&doc, &AdjustChange { reset: true, ..Default::default() }).expect("reset");
    assert!(reset.version > a.version);
    assert_eq!(lib.thumbnail(&doc, 256).expect("thumb").expect("ready").path, plain.path);
    // An unchanged adjustment writes nothing.
    let again = lib.adjust(&doc, &AdjustChange { reset: true, ..Default::default() }).expect("same");
    assert_eq!(again.version, reset.version);
}

#[test]
fn an_unedited_render_is_the_original_as_displayed() {
    let (_d, lib, ana, _) = open();
    for name in ["orient_1.jpg", "orient_6.jpg", "orient_6.webp", "png_chelsea_pentax.png"] {
        let (doc, _) = import(&lib, &ana, name);
        lib.wait_for_thumbnails();
        let out = tempfile::tempdir().expect("tmp");
        let path = out.path().join("r.png");
        let r = lib.render_document(&doc, &path, false, Some(1024)).expect("render");
        let thumb = lib.thumbnail(&doc, 1024).expect("thumb").expect("ready");
        assert_eq!((r.width, r.height), (thumb.width, thumb.height), "{name}: the displayed size");
        let a = image::open(&path).expect("png").into_rgb8();
        let b = image::open(&thumb.path).expect("jpeg").into_rgb8();
        let diff: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (*x as i64 - *y as i64).unsigned_abs()).sum();
        let mean = diff as f64 / a.as_raw().len() as f64;
        assert!(mean < 8.0, "{name}: the render matches the thumbnail's orientation (mean difference {mean:.1})");
    }
}

#[test]
fn a_dicom_is_measured_in_millimetres_from_its_pixel_spacing_and_a_user_can_calibrate() {
    let (_d, lib, ana, _) = open();
    let (doc, sha) = import(&lib, &ana, "dcm_ct_small.dcm");
    let c = lib.calibration(&doc).expect("calibration");
    assert_eq!(c.source, CalibrationSource::Dicom);
    // The file's Pixel Spacing is 0.661468 \ 0.661468 mm.
    let added =
        lib.annotate(&doc, &[item(AnnotationType::Length, vec![[10.0, 20.0], [110.0, 20.0]])]).expect("annotate");
    let m = added[0].measurement.clone().expect("measured");
    assert_eq!(m.unit, "mm");
    assert!(m.calibrated);
    let expected = 100.0 * 0.661468;
    assert!((m.value - expected).abs() / expected < 0.005, "{} mm, expected {expected}", m.value);
    // A ruler drawn over 50 pixels said to be 10 mm: the user's calibration comes first.
    let c = lib.calibrate(&doc, Some(([0.0, 0.0], [50.0, 0.0], 10.0))).expect("calibrate");
    assert_eq!((c.source, c.mm_per_pixel), (CalibrationSource::User, Some(0.2)));
    assert_eq!(lib.annotations(&doc).expect("list")[0].measurement.as_ref().map(|m| m.value), Some(20.0));
    let cleared = lib.calibrate(&doc, None).expect("clear");
    assert_eq!(cleared.source, CalibrationSource::Dicom);
    // A zero-length line or a zero length is refused.
    assert_eq!(
        code(lib.calibrate(&doc, Some(([5.0, 5.0], [5.0, 5.0], 10.0))).expect_err("zero")),
        "invalid_calibration"
    );
    assert_eq!(
        code(lib.calibrate(&doc, Some(([0.0, 0.0], [50.0, 0.0], 0.0))).expect_err("0 mm")),
        "invalid_calibration"
    );
    // Windowed from the full depth: a soft-tissue window in Hounsfield units renders.
    let w =
        lib.adjust(&doc, &AdjustChange { window: Some(Some([40.0, 400.0])), ..Default::default() }).expect("window");
    assert_eq!(w.adjustments.window, Some([40.0, 400.0]));
    let out = tempfile::tempdir().expect("tmp");
    let r = lib.render_document(&doc, &out.path().join("ct.pdf"), true, None).expect("pdf");
    assert!(std::fs::read(&r.path).expect("read").starts_with(b"%PDF"));
    let (_, bytes) = lib.view_original(&doc).expect("original");
    assert_eq!(sha256_hex(&bytes), sha, "the DICOM itself is untouched");
    // A photo has no spacing: pixels, marked not calibrated.
    let (photo, _) = import(&lib, &ana, "orient_1.jpg");
    let px = lib.annotate(&photo, &[item(AnnotationType::Length, vec![[0.0, 0.0], [30.0, 40.0]])]).expect("annotate");
    let m = px[0].measurement.clone().expect("measured");
    assert_eq!((m.value, m.unit, m.calibrated), (50.0, "px", false));
}

#[test]
fn bad_edits_annotations_and_moves_are_refused_and_change_nothing() {
    let (_d, lib, ana, bruno) = open();
    let (doc, _) = import(&lib, &ana, "orient_1.jpg");
    let version = lib.show_document(&doc).expect("show").document.summary.version;
    let crop = AdjustChange { crop: Some(Some([0, 0, 100_000, 10])), ..Default::default() };
    assert_eq!(code(lib.adjust(&doc, &crop).expect_err("crop")), "invalid_edit");
    assert_eq!(
        code(lib.annotate(&doc, &[item(AnnotationType::Line, vec![])]).expect_err("no points")),
        "invalid_annotation"
    );
    let far = item(AnnotationType::Arrow, vec![[0.0, 0.0], [1e7, 1e7]]);
    assert_eq!(code(lib.annotate(&doc, &[far]).expect_err("far")), "invalid_annotation");
    assert_eq!(code(lib.move_documents(std::slice::from_ref(&doc), &ana, "same").expect_err("same")), "move_refused");
    assert_eq!(
        code(lib.move_documents(std::slice::from_ref(&doc), "no-such", "x").expect_err("unknown")),
        "patient_not_found"
    );
    assert_eq!(code(lib.move_documents(std::slice::from_ref(&doc), &bruno, " ").expect_err("reason")), "move_refused");
    assert_eq!(code(lib.remove_annotation(&doc, "no-such").expect_err("annotation")), "annotation_not_found");
    let preset = AdjustChange { preset: Some("no-such".into()), ..Default::default() };
    assert_eq!(code(lib.adjust(&doc, &preset).expect_err("preset")), "unknown_preset");
    lib.archive(&doc, Some("blurred")).expect("archive");
    assert_eq!(
        code(lib.move_documents(std::slice::from_ref(&doc), &bruno, "x").expect_err("archived")),
        "move_refused"
    );
    // Several at once are moved all or none: the archived one among them stops the others.
    let (other, _) = import(&lib, &ana, "png_chelsea_pentax.png");
    let both = [other.clone(), doc.clone()];
    assert_eq!(code(lib.move_documents(&both, &bruno, "x").expect_err("one archived")), "move_refused");
    let kept = lib.show_document(&other).expect("other");
    assert_eq!(
        (kept.document.patient_id.as_str(), kept.document.summary.status, kept.moved_to),
        (ana.as_str(), chairside_media::Status::Active, None),
        "the first of the two is still in Ana's chart"
    );
    assert!(lib.list_documents(&bruno, chairside_media::StatusFilter::All).expect("bruno").is_empty());
    let details = lib.show_document(&doc).expect("show");
    assert_eq!(details.document.summary.version, version + 1, "only the archive changed it");
    assert!(details.annotations.is_empty());
    assert!(details.adjustments.is_identity());
    // A PDF has no pixels to adjust.
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("consent.pdf");
    std::fs::write(&path, chairside_media::pdf::craft::pdf("", &[])).expect("write");
    let r = lib.import_paths(&ana, &[path], None, "test", &|_| {}).expect("import");
    let pdf = r[0].document_id.clone().expect("imported");
    let turn = AdjustChange { rotate: Some(90), ..Default::default() };
    assert_eq!(code(lib.adjust(&pdf, &turn).expect_err("pdf")), "not_an_image");
}

#[test]
fn a_misfiled_photo_moves_with_its_edits_and_annotations_and_its_links_end() {
    let (_d, lib, ana, bruno) = open();
    let (doc, sha) = import(&lib, &ana, "orient_6.jpg");
    let note = lib.add_note(&ana, "caries 16").expect("note");
    lib.link(&doc, "clinical_note", &note.id, None).expect("link");
    lib.adjust(&doc, &AdjustChange { contrast: Some(25), ..Default::default() }).expect("adjust");
    lib.annotate(
        &doc,
        &[AnnotationInput { text: Some("here".into()), ..item(AnnotationType::Text, vec![[10.0, 10.0]]) }],
    )
    .expect("annotate");
    let moved = lib.move_documents(std::slice::from_ref(&doc), &bruno, "wrong chart").expect("move");
    let m = &moved[0];
    assert_eq!(m.status, MoveStatus::Moved);
    assert_eq!(m.ended_links, vec![format!("clinical_note:{}", note.id)]);
    let copy = lib.show_document(&m.new_id).expect("copy");
    assert_eq!(copy.document.patient_id, bruno);
    assert_eq!(copy.document.summary.sha256, sha);
    assert_eq!(copy.adjustments.contrast, 25);
    assert_eq!(copy.annotations.len(), 1);
    assert_eq!(copy.moved_from.as_deref(), Some(doc.as_str()));
    let actions: Vec<&str> = copy.history.iter().map(|h| h.action.as_str()).collect();
    assert!(
        actions.starts_with(&["import"]) && actions.contains(&"adjust") && actions.ends_with(&["move_in"]),
        "{actions:?}"
    );
    let source = lib.show_document(&doc).expect("source");
    assert_eq!(source.document.summary.status, chairside_media::Status::Archived);
    assert_eq!(source.moved_to.as_deref(), Some(m.new_id.as_str()));
    assert!(
        source
            .document
            .archive_reason
            .as_deref()
            .is_some_and(|r| r.contains("Bruno Díaz") && r.contains("wrong chart"))
    );
    assert!(source.links.is_empty(), "its links ended");
    assert!(lib.owner_documents("clinical_note", &note.id).expect("links").is_empty());
    // The audit names both patients.
    let events =
        lib.audit_query(&AuditFilter { entity: Some(doc.clone()), limit: 50, ..Default::default() }).expect("audit");
    let mv = events.iter().find(|e| e.action == "move").expect("move audited");
    assert_eq!(mv.detail["from_patient"], ana.as_str());
    assert_eq!(mv.detail["to_patient"], bruno.as_str());
    // The same move again changes nothing; moving back restores the first document.
    assert_eq!(
        lib.move_documents(std::slice::from_ref(&doc), &bruno, "again").expect("again")[0].status,
        MoveStatus::Unchanged
    );
    let back = lib.move_documents(std::slice::from_ref(&m.new_id), &ana, "it was Ana after all").expect("back");
    assert_eq!(back[0].new_id, doc);
    let restored = lib.show_document(&doc).expect("restored");
    assert_eq!(restored.document.summary.status, chairside_media::Status::Active);
    assert_eq!(restored.adjustments.contrast, 25);
    assert_eq!(restored.annotations.len(), 1, "the drawing it took along is not doubled on the way back");
    let (_, bytes) = lib.view_original(&doc).expect("original");
    assert_eq!(sha256_hex(&bytes), sha, "the original never changed");
}

#[test]
fn an_edit_after_signing_ends_the_signature_and_a_mount_prints_to_a_pdf() {
    let (_d, lib, ana, _) = open();
    let (doc, _) = import(&lib, &ana, "orient_1.jpg");
    let sig = lib.sign_document(&doc).expect("sign");
    assert!(sig.valid);
    lib.annotate(&doc, &[item(AnnotationType::Arrow, vec![[1.0, 1.0], [20.0, 20.0]])]).expect("annotate");
    let after = lib.show_document(&doc).expect("show").signatures;
    assert!(!after[0].valid, "an annotation after signing ends its validity");
    assert_eq!(after[0].changed_after.as_ref().map(|c| c.action.as_str()), Some("annotate"));

    let series = lib.start_series(&ana, "bitewings-4", Some("Recall")).expect("series").series;
    lib.place_in_series(&series.id, 0, &doc).expect("place");
    let out = tempfile::tempdir().expect("tmp");
    let r = lib.render_series(&series.id, &out.path().join("mount.pdf"), true).expect("print");
    let pdf = std::fs::read(&r.path).expect("read");
    assert!(pdf.starts_with(b"%PDF"));
    let events = lib
        .audit_query(&AuditFilter { entity: Some(series.id.clone()), limit: 10, ..Default::default() })
        .expect("audit");
    assert!(events.iter().any(|e| e.action == "export"), "printing is audited as an export");
    let png = lib.render_series(&series.id, &out.path().join("mount.png"), false).expect("png");
    assert!(png.width > png.height, "four bitewings side by side");
    assert_eq!(
        code(lib.render_document(&doc, &out.path().join("x.gif"), false, None).expect_err("gif")),
        "invalid_input"
    );
}

#[test]
fn a_patients_documents_export_to_one_pdf_read_back_by_poppler_and_a_selection_is_checked() {
    let (d, lib, ana, bruno) = open();
    let (turned, sha) = import(&lib, &ana, "orient_6.jpg");
    let (photo, _) = import(&lib, &ana, "png_chelsea_pentax.png");
    let (ct, _) = import(&lib, &ana, "dcm_ct_small.dcm");
    let (theirs, _) = import(&lib, &bruno, "orient_1.jpg");
    lib.adjust(&turned, &AdjustChange { rotate: Some(90), ..Default::default() }).expect("adjust");
    lib.annotate(&turned, &[item(AnnotationType::Arrow, vec![[10.0, 10.0], [200.0, 150.0]])]).expect("annotate");
    let out = d.path().join("referral.pdf");
    let all = lib.export_pdf(&ana, &[], &out).expect("export all");
    assert_eq!((all.pages, all.documents, all.skipped.len()), (3, 3, 0), "{all:?}");
    let info = std::process::Command::new("pdfinfo").arg(&out).output().expect("pdfinfo (poppler-utils) runs");
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Pages:           3"), "pdfinfo: {info}");
    // Every page renders in poppler.
    let pngs = d.path().join("page");
    let status = std::process::Command::new("pdftoppm").args(["-r", "20", "-png"]).arg(&out).arg(&pngs).status();
    assert!(status.is_ok_and(|s| s.success()), "pdftoppm");
    for n in 1..=3 {
        let page = d.path().join(format!("page-{n}.png"));
        let img = image::open(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(img.width() > 100 && img.height() > 100);
    }
    // Never overwritten; a selection keeps its order and refuses another patient's document.
    assert_eq!(code(lib.export_pdf(&ana, &[], &out).expect_err("exists")), "target_exists");
    let two = d.path().join("two.pdf");
    let sel = lib.export_pdf(&ana, &[ct.clone(), photo.clone()], &two).expect("selection");
    assert_eq!(sel.pages, 2);
    let stray = d.path().join("stray.pdf");
    assert_eq!(code(lib.export_pdf(&ana, &[photo.clone(), theirs], &stray).expect_err("theirs")), "document_not_found");
    assert!(!stray.exists(), "nothing written for a refused selection");
    // Audited as an export of each document; the originals unchanged.
    let events = lib.audit_list(Some(&turned), 50).expect("audit");
    assert!(events.iter().any(|e| e.action == "export"), "the export is in the audit trail");
    let (_, bytes) = lib.view_original(&turned).expect("original");
    assert_eq!(sha256_hex(&bytes), sha);
    // The ZIP export takes the same selection.
    let zip = lib.export_patient(&ana, std::slice::from_ref(&photo), &d.path().join("one.zip")).expect("zip");
    assert_eq!(zip.documents, 1);
}

#[test]
fn a_scanned_pdf_gets_its_first_page_as_thumbnails_and_every_page_is_shown_one_at_a_time() {
    let (d, lib, ana, bruno) = open();
    // A three-page referral, as this app writes one, brought back in as a scanned document.
    import(&lib, &bruno, "orient_6.jpg");
    import(&lib, &bruno, "png_chelsea_pentax.png");
    import(&lib, &bruno, "dcm_ct_small.dcm");
    let referral = d.path().join("referral.pdf");
    lib.export_pdf(&bruno, &[], &referral).expect("export");
    let r = lib.import_paths(&ana, &[referral], None, "test", &|_| {}).expect("import");
    let id = r[0].document_id.clone().expect("imported");
    lib.wait_for_thumbnails();
    let shown = lib.show_document(&id).expect("show");
    assert_eq!(shown.document.details.as_ref().expect("details")["pdf"]["pages"], 3);
    let sizes = shown.document.summary.thumbnails.sizes();
    assert_eq!(sizes, vec![256, 1024, 2048], "the first page at every size");
    let (w, h) = (shown.document.summary.width.expect("w"), shown.document.summary.height.expect("h"));
    assert!(w > 1000 && h > 1000, "recorded as the page scanned at 300 dpi: {w} × {h}");
    let thumb = image::open(&shown.document.summary.thumbnails.refs()[2].path).expect("thumbnail");
    assert_eq!(thumb.width().max(thumb.height()), 2048);
    let page = |n: u32| lib.view_adjusted(&id, 512, false, n);
    let (one, two, three) = (page(0).expect("page 1"), page(1).expect("page 2"), page(2).expect("page 3"));
    assert!(one != two && two != three, "each page is its own picture");
    let beyond = page(3).expect_err("no page 4");
    assert!(beyond.to_string().contains("3 page"), "{beyond}");
}

#[test]
fn a_multi_page_tiff_shows_each_page_and_counts_them() {
    let (d, lib, ana, _) = open();
    let fax = d.path().join("fax.tif");
    std::fs::write(&fax, chairside_media::tiff_pages::craft(3)).expect("write");
    let r = lib.import_paths(&ana, &[fax], None, "test", &|_| {}).expect("import");
    let id = r[0].document_id.clone().unwrap_or_else(|| panic!("imported: {:?}", r[0].error));
    let shown = lib.show_document(&id).expect("show");
    assert_eq!(shown.document.details.as_ref().expect("details")["tiff"]["pages"], 3);
    assert_eq!(
        (shown.document.summary.width, shown.document.summary.height),
        (Some(40), Some(30)),
        "the first page's size"
    );
    let page = |n: u32| lib.view_adjusted(&id, 256, false, n);
    let (one, three) = (page(0).expect("page 1"), page(2).expect("page 3"));
    assert_ne!(one, three, "another page, another picture");
    let third = image::load_from_memory(&three).expect("a JPEG");
    assert_eq!(third.width(), 42, "page 3 at its own size");
    assert!(page(3).is_err(), "there is no page 4");
}

#[test]
fn a_group_3_fax_is_imported_with_every_page_drawn_black_on_white() {
    let (_d, lib, ana, _) = open();
    let (id, _) = import(&lib, &ana, "tif_fax_g3_3pages.tif");
    lib.wait_for_thumbnails();
    let shown = lib.show_document(&id).expect("show");
    assert_eq!(shown.document.details.as_ref().expect("details")["tiff"]["pages"], 3);
    assert_eq!(shown.document.summary.thumbnails.sizes(), vec![256, 1024, 2048]);
    for page in 0..3 {
        let jpeg = lib.view_adjusted(&id, 512, false, page).expect("a page");
        let grey = image::load_from_memory(&jpeg).expect("a JPEG").to_luma8();
        let white = grey.pixels().filter(|p| p.0[0] > 200).count() as f64 / grey.len() as f64;
        let black = grey.pixels().filter(|p| p.0[0] < 60).count();
        assert!(
            white > 0.7 && black > 100,
            "page {}: a page of text, mostly white ({white:.2}), some ink ({black})",
            page + 1
        );
    }
}
