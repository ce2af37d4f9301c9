//! Photo series and X-ray mounts: a capture session filled from the inbox and the camera, in
//! slot order, retakes that keep the earlier image, a clinic's own template, and the slot links
//! held to the same patient.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chairside_app::{Inbox, InboxOptions, Library, LibraryOptions};
use chairside_media::{Kind, StatusFilter};
use chairside_patients::NewPatient;

fn jpeg(n: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(80, 60, |x, y| {
        image::Rgb([(x * 3 + n * 17) as u8, (y * 4 + n) as u8, (n * 41) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).expect("encode");
    out.into_inner()
}

fn open() -> (tempfile::TempDir, Arc<Library>, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = Arc::new(Library::open(LibraryOptions::new(dir.path().join("lib"))).expect("open"));
    let p = lib.add_patient(&NewPatient { name: "Ada".into(), ..Default::default() }).expect("patient").id;
    (dir, lib, p)
}

fn import(lib: &Library, patient: &str, dir: &std::path::Path, n: u32) -> String {
    let path: PathBuf = dir.join(format!("photo-{n}.jpg"));
    std::fs::write(&path, jpeg(n)).expect("write");
    let r = lib.import_paths(patient, &[path], None, "test", &|_| {}).expect("import");
    r[0].document_id.clone().expect("imported")
}

#[test]
fn an_abo_series_is_filled_from_the_inbox_in_slot_order_with_each_slots_kind_and_teeth() {
    let (_d, lib, p) = open();
    let session = lib.start_capture(&p, "abo-8", None).expect("start");
    assert_eq!(session.next, Some(0));
    assert_eq!(lib.active_patient().expect("active").map(|a| a.id), Some(p.clone()));
    let _inbox = Inbox::start(Arc::clone(&lib), InboxOptions::default(), |_| {}).expect("inbox");
    // The camera software numbers its shots; they arrive in one go.
    for i in 0..8 {
        std::fs::write(lib.default_inbox().join(format!("IMG_{i:04}.jpg")), jpeg(100 + i)).expect("write");
    }
    let start = Instant::now();
    let view = loop {
        let v = lib.series_view(&session.series.id).expect("view");
        if v.next.is_none() {
            break v;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the series was not filled: {:?}", v.next);
        std::thread::sleep(Duration::from_millis(50));
    };
    let docs = lib.list_documents(&p, StatusFilter::All).expect("list");
    for s in &view.slots {
        let id = s.document_id.as_deref().expect("filled");
        let d = docs.iter().find(|d| d.id == id).expect("in the gallery");
        assert_eq!(d.kind.as_str(), s.slot.kind, "slot {} takes its kind", s.index + 1);
        assert_eq!(d.teeth, s.slot.teeth, "and its default teeth");
        let name = d.original_filename.as_deref().unwrap_or("");
        assert_eq!(name, format!("IMG_{:04}.jpg", s.index), "in the order the files were numbered");
    }
    assert_eq!(view.slots.iter().filter(|s| s.slot.kind == "extraoral").count(), 3);
    // The series is done: a ninth photo goes to the gallery only.
    std::fs::write(lib.default_inbox().join("IMG_0008.jpg"), jpeg(999)).expect("write");
    let start = Instant::now();
    while lib.list_documents(&p, StatusFilter::All).expect("list").len() < 9 {
        assert!(start.elapsed() < Duration::from_secs(30), "the ninth photo did not arrive");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lib.series_view(&session.series.id).expect("view"), view, "the finished mount is unchanged");
}

#[test]
fn a_retake_unmounts_the_earlier_image_without_losing_it() {
    let (d, lib, p) = open();
    let s = lib.start_series(&p, "bitewings-4", Some("Recall")).expect("start").series;
    assert_eq!(s.title, "Recall");
    let first = import(&lib, &p, d.path(), 1);
    let retake = import(&lib, &p, d.path(), 2);
    lib.place_in_series(&s.id, 1, &first).expect("place");
    let view = lib.place_in_series(&s.id, 1, &retake).expect("retake");
    assert_eq!(view.slots[1].document_id.as_deref(), Some(retake.as_str()));
    assert_eq!(view.slots[1].earlier, vec![first.clone()]);
    assert_eq!(view.next, Some(0));
    let kept = lib.show_document(&first).expect("kept");
    assert_eq!(kept.document.summary.status.as_str(), "active", "the earlier image stays in the gallery");
    assert_eq!(kept.document.summary.kind, Kind::Xray, "it had taken the slot's kind");
    // Moving a mounted image to another slot empties the one it left.
    let view = lib.place_in_series(&s.id, 3, &retake).expect("move");
    assert_eq!(view.slots[1].document_id, None);
    assert_eq!(view.slots[3].document_id.as_deref(), Some(retake.as_str()));
    let e = lib.place_in_series(&s.id, 4, &first).expect_err("slot 5 of 4");
    assert_eq!(e.code(), "invalid_input");
    assert!(e.to_string().contains("slots 1 to 4"), "{e}");
}

#[test]
fn camera_stills_fill_the_session_and_need_a_patient_in_the_chair() {
    let (_d, lib, p) = open();
    let e = lib.capture_still(&jpeg(1)).expect_err("nobody in the chair");
    assert_eq!(e.code(), "invalid_input");
    let session = lib.start_capture(&p, "compare-2", None).expect("start");
    let one = lib.capture_still(&jpeg(2)).expect("still");
    assert_eq!((one.file.status.as_str(), one.slot), ("imported", Some(0)));
    let two = lib.capture_still(&jpeg(3)).expect("still");
    assert_eq!(two.slot, Some(1));
    let three = lib.capture_still(&jpeg(4)).expect("still");
    assert_eq!(three.slot, None, "the series is complete; the still is in the gallery");
    assert!(lib.data_dir().join("tmp").read_dir().expect("tmp").next().is_none(), "no working copy left behind");
    let doc = lib.show_document(one.file.document_id.as_deref().expect("doc")).expect("doc");
    assert_eq!(doc.document.summary.kind, Kind::Intraoral);
    assert_eq!(lib.capture_session().expect("session").map(|s| s.series.id), Some(session.series.id.clone()));
    // Another patient in the chair: the session is not theirs.
    let other = lib.add_patient(&NewPatient { name: "Grace".into(), ..Default::default() }).expect("p").id;
    lib.set_active_patient(Some(&other)).expect("active");
    assert_eq!(lib.capture_session().expect("session"), None);
    let theirs = lib.capture_still(&jpeg(5)).expect("still");
    assert_eq!(theirs.slot, None);
}

#[test]
fn a_clinics_own_template_reads_teeth_in_its_notation_and_bad_ones_are_refused() {
    let (_d, lib, p) = open();
    lib.set_tooth_notation(chairside_app::teeth::Notation::Palmer).expect("notation");
    let new: chairside_app::series::NewTemplate = serde_json::from_value(serde_json::json!({
        "name": "Implant 36 follow-up",
        "columns": 2, "rows": 1,
        "slots": [
            {"name": "Periapical 36", "kind": "xray", "teeth": "LL6", "row": 0, "col": 0},
            {"name": "Buccal view", "kind": "intraoral", "teeth": "LL5 LL6 LL7", "rotation": 90, "row": 0, "col": 1}
        ]
    }))
    .expect("json");
    let t = lib.add_series_template(&new).expect("add");
    assert_eq!(t.slots[0].teeth.as_deref(), Some("36"));
    assert_eq!(t.slots[1].teeth.as_deref(), Some("35,36,37"));
    assert!(lib.series_templates().expect("list").iter().any(|x| x.id == t.id && !x.builtin));
    let view = lib.start_series(&p, &t.id, None).expect("start");
    assert_eq!(view.series.title, "Implant 36 follow-up");

    let mut bad = new.clone();
    bad.slots[0].teeth = Some("UR9".into());
    assert_eq!(lib.add_series_template(&bad).expect_err("tooth").code(), "invalid_teeth");
    let mut bad = new.clone();
    bad.slots[1].col = 0;
    assert_eq!(lib.add_series_template(&bad).expect_err("overlap").code(), "invalid_input");
    assert_eq!(lib.start_series(&p, "no-such", None).expect_err("template").code(), "template_not_found");
}

#[test]
fn a_series_only_takes_its_own_patients_documents() {
    let (d, lib, p) = open();
    let other = lib.add_patient(&NewPatient { name: "Grace".into(), ..Default::default() }).expect("p").id;
    let s = lib.start_series(&p, "compare-2", None).expect("start").series;
    let theirs = import(&lib, &other, d.path(), 7);
    let e = lib.place_in_series(&s.id, 0, &theirs).expect_err("another patient's photo");
    assert!(e.to_string().contains("another patient"), "{e}");
    assert_eq!(lib.series_view(&s.id).expect("view").next, Some(0), "nothing placed");
}
