//! The files of a backup folder: its marker, each snapshot's manifest and file list, and the
//! one way a file is copied in or out (hashed while it is copied, durable before it is named).

use std::fs::{self, File};
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{BackupError, FOLDER_FILE};

pub(crate) const SNAPSHOTS: &str = "snapshots";
pub(crate) const PARTIAL_SUFFIX: &str = ".partial";
pub(crate) const DATABASE: &str = "library.sqlite3";
pub(crate) const FILE_LIST: &str = "files.tsv";
pub(crate) const MANIFEST: &str = "manifest.json";
/// A snapshot's database as the list of its chunks, in order (format 2).
pub(crate) const CHUNK_LIST: &str = "database.chunks";
/// Where the database chunks of every snapshot live, content-addressed: a snapshot writes only
/// the chunks the folder lacks (the pages that changed since the last one).
pub(crate) const CHUNKS: &str = "dbchunks";
/// A chunk of the database: 16 pages of 4 KiB. Small enough that 200 new photos (a few pages
/// each, scattered over the tables and indexes) change some megabytes, not the whole file;
/// large enough that a million-document database is some 20,000 files.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;
/// Held (flock) for the whole of a backup run: one writer per folder.
pub(crate) const LOCK_FILE: &str = ".backup.lock";
const TEMP_PREFIX: &str = ".tmp-";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FolderMarker {
    pub format: String,
    /// The library's backup id (see [`crate::settings::library_id`]).
    pub library: String,
    /// The workstation that first backed up here, for people reading the file.
    pub workstation: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub format: String,
    pub snapshot: String,
    pub created_at: String,
    pub workstation: String,
    pub chairside_version: String,
    pub database: DatabaseEntry,
    pub files: FilesEntry,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DatabaseEntry {
    /// The database file's name, in the snapshot's folder (format 1) or once restored.
    pub file: String,
    /// The SHA-256 of the whole database file.
    pub sha256: String,
    pub bytes: u64,
    /// Format 2: the database is these chunks, in order, under [`CHUNKS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<ChunksEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChunksEntry {
    /// The chunk list's file name, in the snapshot's folder: a SHA-256 a line.
    pub list: String,
    pub sha256: String,
    pub count: u64,
    pub chunk_bytes: u64,
}

/// Where a database chunk lives inside the backup folder (`sha256` is checked hex).
pub(crate) fn chunk_path(sha256: &str) -> PathBuf {
    PathBuf::from(CHUNKS).join(sha256.get(0..2).unwrap_or("00")).join(sha256)
}

/// Reads a snapshot's chunk list, each line checked hex.
pub(crate) fn read_chunk_list(path: &Path) -> Result<Vec<String>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(n, l)| {
            chairside_media::blobstore::is_sha256_hex(l)
                .then(|| l.to_string())
                .ok_or_else(|| format!("{} line {} is damaged", path.display(), n + 1))
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FilesEntry {
    pub list: String,
    pub sha256: String,
    pub originals: u64,
    pub originals_bytes: u64,
    pub originals_not_here: u64,
    pub thumbnails: u64,
}

/// One line of `files.tsv`: `sha256 \t bytes|- \t here(1|0) \t original(o|t) \t relative path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedFile {
    pub sha256: String,
    pub bytes: Option<u64>,
    /// Whether the folder holds it (an original only in the clinic's bucket is named, not here).
    pub here: bool,
    pub original: bool,
    pub relative: PathBuf,
}

impl ListedFile {
    /// Appends its line to `out`.
    pub fn write_line(&self, out: &mut String) {
        use std::fmt::Write as _;
        out.push_str(&self.sha256);
        out.push('\t');
        match self.bytes {
            // Writing to a String cannot fail.
            Some(b) => {
                let _ = write!(out, "{b}");
            }
            None => out.push('-'),
        }
        out.push_str(if self.here { "\t1\t" } else { "\t0\t" });
        out.push_str(if self.original { "o\t" } else { "t\t" });
        out.push_str(&self.relative.to_string_lossy());
        out.push('\n');
    }

    fn parse(line: &str) -> Option<ListedFile> {
        let mut f = line.split('\t');
        let sha256 = f.next()?.to_string();
        let bytes = match f.next()? {
            "-" => None,
            n => Some(n.parse().ok()?),
        };
        let here = match f.next()? {
            "1" => true,
            "0" => false,
            _ => return None,
        };
        let original = match f.next()? {
            "o" => true,
            "t" => false,
            _ => return None,
        };
        let relative = PathBuf::from(f.next()?);
        let sound = chairside_media::blobstore::is_sha256_hex(&sha256)
            && chairside_media::inventory::is_library_file_path(&relative)
            && f.next().is_none();
        sound.then_some(ListedFile { sha256, bytes, here, original, relative })
    }
}

/// Reads a snapshot's file list, each line checked (a damaged list is a finding, and its paths
/// are never trusted to stay inside the folder).
pub(crate) fn read_list(path: &Path) -> Result<Vec<ListedFile>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        out.push(ListedFile::parse(&line).ok_or_else(|| format!("{} line {} is damaged", path.display(), n + 1))?);
    }
    Ok(out)
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is damaged: {e}", path.display()))
}

