//! Properties where order and repetition matter: importing again changes nothing, and any
//! sequence of archive/restore ends in the state of the last effective step, with one
//! history row per actual change and an intact audit chain.

use std::path::PathBuf;

use chairside_app::{Library, LibraryOptions};
use chairside_media::{StatusFilter, Transition};
use chairside_patients::NewPatient;
use proptest::prelude::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn open() -> (tempfile::TempDir, Library, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut options = LibraryOptions::new(dir.path());
    options.thumbnail_threads = Some(1);
    let lib = Library::open(options).expect("open");
    let p = lib.add_patient(&NewPatient { name: "Ada".into(), ..Default::default() }).expect("patient").id;
    (dir, lib, p)
}

const FILES: [&str; 4] = ["orient_1.jpg", "orient_6.webp", "png_rgba16.png", "dcm_ct_small.dcm"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn importing_any_selection_again_and_again_changes_nothing(
        picks in proptest::collection::vec(0usize..FILES.len(), 1..8),
        repeats in 1usize..4,
    ) {
        let (_dir, lib, p) = open();
        let paths: Vec<PathBuf> = picks.iter().map(|&i| fixture(FILES[i])).collect();
        let distinct: std::collections::BTreeSet<usize> = picks.iter().copied().collect();
        let first = lib.import_paths(&p, &paths, None, "test", &|_| {}).expect("import");
        let imported = first.iter().filter(|r| r.status == "imported").count();
        prop_assert_eq!(imported, distinct.len(), "each distinct file is imported once, the repeats are duplicates");
        for _ in 0..repeats {
            let again = lib.import_paths(&p, &paths, None, "test", &|_| {}).expect("import again");
            prop_assert!(again.iter().all(|r| r.status == "duplicate"));
        }
        let docs = lib.list_documents(&p, StatusFilter::All).expect("list");
        prop_assert_eq!(docs.len(), distinct.len());
        prop_assert!(docs.iter().all(|d| d.version == 1), "a duplicate import changes no document");
    }

    #[test]
    fn archive_restore_sequences_end_in_the_last_state_with_one_history_row_per_change(
        ops in proptest::collection::vec(any::<bool>(), 0..24),
    ) {
        let (_dir, lib, p) = open();
        let r = lib.import_paths(&p, &[fixture("orient_1.jpg")], None, "test", &|_| {}).expect("import");
        let doc = r[0].document_id.clone().expect("id");
        let mut archived = false;
        let mut changes = 0;
        for archive in ops {
            let t = if archive { lib.archive(&doc, Some("test")) } else { lib.restore(&doc) }.expect("transition");
            prop_assert_eq!(t == Transition::Changed, archive != archived, "a change happens exactly when the state differs");
            if archive != archived {
                changes += 1;
            }
            archived = archive;
        }
        let shown = lib.show_document(&doc).expect("show");
        prop_assert_eq!(shown.document.summary.status.as_str(), if archived { "archived" } else { "active" });
        prop_assert_eq!(shown.history.len(), 1 + changes, "import + one row per actual change");
        prop_assert_eq!(shown.document.summary.version as usize, 1 + changes);
        prop_assert!(lib.audit_verify().expect("audit").ok);
        let blobs = lib.list_documents(&p, StatusFilter::All).expect("list");
        prop_assert_eq!(blobs.len(), 1, "archiving never removes a document");
    }
}
