//! Sync figures against a real S3 server (the env file `scripts/s3-server.sh` writes):
//! upload throughput, A→B visibility, bootstrap of a large library, idle requests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chairside_app::sync_engine::{Originals, SyncConfig, SyncLoop};
use chairside_app::{Library, LibraryOptions};
use chairside_patients::NewPatient;

struct Server {
    endpoint: String,
    access_key: String,
    secret: String,
    bucket: String,
    region: String,
}

fn server(env_file: &Path) -> Result<Server, String> {
    let text = std::fs::read_to_string(env_file).map_err(|e| format!("{}: {e}", env_file.display()))?;
    let env: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| env.get(k).map(|v| v.to_string()).ok_or(format!("{k} missing in {}", env_file.display()));
    Ok(Server {
        endpoint: get("S3_ENDPOINT")?,
        access_key: get("S3_ACCESS_KEY")?,
        secret: get("S3_SECRET_KEY")?,
        bucket: get("S3_BUCKET")?,
        region: get("S3_REGION")?,
    })
}

fn open(dir: &Path) -> Result<Library, String> {
    Library::open(LibraryOptions::new(dir)).map_err(|e| e.to_string())
}

fn join(lib: &Library, s: &Server, prefix: &str, originals: Originals) -> Result<(), String> {
    let config = SyncConfig {
        endpoint: s.endpoint.clone(),
        region: s.region.clone(),
        bucket: s.bucket.clone(),
        prefix: prefix.to_string(),
        path_style: true,
        access_key: s.access_key.clone(),
        originals,
    };
    lib.sync_configure(config, &s.secret).map(|_| ()).map_err(|e| e.to_string())
}

fn prefix(name: &str) -> String {
    format!(
        "bench-{name}-{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    )
}

/// Imports every file of `dir` (not timed), then times the upload of all of it.
pub fn upload(env_file: &Path, dir: &Path) -> Result<(), String> {
    let s = server(env_file)?;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let lib = open(&tmp.path().join("a"))?;
    join(&lib, &s, &prefix("upload"), Originals::All)?;
    let p = lib.add_patient(&NewPatient { name: "Bench".into(), ..Default::default() }).map_err(|e| e.to_string())?.id;
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(|e| e.to_string())?.flatten().map(|e| e.path()).collect();
    files.sort();
    let bytes: u64 = files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();
    lib.import_paths(&p, &files, None, "bench", &|_| {}).map_err(|e| e.to_string())?;
    lib.wait_for_thumbnails();
    let started = Instant::now();
    let (report, _) = lib.sync_run().map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "chairside upload: {} originals ({:.0} MB) + {} thumbnails + {} segments in {secs:.2} s ({:.0} MB/s)",
        report.uploaded_originals,
        bytes as f64 / 1e6,
        report.uploaded_thumbnails,
        report.uploaded_segments,
        bytes as f64 / 1e6 / secs
    );
    Ok(())
}

fn jpeg(seed: u32, w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x.wrapping_mul(7) ^ seed) as u8, (y.wrapping_mul(3) ^ (seed >> 8)) as u8, (x + y + seed) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = img.write_to(&mut out, image::ImageFormat::Jpeg);
    out.into_inner()
}

