//! Patient data is readable by the account that runs Chairside only, whatever the umask:
//! folders 0700, files 0600, originals 0400 (set by the blob store). Every file the library
//! writes is created through these helpers, and an existing library is tightened on open.
//! On Windows and macOS the per-user data folder's ACLs do this job (see the README); there
//! these helpers create files and folders normally.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Folders of the library.
pub const DIR_MODE: u32 = 0o700;
/// Files of the library (the database, thumbnails, exports…).
pub const FILE_MODE: u32 = 0o600;
/// Originals: immutable once stored.
pub const ORIGINAL_MODE: u32 = 0o400;

/// `OpenOptions` for a new private file (write, create-new, mode 0600).
pub fn new_file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(FILE_MODE);
    }
    o
}

/// Creates a new private file (fails if it exists).
pub fn create_new(path: &Path) -> io::Result<File> {
    new_file_options().open(path)
}

/// Writes a new private file at `path` (fails if it exists).
pub fn write_new(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = create_new(path)?;
    f.write_all(data)
}

/// Creates a new private temp file `dir/<prefix><uuid>` and locks it (`flock`, exclusive)
/// before anything is written. A cleaner (verify) removes only unlocked temp files, and could
/// catch one between its creation and its lock: so the lock is checked to be on the file that
/// is still at that name, and a fresh one is made if not.
pub fn create_locked_temp(dir: &Path, prefix: &str) -> io::Result<(std::path::PathBuf, File)> {
    for _ in 0..8 {
        let path = dir.join(format!("{prefix}{}", uuid::Uuid::new_v4()));
        let file = create_new(&path)?;
        file.lock()?;
        if same_file(&file, &path) {
            return Ok((path, file));
        }
    }
    Err(io::Error::other(format!("temp files in {} keep disappearing", dir.display())))
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// Creates `dir` and its missing parents with mode 0700 (existing ones are left as they are;
/// [`tighten_library`] sees to the library's own).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(DIR_MODE);
    }
    b.create(dir)
}

/// Sets a path's mode (no-op off Unix).
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// The mode bits of a path (0 off Unix).
pub fn mode_of(path: &Path) -> io::Result<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Ok(fs::symlink_metadata(path)?.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        fs::symlink_metadata(path).map(|_| 0)
    }
}

/// Brings a library folder to the private modes: the folder itself and its database files
/// every time (cheap), and — when the folder was not private yet (a library written by an
/// older build, or under a loose umask) — every folder and file below it. Files inside a
/// folder named `blobs` get [`ORIGINAL_MODE`]. Returns how many paths were changed.
pub fn tighten_library(dir: &Path) -> io::Result<usize> {
    let was_private = mode_of(dir)? & 0o077 == 0;
    let mut changed = 0;
    let mut fix = |path: &Path, mode: u32| -> io::Result<()> {
        if mode_of(path)? != mode {
            set_mode(path, mode)?;
            changed += 1;
        }
        Ok(())
    };
    fix(dir, DIR_MODE)?;
    for entry in fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        let Ok(t) = entry.file_type() else { continue };
        if t.is_file() {
            fix(&path, FILE_MODE)?;
        } else if t.is_dir() && !was_private {
            let original = entry.file_name() == "blobs";
            tighten_tree(&path, original, &mut fix)?;
        }
    }
    Ok(changed)
}

fn tighten_tree(dir: &Path, originals: bool, fix: &mut dyn FnMut(&Path, u32) -> io::Result<()>) -> io::Result<()> {
    fix(dir, DIR_MODE)?;
    for entry in fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => tighten_tree(&path, originals, fix)?,
            Ok(t) if t.is_file() => fix(&path, if originals { ORIGINAL_MODE } else { FILE_MODE })?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_loose_library_is_tightened_whatever_it_was() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = dir.path().join("lib");
        fs::create_dir_all(lib.join("blobs/ab/cd")).expect("dirs");
        fs::create_dir_all(lib.join("thumbs/256/ab")).expect("dirs");
        for (p, m) in [("library.sqlite3", 0o644), ("blobs/ab/cd/x", 0o444), ("thumbs/256/ab/x.jpg", 0o644)] {
            fs::write(lib.join(p), b"x").expect("write");
            set_mode(&lib.join(p), m).expect("mode");
        }
        set_mode(&lib, 0o755).expect("mode");
        assert!(tighten_library(&lib).expect("tighten") >= 4);
        assert_eq!(mode_of(&lib).expect("mode"), 0o700);
        assert_eq!(mode_of(&lib.join("library.sqlite3")).expect("mode"), 0o600);
        assert_eq!(mode_of(&lib.join("blobs/ab/cd")).expect("mode"), 0o700);
        assert_eq!(mode_of(&lib.join("blobs/ab/cd/x")).expect("mode"), 0o400, "originals are read-only");
        assert_eq!(mode_of(&lib.join("thumbs/256/ab/x.jpg")).expect("mode"), 0o600);
        assert_eq!(tighten_library(&lib).expect("again"), 0, "a private library is left alone");
    }
}
