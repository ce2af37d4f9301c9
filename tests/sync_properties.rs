//! Convergence as a property: three workstations make random edits (the same fields too),
//! cut their change logs into segments, and receive each other's segments in random
//! interleavings, some twice. Every order must end in the same state everywhere.
//! The viewer's records take part: adjustments, annotations (added and removed), calibrations
//! and moves to another patient (and back), on the same documents as the other edits.
//! (No bucket here: the segments go from one library to another directly.)

use chairside_app::sync_engine::SyncError;
use chairside_app::sync_engine::log::{self, Segment};
use chairside_app::{Library, LibraryOptions};
use chairside_media::annotations::{AnnotationInput, AnnotationType};
use chairside_media::edits::AdjustChange;
use chairside_media::{DocumentPatch, StatusFilter};
use chairside_patients::NewPatient;
use proptest::prelude::*;

const TEXTS: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];

#[derive(Debug, Clone)]
enum Op {
    Notes {
        doc: usize,
        text: usize,
    },
    Teeth {
        doc: usize,
        tooth: u8,
    },
    Rename {
        text: usize,
    },
    Archive {
        doc: usize,
    },
    Restore {
        doc: usize,
    },
    AddNote {
        text: usize,
    },
    Link {
        doc: usize,
    },
    Unlink {
        doc: usize,
    },
    Adjust {
        doc: usize,
        turns: u16,
        contrast: i32,
    },
    Annotate {
        doc: usize,
        len: u8,
    },
    RemoveAnnotation {
        doc: usize,
    },
    Calibrate {
        doc: usize,
        mm: u8,
    },
    /// To the second patient, or back to the first when `back`.
    Move {
        doc: usize,
        back: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize, 0..4usize).prop_map(|(doc, text)| Op::Notes { doc, text }),
        (0..2usize, 11..18u8).prop_map(|(doc, tooth)| Op::Teeth { doc, tooth }),
        (0..4usize).prop_map(|text| Op::Rename { text }),
        (0..2usize).prop_map(|doc| Op::Archive { doc }),
        (0..2usize).prop_map(|doc| Op::Restore { doc }),
        (0..4usize).prop_map(|text| Op::AddNote { text }),
        (0..2usize).prop_map(|doc| Op::Link { doc }),
        (0..2usize).prop_map(|doc| Op::Unlink { doc }),
        (0..2usize, 0..4u16, -2..3i32).prop_map(|(doc, turns, contrast)| Op::Adjust {
            doc,
            turns,
            contrast: contrast * 10
        }),
        (0..2usize, 1..20u8).prop_map(|(doc, len)| Op::Annotate { doc, len }),
        (0..2usize).prop_map(|doc| Op::RemoveAnnotation { doc }),
        (0..2usize, 0..3u8).prop_map(|(doc, mm)| Op::Calibrate { doc, mm }),
        (0..2usize, proptest::bool::ANY).prop_map(|(doc, back)| Op::Move { doc, back }),
    ]
}

fn jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 ^ seed, y as u8, seed]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).expect("encode");
    out.into_inner()
}

/// Cuts every pending segment of `lib`, as the uploader would (blobs count as uploaded).
fn cut_all(lib: &Library) -> Vec<Segment> {
    let ws = lib.actor().workstation.clone();
    lib.db()
        .write(|tx| {
            tx.execute("INSERT OR IGNORE INTO sync_blobs (sha256) SELECT sha256 FROM blobs", [])?;
            tx.execute("UPDATE sync_blobs SET in_bucket = 1", [])?;
            while log::cut_segment(tx, &chairside_app::replicated(), &ws)?.is_some() {}
            let mut stmt = tx.prepare("SELECT body FROM sync_segments_out WHERE uploaded_at IS NULL ORDER BY first")?;
            let bodies: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            tx.execute("UPDATE sync_segments_out SET uploaded_at = 'test' WHERE uploaded_at IS NULL", [])?;
            Ok::<_, SyncError>(bodies)
        })
        .expect("cut")
        .iter()
        .map(|b| serde_json::from_str(b).expect("segment"))
        .collect()
}

/// The live copy of a document here: an archived one that was moved points at its copy (and
/// a move back restores the first).
fn live(lib: &Library, id: &str) -> String {
    let mut id = id.to_string();
    for _ in 0..4 {
        let shown = lib.show_document(&id).expect("doc");
        match shown.moved_to {
            Some(next) if shown.document.summary.status == chairside_media::Status::Archived => id = next,
            _ => break,
        }
    }
    id
}

/// An edit of an archived document (archived by another op) is refused; anything else must work.
fn unless_archived<T>(result: Result<T, chairside_app::AppError>) {
    if let Err(e) = result {
        assert!(format!("{e:?}").contains("archived"), "refused for another reason: {e:?}");
    }
}

