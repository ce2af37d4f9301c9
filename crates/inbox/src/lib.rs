//! Watched inbox folders: reports each file that camera or sensor software has *finished*
//! writing into a folder, once. Knows nothing of the library — what happens to a ready file
//! (import, move, wait for a patient) is the caller's business.
//!
//! A file is ready when it is not a temporary name (`~$…`, `.part`, `.tmp`, hidden…), its size
//! and modification time have held still for a moment (short after its writer closed it or
//! renamed it into place, longer when no close was seen), and — on Linux — no process still
//! has it open for writing. Sensor software writes slowly and sometimes pauses; the last
//! check is what keeps a half-written X-ray from being imported.
//!
//! Events come from the OS (`notify`: inotify, FSEvents, ReadDirectoryChangesW). They can be
//! lost (queue overflow, a folder that vanished), so folders are also rescanned: at start
//! (files that arrived while nobody watched), when the OS says events were dropped, when a
//! folder comes back (a USB stick plugged in again), and every minute.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

pub mod records;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher as _};

/// Timing of readiness checks.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How long size and time must hold still after the writer closed the file or renamed it
    /// into place.
    pub settle_after_close: Duration,
    /// How long they must hold still when no close was seen (network shares, platforms that
    /// do not report closes, a writer that keeps the file open between chunks).
    pub settle: Duration,
    /// How often missing folders are looked for.
    pub check_every: Duration,
    /// How often every folder is walked again, in case the OS dropped an event.
    pub rescan_every: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            settle_after_close: Duration::from_millis(150),
            settle: Duration::from_millis(1500),
            check_every: Duration::from_secs(2),
            rescan_every: Duration::from_secs(60),
        }
    }
}

/// A folder to watch, recursively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub root: PathBuf,
    /// Subfolders (relative to `root`) never reported, e.g. `imported` where done files go.
    pub skip: Vec<PathBuf>,
}

impl Folder {
    pub fn new(root: impl Into<PathBuf>) -> Folder {
        Folder { root: root.into(), skip: Vec::new() }
    }

    pub fn skipping(mut self, sub: impl Into<PathBuf>) -> Folder {
        self.skip.push(sub.into());
        self
    }

    fn skips(&self, path: &Path) -> bool {
        path.strip_prefix(&self.root).is_ok_and(|rel| self.skip.iter().any(|s| rel.starts_with(s)))
    }
}

/// A file that is complete and has not been reported before in this state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyFile {
    /// The watched folder's root, as given.
    pub folder: PathBuf,
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Files that became ready together (a burst arrives as a few large batches).
    Ready(Vec<ReadyFile>),
    /// The folder is gone or cannot be watched (a USB stick unplugged, a share offline). Its
    /// files are picked up when it comes back.
    FolderUnavailable {
        folder: PathBuf,
        reason: String,
    },
    FolderAvailable {
        folder: PathBuf,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("cannot start watching folders: {0}")]
    Start(#[from] notify::Error),
    #[error("cannot start the inbox thread: {0}")]
    Thread(std::io::Error),
}

/// Names that writers use while a file is incomplete, or that are not documents at all.
pub fn is_temporary_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || name.ends_with('~')
        || [".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".filepart", ".swp"]
            .iter()
            .any(|ext| lower.ends_with(ext))
        || lower == "thumbs.db"
        || lower == "desktop.ini"
}

