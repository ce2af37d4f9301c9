//! The integrity check: SQLite's own checks of the database, every original re-hashed
//! against its address, every thumbnail re-hashed against the hash recorded when it was
//! written (remade if it differs or is gone), what interrupted imports and exports left cleaned
//! up, and files in the blob store that no blob row names moved to `quarantine/` — never
//! deleted.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chairside_store::rusqlite::OptionalExtension;
use chairside_store::{Actor, DatabaseCheck, Db};
use serde::Serialize;
use serde_json::json;

use crate::MediaError;
use crate::blobstore::{LocalBlobStore, TEMP_PREFIX, is_being_staged, is_sha256_hex, sha256_of};
use crate::quarantine::QuarantineRun;
use crate::thumbs::{ThumbStore, Thumbnailer};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BlobProblem {
    pub sha256: String,
    pub path: PathBuf,
    /// The hash the file has now (corrupt blobs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Orphan {
    pub path: PathBuf,
    /// Where it was moved; `None` when it was left in place or removed (see `note`).
    pub quarantined_to: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    /// SQLite's integrity and foreign-key checks.
    pub database: DatabaseCheck,
    pub blobs_checked: u64,
    /// Originals left for a later run (`--since`: verified recently, or beyond `--limit`).
    pub blobs_skipped: u64,
    pub bytes_checked: u64,
    pub corrupt: Vec<BlobProblem>,
    pub missing: Vec<BlobProblem>,
    pub orphans: Vec<Orphan>,
    pub thumbnails_checked: u64,
    pub thumbnails_remade: u64,
    pub thumbnails_failed: Vec<String>,
    /// Thumbnails whose file was gone or no longer matched its recorded hash (all remade).
    pub thumbnails_damaged: Vec<String>,
    /// What a killed import or export left (temp files removed, an uncommitted original moved
    /// to quarantine): expected after a crash, so not a problem.
    pub cleaned_up: Vec<Orphan>,
    /// Files of imports committing while verify ran, left alone.
    pub in_progress: u64,
    /// Where the time went, so each part can be compared with what bounds it (the originals'
    /// re-hash with `sha256sum`, the database check with `PRAGMA integrity_check`).
    pub seconds: VerifySeconds,
}

/// Seconds spent in each part of a verify.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct VerifySeconds {
    /// SQLite's integrity and foreign-key checks.
    pub database: f64,
    /// Re-hashing the originals (on every core) and stamping the good ones.
    pub originals: f64,
    /// Re-hashing the thumbnails (on every core) and remaking the bad ones.
    pub thumbnails: f64,
    /// Looking for files no row names, and what a killed import left.
    pub sweep: f64,
    pub total: f64,
}

impl VerifyReport {
    /// Nothing damaged, corrupt, missing, stray or unmakeable: what `ok` says.
    pub fn is_clean(&self) -> bool {
        self.database.ok
            && self.corrupt.is_empty()
            && self.missing.is_empty()
            && self.orphans.is_empty()
            && self.thumbnails_failed.is_empty()
    }
}

/// Options of a verify run.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Re-hash only originals not verified since this time (RFC 3339), least recently verified
    /// first: a nightly run over a rolling part of a large library.
    pub not_verified_since: Option<String>,
    /// At most this many originals re-hashed (with `not_verified_since`).
    pub limit: Option<u64>,
}

