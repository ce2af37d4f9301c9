//! `chairside-bench`: the measurements behind the README's performance section.
//!
//! - `thumbs FILE OUTDIR`: the three thumbnails of one photo, written to OUTDIR (run it under
//!   `/usr/bin/time` beside `vipsthumbnail`; see scripts/bench.sh).
//! - `sha MIB`: SHA-256 throughput, in memory and streaming from a file.
//! - `list DOCS PER_PATIENT`: `list` of one patient in a library of DOCS documents.
//! - `gallery DOCS DIR`: a library in DIR with one patient of DOCS real photos (small
//!   generated JPEGs, imported as a user would, capture dates spread over a year), for the
//!   desktop app's gallery figures (scripts/bench-app.sh).
//! - `xray-patient DIR`: adds to DIR's library, once, a patient with a 16-bit 3000×2500 X-ray
//!   (the app's live window/level figure).
//! - `inbox PHOTO_DIR [N]`: a watched inbox at work. N camera JPEGs (made distinct from the
//!   ones in PHOTO_DIR) written one at a time into the inbox, each timed from the writer's
//!   close to its 256-px thumbnail being ready for the grid; then a burst of 200 at once,
//!   checked for files missed or imported twice.
//! - `scale DOCS PATIENTS DIR BACKUP_DIR`: a library of DOCS documents with real originals,
//!   and what must not grow with it: open, search, listing, database size, backup, verify
//!   (scripts/bench-library.sh).
//! - `restore-figure DOCS MB DIR`: a backup of DOCS originals of MB each, restored, timed.
//! - `viewer DIR`: the clinical viewer's figures (scripts/bench-viewer.sh).
//! - `make-stl FILE TRIANGLES`, `make-dicom FILE MB`, `stl-thumbnail FILE`: the large files of
//!   scripts/bench-formats.sh, and a model's thumbnails drawn from its file.

use std::path::Path;
use std::time::{Duration, Instant};

use chairside_app::{Library, LibraryOptions};
use chairside_media::{Limits, StatusFilter, sniff};
use chairside_patients::NewPatient;
use chairside_store::rusqlite::params;
use sha2::{Digest, Sha256};

// The same allocator as the shipped binaries.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod auth_bench;
mod figures;
mod formats_bench;
mod scale;
mod sync_bench;
mod viewer_bench;

