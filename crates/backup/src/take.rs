//! Taking a backup: the database snapshot first (one moment), then every file it names that
//! the folder lacks, then the file list and manifest, then the rename that makes it whole.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chairside_store::Db;
use chairside_store::private::{FILE_MODE, ORIGINAL_MODE};

use sha2::{Digest, Sha256};

use crate::files::{
    CHUNK_BYTES, CHUNK_LIST, CHUNKS, ChunksEntry, CopyError, DATABASE, DatabaseEntry, FILE_LIST, FilesEntry,
    FolderMarker, LOCK_FILE, ListedFile, MANIFEST, Manifest, PARTIAL_SUFFIX, SNAPSHOTS, chunk_path, copy_checked,
    fsync_dir, read_chunk_list, read_marker, snapshot_names, store_new, sync_filesystem, write_durable,
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

    let DatabaseSnapshot { files, entry: database, written } = snapshot_database(src.db, target, &partial)?;
    // What the last snapshot says the folder holds: those files are not looked for again.
    let known = previous.map(|p| held_files(&target.join(SNAPSHOTS).join(p).join(FILE_LIST))).unwrap_or_default();
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
        database_bytes: database.bytes,
        database_bytes_written: written,
        snapshots_removed: Vec::new(),
        problems: Vec::new(),
        seconds: 0.0,
    };
    // One line of some 150 bytes per file, sized up front.
    let mut list = String::with_capacity(files.len() * 160);
    for f in files {
        let mut listed =
            ListedFile { sha256: f.sha256, bytes: f.bytes, here: true, original: f.original, relative: f.relative };
        let held = ListedKey::of(listed.original, &listed.sha256).is_some_and(|k| known.contains(&k));
        let dest = if held { PathBuf::new() } else { target.join(stored_at(&listed)) };
        if !held && !dest.exists() {
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
        listed.write_line(&mut list);
    }

    // Every copied file on the disk before any file that names them.
    sync_filesystem(target).map_err(|e| BackupError::io(format!("syncing {}", target.display()), e))?;
    let list_path = partial.join(FILE_LIST);
    write_durable(&list_path, list.as_bytes())?;
    let manifest = Manifest {
        format: SNAPSHOT_FORMAT.into(),
        snapshot: name.clone(),
        created_at: report.created_at.clone(),
        workstation: src.workstation.to_string(),
        chairside_version: env!("CARGO_PKG_VERSION").into(),
        database,
        files: FilesEntry {
            list: FILE_LIST.into(),
            sha256: hex::encode(Sha256::digest(list.as_bytes())),
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

/// A file of the folder as a snapshot's list names it: original or thumbnail, and its hash.
#[derive(PartialEq, Eq, Hash)]
struct ListedKey(bool, [u8; 32]);

impl ListedKey {
    fn of(original: bool, sha256: &str) -> Option<ListedKey> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(sha256, &mut bytes).ok()?;
        Some(ListedKey(original, bytes))
    }
}

/// The files a snapshot's list says the folder holds, read lightly (a million lines): a line
/// that does not parse only means that file is looked for on the disk.
fn held_files(list: &Path) -> HashSet<ListedKey> {
    let Ok(text) = fs::read_to_string(list) else { return HashSet::new() };
    // Sized up front (a line is some 150 bytes): growing a table of a million rehashes it often.
    let mut held = HashSet::with_capacity(text.len() / 128);
    held.extend(text.lines().filter_map(|line| {
        let mut f = line.split('\t');
        let (sha, _, here, kind) = (f.next()?, f.next()?, f.next()?, f.next()?);
        (here == "1").then(|| ListedKey::of(kind == "o", sha)).flatten()
    }));
    held
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

/// What [`snapshot_database`] wrote.
struct DatabaseSnapshot {
    files: Vec<chairside_media::StoredFile>,
    entry: DatabaseEntry,
    /// Bytes of new chunks written (the rest were in the folder already).
    written: u64,
}

/// The database as of one moment, read in one transaction with the files it names: its pages
/// cut into chunks, only the chunks the folder lacks written (under [`CHUNKS`]), the chunk
/// list durable in `partial`. Two threads beside the reader hash the whole file and the chunks.
fn snapshot_database(db: &Db, target: &Path, partial: &Path) -> Result<DatabaseSnapshot, BackupError> {
    use std::sync::Arc;
    use std::sync::mpsc::sync_channel;
    type Chunk = Arc<Vec<u8>>;

    let (files, sha256, bytes, chunks, written) = db.read_at_one_moment(|conn| {
        let files = chairside_media::stored_files(conn)?;
        let (to_whole, whole_rx) = sync_channel::<Chunk>(32);
        let (to_store, store_rx) = sync_channel::<Chunk>(32);
        std::thread::scope(|s| {
            let whole = s.spawn(move || {
                let mut hasher = Sha256::new();
                for c in whole_rx {
                    hasher.update(c.as_slice());
                }
                hex::encode(hasher.finalize())
            });
            let store = s.spawn(move || -> Result<(Vec<String>, u64), BackupError> {
                let mut list = Vec::new();
                let mut written = 0u64;
                for c in store_rx {
                    let sha = hex::encode(Sha256::digest(c.as_slice()));
                    let dest = target.join(chunk_path(&sha));
                    if !dest.exists() {
                        store_new(&dest, &c, FILE_MODE)
                            .map_err(|e| BackupError::io(format!("writing {}", dest.display()), e))?;
                        written += c.len() as u64;
                    }
                    list.push(sha);
                }
                Ok((list, written))
            });
            // A send fails only when the storing thread stopped on an error: that error is
            // the one reported below.
            let stopped = || chairside_store::StoreError::TornRead("the backup stopped writing".into());
            let read = chairside_store::read_pages(conn, CHUNK_BYTES, |c| {
                let c: Chunk = Arc::new(c.to_vec());
                to_whole.send(Arc::clone(&c)).map_err(|_| stopped())?;
                to_store.send(c).map_err(|_| stopped())
            });
            drop((to_whole, to_store));
            let sha256 = whole.join().map_err(|_| panicked())?;
            let (chunks, written) = store.join().map_err(|_| panicked())??;
            let bytes = read?;
            Ok::<_, BackupError>((files, sha256, bytes, chunks, written))
        })
    })?;
    let mut list = String::with_capacity(chunks.len() * 65);
    for c in &chunks {
        list.push_str(c);
        list.push('\n');
    }
    write_durable(&partial.join(CHUNK_LIST), list.as_bytes())?;
    let entry = DatabaseEntry {
        file: DATABASE.into(),
        sha256,
        bytes,
        chunks: Some(ChunksEntry {
            list: CHUNK_LIST.into(),
            sha256: hex::encode(Sha256::digest(list.as_bytes())),
            count: chunks.len() as u64,
            chunk_bytes: CHUNK_BYTES as u64,
        }),
    };
    Ok(DatabaseSnapshot { files, entry, written })
}

fn panicked() -> BackupError {
    BackupError::io("taking the database snapshot", std::io::Error::other("a backup thread panicked"))
}

/// Keeps the newest `keep` snapshots. Only database snapshots go: the originals they named
/// stay (newer snapshots name them too, and a backup never loses an original); the database
/// chunks no kept snapshot names go with them.
fn prune(target: &Path, keep: usize) -> Result<Vec<String>, BackupError> {
    let names = snapshot_names(target)?;
    let excess = names.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for name in names.into_iter().take(excess) {
        let dir = target.join(SNAPSHOTS).join(&name);
        fs::remove_dir_all(&dir).map_err(|e| BackupError::io(format!("removing {}", dir.display()), e))?;
        removed.push(name);
    }
    if !removed.is_empty() {
        remove_unnamed_chunks(target)?;
    }
    Ok(removed)
}

/// Removes the database chunks no snapshot names (those of pruned snapshots, and any a killed
/// run wrote). Nothing is removed unless every snapshot's chunk list could be read.
fn remove_unnamed_chunks(target: &Path) -> Result<(), BackupError> {
    let mut named = HashSet::new();
    for name in snapshot_names(target)? {
        let snap = target.join(SNAPSHOTS).join(&name);
        // A format-1 snapshot holds its database whole and names no chunk.
        let path = snap.join(CHUNK_LIST);
        if !path.exists() && snap.join(DATABASE).exists() {
            continue;
        }
        match read_chunk_list(&path) {
            Ok(list) => named.extend(list),
            Err(_) => return Ok(()),
        }
    }
    let root = target.join(CHUNKS);
    let Ok(dirs) = fs::read_dir(&root) else { return Ok(()) };
    for dir in dirs.flatten() {
        let Ok(files) = fs::read_dir(dir.path()) else { continue };
        for f in files.flatten() {
            if !named.contains(f.file_name().to_string_lossy().as_ref()) {
                fs::remove_file(f.path())
                    .map_err(|e| BackupError::io(format!("removing {}", f.path().display()), e))?;
            }
        }
    }
    Ok(())
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