pub fn verify(
    db: &Db,
    blobs: &LocalBlobStore,
    thumbs: &ThumbStore,
    thumbnailer: &Thumbnailer,
    quarantine: &Path,
    actor: &Actor,
    options: VerifyOptions,
) -> Result<VerifyReport, MediaError> {
    let started = Instant::now();
    let database = db.read(|c| chairside_store::check_database(c).map_err(MediaError::from))?;
    let mut report = VerifyReport {
        ok: true,
        database,
        blobs_checked: 0,
        blobs_skipped: 0,
        bytes_checked: 0,
        corrupt: vec![],
        missing: vec![],
        orphans: vec![],
        thumbnails_checked: 0,
        thumbnails_remade: 0,
        thumbnails_failed: vec![],
        thumbnails_damaged: vec![],
        cleaned_up: vec![],
        in_progress: 0,
        seconds: VerifySeconds { database: started.elapsed().as_secs_f64(), ..VerifySeconds::default() },
    };
    // A damaged database may fail the reads below: the report then says what was found so far
    // (the damage first of all) instead of only the read error.
    match check_files(db, blobs, thumbs, thumbnailer, quarantine, &options, &mut report) {
        Ok(()) => {}
        Err(_) if !report.database.ok => {}
        Err(e) => return Err(e),
    }
    report.ok = report.is_clean();
    report.seconds.total = started.elapsed().as_secs_f64();
    let audited = db.write(|tx| {
        chairside_audit::append(
            tx,
            actor,
            "verify",
            "library",
            None,
            json!({
                "ok": report.ok,
                "database_ok": report.database.ok,
                "blobs_checked": report.blobs_checked,
                "corrupt": report.corrupt.iter().map(|p| &p.sha256).collect::<Vec<_>>(),
                "missing": report.missing.iter().map(|p| &p.sha256).collect::<Vec<_>>(),
                "orphans": report.orphans.len(),
                "thumbnails_damaged": report.thumbnails_damaged.len(),
                "thumbnails_remade": report.thumbnails_remade,
                "cleaned_up": report.cleaned_up.len(),
            }),
        )
        .map_err(MediaError::from)
    });
    // A damaged database may refuse the audit event too: the report still reaches the user.
    match audited {
        Err(e) if report.database.ok => Err(e),
        _ => Ok(report),
    }
}

fn check_files(
    db: &Db,
    blobs: &LocalBlobStore,
    thumbs: &ThumbStore,
    thumbnailer: &Thumbnailer,
    quarantine: &Path,
    options: &VerifyOptions,
    report: &mut VerifyReport,
) -> Result<(), MediaError> {
    let rows: Vec<String> = db.read(|c| {
        let mut stmt = c.prepare("SELECT sha256 FROM blobs ORDER BY sha256")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok::<_, MediaError>(rows.collect::<Result<_, _>>()?)
    })?;
    let lap = |clock: &mut Instant| {
        let secs = clock.elapsed().as_secs_f64();
        *clock = Instant::now();
        secs
    };
    let mut clock = Instant::now();
    match &options.not_verified_since {
        None => {
            check_originals(db, blobs, &rows, report)?;
            report.seconds.originals = lap(&mut clock);
            check_thumbnails(db, thumbs, thumbnailer, None, report)?;
        }
        Some(since) => {
            let due: Vec<String> = db.read(|c| {
                let mut stmt = c.prepare(
                    "SELECT sha256 FROM blobs WHERE verified_at IS NULL OR verified_at < ?1
                     ORDER BY verified_at IS NOT NULL, verified_at, sha256 LIMIT ?2",
                )?;
                let limit = options.limit.map(|l| l.min(i64::MAX as u64) as i64).unwrap_or(-1);
                let rows = stmt.query_map(chairside_store::rusqlite::params![since, limit], |r| r.get(0))?;
                Ok::<_, MediaError>(rows.collect::<Result<_, _>>()?)
            })?;
            report.blobs_skipped = (rows.len() - due.len()) as u64;
            check_originals(db, blobs, &due, report)?;
            report.seconds.originals = lap(&mut clock);
            check_thumbnails(db, thumbs, thumbnailer, Some(&due.iter().collect()), report)?;
        }
    }
    report.seconds.thumbnails = lap(&mut clock);
    crate::export::clean_staged(db, &mut report.cleaned_up)?;
    // An import may have committed since `rows` was read: asked again, file by file, after
    // the file's lock was found free (an import unlocks only after its commit).
    let recorded_now = |sha: &str| -> bool {
        db.read(|c| {
            c.query_row("SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?1)", [sha], |r| r.get::<_, bool>(0))
                .map_err(MediaError::from)
        })
        .unwrap_or(true)
    };
    sweep_blob_store(blobs, &rows, &recorded_now, &QuarantineRun::now(quarantine), report);
    sweep_temp_files(thumbs.root(), report);
    report.seconds.sweep = lap(&mut clock);
    Ok(())
}

/// `f` of every item, on every core (a verify is bounded by the disk, not by one core's
/// SHA-256), in the items' order.
fn on_every_core<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Result<Vec<R>, MediaError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 8);
    let parts: Vec<Option<Vec<(usize, R)>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { return out };
                        out.push((i, f(item)));
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().ok()).collect()
    });
    let mut found: Vec<(usize, R)> = Vec::with_capacity(items.len());
    for part in parts {
        found.extend(
            part.ok_or_else(|| MediaError::io("verifying", std::io::Error::other("a verify thread panicked")))?,
        );
    }
    found.sort_by_key(|(i, _)| *i);
    Ok(found.into_iter().map(|(_, r)| r).collect())
}