/// A running watcher; dropping it (or [`InboxWatcher::stop`]) stops the thread.
pub struct InboxWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl InboxWatcher {
    /// Starts watching `folders` on a thread of its own. `sink` is called on that thread: keep
    /// it short (hand imports to another thread) so events keep flowing. Folders missing now
    /// are reported unavailable and watched as soon as they appear.
    pub fn start(
        folders: Vec<Folder>,
        options: Options,
        sink: impl FnMut(Event) + Send + 'static,
    ) -> Result<InboxWatcher, InboxError> {
        let (tx, rx) = mpsc::channel();
        let watcher = notify::recommended_watcher(move |res| {
            let _ = tx.send(res);
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("inbox-watcher".into())
            .spawn(move || {
                let mut state = State::new(folders, options, watcher, Box::new(sink));
                state.run(&rx, &stopping);
            })
            .map_err(InboxError::Thread)?;
        Ok(InboxWatcher { stop, thread: Some(thread) })
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for InboxWatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The files that are ready in `folders` right now, without watching: for a one-shot run.
/// Files still being written are left out (they will be ready on a later run).
pub fn ready_now(folders: &[Folder], options: Options) -> Vec<ReadyFile> {
    let mut found = Vec::new();
    for f in folders {
        walk(&f.root, f, &mut found);
    }
    let first: Vec<_> = found.iter().map(|(folder, p)| (folder.clone(), p.clone(), stat(p))).collect();
    std::thread::sleep(options.settle_after_close);
    let held = open_for_writing(&found.iter().map(|(_, p)| p.clone()).collect());
    first
        .into_iter()
        .filter_map(|(folder, path, before)| {
            let (size, modified) = before?;
            (stat(&path) == Some((size, modified)) && !held.contains(&path)).then_some(ReadyFile {
                folder,
                path,
                size,
                modified,
            })
        })
        .collect()
}

struct Candidate {
    folder: PathBuf,
    size: u64,
    modified: SystemTime,
    changed_at: Instant,
    /// The writer closed it or renamed it into place since it last changed.
    closed: bool,
}

struct State {
    folders: Vec<Folder>,
    available: HashMap<PathBuf, bool>,
    options: Options,
    watcher: notify::RecommendedWatcher,
    sink: Box<dyn FnMut(Event) + Send>,
    candidates: HashMap<PathBuf, Candidate>,
    /// What was reported, so a rescan or a touch does not report a file twice; a changed
    /// file (new size or time) is reported again.
    reported: HashMap<PathBuf, (u64, SystemTime)>,
}

fn stat(path: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    m.is_file().then(|| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
}

/// Every regular file under `dir` that could be a document (symlinks not followed).
fn walk(dir: &Path, folder: &Folder, out: &mut Vec<(PathBuf, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        if folder.skips(&path) || is_temporary_name(&path) {
            continue;
        }
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&path, folder, out),
            Ok(t) if t.is_file() => out.push((folder.root.clone(), path)),
            _ => {}
        }
    }
}

impl State {
    fn new(
        folders: Vec<Folder>,
        options: Options,
        watcher: notify::RecommendedWatcher,
        sink: Box<dyn FnMut(Event) + Send>,
    ) -> State {
        State {
            folders,
            available: HashMap::new(),
            options,
            watcher,
            sink,
            candidates: HashMap::new(),
            reported: HashMap::new(),
        }
    }

    fn run(&mut self, rx: &mpsc::Receiver<notify::Result<notify::Event>>, stop: &AtomicBool) {
        self.check_folders();
        let tick = Duration::from_millis(25);
        let mut last_check = Instant::now();
        let mut last_rescan = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            match rx.recv_timeout(tick) {
                Ok(ev) => {
                    self.on_event(ev);
                    // Drain what else is queued before checking readiness: a burst is then
                    // checked (and reported) in a few batches rather than file by file.
                    while let Ok(ev) = rx.try_recv() {
                        self.on_event(ev);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            self.report_ready();
            if last_check.elapsed() >= self.options.check_every {
                last_check = Instant::now();
                self.check_folders();
            }
            if last_rescan.elapsed() >= self.options.rescan_every {
                last_rescan = Instant::now();
                self.rescan_all();
            }
        }
    }

    fn folder_of(&self, path: &Path) -> Option<&Folder> {
        self.folders.iter().find(|f| path.starts_with(&f.root))
    }

    fn on_event(&mut self, ev: notify::Result<notify::Event>) {
        let ev = match ev {
            Ok(ev) => ev,
            // The OS could not deliver events (e.g. a watch limit): a rescan catches up.
            Err(_) => return self.rescan_all(),
        };
        if ev.need_rescan() {
            return self.rescan_all();
        }
        match ev.kind {
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                for p in &ev.paths {
                    self.forget(p);
                    if self.folders.iter().any(|f| &f.root == p) {
                        self.check_folders();
                    }
                }
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
                if let Some(from) = ev.paths.first() {
                    self.forget(from);
                }
                if let Some(to) = ev.paths.get(1) {
                    self.touched(to, true);
                }
            }
            EventKind::Modify(ModifyKind::Name(_)) | EventKind::Create(CreateKind::Folder) => {
                for p in &ev.paths {
                    self.touched(p, true);
                }
            }
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                for p in &ev.paths {
                    self.touched(p, true);
                }
            }
            EventKind::Create(_) | EventKind::Modify(_) => {
                for p in &ev.paths {
                    self.touched(p, false);
                }
            }
            // Opens and reads (including our own import reading the file) change nothing.
            _ => {}
        }
    }

    /// Something happened to `path`: (re)consider it. A folder that appeared is walked, since
    /// files may have landed in it before its watch was in place.
    fn touched(&mut self, path: &Path, closed: bool) {
        let Some(folder) = self.folder_of(path).cloned() else { return };
        if folder.skips(path) || is_temporary_name(path) {
            return;
        }
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &folder, &mut found);
            for (_, p) in found {
                self.consider(&folder.root, &p, true);
            }
            return;
        }
        self.consider(&folder.root, path, closed);
    }

    fn consider(&mut self, root: &Path, path: &Path, closed: bool) {
        let Some((size, modified)) = stat(path) else {
            self.candidates.remove(path);
            return;
        };
        if self.reported.get(path) == Some(&(size, modified)) {
            return;
        }
        let now = Instant::now();
        match self.candidates.get_mut(path) {
            Some(c) => {
                if (c.size, c.modified) != (size, modified) {
                    (c.size, c.modified, c.changed_at) = (size, modified, now);
                    c.closed = closed;
                } else if closed {
                    c.closed = true;
                    c.changed_at = now;
                }
            }
            None => {
                self.candidates.insert(
                    path.to_path_buf(),
                    Candidate { folder: root.to_path_buf(), size, modified, changed_at: now, closed },
                );
            }
        }
    }

    fn forget(&mut self, path: &Path) {
        self.candidates.retain(|p, _| !p.starts_with(path));
        self.reported.retain(|p, _| !p.starts_with(path));
    }

    fn report_ready(&mut self) {
        let (short, long) = (self.options.settle_after_close, self.options.settle);
        let due: Vec<PathBuf> = self
            .candidates
            .iter()
            .filter(|(_, c)| c.changed_at.elapsed() >= if c.closed { short } else { long })
            .map(|(p, _)| p.clone())
            .collect();
        if due.is_empty() {
            return;
        }
        let mut still = Vec::new();
        for p in due {
            let Some(c) = self.candidates.get_mut(&p) else { continue };
            match stat(&p) {
                None => {
                    self.candidates.remove(&p);
                }
                Some(now) if now != (c.size, c.modified) => {
                    (c.size, c.modified) = now;
                    c.changed_at = Instant::now();
                    c.closed = false;
                }
                Some(_) => still.push(p),
            }
        }
        let held = open_for_writing(&still.iter().cloned().collect());
        let mut ready = Vec::new();
        for p in still {
            if held.contains(&p) {
                // Someone still writes it: wait for the close (or a long quiet spell).
                if let Some(c) = self.candidates.get_mut(&p) {
                    c.changed_at = Instant::now();
                    c.closed = false;
                }
                continue;
            }
            if let Some(c) = self.candidates.remove(&p) {
                self.reported.insert(p.clone(), (c.size, c.modified));
                ready.push(ReadyFile { folder: c.folder, path: p, size: c.size, modified: c.modified });
            }
        }
        if !ready.is_empty() {
            ready.sort_by(|a, b| a.path.cmp(&b.path));
            (self.sink)(Event::Ready(ready));
        }
    }

    /// Watches folders that (re)appeared and reports the ones that went away.
    fn check_folders(&mut self) {
        for f in self.folders.clone() {
            let exists = f.root.is_dir();
            let was = self.available.get(&f.root).copied();
            match (was, exists) {
                (Some(true), true) | (Some(false), false) => {}
                (_, true) => match self.watcher.watch(&f.root, RecursiveMode::Recursive) {
                    Ok(()) => {
                        self.available.insert(f.root.clone(), true);
                        if was.is_some() {
                            (self.sink)(Event::FolderAvailable { folder: f.root.clone() });
                        }
                        self.rescan(&f);
                    }
                    Err(e) => self.unavailable(&f, format!("cannot watch it: {e}")),
                },
                (_, false) => {
                    let _ = self.watcher.unwatch(&f.root);
                    self.unavailable(&f, "the folder is missing (unplugged, renamed or offline)".into());
                }
            }
        }
    }

    fn unavailable(&mut self, f: &Folder, reason: String) {
        if self.available.insert(f.root.clone(), false) != Some(false) {
            self.forget(&f.root);
            (self.sink)(Event::FolderUnavailable { folder: f.root.clone(), reason });
        }
    }

    fn rescan_all(&mut self) {
        for f in self.folders.clone() {
            if self.available.get(&f.root) == Some(&true) {
                self.rescan(&f);
            }
        }
    }

    fn rescan(&mut self, f: &Folder) {
        let mut found = Vec::new();
        walk(&f.root, f, &mut found);
        let present: HashSet<&PathBuf> = found.iter().map(|(_, p)| p).collect();
        // Files that left while nobody looked may come back as new files.
        self.reported.retain(|p, _| !p.starts_with(&f.root) || present.contains(p));
        for (root, p) in &found {
            // Found by a walk, not an event: treated as closed, the writer check still applies.
            if !self.candidates.contains_key(p) {
                self.consider(root, p, true);
            }
        }
    }
}

/// The subset of `paths` that some process has open for writing. Linux only (it reads
/// `/proc/<pid>/fd` and `fdinfo`); elsewhere, and for processes of other users that cannot be
/// inspected, the settle time is the only guard.
#[cfg(target_os = "linux")]
pub fn open_for_writing(paths: &HashSet<PathBuf>) -> HashSet<PathBuf> {
    let mut held = HashSet::new();
    if paths.is_empty() {
        return held;
    }
    // /proc shows the resolved path; compare against the canonical forms too.
    let wanted: HashMap<PathBuf, PathBuf> = paths
        .iter()
        .flat_map(|p| {
            let canon = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            [(p.clone(), p.clone()), (canon, p.clone())]
        })
        .collect();
    let Ok(procs) = std::fs::read_dir("/proc") else { return held };
    for proc_entry in procs.flatten() {
        let name = proc_entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let fd_dir = proc_entry.path().join("fd");
        let Ok(fds) = std::fs::read_dir(&fd_dir) else { continue };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            let Some(original) = wanted.get(&target) else { continue };
            let info = proc_entry.path().join("fdinfo").join(fd.file_name());
            let flags = std::fs::read_to_string(info).ok().and_then(|s| {
                s.lines().find_map(|l| l.strip_prefix("flags:")).and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            });
            // O_ACCMODE: 0 read-only, 1 write-only, 2 read-write. Unknown counts as writing.
            if flags.is_none_or(|f| f & 0o3 != 0) {
                held.insert(original.clone());
            }
        }
    }
    held
}