/// Writes a new small file durably: a temp file, fsync, rename, fsync of the folder.
pub(crate) fn write_durable(path: &Path, data: &[u8]) -> Result<(), BackupError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let ctx = || format!("writing {}", path.display());
    let (tmp, mut file) = temp_in(dir).map_err(|e| BackupError::io(ctx(), e))?;
    let written = file.write_all(data).and_then(|()| file.sync_all()).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(BackupError::io(ctx(), e));
    }
    fsync_dir(dir).map_err(|e| BackupError::io(ctx(), e))
}

fn temp_in(dir: &Path) -> io::Result<(PathBuf, File)> {
    chairside_store::private::create_dir_all(dir)?;
    let tmp = dir.join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4()));
    let file = chairside_store::private::create_new(&tmp)?;
    Ok((tmp, file))
}

pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    // Windows cannot open a folder as a file; its rename is durable once the file is.
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Makes everything written so far on the filesystem holding `dir` durable (`syncfs`, Linux
/// only; elsewhere each file was synced as it was copied).
pub(crate) fn sync_filesystem(dir: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(File::open(dir)?).map_err(io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Why a file could not be copied.
#[derive(Debug)]
pub(crate) enum CopyError {
    SourceMissing,
    /// The bytes read hashed to this, not to what they must: nothing was written.
    Mismatch(String),
    Read(io::Error),
    Write(io::Error),
}

impl CopyError {
    pub fn describe(&self, what: &Path) -> String {
        match self {
            CopyError::SourceMissing => format!("{} is missing", what.display()),
            CopyError::Mismatch(actual) => {
                format!("{} is damaged (its bytes hash to {actual})", what.display())
            }
            CopyError::Read(e) => format!("{} cannot be read: {e}", what.display()),
            CopyError::Write(e) => format!("writing a copy of {} failed: {e}", what.display()),
        }
    }
}

/// Copies `src` to `dest` (which must not exist), hashing while copying: only bytes that hash
/// to `sha256` are ever given the destination's name. Durable once [`sync_filesystem`] has run.
/// Returns the bytes copied.
pub(crate) fn copy_checked(src: &Path, dest: &Path, sha256: &str, mode: u32) -> Result<u64, CopyError> {
    let mut input = match File::open(src) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(CopyError::SourceMissing),
        Err(e) => return Err(CopyError::Read(e)),
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    let (tmp, mut out) = temp_in(dir).map_err(CopyError::Write)?;
    let result = (|| {
        let mut hasher = Sha256::new();
        let total = chairside_media::blobstore::with_io_buffer(|buf| {
            let mut total = 0u64;
            loop {
                let n = match input.read(buf) {
                    Ok(0) => return Ok(total),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(CopyError::Read(e)),
                };
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(CopyError::Write)?;
                total += n as u64;
            }
        })?;
        let actual = hex::encode(hasher.finalize());
        if actual != sha256 {
            return Err(CopyError::Mismatch(actual));
        }
        name_written(&out, &tmp, dest, mode).map_err(CopyError::Write)?;
        Ok(total)
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// Writes `data` as a new file `dest` (left as it is if it exists: every file here is named by
/// its content). Durable once [`sync_filesystem`] has run, as a copied file is.
pub(crate) fn store_new(dest: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let (tmp, mut out) = temp_in(dir)?;
    let result = out.write_all(data).and_then(|()| name_written(&out, &tmp, dest, mode));
    let _ = fs::remove_file(&tmp);
    result
}

/// Gives the temp file `tmp` (open as `out`, fully written) the name `dest`, with `mode`; the
/// caller removes `tmp` after.
fn name_written(out: &File, tmp: &Path, dest: &Path, mode: u32) -> io::Result<()> {
    // Durability comes once for the whole run (`sync_filesystem`, before the manifest that
    // names these files is written): a sync per file would make a first backup of a million
    // originals take hours. Where there is no such call, each file is synced.
    #[cfg(not(target_os = "linux"))]
    out.sync_all()?;
    #[cfg(target_os = "linux")]
    let _ = out;
    // Originals are read-only, as in the library.
    chairside_store::private::set_mode(tmp, mode)?;
    // A hard link never replaces a file that appeared meanwhile under that name.
    match fs::hard_link(tmp, dest) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// A file's SHA-256 and size.
pub(crate) fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    chairside_media::blobstore::sha256_of(&mut f)
}

/// The folder's marker, `None` when the folder is not (yet) a backup.
pub(crate) fn read_marker(dir: &Path) -> Result<Option<FolderMarker>, BackupError> {
    let path = dir.join(FOLDER_FILE);
    if !path.exists() {
        return Ok(None);
    }
    read_json(&path).map(Some).map_err(|e| BackupError::io(e, io::Error::from(io::ErrorKind::InvalidData)))
}

/// The complete snapshots of a backup folder, oldest first (names sort by time).
pub(crate) fn snapshot_names(dir: &Path) -> Result<Vec<String>, BackupError> {
    let root = dir.join(SNAPSHOTS);
    let entries = match fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BackupError::io(format!("reading {}", root.display()), e)),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(PARTIAL_SUFFIX) && !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}
