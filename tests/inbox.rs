//! Watched inbox folders with real OS events (inotify here): slow writers, bursts, temporary
//! names, renames, nested folders, a folder that vanishes and comes back, files that waited
//! while nobody watched, and the Unassigned tray.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chairside_app::{
    AfterImport, IMPORTED_SUBFOLDER, Inbox, InboxFolder, InboxNotice, InboxOptions, Library, LibraryOptions,
};
use chairside_media::{Kind, StatusFilter};
use chairside_patients::NewPatient;

/// A small, valid and distinct JPEG for each `n`.
fn jpeg(n: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(96, 64, |x, y| {
        image::Rgb([(x * 2 + n) as u8, (y * 3 + n / 256) as u8, ((x ^ y) + n * 7) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).expect("encode");
    out.into_inner()
}

struct Setup {
    _dir: tempfile::TempDir,
    lib: Arc<Library>,
    patient: String,
    inbox: PathBuf,
    notices: Arc<Mutex<Vec<InboxNotice>>>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = Arc::new(Library::open(LibraryOptions::new(dir.path().join("lib"))).expect("open"));
    let patient = lib.add_patient(&NewPatient { name: "Ada".into(), ..Default::default() }).expect("patient").id;
    let inbox = lib.default_inbox();
    Setup { _dir: dir, lib, patient, inbox, notices: Arc::new(Mutex::new(Vec::new())) }
}

fn timing() -> chairside_inbox::Options {
    chairside_inbox::Options { check_every: Duration::from_millis(200), ..Default::default() }
}

impl Setup {
    fn start(&self, options: InboxOptions) -> Inbox {
        let sink = Arc::clone(&self.notices);
        Inbox::start(Arc::clone(&self.lib), options, move |n| sink.lock().expect("lock").push(n)).expect("start")
    }

    fn start_default(&self) -> Inbox {
        self.start(InboxOptions { timing: timing(), ..Default::default() })
    }

    fn documents(&self) -> usize {
        self.lib.list_documents(&self.patient, StatusFilter::All).expect("list").len()
    }

    /// Writes one more file into `dir` and waits for its report. The watcher handles events in
    /// order and the importer reports batches in order, so once the marker is reported,
    /// everything that happened before it has been: what was not reported by then was not
    /// taken. This, not a pause, is what a "nothing else happened" check stands on.
    fn flush(&self, dir: &Path, n: u32) -> String {
        let name = format!("zz-marker-{n}.jpg");
        std::fs::write(dir.join(&name), jpeg(n)).expect("write the marker");
        wait_until("the marker's report", LIMIT, || self.outcomes().iter().any(|o| o.0 == name));
        name
    }

    /// The outcomes reported, the markers of [`Setup::flush`] left out.
    fn outcomes_but_markers(&self) -> Vec<(String, String)> {
        self.outcomes().into_iter().filter(|o| !o.0.starts_with("zz-marker-")).collect()
    }

    /// Every file outcome seen so far, as (file name, status).
    fn outcomes(&self) -> Vec<(String, String)> {
        let notices = self.notices.lock().expect("lock");
        notices
            .iter()
            .flat_map(|n| match n {
                InboxNotice::Files { files } => files
                    .iter()
                    .map(|f| {
                        let name = Path::new(&f.path).file_name().map(|s| s.to_string_lossy().into_owned());
                        (name.unwrap_or_default(), f.status.to_string())
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_file_written_slowly_is_imported_once_it_is_complete_and_moved_aside() {
    let s = setup();
    s.lib.set_active_patient(Some(&s.patient)).expect("active");
    let _inbox = s.start_default();
    let bytes = jpeg(1);
    let path = s.inbox.join("IMG_0001.jpg");
    // A sensor that keeps the file open and writes in chunks with pauses longer than the
    // settle time: the open writer is what keeps it from being taken early.
    let mut f = std::fs::File::create(&path).expect("create");
    for chunk in bytes.chunks(bytes.len() / 4 + 1) {
        f.write_all(chunk).expect("write");
        f.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(600));
    }
    assert_eq!(s.documents(), 0, "nothing imported while the writer holds the file");
    drop(f);
    wait_until("the import", LIMIT, || s.documents() == 1);
    wait_until("the move", LIMIT, || s.inbox.join(IMPORTED_SUBFOLDER).join("IMG_0001.jpg").is_file());
    assert!(!path.exists());
    // The file is moved aside before the importer reports its batch.
    wait_until("the report", LIMIT, || !s.outcomes().is_empty());
    assert_eq!(s.outcomes(), vec![("IMG_0001.jpg".to_string(), "imported".to_string())]);
}

#[test]
fn a_writer_that_reopens_between_chunks_ends_with_one_document() {
    let s = setup();
    s.lib.set_active_patient(Some(&s.patient)).expect("active");
    let _inbox = s.start_default();
    let bytes = jpeg(2);
    let path = s.inbox.join("reopened.jpg");
    for chunk in bytes.chunks(bytes.len() / 3 + 1) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("open");
        f.write_all(chunk).expect("write");
        drop(f);
        std::thread::sleep(Duration::from_millis(400));
    }
    wait_until("the import", LIMIT, || s.documents() == 1);
    wait_until("the move", LIMIT, || !path.exists());
    wait_until("the report", LIMIT, || s.outcomes().iter().any(|o| o.1 == "imported"));
    // A partial file may have been tried and refused on the way; the finished one went in.
    let outcomes = s.outcomes();
    assert_eq!(outcomes.last().map(|o| o.1.as_str()), Some("imported"), "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.1 == "imported" || o.1 == "rejected"), "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| o.1 == "imported").count(), 1);
}

#[test]
fn a_burst_of_200_files_is_imported_with_none_missed_or_doubled() {
    let s = setup();
    s.lib.set_active_patient(Some(&s.patient)).expect("active");
    let _inbox = s.start_default();
    let files: Vec<Vec<u8>> = (0..200).map(|i| jpeg(1000 + i)).collect();
    for (i, bytes) in files.iter().enumerate() {
        std::fs::write(s.inbox.join(format!("burst_{i:03}.jpg")), bytes).expect("write");
    }
    wait_until("200 documents", Duration::from_secs(120), || s.documents() == 200);
    wait_until("every file moved", LIMIT, || {
        std::fs::read_dir(&s.inbox).expect("read").flatten().filter(|e| e.path().is_file()).count() == 0
    });
    wait_until("every report", LIMIT, || s.outcomes().len() >= 200);
    let outcomes = s.outcomes();
    assert_eq!(outcomes.len(), 200, "each file reported exactly once");
    assert!(outcomes.iter().all(|o| o.1 == "imported"), "{outcomes:?}");
    let moved = std::fs::read_dir(s.inbox.join(IMPORTED_SUBFOLDER)).expect("imported").count();
    assert_eq!(moved, 200);
}

#[test]
fn temporary_names_wait_for_their_rename_and_nested_folders_keep_their_layout() {
    let s = setup();
    s.lib.set_active_patient(Some(&s.patient)).expect("active");
    let _inbox = s.start_default();
    let part = s.inbox.join("scan.jpg.part");
    std::fs::write(&part, jpeg(3)).expect("write");
    std::fs::write(s.inbox.join("~$lock.jpg"), jpeg(4)).expect("write");
    std::fs::write(s.inbox.join("notes.tmp"), b"scratch").expect("write");
    s.flush(&s.inbox, 900);
    assert_eq!(s.documents(), 1, "temporary names are never taken (the one document is the marker)");
    assert!(s.outcomes_but_markers().is_empty(), "{:?}", s.outcomes());
    std::fs::rename(&part, s.inbox.join("scan.jpg")).expect("rename");
    // A folder copied in with a subfolder (created before and after its watch exists).
    let nested = s.inbox.join("2026-11-30").join("bitewings");
    std::fs::create_dir_all(&nested).expect("mkdir");
    std::fs::write(nested.join("bw1.jpg"), jpeg(5)).expect("write");
    std::fs::write(nested.join("bw2.jpg"), jpeg(6)).expect("write");
    wait_until("three documents and the marker", LIMIT, || s.documents() == 4);
    let moved = s.inbox.join(IMPORTED_SUBFOLDER).join("2026-11-30").join("bitewings").join("bw2.jpg");
    wait_until("the nested move", LIMIT, || moved.is_file());
    assert!(s.inbox.join("~$lock.jpg").is_file() && s.inbox.join("notes.tmp").is_file());
}

#[test]
fn a_folder_that_disappears_and_comes_back_is_watched_again() {
    let s = setup();
    s.lib.set_active_patient(Some(&s.patient)).expect("active");
    let stick = s._dir.path().join("usb-stick");
    std::fs::create_dir_all(&stick).expect("mkdir");
    let folder =
        InboxFolder { path: stick.display().to_string(), kind: Some(Kind::Xray), after_import: AfterImport::Move };
    let _inbox = s.start(InboxOptions { folders: Some(vec![folder]), timing: timing(), ..Default::default() });
    std::fs::write(stick.join("a.jpg"), jpeg(7)).expect("write");
    wait_until("the first import", LIMIT, || s.documents() == 1);
    std::fs::remove_dir_all(&stick).expect("unplug");
    wait_until("the folder reported missing", LIMIT, || {
        s.notices.lock().expect("lock").iter().any(|n| matches!(n, InboxNotice::FolderUnavailable { .. }))
    });
    std::fs::create_dir_all(&stick).expect("plug in");
    std::fs::write(stick.join("b.jpg"), jpeg(8)).expect("write");
    wait_until("the import after the return", LIMIT, || s.documents() == 2);
    assert!(s.notices.lock().expect("lock").iter().any(|n| matches!(n, InboxNotice::FolderAvailable { .. })));
    let docs = s.lib.list_documents(&s.patient, StatusFilter::All).expect("list");
    assert!(docs.iter().all(|d| d.kind == Kind::Xray), "the folder's kind applies");
}

#[test]
fn files_that_arrived_while_closed_are_taken_at_start_and_left_files_are_not_taken_twice() {
    let s = setup();
    s.lib.set_active_patient(Some(&s.patient)).expect("active");
    let sensor = s._dir.path().join("sensor");
    std::fs::create_dir_all(&sensor).expect("mkdir");
    std::fs::write(sensor.join("x1.jpg"), jpeg(9)).expect("write");
    std::fs::write(sensor.join("x2.jpg"), jpeg(10)).expect("write");
    let folder = InboxFolder { path: sensor.display().to_string(), kind: None, after_import: AfterImport::Leave };
    s.lib.set_inbox_folder(&folder).expect("configure");
    let inbox = s.start_default();
    wait_until("both imported at start", LIMIT, || s.documents() == 2);
    inbox.stop();
    assert!(sensor.join("x1.jpg").is_file(), "left in place as configured");
    // Another patient is in the chair now: the files left in place must not follow them.
    let other = s.lib.add_patient(&NewPatient { name: "Grace".into(), ..Default::default() }).expect("p").id;
    s.lib.set_active_patient(Some(&other)).expect("active");
    s.notices.lock().expect("lock").clear();
    let _again = s.start_default();
    std::fs::write(sensor.join("x3.jpg"), jpeg(11)).expect("write");
    wait_until("the new file", LIMIT, || s.lib.list_documents(&other, StatusFilter::All).expect("list").len() == 1);
    wait_until("the report", LIMIT, || !s.outcomes().is_empty());
    s.flush(&sensor, 901);
    assert_eq!(s.outcomes_but_markers(), vec![("x3.jpg".to_string(), "imported".to_string())]);
}

#[test]
fn with_no_active_patient_files_wait_in_the_tray_until_assigned_and_failures_keep_their_reason() {
    let s = setup();
    let _inbox = s.start_default();
    std::fs::write(s.inbox.join("waiting.jpg"), jpeg(12)).expect("write");
    std::fs::write(s.inbox.join("broken.jpg"), &jpeg(13)[..300]).expect("write");
    wait_until("both in the tray", LIMIT, || s.lib.inbox_open_files().expect("files").len() == 2);
    assert_eq!(s.documents(), 0);
    let tray = s.lib.inbox_open_files().expect("files");
    assert!(tray.iter().all(|f| f.status == "waiting"), "{tray:?}");
    let paths: Vec<String> = tray.iter().map(|f| f.path.clone()).collect();
    let out = s.lib.assign_inbox_files(&s.patient, &paths).expect("assign");
    let status = |name: &str| out.iter().find(|f| f.path.ends_with(name)).map(|f| f.status.to_string());
    assert_eq!(status("waiting.jpg").as_deref(), Some("imported"));
    assert_eq!(status("broken.jpg").as_deref(), Some("rejected"));
    assert_eq!(s.documents(), 1);
    let left = s.lib.inbox_open_files().expect("files");
    assert_eq!(left.len(), 1, "the broken file stays, with its reason: {left:?}");
    assert_eq!(left[0].error.as_ref().map(|e| e.code.as_str()), Some("corrupt_file"));
    assert!(s.inbox.join("broken.jpg").is_file(), "a failed file stays where it is");
    assert!(s.inbox.join(IMPORTED_SUBFOLDER).join("waiting.jpg").is_file());
}

#[test]
fn the_bridge_opens_or_creates_the_patient_by_chart_number_and_makes_them_active() {
    let s = setup();
    let (p, created) = s.lib.open_external("C-77", "Grace Hopper", Some("1906-12-09")).expect("open");
    assert!(created);
    assert_eq!(s.lib.active_patient().expect("active").map(|a| a.id), Some(p.id.clone()));
    let (again, created) = s.lib.open_external("C-77", "G. Hopper", None).expect("open");
    assert!(!created);
    assert_eq!(again.id, p.id);
    assert_eq!(again.name, "Grace Hopper", "an existing chart is not renamed");
    assert!(s.lib.open_external("  ", "Nobody", None).is_err());
}

#[test]
fn files_waiting_in_the_tray_do_not_follow_whoever_is_in_the_chair_at_the_next_start() {
    let s = setup();
    let inbox = s.start_default();
    std::fs::write(s.inbox.join("unassigned.jpg"), jpeg(21)).expect("write");
    wait_until("the file in the tray", LIMIT, || s.lib.inbox_open_files().expect("files").len() == 1);
    inbox.stop();
    s.lib.set_active_patient(Some(&s.patient)).expect("active");
    s.notices.lock().expect("lock").clear();
    let _again = s.start_default();
    std::fs::write(s.inbox.join("new.jpg"), jpeg(22)).expect("write");
    wait_until("the new file imported", LIMIT, || s.documents() == 1);
    wait_until("the report", LIMIT, || !s.outcomes().is_empty());
    s.flush(&s.inbox, 902);
    assert_eq!(s.outcomes_but_markers(), vec![("new.jpg".to_string(), "imported".to_string())]);
    let tray = s.lib.inbox_open_files().expect("files");
    assert_eq!(tray.len(), 1, "still waiting for someone to choose its patient");
    assert!(tray[0].path.ends_with("unassigned.jpg"));
}