/// A imports one photo at a time and pushes it (as the app does after an import); B runs the
/// app's background loop. Measures import → document present on B.
pub fn visibility(env_file: &Path, n: usize) -> Result<(), String> {
    let s = server(env_file)?;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let prefix = prefix("visibility");
    let a = open(&tmp.path().join("a"))?;
    join(&a, &s, &prefix, Originals::All)?;
    let p = a.add_patient(&NewPatient { name: "Visible".into(), ..Default::default() }).map_err(|e| e.to_string())?.id;
    a.sync_run().map_err(|e| e.to_string())?;
    let b = Arc::new(open(&tmp.path().join("b"))?);
    join(&b, &s, &prefix, Originals::All)?;
    b.sync_run().map_err(|e| e.to_string())?;
    let engine = Arc::clone(b.sync().map_err(|e| e.to_string())?);
    let mut sync_loop = SyncLoop::start(engine, Box::new(|_, _| {}));
    let mut times = Vec::new();
    for i in 0..n {
        // A random phase against B's 10 s loop.
        std::thread::sleep(Duration::from_millis(fastrand_ms(i as u64)));
        let path = tmp.path().join(format!("v{i}.jpg"));
        std::fs::write(&path, jpeg(i as u32 + 1, 640, 480)).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let r = a.import_paths(&p, &[path], None, "bench", &|_| {}).map_err(|e| e.to_string())?;
        let id = r[0].document_id.clone().ok_or("not imported")?;
        a.sync().map_err(|e| e.to_string())?.push().map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while b.show_document(&id).is_err() {
            if Instant::now() > deadline {
                return Err(format!("photo {i} not on B after 60 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        times.push(started.elapsed());
    }
    sync_loop.stop();
    times.sort();
    let ms = |d: Duration| d.as_millis();
    let p95 = times[((times.len() as f64 * 0.95).ceil() as usize).saturating_sub(1)];
    println!(
        "visibility A→B over {n} photos: median {} ms, p95 {} ms, max {} ms (B lists peers every 10 s)",
        ms(times[times.len() / 2]),
        ms(p95),
        ms(times[times.len() - 1])
    );
    Ok(())
}

/// A deterministic spread of waits (0–10 s) without a random crate.
fn fastrand_ms(i: u64) -> u64 {
    (i.wrapping_mul(2_654_435_761) >> 7) % 10_000
}

/// A library of `n` documents uploaded, then a new workstation bootstrapped from the bucket
/// (records + thumbnails; originals on first open), timed.
pub fn bootstrap(env_file: &Path, n: usize, rgw_log: Option<&Path>) -> Result<(), String> {
    let s = server(env_file)?;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let prefix = prefix("bootstrap");
    let a = open(&tmp.path().join("a"))?;
    join(&a, &s, &prefix, Originals::All)?;
    let in_dir = tmp.path().join("in");
    std::fs::create_dir_all(&in_dir).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let per_patient = 100;
    for chunk in 0..n.div_ceil(per_patient) {
        let p = a
            .add_patient(&NewPatient { name: format!("Patient {chunk:05}"), ..Default::default() })
            .map_err(|e| e.to_string())?
            .id;
        let mut paths = Vec::new();
        for i in chunk * per_patient..((chunk + 1) * per_patient).min(n) {
            let path = in_dir.join(format!("{i}.jpg"));
            std::fs::write(&path, jpeg(i as u32 + 7, 96, 72)).map_err(|e| e.to_string())?;
            paths.push(path);
        }
        a.import_paths(&p, &paths, None, "bench", &|_| {}).map_err(|e| e.to_string())?;
    }
    a.wait_for_thumbnails();
    println!("library of {n} documents made in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    a.sync_run().map_err(|e| e.to_string())?;
    println!("uploaded (originals + thumbnails + segments) in {:.1} s", started.elapsed().as_secs_f64());

    let b = open(&tmp.path().join("b"))?;
    join(&b, &s, &prefix, Originals::OnOpen)?;
    let started = Instant::now();
    let (report, _) = b.sync_run().map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    let docs = b.document_count().map_err(|e| e.to_string())?;
    println!(
        "bootstrap of {docs} documents: {} segments, {} thumbnails in {secs:.1} s (target < 120 s)",
        report.applied_segments, report.downloaded_thumbnails
    );

    // Idle: both up to date, each running the app's loop for a minute; requests counted in
    // radosgw's own log.
    if let Some(log) = rgw_log {
        let a = Arc::new(a);
        let b = Arc::new(b);
        let count = || std::fs::read_to_string(log).map(|t| t.matches("starting new request").count()).unwrap_or(0);
        let loops: Vec<SyncLoop> = [&a, &b]
            .iter()
            .map(|l| SyncLoop::start(Arc::clone(l.sync().expect("engine")), Box::new(|_, _| {})))
            .collect();
        std::thread::sleep(Duration::from_secs(5));
        let before = count();
        let window = 60;
        std::thread::sleep(Duration::from_secs(window));
        let requests = count() - before;
        drop(loops);
        println!(
            "idle, 2 workstations up to date (1 peer each), {window} s: {requests} requests = {:.2} per workstation per 10 s",
            requests as f64 / 2.0 / (window as f64 / 10.0)
        );
    }
    Ok(())
}

/// `n` distinct JPEGs of about `mb` MB each (camera-like noise keeps them from compressing).
pub fn photos(dir: &Path, n: usize, mb: u64) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    // Noise at quality 95 takes about 2.45 bytes per pixel.
    let pixels = (mb * 1_000_000) as f64 / 2.45;
    let (w, h) = ((pixels * 4.0 / 3.0).sqrt() as u32, (pixels * 3.0 / 4.0).sqrt() as u32);
    for i in 0..n {
        let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let img = image::RgbImage::from_fn(w, h, |_, _| {
            // xorshift: fast, deterministic noise.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            image::Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
            .encode_image(&img)
            .map_err(|e| e.to_string())?;
        std::fs::write(dir.join(format!("photo-{i:03}.jpg")), out.into_inner()).map_err(|e| e.to_string())?;
    }
    Ok(())
}