use figures::Figure;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result =
        match args.first().map(String::as_str) {
            Some("thumbs") if args.len() == 3 => thumbs(Path::new(&args[1]), Path::new(&args[2])),
            Some("seal") => seal(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1024)),
            Some("sha") => sha(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1024), args.get(2).and_then(|a| a.parse().ok())),
            Some("list") => list(
                args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000),
                args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5_000),
                args.get(3).map(std::path::PathBuf::from),
            ),
            Some("gallery") if args.len() == 3 => match args[1].parse() {
                Ok(n) => gallery(n, Path::new(&args[2])),
                Err(_) => Err(format!("not a number of documents: {}", args[1])),
            },
            Some("inbox") if args.len() >= 2 => {
                inbox(Path::new(&args[1]), args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50))
            }
            Some("photos") if args.len() == 4 => match (args[2].parse(), args[3].parse()) {
                (Ok(n), Ok(mb)) => sync_bench::photos(Path::new(&args[1]), n, mb),
                _ => Err("usage: chairside-bench photos DIR N MB".into()),
            },
            Some("sync-upload") if args.len() == 4 => match args[3].parse() {
                Ok(rclone) => sync_bench::upload(Path::new(&args[1]), Path::new(&args[2]), rclone),
                Err(_) => Err(format!("not a number of seconds: {}", args[3])),
            },
            Some("scale") if args.len() == 5 => match (args[1].parse(), args[2].parse()) {
                (Ok(docs), Ok(patients)) if patients > 1 => scale::run(docs, patients, Path::new(&args[3]), Path::new(&args[4])),
                _ => Err("usage: chairside-bench scale DOCS PATIENTS DIR BACKUP_DIR".into()),
            },
            Some("restore-figure") if args.len() == 4 => match (args[1].parse(), args[2].parse()) {
                (Ok(docs), Ok(mb)) => scale::restore_figure(docs, mb, Path::new(&args[3])),
                _ => Err("usage: chairside-bench restore-figure DOCS MB DIR".into()),
            },
            Some("auth") if args.len() >= 3 => match args[2].parse() {
                Ok(events) => auth_bench::run(Path::new(&args[1]), events, args.get(3).and_then(|a| a.parse().ok())),
                Err(_) => Err("usage: chairside-bench auth DIR EVENTS [ARGON2_COMMAND_MS]".into()),
            },
            Some("viewer") if args.len() == 2 => viewer_bench::run(Path::new(&args[1])),
            Some("xray-patient") if args.len() == 2 => viewer_bench::xray_patient(Path::new(&args[1])),
            Some("record") if args.len() >= 5 => record(&args[1..]),
            Some("make-stl") if args.len() == 3 => match args[2].parse() {
                Ok(n) => formats_bench::make_stl(Path::new(&args[1]), n),
                Err(_) => Err("usage: make-stl FILE TRIANGLES".into()),
            },
            Some("make-dicom") if args.len() == 3 => match args[2].parse() {
                Ok(mb) => formats_bench::make_dicom(Path::new(&args[1]), mb),
                Err(_) => Err("usage: make-dicom FILE MB".into()),
            },
            Some("stl-thumbnail") if args.len() == 2 => formats_bench::stl_thumbnail(Path::new(&args[1]), 5),
            Some("results") if args.len() == 3 => {
                figures::write_results(Path::new("."), &args[1], Path::new(&args[2])).map(|p| println!("{}", p.display()))
            }
            Some("readme") => readme(args.get(1).is_some_and(|a| a == "--check")),
            Some("sync-visibility") if args.len() >= 2 => {
                sync_bench::visibility(Path::new(&args[1]), args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20))
            }
            Some("sync-bootstrap") if args.len() >= 2 => sync_bench::bootstrap(
                Path::new(&args[1]),
                args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10_000),
                args.get(3).map(Path::new),
            ),
            _ => Err(
                "usage: chairside-bench thumbs FILE OUTDIR | sha [MIB] [OPENSSL_GBPS] | list [DOCS] [PER_PATIENT] [KEEP_DIR] | gallery DOCS DIR | inbox PHOTO_DIR [N] | sync-upload S3_ENV DIR RCLONE_SECONDS | sync-visibility S3_ENV [N] | sync-bootstrap S3_ENV [DOCS] [RGW_LOG] | scale DOCS PATIENTS DIR BACKUP_DIR | restore-figure DOCS MB DIR | auth DIR EVENTS [ARGON2_COMMAND_MS] | viewer DIR | xray-patient DIR | record ID WHAT TARGET MEASURED [NAME=VALUE…] | results SCRIPT FIGURES_FILE | readme [--check]"
                    .to_string(),
            ),
        };
    if let Err(e) = result {
        eprintln!("chairside-bench: {e}");
        std::process::exit(1);
    }
}

/// A figure measured by a script itself (a reference tool's time, a process's peak memory).
fn record(args: &[String]) -> Result<(), String> {
    let mut f = Figure::new(&args[0], args[1].as_str(), &args[2], args[3].as_str());
    for kv in &args[4..] {
        let (k, v) = kv.split_once('=').ok_or(format!("{kv}: expected NAME=VALUE"))?;
        f = f.value(k, v.parse().map_err(|_| format!("{kv}: not a number"))?);
    }
    f.report()
}

/// Renders the README's figure sections from `crates/bench/results` (run from the repository's
/// root); with `--check`, fails when the README differs instead of writing it.
fn readme(check: bool) -> Result<(), String> {
    let text = std::fs::read_to_string("README.md").map_err(|e| format!("README.md: {e}"))?;
    let fresh = figures::rendered_readme(&text, Path::new(figures::RESULTS_DIR))?;
    if fresh == text {
        return Ok(());
    }
    if check {
        return Err("README.md's figures differ from crates/bench/results: run `chairside-bench readme`".into());
    }
    std::fs::write("README.md", fresh).map_err(|e| format!("README.md: {e}"))
}

