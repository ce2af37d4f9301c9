//! Originals, content-addressed and immutable. The [`BlobBackend`] trait is what the rest of
//! media needs from a store; [`LocalBlobStore`] keeps them on the workstation's disk as
//! `blobs/ab/cd/<sha256>`. The S3 side plugs in behind the same trait.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Whether a put wrote a new object or found the same content already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    AlreadyPresent,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("{0:?} is not a SHA-256 content address")]
    BadAddress(String),
    #[error("the data written hashed to {actual}, not the expected {expected}: nothing was stored")]
    HashMismatch { expected: String, actual: String },
    #[error("blob {0} is not in the store")]
    NotFound(String),
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

impl BlobError {
    fn io(context: impl Into<String>, source: io::Error) -> Self {
        BlobError::Io { context: context.into(), source }
    }
}

/// A store of immutable originals addressed by their SHA-256 (lowercase hex).
pub trait BlobBackend: Send + Sync {
    /// Stores `data` under `sha256`, checking while writing that the bytes really hash to it.
    /// Never overwrites: content already present is left untouched.
    fn put(&self, sha256: &str, data: &mut dyn Read) -> Result<PutOutcome, BlobError>;
    /// Opens a stored blob for reading.
    fn open(&self, sha256: &str) -> Result<Box<dyn Read + Send>, BlobError>;
    fn contains(&self, sha256: &str) -> Result<bool, BlobError>;
}

pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Originals on local disk. Writes are atomic and durable: a temp file in the destination
/// folder, fsync, a no-clobber link into place, fsync of the folder.
pub struct LocalBlobStore {
    root: PathBuf,
}

/// Marks files that are still being written; a crash can leave one behind for `verify`.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

impl LocalBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBlobStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether any original is on disk (stops at the first one found).
    pub fn holds_any(&self) -> bool {
        fn any_file(dir: &Path, depth: usize) -> bool {
            let Ok(entries) = fs::read_dir(dir) else { return false };
            entries.flatten().any(|e| match e.file_type() {
                Ok(t) if t.is_dir() => depth < 3 && any_file(&e.path(), depth + 1),
                Ok(_) => is_sha256_hex(&e.file_name().to_string_lossy()),
                Err(_) => false,
            })
        }
        any_file(&self.root, 0)
    }

    /// Where a blob lives (whether or not it exists). `sha256` must be a valid address.
    pub fn path_of(&self, sha256: &str) -> Result<PathBuf, BlobError> {
        if !is_sha256_hex(sha256) {
            return Err(BlobError::BadAddress(sha256.to_string()));
        }
        Ok(self.root.join(&sha256[0..2]).join(&sha256[2..4]).join(sha256))
    }
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// An original just written and linked into place, whose import has not committed yet. While
/// it lives, the file is locked (`flock`), so a `verify` running beside the import knows the
/// unreferenced file is in progress rather than stray; the lock dies with the process, so what
/// a killed import left is recognised at once — no timer involved.
pub struct StagedBlob {
    pub outcome: PutOutcome,
    _lock: Option<File>,
}

impl LocalBlobStore {
    /// Writes `data` under `sha256` (checked while writing, never overwriting) and keeps it
    /// locked until the returned guard is dropped — after the database commit that names it.
    pub fn stage(&self, sha256: &str, data: &mut dyn Read) -> Result<StagedBlob, BlobError> {
        if self.path_of(sha256)?.exists() {
            return Ok(StagedBlob { outcome: PutOutcome::AlreadyPresent, _lock: None });
        }
        let received = self.receive(data, u64::MAX).map_err(|e| match e {
            ReceiveError::Read(e) => BlobError::io("reading the data to store", e),
            ReceiveError::Write(e) => e,
            ReceiveError::TooLarge => BlobError::io("reading the data to store", io::Error::other("too large")),
        })?;
        if received.sha256 != sha256 {
            return Err(BlobError::HashMismatch { expected: sha256.to_string(), actual: received.sha256.clone() });
        }
        received.into_place(self)
    }
}

