//! Fifteen years of images: a library of DOCS documents across PATIENTS patients (one of them
//! with 5,000), each with a real, distinct original on disk, and the figures that must not
//! grow with it — open, search, a big patient's listing, the database's size, backup (full,
//! unchanged, after 200 new photos), verify (the script compares it with `sha256sum`).

use std::path::Path;
use std::time::Instant;

use chairside_app::{Library, LibraryOptions};
use chairside_media::{StatusFilter, VerifyOptions};
use chairside_patients::NewPatient;
use chairside_store::rusqlite::params;
use sha2::{Digest, Sha256};

use crate::figures::Figure;

const KINDS: [&str; 5] = ["intraoral", "extraoral", "xray", "document", "other"];
const BIG_PATIENT_DOCS: usize = 5_000;

/// `chairside-bench scale DOCS PATIENTS DIR BACKUP_DIR`.
pub fn run(docs: usize, patients: usize, root: &Path, backup: &Path) -> Result<(), String> {
    let e = |e: chairside_app::AppError| e.to_string();
    let lib = Library::open(LibraryOptions::new(root)).map_err(e)?;
    let started = Instant::now();
    let ids: Vec<String> = (0..patients)
        .map(|i| {
            let p = NewPatient {
                name: format!("Patient {i:05} Scale"),
                external_id: Some(format!("C-{i}")),
                ..Default::default()
            };
            lib.add_patient(&p).map(|p| p.id)
        })
        .collect::<Result<_, _>>()
        .map_err(e)?;
    eprintln!("scale: {patients} patients in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    seed(&lib, root, &ids, 0, docs, None)?;
    eprintln!("scale: {docs} documents (rows and originals) in {:.1} s", started.elapsed().as_secs_f64());
    drop(lib);

    let t = Instant::now();
    let lib = Library::open(LibraryOptions::new(root)).map_err(e)?;
    let first = lib.list_patients(None).map_err(e)?.len();
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    Figure::new(
        "scale_open",
        format!("library of {docs} documents opened and its patient list read ({first} patients)"),
        "< 1.5 s",
        format!("**{open_ms:.0} ms**"),
    )
    .value("ms", open_ms)
    .report()?;

    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let timed = |f: &dyn Fn() -> Result<usize, String>| -> Result<(f64, usize), String> {
        let mut runs = Vec::new();
        let mut n = 0;
        for _ in 0..20 {
            let t = Instant::now();
            n = f()?;
            runs.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        Ok((median(runs), n))
    };
    let probe = patients * 2 / 3;
    let (by_name, n1) = timed(&|| lib.list_patients(Some(&format!("Patient {probe:05}"))).map(|v| v.len()).map_err(e))?;
    let (by_chart, n2) = timed(&|| lib.list_patients(Some(&format!("C-{probe}"))).map(|v| v.len()).map_err(e))?;
    Figure::new(
        "scale_search",
        format!("patient search among {patients} patients, by name and by chart number"),
        "< 20 ms",
        format!("name **{by_name:.1} ms** ({n1} found), chart number **{by_chart:.1} ms** ({n2} found)"),
    )
    .value("name_ms", by_name)
    .value("chart_ms", by_chart)
    .report()?;
    let (list_ms, listed) = timed(&|| lib.list_documents(&ids[0], StatusFilter::All).map(|v| v.len()).map_err(e))?;
    Figure::new(
        "scale_list",
        format!("a {listed}-photo patient listed in a library of {docs}"),
        "< 10 ms",
        format!("median **{list_ms:.1} ms**"),
    )
    .value("ms", list_ms)
    .report()?;
    let db_bytes = std::fs::metadata(root.join("library.sqlite3")).map(|m| m.len()).unwrap_or(0);
    Figure::new(
        "scale_db",
        format!("database of {docs} documents"),
        "< 2 GB",
        format!("**{:.2} GB**", db_bytes as f64 / 1e9),
    )
    .value("bytes", db_bytes as f64)
    .report()?;

    let full = lib.backup(Some(backup), None).map_err(e)?;
    let unchanged = lib.backup(Some(backup), None).map_err(e)?;
    seed(&lib, root, &ids, docs, 200, None)?;
    let after = lib.backup(Some(backup), None).map_err(e)?;
    Figure::new(
        "scale_backup",
        format!("`backup` of {docs} documents: the first, an unchanged library, and after 200 new photos"),
        "unchanged < 30 s; 200 new < 10 s",
        format!(
            "first {:.0} s ({} files, the database's {:.2} GB); unchanged **{:.1} s**; after 200 new **{:.1} s** ({} files, {} bytes copied; {:.1} MB of the database's chunks written)",
            full.seconds,
            full.files_copied,
            full.database_bytes_written as f64 / 1e9,
            unchanged.seconds,
            after.seconds,
            after.files_copied,
            after.bytes_copied,
            after.database_bytes_written as f64 / 1e6
        ),
    )
    .value("first_s", full.seconds)
    .value("unchanged_s", unchanged.seconds)
    .value("after_200_s", after.seconds)
    .report()?;

    let t = Instant::now();
    let (report, _) = lib.verify_and_repair(VerifyOptions::default(), false).map_err(e)?;
    let secs = t.elapsed().as_secs_f64();
    let phases = report.seconds;
    println!(
        "verify_seconds={secs:.3} verify_originals_seconds={:.3} verify_database_seconds={:.3} verify_thumbnails_seconds={:.3} verify_sweep_seconds={:.3} verify_bytes={} verify_files={}",
        phases.originals, phases.database, phases.thumbnails, phases.sweep, report.bytes_checked, report.blobs_checked
    );
    Ok(())
}

/// Documents `from..from + n`: a distinct small original on disk each, and the rows import
/// would write (bare INSERTs: the API would take hours for a million).
/// A distinct original: a small text (the million-document library), or `size` bytes that do
/// not compress (the restore figure).
fn body(i: usize, size: Option<usize>) -> Vec<u8> {
    let head = format!("chairside scale bench original {i:09}\n");
    let Some(size) = size else { return format!("{head}{}", "x".repeat(900 + i % 200)).into_bytes() };
    let mut out = head.into_bytes();
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(size);
    out
}

/// `chairside-bench restore-figure DOCS MB DIR`: a library of DOCS originals of MB each,
/// backed up, then restored; prints the restore's time and bytes (the script times a plain
/// copy of the same files beside it).
pub fn restore_figure(docs: usize, mb: usize, dir: &Path) -> Result<(), String> {
    let e = |e: chairside_app::AppError| e.to_string();
    let root = dir.join("lib");
    let lib = Library::open(LibraryOptions::new(&root)).map_err(e)?;
    let ids: Vec<String> = (0..2)
        .map(|i| lib.add_patient(&NewPatient { name: format!("Restore {i}"), ..Default::default() }).map(|p| p.id))
        .collect::<Result<_, _>>()
        .map_err(e)?;
    seed(&lib, &root, &ids, 0, docs, Some(mb << 20))?;
    let b = lib.backup(Some(&dir.join("backup")), None).map_err(e)?;
    drop(lib);
    let t = Instant::now();
    let r = chairside_app::restore_library(&dir.join("backup"), None, &dir.join("restored")).map_err(e)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "restore_seconds={secs:.3} restore_bytes={} restore_files={} backup_seconds={:.3}",
        r.report.bytes_restored, r.report.files_restored, b.seconds
    );
    Ok(())
}

fn seed(
    lib: &Library,
    root: &Path,
    patients: &[String],
    from: usize,
    n: usize,
    size: Option<usize>,
) -> Result<(), String> {
    let blobs = chairside_media::LocalBlobStore::new(root.join("blobs"));
    let clinic = lib.clinic_id();
    let per_other =
        (from + n).saturating_sub(BIG_PATIENT_DOCS).div_ceil(patients.len().saturating_sub(1).max(1)).max(1);
    let per_transaction = if size.is_some() { 500 } else { 50_000 };
    for chunk in (from..from + n).collect::<Vec<_>>().chunks(per_transaction) {
        lib.db()
            .write(|tx| {
                let mut blob = tx.prepare_cached(
                    "INSERT INTO blobs (sha256, byte_size, mime, created_at, verified_at)
                     VALUES (?1, ?2, 'application/octet-stream', '2026-01-01T00:00:00.000Z', NULL)",
                )?;
                let mut doc = tx.prepare_cached(
                    "INSERT INTO documents (id, clinic_id, patient_id, sha256, kind, mime, byte_size, original_filename,
                        captured_at, imported_at, imported_by, workstation, source, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'application/octet-stream', ?6, ?7, ?8,
                        '2026-01-01T00:00:00.000Z', 'bench', 'bench', 'bench', 'active')",
                )?;
                for &i in chunk {
                    let body = body(i, size);
                    let sha = hex::encode(Sha256::digest(&body));
                    let path = blobs.path_of(&sha).map_err(|e| chairside_store::StoreError::Anchor(e.to_string()))?;
                    let write = || -> std::io::Result<()> {
                        std::fs::create_dir_all(path.parent().unwrap_or(root))?;
                        std::fs::write(&path, &body)
                    };
                    write().map_err(|e| chairside_store::StoreError::Anchor(format!("{}: {e}", path.display())))?;
                    let patient = if i < BIG_PATIENT_DOCS {
                        &patients[0]
                    } else {
                        &patients[1 + (i - BIG_PATIENT_DOCS) / per_other % (patients.len() - 1).max(1)]
                    };
                    let year = 2011 + i % 15;
                    let captured = format!("{year}-{:02}-{:02}T10:{:02}:00.000Z", 1 + i % 12, 1 + i % 28, i % 60);
                    blob.execute(params![sha, body.len() as i64])?;
                    doc.execute(params![
                        chairside_store::new_id(),
                        clinic,
                        patient,
                        sha,
                        KINDS[i % KINDS.len()],
                        body.len() as i64,
                        format!("IMG_{i:07}.JPG"),
                        captured
                    ])?;
                }
                Ok::<_, chairside_store::StoreError>(())
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