fn thumbs(file: &Path, out: &Path) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let format = match sniff(&bytes[..bytes.len().min(chairside_media::SNIFF_HEAD)], bytes.len() as u64) {
        chairside_media::Sniffed::Supported(f) => f,
        _ => return Err("not a supported image".into()),
    };
    let orientation = chairside_media::exif::read(&bytes, format).and_then(|e| e.orientation).unwrap_or(1);
    let start = Instant::now();
    let rendered = chairside_media::thumbs::render(&bytes, format, orientation, &Limits::default())
        .map_err(|e| format!("{e:?}"))?;
    for r in &rendered {
        std::fs::write(out.join(format!("{}.jpg", r.size)), &r.jpeg).map_err(|e| e.to_string())?;
    }
    eprintln!(
        "thumbs: {} in {:.1} ms wall ({})",
        file.display(),
        start.elapsed().as_secs_f64() * 1000.0,
        rendered.iter().map(|r| format!("{}x{}", r.width, r.height)).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

/// `openssl`: OpenSSL's SHA-256 speed on this CPU (GB/s), measured by the script, for reference.
/// `chairside-bench seal [MIB]`: the clinic-key sealing of an encrypted bucket on one core, a
/// 4 MB object at a time as sync seals originals, beside SHA-256 of the same bytes.
fn seal(mib: usize) -> Result<(), String> {
    let vault = chairside_vault::Vault::new(&chairside_vault::ClinicKey::from_bytes([1; 32]));
    let object: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let sha: [u8; 32] = Sha256::digest(&object).into();
    let rounds = mib.div_ceil(4).max(1);
    let mut out = Vec::with_capacity(object.len() + 4096);
    let start = Instant::now();
    for i in 0..rounds {
        let sealer = vault.sealer(&format!("blobs/{i}"), &sha, object.len() as u64);
        out.clear();
        out.extend_from_slice(sealer.header());
        for (index, chunk) in object.chunks(chairside_vault::CHUNK).enumerate() {
            sealer.seal_chunk_into(index as u64, chunk, &mut out);
        }
    }
    let seal_secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(Sha256::digest(&object));
    }
    let sha_secs = start.elapsed().as_secs_f64();
    let bytes = (rounds * object.len()) as f64;
    println!(
        "seal: {:.0} MB/s on one core (AES-256-GCM, 64 KiB chunks, 4 MB objects); SHA-256 of the same bytes {:.0} MB/s",
        bytes / seal_secs / 1e6,
        bytes / sha_secs / 1e6
    );
    Ok(())
}

fn sha(mib: usize, openssl: Option<f64>) -> Result<(), String> {
    let chunk: Vec<u8> = (0..64 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let rounds = mib.div_ceil(64).max(1);
    let start = Instant::now();
    let mut hasher = Sha256::new();
    for _ in 0..rounds {
        hasher.update(&chunk);
    }
    let digest = hex::encode(hasher.finalize());
    let secs = start.elapsed().as_secs_f64();
    let bytes = (rounds * chunk.len()) as f64;
    let in_memory = bytes / secs / 1e9;

    // Streaming, as import and verify do: 1 MiB reads from a file (in the page cache).
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("data.bin");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        for _ in 0..rounds {
            f.write_all(&chunk).map_err(|e| e.to_string())?;
        }
    }
    let start = Instant::now();
    let mut f = std::fs::File::open(&path).map_err(|e| e.to_string())?;
    let (d2, n) = chairside_media::blobstore::sha256_of(&mut f).map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    if d2 != digest {
        return Err("streaming and in-memory digests differ".into());
    }
    let from_file = n as f64 / secs / 1e9;
    let reference = openssl.map(|o| format!(" (OpenSSL on this CPU: {o:.2} GB/s)")).unwrap_or_default();
    let figure = Figure::new(
        "sha256",
        format!("SHA-256 streaming, {:.0} MiB", n as f64 / 1048576.0),
        "≥ 1 GB/s with SHA instructions",
        format!("**{from_file:.2} GB/s** from a file, {in_memory:.2} GB/s in memory{reference}"),
    )
    .value("file_gbps", from_file)
    .value("memory_gbps", in_memory);
    match openssl {
        Some(o) => figure.value("openssl_gbps", o),
        None => figure,
    }
    .report()
}

