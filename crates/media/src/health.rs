//! What media can say about the library's state for a health view: its size by kind and year,
//! and thumbnails not made. Aggregates only, read in one pass each.

use chairside_store::rusqlite::Connection;
use serde::Serialize;

use crate::MediaError;

/// Documents and bytes of one kind in one year (of capture, else of import).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SizeRow {
    pub kind: String,
    pub year: String,
    pub documents: u64,
    pub bytes: u64,
}

/// Thumbnails not (yet) made, by state.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ThumbnailBacklog {
    pub pending: u64,
    pub failed: u64,
    /// Files no thumbnail can be made of (an encrypted PDF…): stored, shown with an icon.
    pub unsupported: u64,
}

pub fn library_size(conn: &Connection) -> Result<Vec<SizeRow>, MediaError> {
    let mut stmt = conn.prepare(
        "SELECT kind, substr(coalesce(captured_at, imported_at), 1, 4) AS year, COUNT(*), SUM(byte_size)
         FROM documents GROUP BY kind, year ORDER BY year, kind",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(SizeRow {
            kind: r.get(0)?,
            year: r.get(1)?,
            documents: r.get::<_, i64>(2)?.max(0) as u64,
            bytes: r.get::<_, Option<i64>>(3)?.unwrap_or(0).max(0) as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn thumbnail_backlog(conn: &Connection) -> Result<ThumbnailBacklog, MediaError> {
    let mut backlog = ThumbnailBacklog::default();
    let mut stmt =
        conn.prepare("SELECT status, COUNT(DISTINCT sha256) FROM thumbnails WHERE status != 'ready' GROUP BY status")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let n = r.get::<_, i64>(1)?.max(0) as u64;
        match r.get_ref(0)?.as_str().unwrap_or("") {
            "pending" => backlog.pending = n,
            "failed" => backlog.failed = n,
            "unsupported" => backlog.unsupported = n,
            _ => {}
        }
    }
    Ok(backlog)
}