/// An incoming original copied into a locked temp file in the store's root while it was hashed
/// (one pass, bounded memory, whatever its size), not yet under its address. Import reads it
/// from here (scans, sniffs, decodes), then [`Received::into_place`] links it where it belongs;
/// dropped instead, the copy is removed. While it lives, `verify` sees it as in progress.
pub struct Received {
    tmp: PathBuf,
    file: File,
    pub sha256: String,
    pub len: u64,
}

/// Why an incoming copy stopped.
#[derive(Debug)]
pub enum ReceiveError {
    /// More than the limit came in: the copy was stopped there.
    TooLarge,
    /// Reading the source failed.
    Read(io::Error),
    /// Writing into the store failed.
    Write(BlobError),
}

impl LocalBlobStore {
    /// Copies at most `limit` bytes from `source` into a locked temp file, hashing them.
    pub fn receive(&self, source: &mut dyn Read, limit: u64) -> Result<Received, ReceiveError> {
        let root = &self.root;
        chairside_store::private::create_dir_all(root)
            .map_err(|e| ReceiveError::Write(BlobError::io(format!("creating {}", root.display()), e)))?;
        // Locked before the first byte: verify never removes this temp file.
        let (tmp, file) = chairside_store::private::create_locked_temp(root, TEMP_PREFIX).map_err(|e| {
            ReceiveError::Write(BlobError::io(format!("creating a temp file in {}", root.display()), e))
        })?;
        let mut received = Received { tmp, file, sha256: String::new(), len: 0 };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1024 * 1024];
        let mut source = source.take(limit.saturating_add(1));
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReceiveError::Read(e)),
            };
            received.len += n as u64;
            if received.len > limit {
                return Err(ReceiveError::TooLarge);
            }
            hasher.update(&buf[..n]);
            received
                .file
                .write_all(&buf[..n])
                .map_err(|e| ReceiveError::Write(BlobError::io(format!("writing {}", received.tmp.display()), e)))?;
        }
        received.sha256 = hex::encode(hasher.finalize());
        Ok(received)
    }
}

