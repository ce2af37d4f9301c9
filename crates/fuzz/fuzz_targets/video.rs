#![no_main]
// See chairside_media::fuzz_targets::video; a crash found here becomes a file in
// crates/fuzz/regressions/video/, replayed by tests/fuzz_replay.rs in every test run.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chairside_media::fuzz_targets::video(data));
