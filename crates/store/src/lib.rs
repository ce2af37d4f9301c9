//! The library database: SQLite connections with the pragmas every connection needs, the
//! embedded migrations from `migrations/`, and the two cross-cutting records every replicated
//! change writes in its own transaction — the hybrid-logical-clock change log and the
//! workstation identity. Domain crates own their tables; this crate owns how they are reached.

mod changes;
mod db;
mod error;
mod migrate;
pub mod private;
pub mod replicated;
pub mod text;

pub use changes::{
    Change, Hlc, changes_since, current_hlc, newest_values, observe_hlc, own_changes_after, own_edits_after,
    record_change, record_peer_change, rewrite_own_values,
};
pub use db::{AfterWrite, Db, PooledConn, read_pages};
pub use error::{ErrorCode, Remedy, StoreError};
pub use migrate::{MIGRATIONS, schema_version};
pub use rusqlite;

/// The tables this crate owns: its code is the only code whose SQL names them, the others call
/// its API (`tests/architecture.rs` holds the rule).
pub const TABLES: &[&str] = &["settings", "hlc_state", "change_log"];

/// Who is acting, from where. Passed explicitly to every write so history, audit and the
/// change log all name the same person and workstation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The signed-in user (the OS user until the app has logins).
    pub user: String,
    /// The stable id of this workstation (a UUID kept in `settings`).
    pub workstation: String,
}

/// Current time as UTC RFC 3339 with milliseconds, the one format times are stored in.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A new random, time-ordered id (UUID v7) for entities created on this workstation.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Reads a setting, `None` when unset.
pub fn get_setting(conn: &rusqlite::Connection, key: &str) -> Result<Option<String>, StoreError> {
    use rusqlite::OptionalExtension;
    Ok(conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

/// Writes a setting (insert or replace).
pub fn set_setting(conn: &rusqlite::Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

/// Removes a setting.
pub fn delete_setting(conn: &rusqlite::Connection, key: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM settings WHERE key = ?1", [key])?;
    Ok(())
}

/// What SQLite's own checks say of the database file.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct DatabaseCheck {
    pub ok: bool,
    /// `PRAGMA integrity_check`'s findings (at most 20), empty when the file is sound.
    pub integrity: Vec<String>,
    /// Rows naming a parent that does not exist (`PRAGMA foreign_key_check`): a record removed
    /// behind the library's back.
    pub dangling: Vec<String>,
    /// What to do, when something is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

/// Runs SQLite's integrity and foreign-key checks over the whole database.
pub fn check_database(conn: &rusqlite::Connection) -> Result<DatabaseCheck, StoreError> {
    let mut integrity = Vec::new();
    // A damaged file can fail the check itself part way: that is a finding too.
    let checked = (|| -> rusqlite::Result<()> {
        let mut stmt = conn.prepare("PRAGMA integrity_check(20)")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let line: String = row.get(0)?;
            if line != "ok" {
                integrity.push(line);
            }
        }
        Ok(())
    })();
    if let Err(e) = checked {
        integrity.push(format!("the check could not finish: {e}"));
    }
    let mut dangling = Vec::new();
    if integrity.is_empty() {
        let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let table: String = row.get(0)?;
            let rowid: Option<i64> = row.get(1)?;
            let parent: String = row.get(2)?;
            if dangling.len() < 20 {
                dangling.push(format!("a row of {table} (rowid {}) names a missing {parent}", rowid.unwrap_or(-1)));
            }
        }
    }
    let advice = if !integrity.is_empty() {
        Some("the library database is damaged. Stop importing on this workstation, keep a copy of the whole folder, and put library.sqlite3 back from the latest backup (or rebuild this workstation from the clinic's sync bucket); the originals in blobs/ are checked on their own".to_string())
    } else if !dangling.is_empty() {
        Some("records were removed from the database behind Chairside's back (the library never deletes them): put library.sqlite3 back from the latest backup, and find out who changed the file".to_string())
    } else {
        None
    };
    Ok(DatabaseCheck { ok: integrity.is_empty() && dangling.is_empty(), integrity, dangling, advice })
}
