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

    /// Runs `f` inside one read transaction: everything it reads is the database as of one
    /// moment, while writers carry on (WAL). The snapshot a backup takes is read this way.
    pub fn read_at_one_moment<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred).map_err(StoreError::from)?;
        // The read transaction starts at the first read, so the moment is fixed here.
        tx.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())).map_err(StoreError::from)?;
        let value = f(&tx)?;
        // Nothing was written: a rollback and a commit end it alike.
        drop(tx);
        Ok(value)
    }
}

/// The database's page size and its pages, in order, as the read transaction open on `conn`
/// sees them (the file and its write-ahead log together), each run of pages up to
/// `chunk_bytes` long handed to `chunk`: the bytes of a database file as of that moment,
/// without writing a copy of it first. Needs SQLite's `sqlite_dbpage` table (built with
/// SQLITE_ENABLE_DBPAGE_VTAB: `.cargo/config.toml`).
pub fn read_pages(
    conn: &Connection,
    chunk_bytes: usize,
    mut chunk: impl FnMut(&[u8]) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let page_size: usize = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let pages: u64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let per_chunk = (chunk_bytes / page_size.max(1)).max(1);
    let mut buf = Vec::with_capacity(per_chunk * page_size);
    let mut stmt = conn.prepare("SELECT pgno, data FROM sqlite_dbpage('main') ORDER BY pgno")?;
    let mut rows = stmt.query([])?;
    let mut expected = 1u64;
    while let Some(row) = rows.next()? {
        let pgno: u64 = row.get(0)?;
        let data = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
        // Every page, in order, whole: anything else would be a torn image.
        if pgno != expected || data.len() != page_size {
            return Err(StoreError::TornRead(format!(
                "page {pgno} of the database came out of order or with {} bytes",
                data.len()
            )));
        }
        expected += 1;
        buf.extend_from_slice(data);
        if buf.len() >= per_chunk * page_size {
            chunk(&buf)?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        chunk(&buf)?;
    }
    if expected - 1 != pages {
        return Err(StoreError::TornRead(format!("{} of the database's {pages} pages were read", expected - 1)));
    }
    Ok(pages * page_size as u64)
}
#[cfg(test)]
mod tests {
    use super::*;

    /// The pages read in one read transaction are the database as of that moment, whatever a
    /// writer commits meanwhile: written out, they open as that database.
    #[test]
    fn the_pages_read_at_one_moment_are_that_moment_s_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("library.sqlite3")).expect("open");
        db.write(|tx| {
            tx.execute_batch("CREATE TABLE t (n INTEGER, filler BLOB)")?;
            for n in 0..2000 {
                tx.execute("INSERT INTO t VALUES (?1, zeroblob(500))", [n])?;
            }
            Ok::<_, StoreError>(())
        })
        .expect("fill");
        let mut image = Vec::new();
        let mut chunks = 0;
        let bytes = db
            .read_at_one_moment(|conn| {
                // A writer commits while the moment is being read: not seen.
                db.write(|tx| tx.execute("DELETE FROM t WHERE n >= 1000", []).map_err(StoreError::from))?;
                read_pages(conn, 64 * 1024, |c| {
                    chunks += 1;
                    image.extend_from_slice(c);
                    Ok(())
                })
            })
            .expect("pages");
        assert_eq!(bytes, image.len() as u64);
        assert!(chunks > 1 && image.len() > 1_000_000, "{chunks} chunks, {} bytes", image.len());
        let copy = dir.path().join("copy.sqlite3");
        std::fs::write(&copy, &image).expect("write");
        let conn = Connection::open(&copy).expect("open copy");
        let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).expect("count");
        assert_eq!(rows, 2000);
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
        assert_eq!(ok, "ok");
        // And the live database has moved on.
        let live: i64 = db
            .read(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).map_err(StoreError::from))
            .expect("live");
        assert_eq!(live, 1000);
    }
}