#[cfg(not(target_os = "linux"))]
pub fn open_for_writing(_paths: &HashSet<PathBuf>) -> HashSet<PathBuf> {
    HashSet::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names() {
        for t in ["~$scan.jpg", ".DS_Store", "a.jpg.part", "A.TMP", "x.crdownload", "Thumbs.db", "img.jpg~"] {
            assert!(is_temporary_name(Path::new(t)), "{t}");
        }
        for t in ["IMG_0001.JPG", "xray.dcm", "part.jpg", "tmp.png"] {
            assert!(!is_temporary_name(Path::new(t)), "{t}");
        }
    }

    #[test]
    fn a_file_held_open_for_writing_is_seen_and_a_closed_one_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("slow.jpg");
        let set: HashSet<PathBuf> = [path.clone()].into();
        let writer = std::fs::File::create(&path).expect("create");
        assert!(open_for_writing(&set).contains(&path) || cfg!(not(target_os = "linux")));
        drop(writer);
        assert!(open_for_writing(&set).is_empty());
        let _reader = std::fs::File::open(&path).expect("open");
        assert!(open_for_writing(&set).is_empty(), "a reader does not hold it");
    }

    #[test]
    fn skipped_subfolders() {
        let f = Folder::new("/in").skipping("imported");
        assert!(f.skips(Path::new("/in/imported/a.jpg")));
        assert!(!f.skips(Path::new("/in/sub/imported.jpg")));
        assert!(!f.skips(Path::new("/in/a.jpg")));
    }
}
