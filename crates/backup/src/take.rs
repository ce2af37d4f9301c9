//! Taking a backup: the database snapshot first (one moment), then every file it names that
//! the folder lacks, then the file list and manifest, then the rename that makes it whole.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chairside_store::Db;
use chairside_store::private::{FILE_MODE, ORIGINAL_MODE};

use crate::files::{
    CopyError, DATABASE, DatabaseEntry, FILE_LIST, FilesEntry, FolderMarker, LOCK_FILE, ListedFile, MANIFEST, Manifest,
    PARTIAL_SUFFIX, SNAPSHOTS, copy_checked, fsync_dir, hash_file, read_list, read_marker, snapshot_names,
    sync_filesystem, write_durable,
};
use crate::{BackupError, BackupOptions, BackupReport, FOLDER_FILE, FOLDER_FORMAT, SNAPSHOT_FORMAT};

/// The library being backed up.
pub struct BackupSource<'a> {
    pub db: &'a Db,
    pub library_dir: &'a Path,
    pub workstation: &'a str,
}

impl BackupSource<'_> {
    fn library_id(&self) -> Result<String, BackupError> {
        self.db.write(|tx| crate::settings::library_id(tx))
    }
}

/// Where a file lives inside a backup folder: everything is content-addressed there, so a
/// thumbnail made again (other bytes at the same library path) never overwrites the one an
/// older snapshot names.
pub(crate) fn stored_at(f: &ListedFile) -> PathBuf {
    let s = &f.sha256;
    // A listed file's hash is checked hex (`ListedFile::parse`, or the library's own rows).
    match chairside_media::LocalBlobStore::new("blobs").path_of(s) {
        Ok(p) if f.original => p,
        _ => PathBuf::from("thumbs").join(s.get(0..2).unwrap_or("00")).join(s),
    }
}

