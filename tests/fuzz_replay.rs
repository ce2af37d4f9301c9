//! The fuzz corpus and every past crash, replayed as ordinary tests in every run: each file
//! goes through every fuzz target (`chairside_media::fuzz_targets`), the code `cargo fuzz`
//! drives in `scripts/bench-fuzz.sh`. A panic here is a regression of a crash once fixed.
//!
//! The inputs: the fixtures (real files from cameras, sensors and scanners), the generated
//! hostile corpus, and `crates/fuzz/regressions/<target>/` (each file a crash a fuzzer found).

use std::path::PathBuf;

use chairside_media::fuzz_targets::TARGETS;

fn files_in(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()) && !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("read")))
        .collect();
    out.sort();
    out
}

#[test]
fn every_seed_and_past_crash_goes_through_every_fuzz_target() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = files_in(&root.join("fixtures"));
    assert!(inputs.len() >= 10, "the fixtures are there");
    inputs.extend(chairside_tests::hostile_corpus::corpus());
    let mut regressions = 0;
    for (target, _) in TARGETS {
        let found = files_in(&root.join("../crates/fuzz/regressions").join(target));
        regressions += found.len();
        inputs.extend(found);
    }
    for (name, bytes) in &inputs {
        for (target, run) in TARGETS {
            let outcome = std::panic::catch_unwind(|| run(bytes));
            assert!(outcome.is_ok(), "fuzz target {target} panicked on {name}");
        }
    }
    println!("{} inputs ({regressions} past crashes) × {} targets: no panic", inputs.len(), TARGETS.len());
}
