//! Which originals this workstation knows only from a peer: their document came in a segment,
//! the bytes are in the bucket and not (yet) on this disk. What verify and viewing ask.

use std::collections::HashSet;

use chairside_store::rusqlite::{Connection, OptionalExtension};

use crate::SyncError;

/// Whether `sha256` is an original only a peer had (so far).
pub fn is_remote_only(conn: &Connection, sha256: &str) -> Result<bool, SyncError> {
    Ok(conn
        .query_row("SELECT original_local = 0 FROM sync_blobs WHERE sha256 = ?1", [sha256], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// Every original only a peer had (so far).
pub fn remote_only(conn: &Connection) -> Result<HashSet<String>, SyncError> {
    let mut stmt = conn.prepare("SELECT sha256 FROM sync_blobs WHERE original_local = 0")?;
    let rows = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(rows)
}