fn apply(lib: &Library, segment: &Segment) {
    let applied = lib.db().write(|tx| log::apply_segment(tx, &chairside_app::replicated(), segment)).expect("apply");
    assert!(!matches!(applied, log::Applied::Gap { .. }), "delivered in order, never a gap: {applied:?}");
}

fn state(lib: &Library) -> Vec<String> {
    let mut out = Vec::new();
    for p in lib.list_patients(None).expect("patients") {
        out.push(format!("patient {} {}", p.id, p.name));
        for d in lib.list_documents(&p.id, StatusFilter::All).expect("docs") {
            let doc = lib.show_document(&d.id).expect("doc").document;
            let full = lib.show_document(&d.id).expect("doc");
            let mut links: Vec<String> =
                full.links.iter().filter(|l| l.owner_type != "patient").map(|l| l.id.clone()).collect();
            links.sort();
            out.push(format!(
                "doc {} {:?} {:?} {:?} live links {links:?}",
                d.id, doc.summary.status, doc.notes, doc.summary.teeth
            ));
            let a = &full.adjustments;
            let mut notes: Vec<String> = full
                .annotations
                .iter()
                .map(|n| {
                    format!(
                        "{} {:?} {:?} {:?}",
                        n.id,
                        n.kind,
                        n.points,
                        n.measurement.as_ref().map(|m| (m.value, m.unit))
                    )
                })
                .collect();
            notes.sort();
            out.push(format!(
                "  turned {} contrast {} calibration {:?} moved {:?}<-{:?} annotations {notes:?}",
                a.rotate, a.contrast, full.calibration.mm_per_pixel, full.moved_to, full.moved_from
            ));
        }
        let mut notes: Vec<String> =
            lib.list_notes(&p.id).expect("notes").into_iter().map(|n| format!("note {} {}", n.id, n.text)).collect();
        notes.sort();
        out.extend(notes);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_delivery_order_converges(
        ops in proptest::collection::vec((0..3usize, op()), 1..24),
        orders in proptest::collection::vec(proptest::collection::vec(0..8usize, 0..40), 3),
        duplicate in 0..3usize,
    ) {
        let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("tmp")).collect();
        let libs: Vec<Library> = dirs
            .iter()
            .map(|d| Library::open(LibraryOptions { thumbnail_threads: Some(1), ..LibraryOptions::new(d.path().join("lib")) }).expect("open"))
            .collect();
        // The common start: workstation 0's patient and two photos, applied everywhere.
        let p = libs[0].add_patient(&NewPatient { name: "Start".into(), ..Default::default() }).expect("p").id;
        let other = libs[0].add_patient(&NewPatient { name: "Other".into(), ..Default::default() }).expect("p2").id;
        let paths: Vec<_> = (0..2u8).map(|i| {
            let path = dirs[0].path().join(format!("{i}.jpg"));
            std::fs::write(&path, jpeg(i)).expect("write");
            path
        }).collect();
        let docs: Vec<String> = libs[0].import_paths(&p, &paths, None, "test", &|_| {}).expect("import")
            .into_iter().map(|r| r.document_id.expect("doc")).collect();
        let note = libs[0].add_note(&p, "linked from every workstation").expect("note").id;
        let base = cut_all(&libs[0]);
        for lib in &libs[1..] {
            for s in &base { apply(lib, s); }
        }
        // The others' own first segments (their audit trail so far) travel too.
        let mut logs: Vec<Vec<Segment>> = vec![base.clone(), cut_all(&libs[1]), cut_all(&libs[2])];

        for (ws, op) in &ops {
            let lib = &libs[*ws];
            match op {
                Op::Notes { doc, text } => { lib.update_document(&docs[*doc], &DocumentPatch { notes: Some(TEXTS[*text].into()), ..Default::default() }).expect("notes"); }
                Op::Teeth { doc, tooth } => { lib.update_document(&docs[*doc], &DocumentPatch { teeth: Some(tooth.to_string()), ..Default::default() }).expect("teeth"); }
                Op::Rename { text } => { lib.update_patient(&p, &NewPatient { name: TEXTS[*text].into(), ..Default::default() }).expect("rename"); }
                Op::Archive { doc } => { lib.archive(&docs[*doc], None).expect("archive"); }
                Op::Restore { doc } => { lib.restore(&docs[*doc]).expect("restore"); }
                Op::AddNote { text } => { lib.add_note(&p, TEXTS[*text]).expect("note"); }
                // Refused when this workstation already has (or has not) the link: fine.
                Op::Link { doc } => { let _ = lib.link(&docs[*doc], "clinical_note", &note, None); }
                Op::Unlink { doc } => { let _ = lib.unlink(&docs[*doc], "clinical_note", &note); }
                // The viewer's records are made on whichever copy is live here: the original,
                // or its copy in the other chart once it has been moved.
                Op::Adjust { doc, turns, contrast } => {
                    let id = live(lib, &docs[*doc]);
                    unless_archived(lib.adjust(&id, &AdjustChange { rotate: Some(turns * 90), contrast: Some(*contrast), ..Default::default() }));
                }
                Op::Annotate { doc, len } => {
                    let id = live(lib, &docs[*doc]);
                    let item = AnnotationInput { kind: AnnotationType::Length, points: vec![[1.0, 1.0], [1.0 + f64::from(*len), 1.0]], text: None, color: None, width: None };
                    unless_archived(lib.annotate(&id, &[item]));
                }
                Op::RemoveAnnotation { doc } => {
                    let id = live(lib, &docs[*doc]);
                    if let Some(first) = lib.annotations(&id).expect("annotations").first() {
                        unless_archived(lib.remove_annotation(&id, &first.id));
                    }
                }
                Op::Calibrate { doc, mm } => {
                    let id = live(lib, &docs[*doc]);
                    let line = (*mm > 0).then(|| ([0.0, 0.0], [10.0, 0.0], f64::from(*mm)));
                    unless_archived(lib.calibrate(&id, line));
                }
                // Refused when the document is archived here or already in that chart: fine.
                Op::Move { doc, back } => {
                    let id = live(lib, &docs[*doc]);
                    let _ = lib.move_documents(&[id], if *back { &p } else { &other }, "misfiled");
                }
            }
        }
        for (log, lib) in logs.iter_mut().zip(&libs) {
            log.extend(cut_all(lib));
        }
        // Workstation 0's first segment reached the others already; applying it again is a no-op.

        for (target, lib) in libs.iter().enumerate() {
            // Each source's segments in order (a peer never skips a gap), sources interleaved
            // as the generated order says; one segment delivered twice.
            let mut next = [0usize; 3];
            let sources: Vec<usize> = (0..3).filter(|s| *s != target).collect();
            let mut picks = orders[target].iter().cycle().take(orders[target].len() + 64);
            loop {
                let open: Vec<usize> = sources.iter().copied().filter(|s| next[*s] < logs[*s].len()).collect();
                if open.is_empty() { break; }
                let s = open[picks.next().copied().unwrap_or(0) % open.len()];
                apply(lib, &logs[s][next[s]]);
                if next[s] == 0 && s == (target + 1 + duplicate) % 3 { apply(lib, &logs[s][0]); }
                next[s] += 1;
            }
        }
        let first = state(&libs[0]);
        prop_assert_eq!(&first, &state(&libs[1]));
        prop_assert_eq!(&first, &state(&libs[2]));
    }
}

