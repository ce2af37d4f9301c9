//! The append-only, hash-chained audit log. Each event's hash covers its fields and the
//! previous event's hash, so changing, removing or reordering any event breaks the chain from
//! that point on, and `verify` names where. The database refuses UPDATE and DELETE on the table.

mod anchor;

pub use anchor::{Anchor, AnchorCheck, HEAD_FILE};
use chairside_store::{Actor, StoreError, rusqlite};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The tables this crate owns: its code is the only code whose SQL names them, the others call
/// its API (`tests/architecture.rs` holds the rule).
pub const TABLES: &[&str] = &["audit_events"];

/// The hash the first event chains from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub workstation: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub ok: bool,
    pub events_checked: u64,
    /// The first event whose stored hash or link does not match, if any.
    pub first_bad_seq: Option<i64>,
    pub problem: Option<String>,
    /// What the heads anchored outside the database say (see [`Anchor`]); `None` when the
    /// chain was checked alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorCheck>,
}

/// The chain checked link by link and against its anchored heads: a removed tail, a dropped
/// table or a recomputed chain is reported too.
pub fn verify_anchored(conn: &Connection, anchor: &Anchor) -> Result<ChainReport, StoreError> {
    let table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_events')",
        [],
        |r| r.get(0),
    )?;
    if !table {
        return Ok(ChainReport {
            ok: false,
            events_checked: 0,
            first_bad_seq: None,
            problem: Some("the audit table is gone from the database (dropped)".into()),
            anchor: None,
        });
    }
    let mut report = verify(conn)?;
    let check = anchor.check(conn)?;
    if report.ok && !check.problems.is_empty() {
        report.ok = false;
        report.problem = Some(check.problems.join("; "));
    }
    report.anchor = Some(check);
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn event_hash(
    prev_hash: &str,
    seq: i64,
    at: &str,
    actor: &str,
    workstation: &str,
    action: &str,
    entity_type: &str,
    entity_id: Option<&str>,
    detail_json: &str,
) -> String {
    // A JSON array is an unambiguous encoding of the fields (no separator injection).
    let canonical =
        serde_json::json!([prev_hash, seq, at, actor, workstation, action, entity_type, entity_id, detail_json]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Appends one event. Call inside the transaction of the change it records, so the event
/// exists exactly when the change does.
pub fn append(
    tx: &Connection,
    actor: &Actor,
    action: &str,
    entity_type: &str,
    entity_id: Option<&str>,
    detail: serde_json::Value,
) -> Result<i64, StoreError> {
    let last: Option<(i64, String)> = tx
        .query_row("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let at = chairside_store::now_rfc3339();
    let detail_json = detail.to_string();
    let hash =
        event_hash(&prev_hash, seq, &at, &actor.user, &actor.workstation, action, entity_type, entity_id, &detail_json);
    tx.execute(
        "INSERT INTO audit_events (seq, at, actor, workstation, action, entity_type, entity_id, detail_json, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![seq, at, actor.user, actor.workstation, action, entity_type, entity_id, detail_json, prev_hash, hash],
    )?;
    Ok(seq)
}

fn row_to_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<(AuditEvent, String)> {
    let detail_json: String = r.get(7)?;
    Ok((
        AuditEvent {
            seq: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            workstation: r.get(3)?,
            action: r.get(4)?,
            entity_type: r.get(5)?,
            entity_id: r.get(6)?,
            detail: serde_json::from_str(&detail_json).unwrap_or(serde_json::Value::Null),
            prev_hash: r.get(8)?,
            hash: r.get(9)?,
        },
        detail_json,
    ))
}

const SELECT: &str = "SELECT seq, at, actor, workstation, action, entity_type, entity_id, detail_json, prev_hash, hash FROM audit_events";

/// Events oldest first; only those about `entity` (an entity id) when given.
pub fn list(conn: &Connection, entity: Option<&str>, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
    let limit = limit.min(i64::MAX as usize) as i64;
    let mut out = Vec::new();
    match entity {
        Some(id) => {
            let mut stmt = conn.prepare(&format!("{SELECT} WHERE entity_id = ?1 ORDER BY seq LIMIT ?2"))?;
            for row in stmt.query_map(params![id, limit], row_to_event)? {
                out.push(row?.0);
            }
        }
        None => {
            let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY seq LIMIT ?1"))?;
            for row in stmt.query_map(params![limit], row_to_event)? {
                out.push(row?.0);
            }
        }
    }
    Ok(out)
}

/// What `query` picks out of the trail; every field left empty matches all.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Events about any of these entity ids (a patient and its records).
    pub entities: Option<Vec<String>>,
    /// Events by this user (the name the trail records).
    pub actor: Option<String>,
    pub action: Option<String>,
    /// From this time on (RFC 3339, compared as text: UTC, as the trail writes it).
    pub since: Option<String>,
    /// Before this time.
    pub until: Option<String>,
    pub limit: usize,
    pub newest_first: bool,
}

/// The events a [`Query`] picks, through the indexes on entity, actor and action (a patient's
/// events among a million in milliseconds).
pub fn query(conn: &Connection, q: &Query) -> Result<Vec<AuditEvent>, StoreError> {
    use rusqlite::types::Value;
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |clause: &str, v: Value, values: &mut Vec<Value>| {
        values.push(v);
        clauses.push(clause.replace('?', &format!("?{}", values.len())));
    };
    if let Some(ids) = &q.entities {
        bind(
            "entity_id IN (SELECT value FROM json_each(?))",
            Value::Text(serde_json::Value::from(ids.clone()).to_string()),
            &mut values,
        );
    }
    if let Some(a) = &q.actor {
        bind("actor = ?", Value::Text(a.clone()), &mut values);
    }
    if let Some(a) = &q.action {
        bind("action = ?", Value::Text(a.clone()), &mut values);
    }
    if let Some(t) = &q.since {
        bind("at >= ?", Value::Text(t.clone()), &mut values);
    }
    if let Some(t) = &q.until {
        bind("at < ?", Value::Text(t.clone()), &mut values);
    }
    let filter = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
    let order = if q.newest_first { "DESC" } else { "ASC" };
    values.push(Value::Integer(q.limit.min(i64::MAX as usize) as i64));
    let sql = format!("{SELECT}{filter} ORDER BY seq {order} LIMIT ?{}", values.len());
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(values), row_to_event)?;
    Ok(rows.map(|r| r.map(|(e, _)| e)).collect::<Result<_, _>>()?)
}

/// Events after `seq`, oldest first (at most `limit`), each with its detail exactly as stored
/// (the text its hash covers): what sync sends to peers.
pub fn events_after(conn: &Connection, seq: i64, limit: usize) -> Result<Vec<(AuditEvent, String)>, StoreError> {
    let limit = limit.min(i64::MAX as usize) as i64;
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE seq > ?1 ORDER BY seq LIMIT ?2"))?;
    let rows = stmt.query_map(params![seq, limit], row_to_event)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A chain checked event by event, oldest first: this workstation's own, or a peer's kept by
/// sync.
pub struct ChainCheck {
    expected_prev: String,
    expected_seq: i64,
    checked: u64,
    bad: Option<(i64, String)>,
}

impl Default for ChainCheck {
    fn default() -> Self {
        ChainCheck { expected_prev: GENESIS.to_string(), expected_seq: 1, checked: 0, bad: None }
    }
}

impl ChainCheck {
    /// Checks the next event (`detail_json` exactly as stored); `false` once the chain broke.
    pub fn push(&mut self, e: &AuditEvent, detail_json: &str) -> bool {
        if self.bad.is_some() {
            return false;
        }
        let problem = if e.seq != self.expected_seq {
            Some(format!("event {} follows event {}: events are missing", e.seq, self.expected_seq - 1))
        } else if e.prev_hash != self.expected_prev {
            Some(format!("event {} does not link to the event before it", e.seq))
        } else if e.hash
            != event_hash(
                &e.prev_hash,
                e.seq,
                &e.at,
                &e.actor,
                &e.workstation,
                &e.action,
                &e.entity_type,
                e.entity_id.as_deref(),
                detail_json,
            )
        {
            Some(format!("event {} was altered after it was written", e.seq))
        } else {
            None
        };
        match problem {
            Some(p) => {
                self.bad = Some((e.seq, p));
                false
            }
            None => {
                self.checked += 1;
                self.expected_seq = e.seq + 1;
                self.expected_prev = e.hash.clone();
                true
            }
        }
    }

    pub fn report(self) -> ChainReport {
        let ok = self.bad.is_none();
        let (first_bad_seq, problem) = match self.bad {
            Some((seq, p)) => (Some(seq), Some(p)),
            None => (None, None),
        };
        ChainReport { ok, events_checked: self.checked, first_bad_seq, problem, anchor: None }
    }
}

/// Re-computes every hash and link of the chain, oldest first.
pub fn verify(conn: &Connection) -> Result<ChainReport, StoreError> {
    let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut check = ChainCheck::default();
    while let Some(row) = rows.next()? {
        let (e, detail_json) = row_to_event(row)?;
        if !check.push(&e, &detail_json) {
            break;
        }
    }
    Ok(check.report())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chairside_store::Db;

    fn actor() -> Actor {
        Actor { user: "dr.who".into(), workstation: "ws-1".into() }
    }

    #[test]
    fn chain_verifies_and_detects_tampering() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("lib.sqlite3")).expect("open");
        for i in 0..5 {
            db.write(|tx| {
                append(tx, &actor(), "import", "document", Some(&format!("d{i}")), serde_json::json!({"i": i}))
            })
            .expect("append");
        }
        let report = db.read(verify).expect("verify");
        assert!(report.ok, "an untouched chain verifies: {report:?}");
        assert_eq!(report.events_checked, 5);
        assert_eq!(db.read(|c| list(c, Some("d3"), 100)).expect("list").len(), 1);

        // The table refuses updates; an attacker with raw file access drops the trigger first.
        let conn = db.conn().expect("conn");
        assert!(
            conn.execute("UPDATE audit_events SET actor = 'x' WHERE seq = 2", []).is_err(),
            "the audit log must refuse UPDATE"
        );
        assert!(
            conn.execute("DELETE FROM audit_events WHERE seq = 2", []).is_err(),
            "the audit log must refuse DELETE"
        );
        conn.execute_batch(
            "DROP TRIGGER audit_events_no_update; UPDATE audit_events SET detail_json = '{\"i\":9}' WHERE seq = 3;",
        )
        .expect("tamper");
        let report = db.read(verify).expect("verify");
        assert!(!report.ok, "a changed event must break the chain");
        assert_eq!(report.first_bad_seq, Some(3), "verify names the altered event");
    }
}
