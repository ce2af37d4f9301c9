//! The one quarantine layout. A file Chairside will not keep where it is (an original no row
//! names, a damaged copy about to be replaced) is moved, never deleted, to
//! `quarantine/<UTC stamp>/<store>/<its path inside the store>`, so each run's moves sit
//! together and every file says where it came from.

use std::io;
use std::path::{Path, PathBuf};

/// One run's folder under the quarantine root.
pub struct QuarantineRun {
    dir: PathBuf,
}

impl QuarantineRun {
    /// This moment's folder (not created until something is moved into it).
    pub fn now(root: &Path) -> QuarantineRun {
        QuarantineRun { dir: root.join(chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()) }
    }

    /// Writes `bytes` as `<store>/<rel>` in this run's folder (private, never over another
    /// file: a taken name gets a numbered suffix) and returns where they went.
    pub fn keep(&self, store: &str, rel: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
        let dest = self.free_name(store, rel)?;
        chairside_store::private::write_new(&dest, bytes)?;
        Ok(dest)
    }

    /// Copies the file at `from` as `<store>/<rel>` (a large file is never read whole).
    pub fn keep_copy(&self, store: &str, rel: &Path, from: &Path) -> io::Result<PathBuf> {
        let dest = self.free_name(store, rel)?;
        let mut out = chairside_store::private::create_new(&dest)?;
        std::io::copy(&mut std::fs::File::open(from)?, &mut out)?;
        out.sync_all()?;
        Ok(dest)
    }

    /// A name under `<store>/<rel>` no file has yet, its folder made.
    fn free_name(&self, store: &str, rel: &Path) -> io::Result<PathBuf> {
        let wanted = self.dir.join(store).join(rel);
        if let Some(parent) = wanted.parent() {
            chairside_store::private::create_dir_all(parent)?;
        }
        let mut dest = wanted.clone();
        let mut n = 1;
        while dest.exists() {
            dest = wanted.with_file_name(format!(
                "{}.{n}",
                wanted.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
            ));
            n += 1;
        }
        Ok(dest)
    }

    /// Moves `path`, a file inside the store `store` rooted at `store_root`, into this run's
    /// folder and returns where it went. A name already taken there gets a numbered suffix:
    /// nothing quarantined is ever overwritten.
    pub fn move_in(&self, store: &str, store_root: &Path, path: &Path) -> io::Result<PathBuf> {
        let rel = path.strip_prefix(store_root).unwrap_or(path);
        let rel = if rel.is_absolute() { Path::new(rel.file_name().unwrap_or(rel.as_os_str())) } else { rel };
        let dest = self.free_name(store, rel)?;
        std::fs::rename(path, &dest)?;
        Ok(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_keep_their_store_path_and_are_never_overwritten() {
        let dir = tempfile::tempdir().expect("dir");
        let store = dir.path().join("blobs");
        std::fs::create_dir_all(store.join("ab/cd")).expect("mkdir");
        let run = QuarantineRun::now(&dir.path().join("quarantine"));
        let mut moved = Vec::new();
        for content in ["first", "second"] {
            let file = store.join("ab/cd/abcd");
            std::fs::write(&file, content).expect("write");
            moved.push(run.move_in("blobs", &store, &file).expect("move"));
            assert!(!file.exists());
        }
        assert!(moved[0].ends_with("blobs/ab/cd/abcd"), "{moved:?}");
        assert_ne!(moved[0], moved[1]);
        assert_eq!(std::fs::read_to_string(&moved[0]).expect("read"), "first");
        assert_eq!(std::fs::read_to_string(&moved[1]).expect("read"), "second");
    }
}