/// `keep`: build the library there (and leave it) instead of in a temporary folder.
fn list(total: usize, per_patient: usize, keep: Option<std::path::PathBuf>) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = keep.unwrap_or_else(|| dir.path().to_path_buf());
    let lib = Library::open(LibraryOptions::new(&root)).map_err(|e| e.to_string())?;
    let patients: Vec<String> = (0..total.div_ceil(per_patient))
        .map(|i| lib.add_patient(&NewPatient { name: format!("Patient {i}"), ..Default::default() }).map(|p| p.id))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    // Rows as import writes them (blob, document, three ready thumbnails); the files
    // themselves are not needed to measure the query.
    lib.db()
        .write(|tx| {
            let mut blob = tx.prepare(
                "INSERT INTO blobs (sha256, byte_size, mime, width, height, orientation, created_at)
                 VALUES (?1, 4000000, 'image/jpeg', 4000, 3000, 1, '2026-01-01T00:00:00.000Z')",
            )?;
            let mut doc = tx.prepare(
                "INSERT INTO documents (id, clinic_id, patient_id, sha256, kind, mime, byte_size, width, height, orientation,
                    thumbs_ready, original_filename, captured_at, imported_at, imported_by, workstation, source, status)
                 VALUES (?1, ?2, ?3, ?4, 'intraoral', 'image/jpeg', 4000000, 4000, 3000, 1, 7, ?5, ?6,
                    '2026-01-01T00:00:00.000Z', 'bench', 'bench', 'bench', ?7)",
            )?;
            let mut thumb = tx.prepare(
                "INSERT INTO thumbnails (sha256, size, width, height, format, status, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'jpg', 'ready', '2026-01-01T00:00:00.000Z')",
            )?;
            for i in 0..total {
                let sha = hex::encode(Sha256::digest(i.to_le_bytes()));
                blob.execute([&sha])?;
                let captured = format!("2025-{:02}-{:02}T10:{:02}:{:02}.000Z", 1 + i % 12, 1 + i % 28, i % 60, (i / 60) % 60);
                let status = if i % 10 == 0 { "archived" } else { "active" };
                doc.execute(params![
                    chairside_store::new_id(),
                    lib.clinic_id(),
                    patients[i / per_patient],
                    sha,
                    format!("IMG_{i:06}.JPG"),
                    captured,
                    status
                ])?;
                for (size, w, h) in [(256, 256, 192), (1024, 1024, 768), (2048, 2048, 1536)] {
                    thumb.execute(params![sha, size, w, h])?;
                }
            }
            Ok::<_, chairside_store::StoreError>(())
        })
        .map_err(|e| e.to_string())?;
    lib.db()
        .read(|c| c.execute_batch("ANALYZE").map_err(chairside_store::StoreError::from))
        .map_err(|e| e.to_string())?;
    eprintln!("list: populated {total} documents in {:.1} s", start.elapsed().as_secs_f64());

    let mut times: Vec<Duration> = Vec::new();
    let mut count = 0;
    for _ in 0..50 {
        let t = Instant::now();
        let listed = lib.list_documents(&patients[0], StatusFilter::All).map_err(|e| e.to_string())?;
        times.push(t.elapsed());
        count = listed.len();
        drop(listed); // freeing the result is the caller's business, not list's
    }
    times.sort();
    // The same statement with rows visited but nothing built: the database's share.
    let mut sql_times: Vec<Duration> = Vec::new();
    lib.db()
        .read(|c| {
            let mut stmt = c.prepare_cached(chairside_media::documents::LIST_SQL)?;
            for _ in 0..50 {
                let t = Instant::now();
                let mut rows = stmt.query(params![patients[0], Option::<&str>::None, -1])?;
                let mut bytes = 0;
                while let Some(r) = rows.next()? {
                    for i in 0..14 {
                        bytes += r.get_ref(i)?.as_bytes().map(<[u8]>::len).unwrap_or(8);
                    }
                }
                sql_times.push(t.elapsed());
                std::hint::black_box(bytes);
            }
            Ok::<_, chairside_store::StoreError>(())
        })
        .map_err(|e| e.to_string())?;
    sql_times.sort();
    let active = lib.list_documents(&patients[0], StatusFilter::Active).map_err(|e| e.to_string())?.len();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let (median, p95, sqlite) = (ms(&times[times.len() / 2]), ms(&times[times.len() * 95 / 100]), ms(&sql_times[25]));
    Figure::new(
        "list",
        format!("`list` of one patient with {count} documents ({active} active) in a library of {total}"),
        "< 10 ms",
        format!("median **{median:.1} ms**, p95 {p95:.1} ms (SQLite's share: {sqlite:.1} ms)"),
    )
    .value("median_ms", median)
    .value("p95_ms", p95)
    .value("sqlite_median_ms", sqlite)
    .runs(times.iter().map(ms))
    .report()
}

