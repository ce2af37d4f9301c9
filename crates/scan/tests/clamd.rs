//! The client against a real clamd (Debian's clamav-daemon, a signature written by the test).

use std::time::Duration;

use chairside_scan::testing::{SIGNATURE, TestClamd, eicar, zip_with};
use chairside_scan::{Scanner, Verdict};

#[test]
fn a_real_clamd_finds_eicar_raw_and_inside_a_zip_and_passes_clean_bytes() {
    let dir = tempfile::tempdir().expect("dir");
    let daemon = TestClamd::start(dir.path());
    let clamd = daemon.clamd();
    assert!(clamd.version().expect("version").starts_with("ClamAV "));
    let infected = Verdict::Infected { signature: SIGNATURE.into() };
    assert_eq!(clamd.scan(&eicar()).expect("scan"), infected);
    let zip = zip_with("notes/readme.txt", &[eicar(), b" and some padding".repeat(50)].concat());
    assert!(!zip.windows(eicar().len()).any(|w| w == eicar()), "the archive must hide the bytes");
    assert_eq!(clamd.scan(&zip).expect("scan zip"), infected);
    assert_eq!(clamd.scan(b"a perfectly ordinary file").expect("scan"), Verdict::Clean);
    // More than one chunk of the protocol, and clean.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    assert_eq!(clamd.scan(&big).expect("scan big"), Verdict::Clean);
}

#[test]
fn a_file_over_clamds_stream_limit_is_a_scan_failure_that_says_what_to_raise() {
    let dir = tempfile::tempdir().expect("dir");
    let daemon = TestClamd::start_with(dir.path(), "StreamMaxLength 1M");
    let big = vec![7u8; 3 << 20];
    let err = daemon.clamd().scan(&big).expect_err("over the limit");
    assert_eq!(err.code(), "scan_failed", "{err}");
    assert!(err.to_string().contains("StreamMaxLength"), "{err}");
}

#[test]
fn a_stopped_daemon_is_unavailable_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let mut daemon = TestClamd::start(dir.path());
    let clamd = daemon.clamd().with_timeout(Duration::from_secs(5));
    daemon.stop();
    let started = std::time::Instant::now();
    let err = clamd.scan(&eicar()).expect_err("stopped");
    assert_eq!(err.code(), "scanner_unavailable", "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