impl Received {
    /// The copy, to read (scan, sniff, decode) before it is placed.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes the copy and links it under its address (never over an existing blob); the
    /// returned guard keeps it locked until the commit that names it.
    pub fn into_place(self, store: &LocalBlobStore) -> Result<StagedBlob, BlobError> {
        let dest = store.path_of(&self.sha256)?;
        let dir = dest.parent().expect("a blob path has a parent");
        if dest.exists() {
            return Ok(StagedBlob { outcome: PutOutcome::AlreadyPresent, _lock: None });
        }
        chairside_store::private::create_dir_all(dir)
            .map_err(|e| BlobError::io(format!("creating {}", dir.display()), e))?;
        self.file.sync_all().map_err(|e| BlobError::io(format!("flushing {}", self.tmp.display()), e))?;
        let _ = chairside_store::private::set_mode(&self.tmp, chairside_store::private::ORIGINAL_MODE);
        let outcome = match fs::hard_link(&self.tmp, &dest) {
            Ok(()) => PutOutcome::Created,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => PutOutcome::AlreadyPresent,
            Err(_) if !dest.exists() => {
                fs::rename(&self.tmp, &dest)
                    .map_err(|e| BlobError::io(format!("moving into {}", dest.display()), e))?;
                PutOutcome::Created
            }
            Err(_) => PutOutcome::AlreadyPresent,
        };
        fsync_dir(dir).map_err(|e| BlobError::io(format!("flushing folder {}", dir.display()), e))?;
        // The lock is the inode's, so it now guards the blob under its address.
        let lock = (outcome == PutOutcome::Created).then(|| self.file.try_clone().ok()).flatten();
        Ok(StagedBlob { outcome, _lock: lock })
        // `self` drops here: its temp name goes (after a rename it is already gone).
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Whether another process (or thread) holds the lock of a file being staged.
pub(crate) fn is_being_staged(path: &Path) -> bool {
    match File::open(path) {
        Ok(f) => matches!(f.try_lock_shared(), Err(fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

impl BlobBackend for LocalBlobStore {
    fn put(&self, sha256: &str, data: &mut dyn Read) -> Result<PutOutcome, BlobError> {
        Ok(self.stage(sha256, data)?.outcome)
    }

    fn open(&self, sha256: &str) -> Result<Box<dyn Read + Send>, BlobError> {
        let path = self.path_of(sha256)?;
        match File::open(&path) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BlobError::NotFound(sha256.to_string())),
            Err(e) => Err(BlobError::io(format!("opening {}", path.display()), e)),
        }
    }

    fn contains(&self, sha256: &str) -> Result<bool, BlobError> {
        Ok(self.path_of(sha256)?.is_file())
    }
}

/// The whole original, refused unless its bytes still hash to its address: the one read of
/// an original everything else goes through.
pub fn read_checked(blobs: &dyn BlobBackend, sha256: &str) -> Result<Vec<u8>, crate::MediaError> {
    use crate::MediaError;
    let mut bytes = Vec::new();
    blobs
        .open(sha256)
        .map_err(|_| MediaError::BlobMissing { sha256: sha256.to_string() })?
        .read_to_end(&mut bytes)
        .map_err(|e| MediaError::io(format!("reading blob {sha256}"), e))?;
    let actual = sha256_of(&mut bytes.as_slice()).map_err(|e| MediaError::io("hashing", e))?.0;
    if actual != sha256 {
        return Err(MediaError::BlobCorrupt { sha256: sha256.to_string(), actual });
    }
    Ok(bytes)
}

/// Checks a stored original's file still hashes to its address, reading it as a stream.
pub fn check_file(path: &Path, sha256: &str) -> Result<(), crate::MediaError> {
    use crate::MediaError;
    let mut file = File::open(path).map_err(|_| MediaError::BlobMissing { sha256: sha256.to_string() })?;
    let (actual, _) = sha256_of(&mut file).map_err(|e| MediaError::io(format!("reading blob {sha256}"), e))?;
    if actual != sha256 {
        return Err(MediaError::BlobCorrupt { sha256: sha256.to_string(), actual });
    }
    Ok(())
}

/// Hashes everything `reader` yields: (hex SHA-256, byte count).
pub fn sha256_of(reader: &mut dyn Read) -> io::Result<(String, u64)> {
    with_io_buffer(|buf| {
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        loop {
            let n = match reader.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        Ok((hex::encode(hasher.finalize()), total))
    })
}

/// Runs `f` with this thread's 256 KiB buffer for reading files through. A verify or a backup
/// goes through a million small files, and a fresh large buffer for each (an mmap, its page
/// faults, an munmap) cost more than the hashing itself. Not re-entrant: `f` gets a buffer of
/// its own if this thread's is already lent out.
pub fn with_io_buffer<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    const BYTES: usize = 256 * 1024;
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < BYTES {
                buf.resize(BYTES, 0);
            }
            f(&mut buf)
        }
        Err(_) => f(&mut vec![0u8; BYTES]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_content_checked_create_only_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalBlobStore::new(dir.path());
        let data = b"an original".to_vec();
        let (sha, _) = sha256_of(&mut data.as_slice()).expect("hash");
        assert_eq!(store.put(&sha, &mut data.as_slice()).expect("put"), PutOutcome::Created);
        assert_eq!(store.put(&sha, &mut data.as_slice()).expect("put again"), PutOutcome::AlreadyPresent);
        let wrong = "0".repeat(64);
        assert!(matches!(store.put(&wrong, &mut data.as_slice()), Err(BlobError::HashMismatch { .. })));
        assert!(!store.contains(&wrong).expect("contains"), "a mismatching put stores nothing");
        let mut back = Vec::new();
        store.open(&sha).expect("open").read_to_end(&mut back).expect("read");
        assert_eq!(back, data);
        let leftovers: Vec<_> =
            walk(dir.path()).into_iter().filter(|p| p.to_string_lossy().contains(TEMP_PREFIX)).collect();
        assert!(leftovers.is_empty(), "temp files must not survive a put: {leftovers:?}");
        assert!(
            matches!(store.path_of("../../etc/passwd"), Err(BlobError::BadAddress(_))),
            "only hex addresses become paths"
        );
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
        }
        out
    }
}