/// A library of one patient with `total` distinct photos, imported through the real pipeline.
fn gallery(total: usize, root: &Path) -> Result<(), String> {
    use chairside_media::DocumentPatch;
    let lib = Library::open(LibraryOptions::new(root)).map_err(|e| e.to_string())?;
    let patient = lib
        .add_patient(&NewPatient { name: format!("Gallery bench ({total} photos)"), ..Default::default() })
        .map_err(|e| e.to_string())?;
    let src = tempfile::tempdir().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let paths: Vec<std::path::PathBuf> = (0..total)
        .map(|i| {
            // 640 × 480 in varied colours, with the photo's number written in binary as a row
            // of 32-px squares along the bottom: every photo's bytes differ (no duplicates).
            let (r, g, b) = ((i * 37 % 200) as u8 + 40, (i * 91 % 200) as u8 + 40, (i * 13 % 200) as u8 + 40);
            let band = (i % 400) as u32;
            let img = image::RgbImage::from_fn(640, 480, |x, y| {
                if y >= 448 {
                    let bit = (i >> (x / 32)) & 1;
                    image::Rgb(if bit == 1 { [250, 250, 250] } else { [10, 10, 10] })
                } else if (band..band + 80).contains(&x) || y / 40 == (i % 11) as u32 {
                    image::Rgb([255 - r, 255 - g, 255 - b])
                } else {
                    image::Rgb([r, g, b])
                }
            });
            let path = src.path().join(format!("IMG_{i:05}.jpg"));
            img.save(&path).map(|_| path).map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    eprintln!("gallery: {total} JPEGs written in {:.1} s", start.elapsed().as_secs_f64());
    let start = Instant::now();
    let results = lib.import_paths(&patient.id, &paths, None, "bench", &|_| {}).map_err(|e| e.to_string())?;
    lib.wait_for_thumbnails();
    eprintln!("gallery: imported in {:.1} s", start.elapsed().as_secs_f64());
    let distinct = results.iter().filter(|r| r.status == "imported").count();
    if distinct != total {
        return Err(format!("only {distinct} of the {total} generated photos were new documents"));
    }
    for (i, r) in results.iter().enumerate() {
        let Some(id) = &r.document_id else { return Err(format!("{} was rejected: {:?}", r.path, r.error)) };
        let captured =
            format!("2025-{:02}-{:02}T{:02}:{:02}:00.000Z", 1 + (i / 420) % 12, 1 + (i / 15) % 28, 8 + i % 10, i % 60);
        let patch = DocumentPatch { captured_at: Some(captured), ..Default::default() };
        lib.update_document(id, &patch).map_err(|e| e.to_string())?;
    }
    println!("{}", patient.id);
    Ok(())
}

/// `photo` with a JPEG comment holding `tag` right after its start marker: the same pixels,
/// different bytes, so each copy is a new original (as each shot of a camera is).
fn distinct_jpeg(photo: &[u8], tag: &str) -> Vec<u8> {
    let text = format!("chairside-bench {tag}");
    let len = (text.len() + 2) as u16;
    let mut out = Vec::with_capacity(photo.len() + text.len() + 4);
    out.extend_from_slice(&photo[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&photo[2..]);
    out
}

fn inbox(photo_dir: &Path, n: usize) -> Result<(), String> {
    let photos = read_jpegs(photo_dir)?;
    let bench = InboxBench::start()?;
    bench.one_at_a_time(&photos, n)?;
    bench.burst(&photos, n)
}

/// The `.jpg` files of a folder, in name order.
fn read_jpegs(dir: &Path) -> Result<Vec<Vec<u8>>, String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("jpg")))
        .collect();
    names.sort();
    let photos = names
        .iter()
        .map(|p| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display())))
        .collect::<Result<Vec<_>, _>>()?;
    if photos.is_empty() {
        return Err(format!("no .jpg in {}", dir.display()));
    }
    Ok(photos)
}