/// A peer's edit is in the document's history here, with the peer's workstation and user, and
/// bumps the version.
#[test]
fn a_peers_edit_is_in_the_history_with_its_workstation_and_user() {
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let libs: Vec<Library> = dirs
        .iter()
        .map(|d| {
            Library::open(LibraryOptions { thumbnail_threads: Some(1), ..LibraryOptions::new(d.path().join("lib")) })
                .expect("open")
        })
        .collect();
    let p = libs[0].add_patient(&NewPatient { name: "Start".into(), ..Default::default() }).expect("p").id;
    let path = dirs[0].path().join("a.jpg");
    std::fs::write(&path, jpeg(7)).expect("write");
    let doc =
        libs[0].import_paths(&p, &[path], None, "test", &|_| {}).expect("import")[0].document_id.clone().expect("doc");
    for s in cut_all(&libs[0]) {
        apply(&libs[1], &s);
    }
    let before = libs[1].show_document(&doc).expect("doc").document.summary.version;
    libs[0]
        .update_document(&doc, &DocumentPatch { notes: Some("distal caries 26".into()), ..Default::default() })
        .expect("notes");
    libs[0].adjust(&doc, &AdjustChange { rotate: Some(90), ..Default::default() }).expect("adjust");
    for s in cut_all(&libs[0]) {
        apply(&libs[1], &s);
    }
    let shown = libs[1].show_document(&doc).expect("doc");
    assert!(shown.document.summary.version > before, "the version moved on");
    let theirs = libs[0].actor();
    let synced: Vec<_> = shown.history.iter().filter(|h| h.action == "sync").collect();
    assert_eq!(synced.len(), 1, "one entry for what the segment brought: {:?}", shown.history);
    let h = synced[0];
    assert_eq!((h.workstation.as_str(), h.actor.as_str()), (theirs.workstation.as_str(), theirs.user.as_str()));
    assert_eq!(h.version, shown.document.summary.version);
    assert_eq!(h.changes["notes"], "distal caries 26", "{}", h.changes);
    assert!(h.changes.get("adjustments").is_some(), "{}", h.changes);
}