/// Takes one backup of the library into `target`. Safe to run while the library is in use:
/// the database is copied as of one moment and the originals are immutable.
pub fn backup(src: &BackupSource<'_>, target: &Path, opts: &BackupOptions) -> Result<BackupReport, BackupError> {
    let started = Instant::now();
    open_folder(src, target, opts)?;
    let lock_path = target.join(LOCK_FILE);
    let mut options = File::options();
    options.create(true).truncate(false).write(true);
    // Private like every other file of the folder.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    let lock = options.open(&lock_path).map_err(|e| BackupError::io(format!("opening {}", lock_path.display()), e))?;
    if lock.try_lock().is_err() {
        return Err(BackupError::InProgress(target.to_path_buf()));
    }
    remove_partial_snapshots(target)?;
    let previous = snapshot_names(target)?.pop();
    let (name, partial) = new_snapshot_dir(target)?;

    let db_path = partial.join(DATABASE);
    let files = snapshot_database(src.db, &db_path)?;
    let known = match &previous {
        Some(p) => read_list(&target.join(SNAPSHOTS).join(p).join(FILE_LIST))
            .map(|l| l.iter().filter(|f| f.here).map(stored_at).collect::<HashSet<_>>())
            .unwrap_or_default(),
        None => HashSet::new(),
    };

    let mut report = BackupReport {
        target: target.to_path_buf(),
        snapshot: name.clone(),
        created_at: chairside_store::now_rfc3339(),
        originals: 0,
        originals_bytes: 0,
        originals_not_here: 0,
        thumbnails: 0,
        files_copied: 0,
        bytes_copied: 0,
        database_bytes: 0,
        snapshots_removed: Vec::new(),
        problems: Vec::new(),
        seconds: 0.0,
    };
    let mut list = String::new();
    for f in files {
        let mut listed =
            ListedFile { sha256: f.sha256, bytes: f.bytes, here: true, original: f.original, relative: f.relative };
        let at = stored_at(&listed);
        let dest = target.join(&at);
        if !known.contains(&at) && !dest.exists() {
            let mode = if listed.original { ORIGINAL_MODE } else { FILE_MODE };
            let source = src.library_dir.join(&listed.relative);
            match copy_checked(&source, &dest, &listed.sha256, mode) {
                Ok(n) => {
                    report.files_copied += 1;
                    report.bytes_copied += n;
                }
                // An original this workstation never downloaded stays in the clinic's bucket;
                // a thumbnail gone from the library is made again there by `verify`.
                Err(CopyError::SourceMissing) => listed.here = false,
                // The disk of the backup is what failed: stop, leaving only a partial snapshot.
                Err(CopyError::Write(e)) => return Err(BackupError::io(format!("writing {}", dest.display()), e)),
                // Damage is never copied into a backup: named, and left for `verify` to deal with.
                Err(e) => {
                    report.problems.push(e.describe(&source));
                    listed.here = false;
                }
            }
        }
        if listed.original {
            report.originals += 1;
            report.originals_bytes += listed.bytes.unwrap_or(0);
            report.originals_not_here += u64::from(!listed.here);
        } else {
            report.thumbnails += u64::from(listed.here);
        }
        list.push_str(&listed.line());
    }

    // Every copied file on the disk before any file that names them.
    sync_filesystem(target).map_err(|e| BackupError::io(format!("syncing {}", target.display()), e))?;
    let list_path = partial.join(FILE_LIST);
    write_durable(&list_path, list.as_bytes())?;
    let (db_sha, db_bytes) =
        hash_file(&db_path).map_err(|e| BackupError::io(format!("reading {}", db_path.display()), e))?;
    report.database_bytes = db_bytes;
    let manifest = Manifest {
        format: SNAPSHOT_FORMAT.into(),
        snapshot: name.clone(),
        created_at: report.created_at.clone(),
        workstation: src.workstation.to_string(),
        chairside_version: env!("CARGO_PKG_VERSION").into(),
        database: DatabaseEntry { file: DATABASE.into(), sha256: db_sha, bytes: db_bytes },
        files: FilesEntry {
            list: FILE_LIST.into(),
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(list.as_bytes())),
            originals: report.originals,
            originals_bytes: report.originals_bytes,
            originals_not_here: report.originals_not_here,
            thumbnails: report.thumbnails,
        },
    };
    let body = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    write_durable(&partial.join(MANIFEST), &body)?;
    let snapshots = target.join(SNAPSHOTS);
    let final_dir = snapshots.join(&name);
    fs::rename(&partial, &final_dir).map_err(|e| BackupError::io(format!("naming {}", final_dir.display()), e))?;
    fsync_dir(&snapshots).map_err(|e| BackupError::io(format!("syncing {}", snapshots.display()), e))?;

    report.snapshots_removed = prune(target, opts.keep.max(1))?;
    report.seconds = started.elapsed().as_secs_f64();
    drop(lock);
    Ok(report)
}

/// Checks the folder is this library's backup (or makes it one).
fn open_folder(src: &BackupSource<'_>, target: &Path, opts: &BackupOptions) -> Result<(), BackupError> {
    let library = src.library_id()?;
    if !target.is_dir() {
        let parent_there = target.parent().is_some_and(|p| p.as_os_str().is_empty() || p.is_dir());
        if opts.require_existing || !parent_there {
            return Err(BackupError::TargetMissing(target.to_path_buf()));
        }
        chairside_store::private::create_dir_all(target)
            .map_err(|e| BackupError::io(format!("creating {}", target.display()), e))?;
    }
    match read_marker(target)? {
        Some(m) if m.library != library => Err(BackupError::OtherLibrary {
            path: target.to_path_buf(),
            found: format!("first backed up here by workstation {}", m.workstation),
        }),
        Some(_) => Ok(()),
        None if opts.require_existing => Err(BackupError::TargetMissing(target.to_path_buf())),
        None => {
            let marker = FolderMarker {
                format: FOLDER_FORMAT.into(),
                library,
                workstation: src.workstation.to_string(),
                created_at: chairside_store::now_rfc3339(),
            };
            write_durable(&target.join(FOLDER_FILE), &serde_json::to_vec_pretty(&marker).unwrap_or_default())
        }
    }
}