/// A library with its inbox running and a patient in the chair, and when each blob's
/// 256-px thumbnail became ready.
struct InboxBench {
    _dir: tempfile::TempDir,
    lib: std::sync::Arc<Library>,
    patient: String,
    inbox: std::path::PathBuf,
    ready: std::sync::Arc<(std::sync::Mutex<std::collections::HashMap<String, Instant>>, std::sync::Condvar)>,
    notices: std::sync::Arc<std::sync::Mutex<Vec<chairside_app::InboxNotice>>>,
    running: chairside_app::Inbox,
}

impl InboxBench {
    fn start() -> Result<InboxBench, String> {
        use chairside_media::ThumbnailEvent;
        use std::sync::{Arc, Mutex};

        let ready: Arc<(Mutex<std::collections::HashMap<String, Instant>>, std::sync::Condvar)> = Arc::default();
        let sink = Arc::clone(&ready);
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut options = LibraryOptions::new(dir.path());
        options.on_thumbnail = Some(Arc::new(move |e: &ThumbnailEvent| {
            if let ThumbnailEvent::Ready { sha256, size: 256 } = e {
                let (map, cv) = &*sink;
                map.lock().unwrap_or_else(|p| p.into_inner()).insert(sha256.clone(), Instant::now());
                cv.notify_all();
            }
        }));
        let lib = Arc::new(Library::open(options).map_err(|e| e.to_string())?);
        let patient = lib
            .add_patient(&NewPatient { name: "Inbox bench".into(), ..Default::default() })
            .map_err(|e| e.to_string())?;
        lib.set_active_patient(Some(&patient.id)).map_err(|e| e.to_string())?;
        let notices: Arc<Mutex<Vec<chairside_app::InboxNotice>>> = Arc::default();
        let seen = Arc::clone(&notices);
        let running = chairside_app::Inbox::start(Arc::clone(&lib), chairside_app::InboxOptions::default(), move |n| {
            seen.lock().unwrap_or_else(|p| p.into_inner()).push(n)
        })
        .map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(300));
        let inbox = lib.default_inbox();
        Ok(InboxBench { _dir: dir, lib, patient: patient.id, inbox, ready, notices, running })
    }

    /// When `sha`'s 256-px thumbnail became ready, waiting up to `limit` for it.
    fn wait_for(&self, sha: &str, limit: Duration) -> Option<Instant> {
        let (map, cv) = &*self.ready;
        let guard = map.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) =
            cv.wait_timeout_while(guard, limit, |m| !m.contains_key(sha)).unwrap_or_else(|p| p.into_inner());
        guard.get(sha).copied()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        use std::io::Write;
        let mut f = std::fs::File::create(self.inbox.join(name)).map_err(|e| e.to_string())?;
        f.write_all(bytes).map_err(|e| e.to_string())
    }

    /// `n` photos dropped one by one: from the writer's close to the thumbnail in the grid.
    fn one_at_a_time(&self, photos: &[Vec<u8>], n: usize) -> Result<(), String> {
        let mut latencies = Vec::new();
        for i in 0..n {
            let bytes = distinct_jpeg(&photos[i % photos.len()], &format!("single {i}"));
            let sha = hex::encode(Sha256::digest(&bytes));
            self.write(&format!("IMG_{i:04}.jpg"), &bytes)?;
            // The writer has closed the file: the clock starts.
            let closed = Instant::now();
            let done =
                self.wait_for(&sha, Duration::from_secs(30)).ok_or(format!("file {i} never got its thumbnail"))?;
            latencies.push(done.saturating_duration_since(closed));
            std::thread::sleep(Duration::from_millis(100));
        }
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (w, h) = image::ImageReader::new(std::io::Cursor::new(&photos[0]))
            .with_guessed_format()
            .ok()
            .and_then(|r| r.into_dimensions().ok())
            .unwrap_or((0, 0));
        let (median, p95, max) =
            (ms(latencies[n / 2]), ms(latencies[(n * 95).div_ceil(100).min(n) - 1]), ms(latencies[n - 1]));
        Figure::new(
            "inbox_latency",
            format!(
                "a {:.0} MP JPEG ({w}×{h}, {:.1} MB) written into a watched inbox, from its writer's close to its 256-px thumbnail ready for the grid, over {n} files",
                f64::from(w) * f64::from(h) / 1e6,
                photos[0].len() as f64 / 1e6
            ),
            "< 1 s p95",
            format!("median **{median:.0} ms**, p95 **{p95:.0} ms**, max {max:.0} ms"),
        )
        .value("median_ms", median)
        .value("p95_ms", p95)
        .value("max_ms", max)
        .runs(latencies.iter().map(|d| ms(*d)))
        .report()
    }

    /// A burst: 200 files at once, as a sensor's "export all" or a card reader copy; `earlier`
    /// documents are already in the library.
    fn burst(self, photos: &[Vec<u8>], earlier: usize) -> Result<(), String> {
        self.notices.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let burst: Vec<(String, Vec<u8>)> = (0..200)
            .map(|i| {
                let bytes = distinct_jpeg(&photos[i % photos.len()], &format!("burst {i}"));
                (hex::encode(Sha256::digest(&bytes)), bytes)
            })
            .collect();
        let start = Instant::now();
        for (i, (_, bytes)) in burst.iter().enumerate() {
            self.write(&format!("BURST_{i:04}.jpg"), bytes)?;
        }
        let written = start.elapsed();
        for (sha, _) in &burst {
            self.wait_for(sha, Duration::from_secs(300)).ok_or("a burst file never got its thumbnail")?;
        }
        let took = start.elapsed();
        std::thread::sleep(Duration::from_millis(500));
        self.running.stop();
        let reported: Vec<chairside_app::InboxFile> = self
            .notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .flat_map(|n| match n {
                chairside_app::InboxNotice::Files { files } => files.clone(),
                _ => Vec::new(),
            })
            .collect();
        let mut paths: Vec<&str> = reported.iter().map(|f| f.path.as_str()).collect();
        paths.sort();
        paths.dedup();
        let imported = reported.iter().filter(|f| f.status == chairside_app::InboxStatus::Imported).count();
        let docs = self.lib.list_documents(&self.patient, StatusFilter::All).map_err(|e| e.to_string())?.len();
        let left =
            std::fs::read_dir(&self.inbox).map_err(|e| e.to_string())?.flatten().filter(|e| e.path().is_file()).count();
        eprintln!(
            "inbox burst: {} reported, {} distinct, {imported} imported; {docs} documents in all (expected {}); {left} left in the inbox",
            reported.len(),
            paths.len(),
            earlier + 200,
        );
        if reported.len() != 200 || paths.len() != 200 || imported != 200 || docs != earlier + 200 || left != 0 {
            return Err("the burst lost or doubled files".into());
        }
        let took = took.as_secs_f64();
        Figure::new(
            "inbox_burst",
            "a burst of 200 such files into the inbox",
            "none missed or doubled",
            format!(
                "all **200** imported once, none left, in {took:.1} s ({:.0} files/s; written in {:.1} s)",
                200.0 / took,
                written.as_secs_f64()
            ),
        )
        .value("seconds", took)
        .value("files_per_second", 200.0 / took)
        .value("imported", imported as f64)
        .report()
    }
}
