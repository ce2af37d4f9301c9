//! Reading a backup folder back: its snapshots, and a verify that re-hashes every file each
//! snapshot needs (on every core: a verify is bounded by the disk, not by one core's SHA-256).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use crate::files::{
    DATABASE, FILE_LIST, ListedFile, MANIFEST, Manifest, SNAPSHOTS, hash_file, read_json, read_list, read_marker,
    snapshot_names,
};
use crate::take::stored_at;
use crate::{BackupError, SnapshotCheck, SnapshotInfo, VerifyReport};

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

/// A snapshot's manifest and file list, each checked against what the manifest says; the
/// problems found on the way.
pub(crate) fn open_snapshot(dir: &Path, name: &str) -> (Option<Manifest>, Vec<ListedFile>, Vec<String>) {
    let snap = dir.join(SNAPSHOTS).join(name);
    let mut problems = Vec::new();
    let manifest = match read_json::<Manifest>(&snap.join(MANIFEST)) {
        Ok(m) => m,
        Err(e) => return (None, Vec::new(), vec![e]),
    };
    let rel = |f: &str| format!("{SNAPSHOTS}/{name}/{f}");
    match hash_file(&snap.join(DATABASE)) {
        Ok((sha, _)) if sha == manifest.database.sha256 => {}
        Ok(_) => problems.push(format!("{} is damaged (it no longer matches its manifest)", rel(DATABASE))),
        Err(e) => problems.push(format!("{}: {e}", rel(DATABASE))),
    }
    let list = match hash_file(&snap.join(FILE_LIST)) {
        Ok((sha, _)) if sha == manifest.files.sha256 => match read_list(&snap.join(FILE_LIST)) {
            Ok(l) => l,
            Err(e) => {
                problems.push(e);
                Vec::new()
            }
        },
        Ok(_) => {
            problems.push(format!("{} is damaged (it no longer matches its manifest)", rel(FILE_LIST)));
            Vec::new()
        }
        Err(e) => {
            problems.push(format!("{}: {e}", rel(FILE_LIST)));
            Vec::new()
        }
    };
    (Some(manifest), list, problems)
}

/// Re-hashes every snapshot's database and file list and every file any of them names.
pub fn verify(dir: &Path) -> Result<VerifyReport, BackupError> {
    let started = Instant::now();
    require_backup(dir)?;
    let names = snapshot_names(dir)?;
    if names.is_empty() {
        return Err(BackupError::NoSnapshot(dir.to_path_buf()));
    }
    let mut snapshots = Vec::new();
    let mut wanted: HashMap<PathBuf, String> = HashMap::new();
    let mut lists = Vec::new();
    for name in &names {
        let (_, list, problems) = open_snapshot(dir, name);
        for f in list.iter().filter(|f| f.here) {
            wanted.entry(stored_at(f)).or_insert_with(|| f.sha256.clone());
        }
        lists.push(list);
        snapshots.push(SnapshotCheck { name: name.clone(), ok: problems.is_empty(), problems });
    }
    let files: Vec<(PathBuf, String)> = wanted.into_iter().collect();
    let (bad, bytes) = hash_all(dir, &files);
    for (check, list) in snapshots.iter_mut().zip(&lists) {
        let mut seen = HashSet::new();
        for f in list.iter().filter(|f| f.here) {
            let at = stored_at(f);
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
