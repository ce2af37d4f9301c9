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
        "INSERT INTO change_log (hlc, workstation, entity_type, entity_id, field, value_json, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (field, value) in fields {
        stmt.execute(rusqlite::params![
            hlc.0,
            actor.workstation,
            entity_type,
            entity_id,
            field,
            value.to_string(),
            at
        ])?;
    }
    Ok(hlc)
}

/// Changes recorded after `seq`, oldest first (at most `limit`).
pub fn changes_since(conn: &Connection, seq: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, hlc, workstation, entity_type, entity_id, field, value_json, at
         FROM change_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![seq, limit as i64], |r| {
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
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
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
