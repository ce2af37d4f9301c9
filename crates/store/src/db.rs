use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::StoreError;

/// Idle connections kept for reuse; more are opened on demand when threads overlap.
const MAX_IDLE: usize = 8;

/// A handle on the library database. Cheap to share (`Arc<Db>`); every call takes a
/// connection from a small pool, so readers never wait behind a writer (WAL).
///
/// Writes go through [`Db::write`], an IMMEDIATE transaction: taking the write lock up front
/// means two writers queue on `busy_timeout` instead of one failing with SQLITE_BUSY when it
/// upgrades a read transaction.
pub struct Db {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    after_write: std::sync::OnceLock<AfterWrite>,
}

/// Runs after each committed write, on its connection (the audit anchor is moved forward here).
pub type AfterWrite = Box<dyn Fn(&Connection) + Send + Sync>;

/// A connection borrowed from the pool; goes back to it when dropped.
pub struct PooledConn<'a> {
    db: &'a Db,
    conn: Option<Connection>,
}

impl Deref for PooledConn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl DerefMut for PooledConn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && let Ok(mut idle) = self.db.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }
}

impl Db {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        // Created private before SQLite sees it: SQLite gives the -wal and -shm files the
        // database file's mode.
        if !path.exists() {
            // A failure here (a read-only folder) is left to SQLite to report as it always has.
            let _ = crate::private::create_new(path);
        }
        let db = Db { path: path.to_path_buf(), idle: Mutex::new(Vec::new()), after_write: std::sync::OnceLock::new() };
        let mut conn = db.connect()?;
        crate::migrate::migrate(&mut conn, path)?;
        db.idle.lock().map_err(|_| StoreError::Busy)?.push(conn);
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets what runs after every committed write (once; later calls are ignored).
    pub fn set_after_write(&self, f: AfterWrite) {
        let _ = self.after_write.set(f);
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(|source| StoreError::Open { path: self.path.clone(), source })?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // Pragmas are per connection, so every connection gets them. No mmap: each connection
        // would map the whole file again, and a desktop app's memory is counted by those maps.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -32768;",
        )?;
        Ok(conn)
    }

    /// A connection from the pool (opening one if none is idle).
    pub fn conn(&self) -> Result<PooledConn<'_>, StoreError> {
        let reused = self.idle.lock().map_err(|_| StoreError::Busy)?.pop();
        let conn = match reused {
            Some(c) => c,
            None => self.connect()?,
        };
        Ok(PooledConn { db: self, conn: Some(conn) })
    }

    /// Runs `f` with a connection for reading.
    pub fn read<T, E: From<StoreError>>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E> {
        let conn = self.conn()?;
        f(&conn)
    }

    /// Runs `f` inside one IMMEDIATE transaction: everything it writes commits together, or
    /// nothing does (an error from `f` rolls back).
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(StoreError::from)?;
        if let Some(after) = self.after_write.get() {
            after(&conn);
        }
        Ok(value)
    }

    /// Copies the whole database, consistent as of one moment, into `dest` (a connection to a
    /// new, empty file): SQLite's online backup in one step, a read transaction, so writers
    /// carry on meanwhile. The caller closes `dest` and makes the file durable.
    pub fn snapshot_into(&self, dest: &mut Connection) -> Result<(), StoreError> {
        let src = self.conn()?;
        let backup = rusqlite::backup::Backup::new(&src, dest)?;
        // Busy only while another connection holds an exclusive lock (a checkpoint's
        // truncation): retried a bounded number of times.
        for _ in 0..200 {
            if backup.step(-1)? == rusqlite::backup::StepResult::Done {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(StoreError::Busy)
    }
}