/// What a backup cut short left: never a snapshot (its rename never happened), removed.
fn remove_partial_snapshots(target: &Path) -> Result<(), BackupError> {
    let root = target.join(SNAPSHOTS);
    if let Ok(entries) = fs::read_dir(&root) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(PARTIAL_SUFFIX) {
                fs::remove_dir_all(e.path())
                    .map_err(|err| BackupError::io(format!("removing {}", e.path().display()), err))?;
            }
        }
    }
    Ok(())
}

/// A new snapshot's name: its UTC second, then `-002`, `-003`… for more in the same second
/// (zero-padded, so names sort in time order: "newest" is the last name).
fn new_snapshot_dir(target: &Path) -> Result<(String, PathBuf), BackupError> {
    let root = target.join(SNAPSHOTS);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    // After every name of this second already there (a killed run's removed `.partial` must
    // not free a lower number: the newest must sort last).
    let index_of = |name: &str| -> Option<u32> {
        let rest = name.strip_suffix(PARTIAL_SUFFIX).unwrap_or(name).strip_prefix(stamp.as_str())?;
        if rest.is_empty() { Some(1) } else { rest.strip_prefix('-')?.parse().ok() }
    };
    let highest = std::fs::read_dir(&root)
        .map(|d| d.flatten().filter_map(|e| index_of(&e.file_name().to_string_lossy())).max().unwrap_or(0))
        .unwrap_or(0);
    for n in highest + 1..1000 {
        let name = if n == 1 { stamp.clone() } else { format!("{stamp}-{n:03}") };
        let partial = root.join(format!("{name}{PARTIAL_SUFFIX}"));
        if root.join(&name).exists() || partial.exists() {
            continue;
        }
        chairside_store::private::create_dir_all(&partial)
            .map_err(|e| BackupError::io(format!("creating {}", partial.display()), e))?;
        return Ok((name, partial));
    }
    Err(BackupError::io(
        format!("naming a snapshot in {}", root.display()),
        std::io::Error::from(std::io::ErrorKind::AlreadyExists),
    ))
}

/// The database as of one moment, durable at `dest`; returns the files it names.
fn snapshot_database(db: &Db, dest: &Path) -> Result<Vec<chairside_media::StoredFile>, BackupError> {
    let ctx = || format!("writing {}", dest.display());
    drop(chairside_store::private::create_new(dest).map_err(|e| BackupError::io(ctx(), e))?);
    let mut conn = rusqlite::Connection::open(dest)?;
    db.snapshot_into(&mut conn)?;
    let files = chairside_media::stored_files(&conn)?;
    conn.close().map_err(|(_, e)| BackupError::from(e))?;
    File::open(dest).and_then(|f| f.sync_all()).map_err(|e| BackupError::io(ctx(), e))?;
    Ok(files)
}

/// Keeps the newest `keep` snapshots. Only database snapshots go: the originals they named
/// stay (newer snapshots name them too, and a backup never loses an original).
fn prune(target: &Path, keep: usize) -> Result<Vec<String>, BackupError> {
    let names = snapshot_names(target)?;
    let excess = names.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for name in names.into_iter().take(excess) {
        let dir = target.join(SNAPSHOTS).join(&name);
        fs::remove_dir_all(&dir).map_err(|e| BackupError::io(format!("removing {}", dir.display()), e))?;
        removed.push(name);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_taken_in_one_second_sort_in_the_order_they_were_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut made = Vec::new();
        for _ in 0..12 {
            let (name, partial) = new_snapshot_dir(dir.path()).expect("snapshot dir");
            fs::rename(&partial, dir.path().join(SNAPSHOTS).join(&name)).expect("rename");
            made.push(name);
        }
        let listed = snapshot_names(dir.path()).expect("names");
        // Several seconds may pass, but within each the suffixes must keep the order.
        assert_eq!(listed, made);
    }
}
