//! Rebuilding a library from a backup into an empty folder: every file hashed as it is copied,
//! and either all of it is restored or none of it is left behind.

use std::fs;
use std::path::Path;
use std::time::Instant;

use chairside_store::private::{FILE_MODE, ORIGINAL_MODE};

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::check::{Opened, open_snapshot, require_backup};
use crate::files::{
    CHUNK_BYTES, CopyError, DATABASE, SNAPSHOTS, chunk_path, copy_checked, snapshot_names, write_durable,
};
use crate::take::stored_at;
use crate::{BackupError, RestoreReport};

/// Present in a folder while a restore into it is under way: a library with this file is not
/// opened (it may lack originals), until the restore that wrote it has finished.
pub const RESTORE_MARKER: &str = ".chairside-restore-incomplete";

/// Restores the snapshot `at` (default: the newest) of the backup in `from` into `into`, a
/// new or empty folder. Every file is checked against its SHA-256 on the way; if anything is
/// missing or damaged, nothing is left in `into` and the error names each problem.
///
/// On success `into` still holds [`RESTORE_MARKER`]: the caller finishes the library (records
/// the restore in its audit trail) and then calls [`finish`].
pub fn restore(from: &Path, at: Option<&str>, into: &Path) -> Result<RestoreReport, BackupError> {
    let started = Instant::now();
    require_backup(from)?;
    let names = snapshot_names(from)?;
    let name = match at {
        Some(at) => {
            names.iter().find(|n| n.as_str() == at).cloned().ok_or_else(|| BackupError::SnapshotNotFound(at.into()))?
        }
        None => names.last().cloned().ok_or_else(|| BackupError::NoSnapshot(from.to_path_buf()))?,
    };
    let created = prepare_target(into)?;
    let Opened { manifest, list, chunks, problems } = open_snapshot(from, &name);
    let manifest = match manifest {
        Some(m) if problems.is_empty() => m,
        _ => {
            undo(into, created);
            return Err(BackupError::Damaged { problems });
        }
    };
    let result = (|| {
        write_durable(&into.join(RESTORE_MARKER), b"a restore from a backup is under way, or was cut short\n")?;
        let mut problems = Vec::new();
        let mut files = 0u64;
        let mut bytes = 0u64;
        // A format-1 snapshot holds its database as one file, copied like the others below.
        if manifest.database.chunks.is_some() {
            match join_chunks(from, &chunks, &into.join(DATABASE), &manifest.database.sha256)? {
                Ok(n) => {
                    files += 1;
                    bytes += n;
                }
                Err(problem) => problems.push(problem),
            }
        }
        let mut copy =
            |src: &Path, dest: &Path, sha: &str, mode: u32, shown: &Path| match copy_checked(src, dest, sha, mode) {
                Ok(n) => {
                    files += 1;
                    bytes += n;
                    Ok(())
                }
                Err(CopyError::Write(e)) => Err(BackupError::io(format!("writing {}", dest.display()), e)),
                Err(e) => {
                    problems.push(e.describe(shown));
                    Ok(())
                }
            };
        if manifest.database.chunks.is_none() {
            let shown_db = Path::new(SNAPSHOTS).join(&name).join(DATABASE);
            let db_src = from.join(&shown_db);
            copy(&db_src, &into.join(DATABASE), &manifest.database.sha256, FILE_MODE, &shown_db)?;
        }
        let mut not_here = 0u64;
        for f in &list {
            if !f.here {
                not_here += u64::from(f.original);
                continue;
            }
            let at = stored_at(f);
            let mode = if f.original { ORIGINAL_MODE } else { FILE_MODE };
            copy(&from.join(&at), &into.join(&f.relative), &f.sha256, mode, &at)?;
        }
        if !problems.is_empty() {
            return Err(BackupError::Damaged { problems });
        }
        crate::files::sync_filesystem(into).map_err(|e| BackupError::io(format!("syncing {}", into.display()), e))?;
        Ok(RestoreReport {
            from: from.to_path_buf(),
            into: into.to_path_buf(),
            snapshot: name.clone(),
            snapshot_created_at: manifest.created_at.clone(),
            workstation: manifest.workstation.clone(),
            files_restored: files,
            bytes_restored: bytes,
            originals_not_here: not_here,
            seconds: started.elapsed().as_secs_f64(),
        })
    })();
    if result.is_err() {
        undo(into, created);
    }
    result
}

