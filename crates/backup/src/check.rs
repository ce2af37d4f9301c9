//! Reading a backup folder back: its snapshots, and a verify that re-hashes every file each
//! snapshot needs (on every core: a verify is bounded by the disk, not by one core's SHA-256).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use crate::files::{
    CHUNK_LIST, DATABASE, FILE_LIST, ListedFile, MANIFEST, Manifest, SNAPSHOTS, chunk_path, hash_file, read_chunk_list,
    read_json, read_list, read_marker, snapshot_names,
};
use crate::take::stored_at;
use crate::{BackupError, SNAPSHOT_FORMATS_READ, SnapshotCheck, SnapshotInfo, VerifyReport};

pub(crate) fn require_backup(dir: &Path) -> Result<(), BackupError> {
    if !dir.is_dir() {
        return Err(BackupError::TargetMissing(dir.to_path_buf()));
    }
    match read_marker(dir)? {
        Some(_) => Ok(()),
        None => Err(BackupError::NotABackup(dir.to_path_buf())),
    }
}

/// The complete snapshots of the backup folder `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<SnapshotInfo>, BackupError> {
    require_backup(dir)?;
    let mut out = Vec::new();
    for name in snapshot_names(dir)? {
        // A snapshot whose manifest cannot be read is listed by name: verify says what is wrong.
        let info = match read_json::<Manifest>(&dir.join(SNAPSHOTS).join(&name).join(MANIFEST)) {
            Ok(m) => SnapshotInfo {
                name,
                created_at: m.created_at,
                originals: m.files.originals,
                originals_bytes: m.files.originals_bytes,
                database_bytes: m.database.bytes,
            },
            Err(_) => {
                SnapshotInfo { name, created_at: String::new(), originals: 0, originals_bytes: 0, database_bytes: 0 }
            }
        };
        out.push(info);
    }
    Ok(out)
}

/// A snapshot opened: its manifest, file list and (format 2) database chunks, each checked
/// against what the manifest says, and the problems found on the way.
pub(crate) struct Opened {
    pub manifest: Option<Manifest>,
    pub list: Vec<ListedFile>,
    /// The database's chunks in order; empty for a format-1 snapshot (its database is a file).
    pub chunks: Vec<String>,
    pub problems: Vec<String>,
}

pub(crate) fn open_snapshot(dir: &Path, name: &str) -> Opened {
    let snap = dir.join(SNAPSHOTS).join(name);
    let mut opened = Opened { manifest: None, list: Vec::new(), chunks: Vec::new(), problems: Vec::new() };
    let manifest = match read_json::<Manifest>(&snap.join(MANIFEST)) {
        Ok(m) if SNAPSHOT_FORMATS_READ.contains(&m.format.as_str()) => m,
        Ok(m) => {
            opened.problems.push(format!(
                "{SNAPSHOTS}/{name} was written by a newer Chairside ({}): update Chairside to read it",
                m.format
            ));
            return opened;
        }
        Err(e) => {
            opened.problems.push(e);
            return opened;
        }
    };
    let rel = |f: &str| format!("{SNAPSHOTS}/{name}/{f}");
    // A list read only once its bytes match the manifest: its lines are then trusted as paths.
    let checked = |file: &str, sha: &str, problems: &mut Vec<String>| -> bool {
        match hash_file(&snap.join(file)) {
            Ok((actual, _)) if actual == sha => true,
            Ok(_) => {
                problems.push(format!("{} is damaged (it no longer matches its manifest)", rel(file)));
                false
            }
            Err(e) => {
                problems.push(format!("{}: {e}", rel(file)));
                false
            }
        }
    };
    match &manifest.database.chunks {
        Some(c) if c.list == CHUNK_LIST => {
            if checked(CHUNK_LIST, &c.sha256, &mut opened.problems) {
                match read_chunk_list(&snap.join(CHUNK_LIST)) {
                    Ok(l) if l.len() as u64 == c.count => opened.chunks = l,
                    Ok(_) => opened
                        .problems
                        .push(format!("{} does not list as many chunks as its manifest", rel(CHUNK_LIST))),
                    Err(e) => opened.problems.push(e),
                }
            }
        }
        Some(c) => opened.problems.push(format!("{} names an unknown chunk list {:?}", rel(MANIFEST), c.list)),
        None => {
            checked(DATABASE, &manifest.database.sha256, &mut opened.problems);
        }
    }
    if checked(FILE_LIST, &manifest.files.sha256, &mut opened.problems) {
        match read_list(&snap.join(FILE_LIST)) {
            Ok(l) => opened.list = l,
            Err(e) => opened.problems.push(e),
        }
    }
    opened.manifest = Some(manifest);
    opened
}

/// Re-hashes every snapshot's database and file list and every file any of them names (each
/// database chunk and each original once, however many snapshots name it).
pub fn verify(dir: &Path) -> Result<VerifyReport, BackupError> {
    let started = Instant::now();
    require_backup(dir)?;
    let names = snapshot_names(dir)?;
    if names.is_empty() {
        return Err(BackupError::NoSnapshot(dir.to_path_buf()));
    }
    let mut snapshots = Vec::new();
    let mut wanted: HashMap<PathBuf, String> = HashMap::new();
    let mut named = Vec::new();
    for name in &names {
        let opened = open_snapshot(dir, name);
        let mut paths: Vec<PathBuf> = Vec::with_capacity(opened.list.len() + opened.chunks.len());
        for c in &opened.chunks {
            let at = chunk_path(c);
            wanted.entry(at.clone()).or_insert_with(|| c.clone());
            paths.push(at);
        }
        for f in opened.list.iter().filter(|f| f.here) {
            let at = stored_at(f);
            wanted.entry(at.clone()).or_insert_with(|| f.sha256.clone());
            paths.push(at);
        }
        named.push(paths);
        snapshots.push(SnapshotCheck { name: name.clone(), ok: opened.problems.is_empty(), problems: opened.problems });
    }
    let files: Vec<(PathBuf, String)> = wanted.into_iter().collect();
    let (bad, bytes) = hash_all(dir, &files);
    for (check, paths) in snapshots.iter_mut().zip(named) {
        let mut seen = HashSet::new();
        for at in paths {
            if let Some(problem) = bad.get(&at)
                && seen.insert(at)
            {
                check.problems.push(problem.clone());
            }
        }
        check.ok = check.problems.is_empty();
    }
    Ok(VerifyReport {
        target: dir.to_path_buf(),
        ok: snapshots.iter().all(|s| s.ok),
        snapshots,
        files_checked: files.len() as u64,
        bytes_checked: bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Hashes each `(path inside dir, expected sha256)` on every core; returns what is wrong with
/// each bad one, and the bytes read.
fn hash_all(dir: &Path, files: &[(PathBuf, String)]) -> (HashMap<PathBuf, String>, u64) {
    let next = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let bad = Mutex::new(HashMap::new());
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(8);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((rel, sha)) = files.get(i) else { break };
                    let problem = match hash_file(&dir.join(rel)) {
                        Ok((actual, n)) => {
                            bytes.fetch_add(n, Ordering::Relaxed);
                            (&actual != sha)
                                .then(|| format!("{} is damaged (its bytes hash to {actual})", rel.display()))
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            Some(format!("{} is missing", rel.display()))
                        }
                        Err(e) => Some(format!("{} cannot be read: {e}", rel.display())),
                    };
                    if let Some(p) = problem {
                        bad.lock().unwrap_or_else(|p| p.into_inner()).insert(rel.clone(), p);
                    }
                }
            });
        }
    });
    (bad.into_inner().unwrap_or_else(|p| p.into_inner()), bytes.into_inner())
}
