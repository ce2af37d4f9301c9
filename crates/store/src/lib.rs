//! The library database: SQLite connections with the pragmas every connection needs, the
//! embedded migrations from `migrations/`, and the two cross-cutting records every replicated
//! change writes in its own transaction — the hybrid-logical-clock change log and the
//! workstation identity. Domain crates own their tables; this crate owns how they are reached.

mod changes;
mod db;
mod error;
mod migrate;

pub use changes::{Change, Hlc, changes_since, record_change};
pub use db::{Db, PooledConn};
pub use error::StoreError;
pub use migrate::{MIGRATIONS, schema_version};
pub use rusqlite;

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