/// What re-hashing one original found.
enum Hashed {
    Good(u64),
    Corrupt(PathBuf, Option<String>, u64),
    Missing(PathBuf),
}

fn hash_one(blobs: &LocalBlobStore, sha: &str) -> Result<Hashed, MediaError> {
    // A row whose address is not hex can name no file: reported rather than stopping.
    let Ok(path) = blobs.path_of(sha) else { return Ok(Hashed::Corrupt(PathBuf::new(), None, 0)) };
    let Ok(mut f) = fs::File::open(&path) else { return Ok(Hashed::Missing(path)) };
    let (actual, n) = sha256_of(&mut f).map_err(|e| MediaError::io(format!("reading {}", path.display()), e))?;
    Ok(if actual == sha { Hashed::Good(n) } else { Hashed::Corrupt(path, Some(actual), n) })
}

/// Every original re-hashed against its address, on every core (a verify should be bounded by
/// the disk, not by one core's SHA-256); the good ones stamped `verified_at`.
fn check_originals(
    db: &Db,
    blobs: &LocalBlobStore,
    rows: &[String],
    report: &mut VerifyReport,
) -> Result<(), MediaError> {
    let found = on_every_core(rows, |sha| hash_one(blobs, sha))?;
    let mut good = Vec::new();
    for (sha, hashed) in rows.iter().zip(found) {
        let hashed = hashed?;
        report.blobs_checked += 1;
        match hashed {
            Hashed::Good(n) => {
                report.bytes_checked += n;
                good.push(sha.clone());
            }
            Hashed::Corrupt(path, actual_sha256, n) => {
                report.bytes_checked += n;
                report.corrupt.push(BlobProblem { sha256: sha.clone(), path, actual_sha256 });
            }
            Hashed::Missing(path) => {
                report.missing.push(BlobProblem { sha256: sha.clone(), path, actual_sha256: None })
            }
        }
    }
    let now = chairside_store::now_rfc3339();
    db.write(|tx| {
        // Stamped in the table's own order: by address, each update would land on a random
        // page of a table larger than the cache (a million of them took longer than hashing).
        let mut find = tx.prepare("SELECT rowid FROM blobs WHERE sha256 = ?1")?;
        let mut ids = Vec::with_capacity(good.len());
        for sha in &good {
            if let Some(id) = find.query_row([sha], |r| r.get::<_, i64>(0)).optional()? {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let mut stamp = tx.prepare("UPDATE blobs SET verified_at = ?2 WHERE rowid = ?1")?;
        for id in ids {
            stamp.execute(chairside_store::rusqlite::params![id, now])?;
        }
        Ok::<_, MediaError>(())
    })
}

/// Thumbnails are derived data: one whose file is gone, or no longer hashes to what was
/// recorded when it was written (a flipped bit, a truncated file, another image in its place),
/// is made again from its original.
fn check_thumbnails(
    db: &Db,
    thumbs: &ThumbStore,
    thumbnailer: &Thumbnailer,
    only: Option<&HashSet<&String>>,
    report: &mut VerifyReport,
) -> Result<(), MediaError> {
    type Row = (String, u32, String, Option<String>, Option<String>);
    let thumb_rows: Vec<Row> = db.read(|c| {
        let mut stmt = c.prepare(
            "SELECT sha256, size, status, format, file_sha256 FROM thumbnails
             WHERE status IN ('ready', 'pending') ORDER BY sha256, size",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
        Ok::<_, MediaError>(rows.collect::<Result<_, _>>()?)
    })?;
    let bad: HashSet<&String> = report.missing.iter().chain(&report.corrupt).map(|p| &p.sha256).collect();
    let wanted: Vec<&Row> = thumb_rows.iter().filter(|r| only.is_none_or(|o| o.contains(&r.0))).collect();
    // Hashed on every core; what was found is then judged in order.
    let hashes = on_every_core(&wanted, |(sha, size, status, format, _)| {
        (status == "ready").then(|| {
            let path = thumbs.path(sha, *size, format.as_deref().unwrap_or("jpg"));
            fs::File::open(&path).and_then(|mut f| sha256_of(&mut f)).map(|(h, _)| h)
        })
    })?;
    let mut to_remake: Vec<String> = Vec::new();
    for ((sha, size, _, _, recorded), found) in wanted.into_iter().zip(hashes) {
        report.thumbnails_checked += 1;
        let fine = match found {
            None => false,
            Some(found) => match (found, recorded) {
                (Ok(h), Some(r)) if &h == r => true,
                // Written by a build that recorded no hash: remade once, quietly.
                (Ok(_), None) => false,
                (Ok(_), Some(_)) => {
                    report.thumbnails_damaged.push(format!("{sha} ({size} px): it does not match its recorded hash"));
                    false
                }
                (Err(_), _) => {
                    report.thumbnails_damaged.push(format!("{sha} ({size} px): the file is missing"));
                    false
                }
            },
        };
        if !fine && !bad.contains(sha) && to_remake.last() != Some(sha) {
            to_remake.push(sha.clone());
        }
    }
    for sha in to_remake {
        match thumbnailer.make(&sha, &|_| {}) {
            Ok(()) => report.thumbnails_remade += 1,
            Err(e) => report.thumbnails_failed.push(format!("{sha}: {e}")),
        }
    }
    Ok(())
}

/// Files in the blob store that no blob row names. A file an import is committing right now
/// is locked by it and left alone; a temp file a killed import left is removed (it is a partial
/// copy or a second name, never the only copy); an intact original a killed import linked but
/// never committed is moved to quarantine as cleaned up; anything else is an orphan, moved to
/// quarantine and reported.
fn sweep_blob_store(
    blobs: &LocalBlobStore,
    rows: &[String],
    recorded_now: &dyn Fn(&str) -> bool,
    quarantine: &QuarantineRun,
    report: &mut VerifyReport,
) {
    let known: HashSet<&str> = rows.iter().map(String::as_str).collect();
    let mut files = Vec::new();
    walk(blobs.root(), &mut files);
    let mut unreferenced = Vec::new();
    for path in files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let in_place = is_sha256_hex(&name) && blobs.path_of(&name).map(|p| p == path).unwrap_or(false);
        if in_place && known.contains(name.as_str()) {
            continue;
        }
        if is_being_staged(&path) {
            report.in_progress += 1;
            continue;
        }
        if name.starts_with(TEMP_PREFIX) {
            remove_leftover(path, report);
            continue;
        }
        if in_place && recorded_now(&name) {
            continue;
        }
        let intact = in_place
            && fs::File::open(&path).and_then(|mut f| sha256_of(&mut f)).map(|(h, _)| h == name).unwrap_or(false);
        unreferenced.push((path, intact));
    }
    // Far more unnamed originals than named ones means the database lost its rows, not that
    // imports were interrupted: move nothing, and say so.
    let intact = unreferenced.iter().filter(|(_, i)| *i).count();
    if intact > 10 && intact > known.len() {
        for (path, _) in unreferenced {
            report.orphans.push(Orphan {
                path,
                quarantined_to: None,
                note: Some("left in place: the database names far fewer originals than the disk holds; put library.sqlite3 back from a backup".into()),
            });
        }
        return;
    }
    for (path, intact) in unreferenced {
        let moved = quarantine.move_in("blobs", blobs.root(), &path);
        let (list, note) = if intact {
            (
                &mut report.cleaned_up,
                Some("an original whose import was interrupted before it was recorded".to_string()),
            )
        } else {
            (&mut report.orphans, None)
        };
        match moved {
            Ok(dest) => list.push(Orphan { path, quarantined_to: Some(dest), note }),
            Err(e) => report.orphans.push(Orphan {
                path,
                quarantined_to: None,
                note: Some(format!("could not move it to quarantine: {e}")),
            }),
        }
    }
}

/// Temp files of interrupted thumbnail writes (derived data): removed unless being written.
fn sweep_temp_files(root: &Path, report: &mut VerifyReport) {
    let mut files = Vec::new();
    walk(root, &mut files);
    for path in files {
        let temp = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(TEMP_PREFIX));
        if temp && !is_being_staged(&path) {
            remove_leftover(path, report);
        } else if temp {
            report.in_progress += 1;
        }
    }
}

fn remove_leftover(path: PathBuf, report: &mut VerifyReport) {
    match fs::remove_file(&path) {
        // Renamed into place by its writer between the listing and now: finished, not left.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Ok(()) => report.cleaned_up.push(Orphan {
            path,
            quarantined_to: None,
            note: Some("a temporary file an interrupted write left: removed".into()),
        }),
        Err(e) => report.orphans.push(Orphan {
            path,
            quarantined_to: None,
            note: Some(format!("a temporary file that could not be removed: {e}")),
        }),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out),
            Ok(_) => out.push(p),
            Err(_) => {}
        }
    }
}