/// Writes the database file `dest` from its chunks, each checked against its address and the
/// whole against `sha256`. `Ok(Err(problem))` when a chunk is missing or damaged (the file is
/// then incomplete, and the restore is undone); `Err` when writing failed.
fn join_chunks(from: &Path, chunks: &[String], dest: &Path, sha256: &str) -> Result<Result<u64, String>, BackupError> {
    let ctx = || format!("writing {}", dest.display());
    let mut out = chairside_store::private::create_new(dest).map_err(|e| BackupError::io(ctx(), e))?;
    let mut whole = Sha256::new();
    let mut total = 0u64;
    for c in chunks {
        let at = chunk_path(c);
        // Read to one byte past the largest chunk: a file grown by damage is refused, not
        // loaded whole.
        let mut data = Vec::with_capacity(CHUNK_BYTES);
        let read = fs::File::open(from.join(&at))
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, CHUNK_BYTES as u64 + 1), &mut data));
        match read {
            Ok(n) if n > CHUNK_BYTES => {
                return Ok(Err(format!("{} is damaged (longer than a chunk)", at.display())));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Err(format!("{} is missing", at.display())));
            }
            Err(e) => return Ok(Err(format!("{} cannot be read: {e}", at.display()))),
        }
        let actual = hex::encode(Sha256::digest(&data));
        if &actual != c {
            return Ok(Err(format!("{} is damaged (its bytes hash to {actual})", at.display())));
        }
        whole.update(&data);
        out.write_all(&data).map_err(|e| BackupError::io(ctx(), e))?;
        total += data.len() as u64;
    }
    let actual = hex::encode(whole.finalize());
    if actual != sha256 {
        return Ok(Err(format!("the database of the snapshot does not match its manifest (it hashes to {actual})")));
    }
    out.sync_all().map_err(|e| BackupError::io(ctx(), e))?;
    Ok(Ok(total))
}

/// Marks a restore finished: the library in `into` may be opened.
pub fn finish(into: &Path) -> Result<(), BackupError> {
    let marker = into.join(RESTORE_MARKER);
    fs::remove_file(&marker).map_err(|e| BackupError::io(format!("removing {}", marker.display()), e))?;
    crate::files::fsync_dir(into).map_err(|e| BackupError::io(format!("syncing {}", into.display()), e))
}

/// Takes back a finished copy the caller refused (its database failed SQLite's checks): `into`
/// is emptied, as it was before the restore.
pub fn abandon(into: &Path) {
    undo(into, false);
}

/// `into` must be new (its parent there) or an empty folder. Returns whether it was created.
fn prepare_target(into: &Path) -> Result<bool, BackupError> {
    match fs::read_dir(into) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::TargetNotEmpty(into.to_path_buf()));
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            chairside_store::private::create_dir_all(into)
                .map_err(|e| BackupError::io(format!("creating {}", into.display()), e))?;
            Ok(true)
        }
        Err(e) => Err(BackupError::io(format!("reading {}", into.display()), e)),
    }
}

/// Leaves `into` as it was found: removed if the restore created it, else emptied (it was
/// empty, so everything in it is the restore's own).
fn undo(into: &Path, created: bool) {
    if created {
        let _ = fs::remove_dir_all(into);
        return;
    }
    if let Ok(entries) = fs::read_dir(into) {
        for e in entries.flatten() {
            let p = e.path();
            let _ = if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
        }
    }
}
