//! Convergence as a property: three workstations make random edits (the same fields too),
//! cut their change logs into segments, and receive each other's segments in random
//! interleavings, some twice. Every order must end in the same state everywhere.
//! (No bucket here: the segments go from one library to another directly.)

use chairside_app::sync_engine::SyncError;
use chairside_app::sync_engine::log::{self, Segment};
use chairside_app::{Library, LibraryOptions};
use chairside_media::{DocumentPatch, StatusFilter};
use chairside_patients::NewPatient;
use proptest::prelude::*;

const TEXTS: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];

#[derive(Debug, Clone)]
enum Op {
    Notes { doc: usize, text: usize },
    Teeth { doc: usize, tooth: u8 },
    Rename { text: usize },
    Archive { doc: usize },
    Restore { doc: usize },
    AddNote { text: usize },
    Link { doc: usize },
    Unlink { doc: usize },
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
