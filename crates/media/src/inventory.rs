//! What files a library's database says it holds: every original and every ready thumbnail,
//! with where it lives (relative to the library folder) and what it must hash to. A backup
//! copies exactly these and a restore checks them; the tables stay media's.

use std::path::{Path, PathBuf};

use chairside_store::rusqlite::Connection;

use crate::MediaError;
use crate::blobstore::{LocalBlobStore, is_sha256_hex};
use crate::thumbs::ThumbStore;

/// One file of a library, as its database names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Where it lives, relative to the library folder (`blobs/ab/cd/<sha>`, `thumbs/256/ab/<sha>.jpg`).
    pub relative: PathBuf,
    /// What its bytes must hash to.
    pub sha256: String,
    /// Its size, where the database records it (originals).
    pub bytes: Option<u64>,
    pub original: bool,
}

/// Every original, then every ready thumbnail with a recorded hash, in a stable order. Works on
/// any connection to a library database — the live one or a snapshot of it. A row whose address
/// is not a SHA-256 names no file and is left out (`verify` reports it).
pub fn stored_files(conn: &Connection) -> Result<Vec<StoredFile>, MediaError> {
    let blobs = LocalBlobStore::new("blobs");
    let thumbs = ThumbStore::new("thumbs");
    // Each table read in its own order and sorted here: `ORDER BY sha256` walks the index and
    // fetches each row apart, five times slower over a million rows.
    let mut originals = Vec::new();
    let mut stmt = conn.prepare("SELECT sha256, byte_size FROM blobs")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (sha, size) = row?;
        if let Ok(relative) = blobs.path_of(&sha) {
            originals.push(StoredFile { relative, sha256: sha, bytes: u64::try_from(size).ok(), original: true });
        }
    }
    originals.sort_unstable_by(|a, b| a.sha256.cmp(&b.sha256));
    let mut thumbnails = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT sha256, size, format, file_sha256 FROM thumbnails
         WHERE status = 'ready' AND file_sha256 IS NOT NULL",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, String>(3)?))
    })?;
    for row in rows {
        let (sha, size, format, file_sha) = row?;
        if is_sha256_hex(&sha) && is_sha256_hex(&file_sha) {
            let relative = thumbs.path(&sha, size, format.as_deref().unwrap_or("jpg"));
            thumbnails.push((sha, size, StoredFile { relative, sha256: file_sha, bytes: None, original: false }));
        }
    }
    thumbnails.sort_unstable_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    originals.extend(thumbnails.into_iter().map(|(_, _, f)| f));
    Ok(originals)
}

/// Whether `relative` is a path [`stored_files`] could have produced: what a restore will
/// write into a new folder from a backup's own list must never climb out of it.
pub fn is_library_file_path(relative: &Path) -> bool {
    use std::path::Component;
    let mut parts = relative.components();
    let first_ok = matches!(parts.next(), Some(Component::Normal(p)) if p == "blobs" || p == "thumbs");
    first_ok && relative.components().count() >= 3 && relative.components().all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_inside_blobs_or_thumbs_are_library_files() {
        assert!(is_library_file_path(Path::new("blobs/ab/cd/abcd")));
        assert!(is_library_file_path(Path::new("thumbs/256/ab/abcd.jpg")));
        assert!(!is_library_file_path(Path::new("blobs/../../etc/passwd")));
        assert!(!is_library_file_path(Path::new("/blobs/ab/cd")));
        assert!(!is_library_file_path(Path::new("library.sqlite3")));
        assert!(!is_library_file_path(Path::new("blobs/x")));
    }
}
