use std::path::Path;

use include_dir::{Dir, include_dir};
use rusqlite::Connection;

use crate::StoreError;

/// The numbered `.sql` files of the repository's `migrations/` folder, embedded at build time.
pub static MIGRATIONS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations");

/// Migrations in order: (version, file name, SQL). The version is the number the file name
/// starts with; `migrations_are_numbered_without_gaps` keeps that honest.
fn ordered() -> Vec<(u32, &'static str, &'static str)> {
    let mut list: Vec<_> = MIGRATIONS
        .files()
        .filter_map(|f| {
            let name = f.path().file_name()?.to_str()?;
            let version = name.strip_suffix(".sql")?.split('_').next()?.parse().ok()?;
            Some((version, name, f.contents_utf8()?))
        })
        .collect();
    list.sort_by_key(|(v, _, _)| *v);
    list
}

/// The schema version a fully migrated library has.
pub fn schema_version() -> u32 {
    ordered().last().map(|(v, _, _)| *v).unwrap_or(0)
}

/// Applies every migration newer than the database's `user_version`, each in its own
/// transaction together with the version bump, so a failure leaves the previous version intact.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = schema_version();
    if current > known {
        return Err(StoreError::TooNew { path: path.to_path_buf(), found: current, known });
    }
    for (version, name, sql) in ordered().into_iter().filter(|(v, _, _)| *v > current) {
        let wrap = |source| StoreError::Migration { version, name: name.to_string(), source };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(wrap)?;
        tx.execute_batch(sql).map_err(wrap)?;
        tx.pragma_update(None, "user_version", version).map_err(wrap)?;
        tx.commit().map_err(wrap)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_without_gaps() {
        let versions: Vec<u32> = ordered().iter().map(|(v, _, _)| *v).collect();
        let expected: Vec<u32> = (1..=versions.len() as u32).collect();
        assert_eq!(versions, expected, "migrations/ must be numbered 0001, 0002, … with no gap");
        assert_eq!(MIGRATIONS.files().count(), versions.len(), "every file in migrations/ must be NNNN_name.sql");
    }

    #[test]
    fn reopening_an_upgraded_library_is_a_no_op_and_newer_libraries_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.sqlite3");
        // SQLite's schema cookie counts every change to the schema; the version is ours.
        let schema = |path: &Path| {
            let conn = Connection::open(path).expect("raw open");
            let cookie: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0)).expect("cookie");
            let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
            let mut st =
                conn.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").expect("prepare");
            let objects: Vec<(String, String, Option<String>)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .expect("query")
                .map(|r| r.expect("row"))
                .collect();
            (cookie, version, objects)
        };
        crate::Db::open(&path).expect("create");
        let created = schema(&path);
        assert_eq!(created.1, schema_version(), "a new library is at the newest schema");
        crate::Db::open(&path).expect("reopen");
        assert_eq!(schema(&path), created, "reopening changed nothing in the schema");
        let conn = Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", schema_version() + 1).expect("bump");
        drop(conn);
        match crate::Db::open(&path) {
            Err(StoreError::TooNew { .. }) => {}
            other => panic!("a library from a newer build must be refused, got {:?}", other.err()),
        }
    }

    #[test]
    fn a_library_from_an_older_build_upgrades() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.sqlite3");
        // What the first release wrote: only migration 0001.
        let mut conn = Connection::open(&path).expect("open");
        let (v, _, sql) = ordered()[0];
        conn.execute_batch(sql).expect("v1 schema");
        conn.pragma_update(None, "user_version", v).expect("version");
        conn.execute("INSERT INTO settings (key, value) VALUES ('kept', 'yes')", []).expect("data");
        crate::migrate::migrate(&mut conn, &path).expect("upgrade");
        drop(conn);
        let db = crate::Db::open(&path).expect("open upgraded");
        let kept = db.read(|c| crate::get_setting(c, "kept")).expect("read");
        assert_eq!(kept.as_deref(), Some("yes"), "data written by an older build survives the upgrade");
    }
}
