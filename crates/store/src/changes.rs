//! The field-level change log: every change to a replicated entity (patient, document,
//! attachment, note, plan item) is recorded here in the same transaction, stamped with a
//! hybrid logical clock and the workstation id, so sync can ship it as it is.

use rusqlite::Connection;
use serde::Serialize;

use crate::{Actor, StoreError};

/// A hybrid logical clock value: physical milliseconds in the high bits, a logical counter in
/// the low 16. Ordered as an integer; ties between workstations are broken by workstation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Hlc(pub i64);

impl Hlc {
    const LOGICAL_BITS: u32 = 16;

    /// The next clock value after `last`, given the wall clock `now_ms`: never goes backwards
    /// even if the wall clock does.
    pub fn tick(last: Hlc, now_ms: i64) -> Hlc {
        let physical = now_ms << Self::LOGICAL_BITS;
        if physical > last.0 { Hlc(physical) } else { Hlc(last.0 + 1) }
    }

    pub fn physical_ms(self) -> i64 {
        self.0 >> Self::LOGICAL_BITS
    }
}

/// One recorded field change.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub seq: i64,
    pub hlc: Hlc,
    pub workstation: String,
    pub entity_type: String,
    pub entity_id: String,
    pub field: String,
    pub value: serde_json::Value,
    pub at: String,
    /// Who made it (none for a change recorded before authors were).
    pub actor: Option<String>,
}

/// Records `fields` of one entity as changed, all under one new HLC value. Call inside the
/// transaction that makes the change.
pub fn record_change(
    tx: &Connection,
    actor: &Actor,
    entity_type: &str,
    entity_id: &str,
    fields: &[(&str, serde_json::Value)],
) -> Result<Hlc, StoreError> {
    let last: i64 = tx.query_row("SELECT last FROM hlc_state WHERE id = 1", [], |r| r.get(0))?;
    let hlc = Hlc::tick(Hlc(last), chrono::Utc::now().timestamp_millis());
    tx.execute("UPDATE hlc_state SET last = ?1 WHERE id = 1", [hlc.0])?;
    let at = crate::now_rfc3339();
    let mut stmt = tx.prepare_cached(
        "INSERT INTO change_log (hlc, workstation, entity_type, entity_id, field, value_json, at, actor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for (field, value) in fields {
        stmt.execute(rusqlite::params![
            hlc.0,
            actor.workstation,
            entity_type,
            entity_id,
            field,
            value.to_string(),
            at,
            actor.user
        ])?;
    }
    Ok(hlc)
}

/// Changes recorded after `seq`, oldest first (at most `limit`).
pub fn changes_since(conn: &Connection, seq: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, hlc, workstation, entity_type, entity_id, field, value_json, at, actor
         FROM change_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![seq, limit as i64], change_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn change_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Change> {
    let value: String = r.get(6)?;
    Ok(Change {
        seq: r.get(0)?,
        hlc: Hlc(r.get(1)?),
        workstation: r.get(2)?,
        entity_type: r.get(3)?,
        entity_id: r.get(4)?,
        field: r.get(5)?,
        value: serde_json::from_str(&value).unwrap_or(serde_json::Value::Null),
        at: r.get(7)?,
        actor: r.get(8)?,
    })
}

/// The changes `workstation` recorded after its `seq`, oldest first (at most `limit`): what
/// sync sends next.
pub fn own_changes_after(
    conn: &Connection,
    workstation: &str,
    seq: i64,
    limit: usize,
) -> Result<Vec<Change>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, hlc, workstation, entity_type, entity_id, field, value_json, at, actor
         FROM change_log INDEXED BY change_log_origin WHERE workstation = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(rusqlite::params![workstation, seq, limit as i64], change_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many changes (one per HLC value: one edit of one entity) `workstation` made after `seq`.
pub fn own_edits_after(conn: &Connection, workstation: &str, seq: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(DISTINCT hlc) FROM change_log INDEXED BY change_log_origin WHERE workstation = ?1 AND seq > ?2",
        rusqlite::params![workstation, seq],
        |r| r.get(0),
    )?)
}

/// Keeps a change a peer made (its `workstation`, HLC and value as received); one already
/// here is not kept twice. Returns whether it was new.
pub fn record_peer_change(tx: &Connection, change: &Change) -> Result<bool, StoreError> {
    let mut exists = tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM change_log INDEXED BY change_log_field
         WHERE entity_type = ?1 AND entity_id = ?2 AND field = ?3 AND hlc = ?4 AND workstation = ?5)",
    )?;
    let c = change;
    let seen: bool = exists
        .query_row(rusqlite::params![c.entity_type, c.entity_id, c.field, c.hlc.0, c.workstation], |r| r.get(0))?;
    if seen {
        return Ok(false);
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO change_log (hlc, workstation, entity_type, entity_id, field, value_json, at, actor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    insert.execute(rusqlite::params![
        c.hlc.0,
        c.workstation,
        c.entity_type,
        c.entity_id,
        c.field,
        c.value.to_string(),
        c.at,
        c.actor
    ])?;
    Ok(true)
}

/// The clock's receive rule: changes made here later order after `seen`.
pub fn observe_hlc(tx: &Connection, seen: Hlc) -> Result<(), StoreError> {
    tx.execute("UPDATE hlc_state SET last = max(last, ?1) WHERE id = 1", [seen.0])?;
    Ok(())
}

/// The clock's current value (the newest change made or seen here).
pub fn current_hlc(conn: &Connection) -> Result<Hlc, StoreError> {
    Ok(Hlc(conn.query_row("SELECT last FROM hlc_state WHERE id = 1", [], |r| r.get(0))?))
}

/// The newest value of each field of one entity, by (HLC, workstation): last writer wins.
pub fn newest_values(
    conn: &Connection,
    entity_type: &str,
    entity_id: &str,
) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT field, value_json FROM change_log INDEXED BY change_log_field WHERE entity_type = ?1 AND entity_id = ?2
         ORDER BY field, hlc DESC, workstation DESC",
    )?;
    let rows: Vec<(String, String)> =
        stmt.query_map([entity_type, entity_id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let mut out: Vec<(String, serde_json::Value)> = Vec::new();
    for (field, value) in rows {
        if out.last().is_some_and(|(f, _)| *f == field) {
            continue;
        }
        out.push((field, serde_json::from_str(&value).unwrap_or(serde_json::Value::Null)));
    }
    Ok(out)
}

/// Rewrites `field` from `old` to `new` in every change `workstation` made (a library that
/// joins a clinic moves its records, and their changes not sent yet, to it).
pub fn rewrite_own_values(
    tx: &Connection,
    workstation: &str,
    field: &str,
    old: &serde_json::Value,
    new: &serde_json::Value,
) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "UPDATE change_log SET value_json = ?1 WHERE field = ?4 AND value_json = ?2 AND workstation = ?3",
        rusqlite::params![new.to_string(), old.to_string(), workstation, field],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hlc_is_monotonic_even_when_the_wall_clock_goes_back() {
        let a = Hlc::tick(Hlc(0), 1_000);
        let b = Hlc::tick(a, 1_000);
        let c = Hlc::tick(b, 900);
        let d = Hlc::tick(c, 2_000);
        assert!(a < b && b < c && c < d, "each tick must be strictly greater: {a:?} {b:?} {c:?} {d:?}");
        assert_eq!(c.physical_ms(), 1_000, "a clock going back keeps the last physical time");
        assert_eq!(d.physical_ms(), 2_000);
    }
}
