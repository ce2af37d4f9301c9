//! Replication of the change log. Each workstation cuts its own field-level changes (and its
//! audit events) into numbered segments; a peer applies a workstation's segments in order,
//! never skipping a gap, and resolves each field last-writer-wins by (HLC, workstation).
//!
//! Applying is a pure function of the change log: the change rows are stored as received,
//! then every touched entity is *materialised* from the newest change of each of its fields.
//! So the same set of changes gives the same rows in any order, and applying twice is a no-op.

use std::collections::BTreeSet;

use chairside_store::replicated::{Apply, Prepared, Registry, Row, to_sql};
use chairside_store::{Change, Hlc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::SyncError;

pub const FORMAT: u32 = 1;
/// At most this many entries (changes + audit events) per segment.
pub const SEGMENT_ENTRIES: i64 = 2000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegChange {
    pub n: i64,
    pub hlc: i64,
    pub entity_type: String,
    pub entity_id: String,
    pub field: String,
    pub value: Value,
    pub at: String,
    /// Who made it; absent in segments written before authors were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegAudit {
    pub n: i64,
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub detail_json: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The row of an entity as its writer had it: what a peer needs to insert it (columns no
/// change names, like `created_at`). `entity_type` "blob" carries a document's blob row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegRow {
    pub entity_type: String,
    pub entity_id: String,
    pub row: Map<String, Value>,
}

/// One create-only object under `ops/<workstation>/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub format: u32,
    pub workstation: String,
    /// Entry numbers `first..=last`, contiguous across this workstation's segments.
    pub first: i64,
    pub last: i64,
    pub changes: Vec<SegChange>,
    pub audit: Vec<SegAudit>,
    pub rows: Vec<SegRow>,
}

impl Segment {
    /// The key under the clinic prefix: numbers zero-padded so keys sort in log order.
    pub fn key(workstation: &str, first: i64, last: i64) -> String {
        format!("ops/{workstation}/{first:012}-{last:012}.seg")
    }

    /// (first, last) from a key's file name.
    pub fn range_of(key: &str) -> Option<(i64, i64)> {
        let name = key.rsplit('/').next()?.strip_suffix(".seg")?;
        let (a, b) = name.split_once('-')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    }

    /// Checks that the entries are exactly `first..=last` and belong to the named writer.
    pub fn check(&self, key: &str, workstation: &str) -> Result<(), SyncError> {
        let bad = |reason: String| SyncError::BadSegment { key: key.to_string(), reason };
        if self.format != FORMAT {
            return Err(bad(format!("format {} is not one this version reads (update Chairside)", self.format)));
        }
        if self.workstation != workstation {
            return Err(bad(format!("it names workstation {} but sits under {workstation}", self.workstation)));
        }
        if Segment::range_of(key) != Some((self.first, self.last)) {
            return Err(bad("its entry numbers do not match its name".into()));
        }
        let mut numbers: Vec<i64> = self.changes.iter().map(|c| c.n).chain(self.audit.iter().map(|a| a.n)).collect();
        numbers.sort_unstable();
        if numbers.is_empty() || numbers != (self.first..=self.last).collect::<Vec<_>>() {
            return Err(bad("its entries are not numbered without gaps".into()));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- outbound

fn setting_i64(conn: &Connection, key: &str) -> Result<i64, SyncError> {
    Ok(chairside_store::get_setting(conn, key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn set_setting_i64(conn: &Connection, key: &str, value: i64) -> Result<(), SyncError> {
    Ok(chairside_store::set_setting(conn, key, &value.to_string())?)
}

/// Cuts the next segment of this workstation's changes and audit events not yet in one, and
/// keeps it in `sync_segments_out` (in this transaction) until it is uploaded. A change
/// naming a blob not in the bucket yet ends the segment before it: blobs go up first.
/// Returns the new segment's `first`, or `None` when there was nothing to cut.
pub fn cut_segment(tx: &Connection, registry: &Registry, workstation: &str) -> Result<Option<i64>, SyncError> {
    let change_seq = setting_i64(tx, "sync_out_change_seq")?;
    let audit_seq = setting_i64(tx, "sync_out_audit_seq")?;
    let last_n = setting_i64(tx, "sync_out_n")?;

    let mut rows: Vec<(i64, SegChange)> =
        chairside_store::own_changes_after(tx, workstation, change_seq, SEGMENT_ENTRIES as usize)?
            .into_iter()
            .map(|c| {
                let seg = SegChange {
                    n: 0,
                    hlc: c.hlc.0,
                    entity_type: c.entity_type,
                    entity_id: c.entity_id,
                    field: c.field,
                    value: c.value,
                    at: c.at,
                    actor: c.actor,
                };
                (c.seq, seg)
            })
            .collect();
    // Stop before the first change naming a blob the bucket does not have yet (whole
    // record_change groups: the rows of one entity under one HLC stay together).
    if let Some(mut cut) = rows.iter().position(|(_, c)| {
        registry.get(&c.entity_type).and_then(|e| e.blob_field) == Some(c.field.as_str())
            && !c.value.as_str().is_some_and(|sha| blob_in_bucket(tx, sha).unwrap_or(false))
    }) {
        while cut > 0 && rows[cut - 1].1.hlc == rows[cut].1.hlc && rows[cut - 1].1.entity_id == rows[cut].1.entity_id {
            cut -= 1;
        }
        rows.truncate(cut);
    }

    let room = SEGMENT_ENTRIES - rows.len() as i64;
    let audit: Vec<SegAudit> = chairside_audit::events_after(tx, audit_seq, room.max(0) as usize)?
        .into_iter()
        .map(|(e, detail_json)| SegAudit {
            n: 0,
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            detail_json,
            prev_hash: e.prev_hash,
            hash: e.hash,
        })
        .collect();
    if rows.is_empty() && audit.is_empty() {
        return Ok(None);
    }

    let new_change_seq = rows.last().map(|(s, _)| *s).unwrap_or(change_seq);
    let new_audit_seq = audit.last().map(|a| a.seq).unwrap_or(audit_seq);
    let mut n = last_n;
    let mut changes = Vec::with_capacity(rows.len());
    for (_, mut c) in rows {
        n += 1;
        c.n = n;
        changes.push(c);
    }
    let mut audit = audit;
    for a in &mut audit {
        n += 1;
        a.n = n;
    }
    let snapshots = snapshots(tx, registry, &changes)?;
    let segment = Segment {
        format: FORMAT,
        workstation: workstation.to_string(),
        first: last_n + 1,
        last: n,
        changes,
        audit,
        rows: snapshots,
    };
    let body = serde_json::to_string(&segment).map_err(|e| SyncError::BadSegment {
        key: Segment::key(workstation, segment.first, segment.last),
        reason: e.to_string(),
    })?;
    tx.execute(
        "INSERT INTO sync_segments_out (first, last, body, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![segment.first, segment.last, body, chairside_store::now_rfc3339()],
    )?;
    set_setting_i64(tx, "sync_out_change_seq", new_change_seq)?;
    set_setting_i64(tx, "sync_out_audit_seq", new_audit_seq)?;
    set_setting_i64(tx, "sync_out_n", n)?;
    Ok(Some(segment.first))
}

/// The rows of the entities these changes touch, as they are now, with their companions: what
/// a peer needs to insert an entity it has not seen (columns no change names, like `created_at`).
fn snapshots(tx: &Connection, registry: &Registry, changes: &[SegChange]) -> Result<Vec<SegRow>, SyncError> {
    let touched: BTreeSet<(&str, &str)> =
        changes.iter().map(|c| (c.entity_type.as_str(), c.entity_id.as_str())).collect();
    let mut snapshots = Vec::new();
    for (entity_type, entity_id) in touched {
        let Some(e) = registry.get(entity_type) else { continue };
        if let Some(row) = chairside_store::replicated::row_snapshot(tx, e.table, "id", entity_id)? {
            if let Some(hooks) = e.hooks {
                for c in hooks.companions(tx, &row)? {
                    snapshots.push(SegRow { entity_type: c.entity_type, entity_id: c.entity_id, row: c.row });
                }
            }
            snapshots.push(SegRow { entity_type: entity_type.to_string(), entity_id: entity_id.to_string(), row });
        }
    }
    Ok(snapshots)
}

fn blob_in_bucket(conn: &Connection, sha: &str) -> Result<bool, SyncError> {
    Ok(conn
        .query_row("SELECT in_bucket FROM sync_blobs WHERE sha256 = ?1", [sha], |r| r.get::<_, bool>(0))
        .optional()?
        .unwrap_or(false))
}

// ---------------------------------------------------------------- inbound

/// What applying one segment did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Applied: the blobs of new documents whose original this workstation does not have.
    Applied { new_remote_blobs: Vec<String>, entities: usize },
    /// Already applied before (its entries are at or below the watermark).
    AlreadyApplied,
    /// A gap: the segment starts after `expected`; nothing applied.
    Gap { expected: i64 },
}

/// The last entry of `workstation` applied here.
pub fn watermark(conn: &Connection, workstation: &str) -> Result<i64, SyncError> {
    Ok(conn
        .query_row("SELECT applied_last FROM sync_peers WHERE workstation = ?1", [workstation], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Applies one segment of a peer, inside the caller's transaction.
pub fn apply_segment(tx: &Connection, registry: &Registry, segment: &Segment) -> Result<Applied, SyncError> {
    let ws = &segment.workstation;
    let applied = watermark(tx, ws)?;
    if segment.last <= applied {
        return Ok(Applied::AlreadyApplied);
    }
    if segment.first != applied + 1 {
        return Ok(Applied::Gap { expected: applied + 1 });
    }

    for r in &segment.rows {
        // Only an entity waits to be inserted; a companion (a document's blob row) goes in
        // with its entity and never waits on its own.
        let waits = registry.get(&r.entity_type).is_some();
        tx.execute(
            "INSERT INTO sync_rows (entity_type, entity_id, row_json, waiting) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (entity_type, entity_id) DO NOTHING",
            params![r.entity_type, r.entity_id, Value::Object(r.row.clone()).to_string(), waits],
        )?;
    }

    let mut max_hlc = 0i64;
    let mut touched = BTreeSet::new();
    for c in &segment.changes {
        max_hlc = max_hlc.max(c.hlc);
        touched.insert((c.entity_type.clone(), c.entity_id.clone()));
        chairside_store::record_peer_change(
            tx,
            &Change {
                seq: 0,
                hlc: Hlc(c.hlc),
                workstation: ws.clone(),
                entity_type: c.entity_type.clone(),
                entity_id: c.entity_id.clone(),
                field: c.field.clone(),
                value: c.value.clone(),
                at: c.at.clone(),
                actor: c.actor.clone(),
            },
        )?;
    }
    // Hybrid logical clock, receive rule: later local changes order after what was seen.
    chairside_store::observe_hlc(tx, Hlc(max_hlc))?;
    keep_audit(tx, ws, &segment.audit)?;

    let lookup = snapshot_of;
    let apply = Apply::new(tx, &lookup);
    let mut new_remote_blobs = Vec::new();
    // Dependency order, so a document finds the patient that came in the same segment.
    let mut ordered: Vec<&(String, String)> = touched.iter().collect();
    ordered.sort_by_key(|(t, _)| registry.rank(t));
    // Each entity's changes in this segment, for its owner's record of the peer's edit.
    let mut theirs: std::collections::HashMap<(&str, &str), Vec<&SegChange>> = std::collections::HashMap::new();
    for c in &segment.changes {
        theirs.entry((c.entity_type.as_str(), c.entity_id.as_str())).or_default().push(c);
    }
    for (entity_type, entity_id) in ordered {
        let mine = theirs.get(&(entity_type.as_str(), entity_id.as_str())).map_or(&[][..], Vec::as_slice);
        materialise(&apply, registry, entity_type, entity_id, Some((ws, mine)), &mut new_remote_blobs)?;
    }
    retry_waiting(&apply, registry, &mut new_remote_blobs)?;

    tx.execute(
        "INSERT INTO sync_peers (workstation, applied_last, applied_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (workstation) DO UPDATE SET applied_last = excluded.applied_last, applied_at = excluded.applied_at",
        params![ws, segment.last, chairside_store::now_rfc3339()],
    )?;
    Ok(Applied::Applied { new_remote_blobs, entities: touched.len() })
}

/// A peer's audit events, kept beside (never in) this workstation's own chain.
fn keep_audit(tx: &Connection, ws: &str, events: &[SegAudit]) -> Result<(), SyncError> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO remote_audit_events
         (workstation, seq, at, actor, action, entity_type, entity_id, detail_json, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for a in events {
        insert.execute(params![
            ws,
            a.seq,
            a.at,
            a.actor,
            a.action,
            a.entity_type,
            a.entity_id,
            a.detail_json,
            a.prev_hash,
            a.hash
        ])?;
    }
    Ok(())
}

/// A peer's audit chain as this workstation holds it, re-checked link by link.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct PeerChain {
    pub workstation: String,
    pub events_checked: u64,
    pub ok: bool,
    pub problem: Option<String>,
}

/// Every peer's audit chain received so far, each verified from its first event.
pub fn verify_peer_chains(conn: &Connection) -> Result<Vec<PeerChain>, SyncError> {
    let mut stmt = conn.prepare(
        "SELECT workstation, seq, at, actor, action, entity_type, entity_id, detail_json, prev_hash, hash
         FROM remote_audit_events ORDER BY workstation, seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut out: Vec<PeerChain> = Vec::new();
    let mut current: Option<(String, chairside_audit::ChainCheck)> = None;
    let finish = |(ws, check): (String, chairside_audit::ChainCheck), out: &mut Vec<PeerChain>| {
        let r = check.report();
        out.push(PeerChain { workstation: ws, events_checked: r.events_checked, ok: r.ok, problem: r.problem });
    };
    while let Some(r) = rows.next()? {
        let ws: String = r.get(0)?;
        if current.as_ref().is_none_or(|(w, _)| *w != ws) {
            if let Some(done) = current.take() {
                finish(done, &mut out);
            }
            current = Some((ws.clone(), chairside_audit::ChainCheck::default()));
        }
        let detail_json: String = r.get(7)?;
        let e = chairside_audit::AuditEvent {
            seq: r.get(1)?,
            at: r.get(2)?,
            actor: r.get(3)?,
            workstation: ws,
            action: r.get(4)?,
            entity_type: r.get(5)?,
            entity_id: r.get(6)?,
            detail: serde_json::Value::Null,
            prev_hash: r.get(8)?,
            hash: r.get(9)?,
        };
        if let Some((_, check)) = current.as_mut() {
            check.push(&e, &detail_json);
        }
    }
    if let Some(done) = current.take() {
        finish(done, &mut out);
    }
    Ok(out)
}

/// The row a peer sent for an entity or companion, as received.
fn snapshot_of(conn: &Connection, entity_type: &str, entity_id: &str) -> rusqlite::Result<Option<Row>> {
    let snapshot: Option<String> = conn
        .query_row(
            "SELECT row_json FROM sync_rows WHERE entity_type = ?1 AND entity_id = ?2",
            [entity_type, entity_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match snapshot.map(|s| serde_json::from_str::<Value>(&s)) {
        Some(Ok(Value::Object(row))) => Some(row),
        _ => None,
    })
}

/// A row of `sync_rows`: (entity type, entity id).
type RowKey = (String, String);

/// Entities whose row could not be inserted before (a parent from another peer was missing):
/// tried again, in dependency order, until a pass inserts nothing.
fn retry_waiting(apply: &Apply<'_>, registry: &Registry, new_blobs: &mut Vec<String>) -> Result<(), SyncError> {
    loop {
        let mut stmt = apply.tx.prepare_cached(
            "SELECT entity_type, entity_id FROM sync_rows INDEXED BY sync_rows_waiting WHERE waiting = 1",
        )?;
        let (mut waiting, companions): (Vec<RowKey>, Vec<RowKey>) = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<RowKey>, _>>()?
            .into_iter()
            .partition(|(t, _)| registry.get(t).is_some());
        // Companions marked waiting by an earlier version: never again read on every apply.
        for (t, id) in &companions {
            apply.tx.execute("UPDATE sync_rows SET waiting = 0 WHERE entity_type = ?1 AND entity_id = ?2", [t, id])?;
        }
        if waiting.is_empty() {
            return Ok(());
        }
        waiting.sort_by_key(|(t, _)| registry.rank(t));
        let mut progress = false;
        for (t, id) in &waiting {
            progress |= materialise(apply, registry, t, id, None, new_blobs)?;
        }
        if !progress {
            return Ok(());
        }
    }
}

/// Makes the entity's row what its change log says: inserts it from its snapshot if it is
/// not here yet, then sets every field to its newest change by (HLC, workstation). Returns
/// whether the row exists afterwards; one that cannot be inserted yet stays waiting.
fn materialise(
    apply: &Apply<'_>,
    registry: &Registry,
    entity_type: &str,
    entity_id: &str,
    peer: Option<(&str, &[&SegChange])>,
    new_blobs: &mut Vec<String>,
) -> Result<bool, SyncError> {
    let tx = apply.tx;
    let Some(e) = registry.get(entity_type) else { return Ok(false) };
    let exists: bool =
        tx.query_row(&format!("SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1)", e.table), [entity_id], |r| r.get(0))?;
    if !exists && !insert_from_snapshot(apply, e, entity_type, entity_id, new_blobs)? {
        return Ok(false);
    }

    // Here now (inserted, or created on this workstation too): nothing waits for it.
    tx.execute(
        "UPDATE sync_rows SET waiting = 0 WHERE entity_type = ?1 AND entity_id = ?2 AND waiting = 1",
        [entity_type, entity_id],
    )?;

    let known = apply.columns(e.table)?;
    let mut sets = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let newest = chairside_store::newest_values(tx, entity_type, entity_id)?;
    // The peer's changes that won (their value is the newest): what its owner records as the
    // peer's edit. None for a row inserted just now from its snapshot (its history came with it).
    let won: Vec<(String, Value)> = match peer {
        Some((_, theirs)) if exists => newest
            .iter()
            .filter(|(f, v)| theirs.iter().any(|c| &c.field == f && &c.value == v))
            .map(|(f, v)| (f.clone(), v.clone()))
            .collect(),
        _ => Vec::new(),
    };
    for (field, value) in newest {
        let column = e.column(&field);
        // Identity and ownership never change after creation; the snapshot set them.
        if !known.iter().any(|k| k == column) || column == "id" || column == "clinic_id" {
            continue;
        }
        sets.push(format!("{column} = ?{}", values.len() + 2));
        values.push(to_sql(&value));
    }
    // A peer's change is a new version of the row, as a local one is (the database refuses a
    // document status change that does not bump it).
    let bump = if known.iter().any(|k| k == "version") && !sets.iter().any(|s| s.starts_with("version =")) {
        ", version = version + 1"
    } else {
        ""
    };
    if sets.is_empty() {
        return Ok(true);
    }
    let sql = format!("UPDATE {} SET {}{bump} WHERE id = ?1", e.table, sets.join(", "));
    let mut params: Vec<SqlValue> = vec![SqlValue::Text(entity_id.to_string())];
    params.extend(values.iter().cloned());
    match tx.execute(&sql, rusqlite::params_from_iter(params)) {
        Ok(_) => {}
        // A value a constraint refuses here (a chart number another patient holds): the
        // other fields still apply, that one keeps its local value, and the apply goes on.
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            for (set, value) in sets.iter().zip(values) {
                let column = set.split(" = ").next().unwrap_or_default();
                let one = format!("UPDATE {} SET {column} = ?2{bump} WHERE id = ?1", e.table);
                match tx.execute(&one, rusqlite::params![entity_id, value]) {
                    Ok(_) => {}
                    Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    }
                    Err(other) => return Err(other.into()),
                }
            }
        }
        Err(other) => return Err(other.into()),
    }
    if let (Some((ws, theirs)), Some(hooks), false) = (peer, e.hooks, won.is_empty()) {
        let by = theirs.iter().rev().find_map(|c| c.actor.as_deref());
        hooks.after_peer_change(tx, entity_id, &won, ws, by)?;
    }
    Ok(true)
}

/// Inserts an entity not here yet from the row its peer sent, through its owner's hooks.
/// `false` when it cannot go in yet (no snapshot, or something it needs is missing).
fn insert_from_snapshot(
    apply: &Apply<'_>,
    e: &chairside_store::replicated::Replicated,
    entity_type: &str,
    entity_id: &str,
    new_blobs: &mut Vec<String>,
) -> Result<bool, SyncError> {
    let Some(mut row) = snapshot_of(apply.tx, entity_type, entity_id)? else { return Ok(false) };
    if let Some(hooks) = e.hooks {
        match hooks.before_insert(apply, &mut row)? {
            Prepared::Wait => return Ok(false),
            Prepared::Ready { new_blob: None } => {}
            Prepared::Ready { new_blob: Some(sha) } => {
                // Known in the bucket, its original and thumbnail still to fetch.
                apply.tx.execute(
                    "INSERT INTO sync_blobs (sha256, in_bucket, thumb_in_bucket, original_local, thumb_local) VALUES (?1, 1, 0, 0, 0)
                     ON CONFLICT (sha256) DO UPDATE SET in_bucket = 1, original_local = 0, thumb_local = 0",
                    [&sha],
                )?;
                new_blobs.push(sha);
            }
        }
    }
    let inserted = apply.insert(e.table, &row)?
        || match e.hooks {
            Some(hooks) => hooks.on_refused(apply, &row)?,
            None => false,
        };
    if inserted && let Some(hooks) = e.hooks {
        hooks.after_insert(apply.tx, entity_id)?;
    }
    Ok(inserted)
}

/// The HLC physical time of the newest applied change, for "last change seen at".
pub fn newest_hlc(conn: &Connection) -> Result<Hlc, SyncError> {
    Ok(chairside_store::current_hlc(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_in_log_order_and_round_trip() {
        let a = Segment::key("ws", 1, 99);
        let b = Segment::key("ws", 100, 1000);
        assert!(a < b);
        assert_eq!(Segment::range_of(&b), Some((100, 1000)));
        assert_eq!(Segment::range_of("ops/ws/garbage.seg"), None);
    }

    #[test]
    fn a_segment_with_a_gap_in_its_numbers_is_refused() {
        let change = |n| SegChange {
            n,
            hlc: 1,
            entity_type: "patient".into(),
            entity_id: "p".into(),
            field: "name".into(),
            value: Value::from("x"),
            at: "t".into(),
            actor: None,
        };
        let mut s = Segment {
            format: FORMAT,
            workstation: "ws".into(),
            first: 1,
            last: 3,
            changes: vec![change(1), change(3)],
            audit: vec![],
            rows: vec![],
        };
        assert!(s.check(&Segment::key("ws", 1, 3), "ws").is_err());
        s.changes.insert(1, change(2));
        assert!(s.check(&Segment::key("ws", 1, 3), "ws").is_ok());
        assert!(s.check(&Segment::key("ws", 1, 3), "other").is_err());
        assert!(s.check(&Segment::key("ws", 1, 4), "ws").is_err());
    }
}
