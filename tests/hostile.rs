//! A generated corpus of hostile files (over 200), each imported on its own through the app
//! API in this process: none may crash it, take more than 10 s, or raise its peak memory
//! over twice the decoded-pixel budget plus 64 MB. Each is refused with a stable code (or,
//! for the few that are harmless after all, imported), and the good file imported after all of
//! them still goes in.
//!
//! Alone in its test binary, so the peak resident size (VmHWM, reset before each file through
//! /proc/self/clear_refs) is this import's.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chairside_app::{Library, LibraryOptions};
use chairside_media::Limits;
use chairside_patients::NewPatient;
use chairside_tests::hostile_corpus::corpus;

fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn reset_peak() {
    // "5" resets the peak resident set size (Linux ≥ 4.0).
    std::fs::write("/proc/self/clear_refs", "5").expect("clear_refs");
}

#[test]
fn no_hostile_file_crashes_stalls_or_balloons_an_import() {
    let files = corpus();
    assert!(files.len() >= 200, "the corpus has {} files", files.len());
    let dir = tempfile::tempdir().expect("tmp");
    let src = tempfile::tempdir().expect("src");
    let lib = Library::open(LibraryOptions::new(dir.path())).expect("open");
    let p = lib.add_patient(&NewPatient { name: "Ada".into(), ..Default::default() }).expect("patient").id;
    let budget = Limits::default().max_decoded_bytes;
    let ceiling_kb = (2 * budget + (64 << 20)) / 1024;
    let mut worst = (Duration::ZERO, String::new());
    let mut heaviest = (0u64, String::new());
    let mut imported = 0;
    for (name, bytes) in &files {
        let path = src.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let baseline = {
            reset_peak();
            vm_hwm_kb()
        };
        let start = Instant::now();
        let results = lib.import_paths(&p, std::slice::from_ref(&path), None, "test", &|_| {}).expect("import call");
        lib.wait_for_thumbnails();
        let took = start.elapsed();
        let peak = vm_hwm_kb();
        let r = &results[0];
        assert!(took < Duration::from_secs(10), "{name} took {took:?}");
        assert!(
            peak <= ceiling_kb + baseline,
            "{name}: peak {peak} kB over the {ceiling_kb} kB ceiling (+{baseline} kB before)"
        );
        match r.status.as_str() {
            "rejected" => {
                let e = r.error.as_ref().expect("a rejection has its error");
                assert!(!e.code.is_empty() && e.message.contains(name.as_str()), "{name}: {e:?}");
            }
            _ => {
                // Bit flips and noise in places no decoder reads, a blank image that is large
                // but within the budget, and a compressed stream no page uses (never inflated)
                // are harmless; everything else must be refused.
                // A flipped byte in a model's coordinates or colours moves a vertex. A DICOM
                // whose encapsulated JPEG is damaged is still a whole DICOM: stored, its
                // preview grey in part or missing. A fax line flipped is a line of other dots.
                let harmless = [
                    "dicom_flip_",
                    "jpeg_noise_",
                    "png_real_bomb_",
                    "pdf_stream_bomb",
                    "ply_flip_",
                    "dicom_jpeg12_",
                    "tiff_fax_flip_",
                ]
                .iter()
                .any(|p| name.starts_with(p));
                assert!(harmless, "{name} should have been refused: {r:?}");
                imported += 1;
            }
        }
        if took > worst.0 {
            worst = (took, name.clone());
        }
        if peak.saturating_sub(baseline) > heaviest.0 {
            heaviest = (peak.saturating_sub(baseline), name.clone());
        }
        std::fs::remove_file(&path).expect("tidy");
    }
    println!(
        "{} hostile files: {imported} imported (harmless after all), {} refused; slowest {:?} ({}), largest peak rise {} MB ({})",
        files.len(),
        files.len() - imported,
        worst.0,
        worst.1,
        heaviest.0 / 1024,
        heaviest.1
    );
    // The library is whole afterwards: a good photo goes in, verify is clean.
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("orient_1.jpg");
    let r = lib.import_paths(&p, &[good], None, "test", &|_| {}).expect("import");
    assert_eq!(r[0].status, "imported");
    lib.wait_for_thumbnails();
    let report = lib.verify(chairside_media::VerifyOptions::default()).expect("verify");
    assert!(report.ok, "{report:?}");
}

/// Writes the corpus to `$CHAIRSIDE_HOSTILE_OUT` (the fuzz script seeds from it); run with
/// `cargo test -p chairside-tests --test hostile -- --ignored write_corpus`.
#[test]
#[ignore]
fn write_corpus() {
    let out = PathBuf::from(std::env::var("CHAIRSIDE_HOSTILE_OUT").expect("CHAIRSIDE_HOSTILE_OUT"));
    std::fs::create_dir_all(&out).expect("mkdir");
    for (name, bytes) in corpus() {
        std::fs::write(out.join(name), bytes).expect("write");
    }
}
