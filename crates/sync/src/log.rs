//! Replication of the change log. Each workstation cuts its own field-level changes (and its
//! audit events) into numbered segments; a peer applies a workstation's segments in order,
//! never skipping a gap, and resolves each field last-writer-wins by (HLC, workstation).
//!
//! Applying is a pure function of the change log: the change rows are stored as received,
//! then every touched entity is *materialised* from the newest change of each of its fields.
//! So the same set of changes gives the same rows in any order, and applying twice is a no-op.

use std::collections::{BTreeSet, HashMap};

use chairside_store::Hlc;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::SyncError;

pub const FORMAT: u32 = 1;
/// At most this many entries (changes + audit events) per segment.
pub const SEGMENT_ENTRIES: i64 = 2000;

/// A replicated entity type: its table and the fields whose column has another name.
struct Entity {
    entity_type: &'static str,
    table: &'static str,
    renamed: &'static [(&'static str, &'static str)],
}

/// In dependency order: a row's foreign keys point only to entities listed before it.
const ENTITIES: &[Entity] = &[
    Entity { entity_type: "clinic", table: "clinics", renamed: &[] },
    Entity { entity_type: "patient", table: "patients", renamed: &[] },
    Entity { entity_type: "document", table: "documents", renamed: &[] },
    Entity { entity_type: "series_template", table: "series_templates", renamed: &[("slots", "slots_json")] },
    Entity { entity_type: "series", table: "series", renamed: &[("template", "template_json")] },
    Entity { entity_type: "clinical_note", table: "clinical_notes", renamed: &[] },
    Entity { entity_type: "treatment_plan", table: "treatment_plans", renamed: &[] },
    Entity { entity_type: "plan_item", table: "plan_items", renamed: &[] },
    Entity { entity_type: "attachment", table: "media_attachments", renamed: &[] },
];

fn entity(entity_type: &str) -> Option<&'static Entity> {
    ENTITIES.iter().find(|e| e.entity_type == entity_type)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegChange {
    pub n: i64,
    pub hlc: i64,
    pub entity_type: String,
    pub entity_id: String,
    pub field: String,
    pub value: Value,
    pub at: String,
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
pub fn cut_segment(tx: &Connection, workstation: &str) -> Result<Option<i64>, SyncError> {
    let change_seq = setting_i64(tx, "sync_out_change_seq")?;
    let audit_seq = setting_i64(tx, "sync_out_audit_seq")?;
    let last_n = setting_i64(tx, "sync_out_n")?;

    let mut stmt = tx.prepare_cached(
        "SELECT seq, hlc, entity_type, entity_id, field, value_json, at FROM change_log INDEXED BY change_log_origin
         WHERE workstation = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let mut rows: Vec<(i64, SegChange)> = stmt
        .query_map(params![workstation, change_seq, SEGMENT_ENTRIES], |r| {
            let value: String = r.get(5)?;
            Ok((
                r.get(0)?,
                SegChange {
                    n: 0,
                    hlc: r.get(1)?,
                    entity_type: r.get(2)?,
                    entity_id: r.get(3)?,
                    field: r.get(4)?,
                    value: serde_json::from_str(&value).unwrap_or(Value::Null),
                    at: r.get(6)?,
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    // Stop before the first change naming a blob the bucket does not have yet (whole
    // record_change groups: the rows of one entity under one HLC stay together).
    if let Some(mut cut) = rows.iter().position(|(_, c)| {
        c.entity_type == "document"
            && c.field == "sha256"
            && !c.value.as_str().is_some_and(|sha| blob_in_bucket(tx, sha).unwrap_or(false))
    }) {
        while cut > 0 && rows[cut - 1].1.hlc == rows[cut].1.hlc && rows[cut - 1].1.entity_id == rows[cut].1.entity_id {
            cut -= 1;
        }
        rows.truncate(cut);
    }

    let room = SEGMENT_ENTRIES - rows.len() as i64;
    let mut stmt = tx.prepare_cached(
        "SELECT seq, at, actor, action, entity_type, entity_id, detail_json, prev_hash, hash
         FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let audit: Vec<SegAudit> = stmt
        .query_map(params![audit_seq, room.max(0)], |r| {
            Ok(SegAudit {
                n: 0,
                seq: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                entity_type: r.get(4)?,
                entity_id: r.get(5)?,
                detail_json: r.get(6)?,
                prev_hash: r.get(7)?,
                hash: r.get(8)?,
            })
        })?
        .collect::<Result<_, _>>()?;
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
    let mut touched = BTreeSet::new();
    for c in &changes {
        touched.insert((c.entity_type.clone(), c.entity_id.clone()));
    }
    let mut snapshots = Vec::new();
    for (entity_type, entity_id) in touched {
        let Some(e) = entity(&entity_type) else { continue };
        if let Some(row) = row_json(tx, e.table, "id", &entity_id)? {
            if entity_type == "document"
                && let Some(sha) = row.get("sha256").and_then(Value::as_str)
                && let Some(blob) = row_json(tx, "blobs", "sha256", sha)?
            {
                snapshots.push(SegRow { entity_type: "blob".into(), entity_id: sha.to_string(), row: blob });
            }
            snapshots.push(SegRow { entity_type, entity_id, row });
        }
    }
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

fn blob_in_bucket(conn: &Connection, sha: &str) -> Result<bool, SyncError> {
    Ok(conn
        .query_row("SELECT in_bucket FROM sync_blobs WHERE sha256 = ?1", [sha], |r| r.get::<_, bool>(0))
        .optional()?
        .unwrap_or(false))
}

/// A row as a JSON object of its columns.
fn row_json(conn: &Connection, table: &str, key: &str, id: &str) -> Result<Option<Map<String, Value>>, SyncError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT * FROM {table} WHERE {key} = ?1"))?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    Ok(stmt
        .query_row([id], |r| {
            let mut map = Map::new();
            for (i, name) in names.iter().enumerate() {
                let v = match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::from(n),
                    ValueRef::Real(f) => Value::from(f),
                    ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(_) => continue,
                };
                map.insert(name.clone(), v);
            }
            Ok(map)
        })
        .optional()?)
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
pub fn apply_segment(tx: &Connection, segment: &Segment) -> Result<Applied, SyncError> {
    let ws = &segment.workstation;
    let applied = watermark(tx, ws)?;
    if segment.last <= applied {
        return Ok(Applied::AlreadyApplied);
    }
    if segment.first != applied + 1 {
        return Ok(Applied::Gap { expected: applied + 1 });
    }

    for r in &segment.rows {
        tx.execute(
            "INSERT INTO sync_rows (entity_type, entity_id, row_json, waiting) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (entity_type, entity_id) DO NOTHING",
            params![r.entity_type, r.entity_id, Value::Object(r.row.clone()).to_string()],
        )?;
    }

    let mut max_hlc = 0i64;
    let mut touched = BTreeSet::new();
    {
        let mut exists = tx.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM change_log INDEXED BY change_log_field
             WHERE entity_type = ?1 AND entity_id = ?2 AND field = ?3 AND hlc = ?4 AND workstation = ?5)",
        )?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO change_log (hlc, workstation, entity_type, entity_id, field, value_json, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for c in &segment.changes {
            max_hlc = max_hlc.max(c.hlc);
            touched.insert((c.entity_type.clone(), c.entity_id.clone()));
            let seen: bool = exists.query_row(params![c.entity_type, c.entity_id, c.field, c.hlc, ws], |r| r.get(0))?;
            if !seen {
                insert.execute(params![c.hlc, ws, c.entity_type, c.entity_id, c.field, c.value.to_string(), c.at])?;
            }
        }
    }
    // Hybrid logical clock, receive rule: later local changes order after what was seen.
    tx.execute("UPDATE hlc_state SET last = max(last, ?1) WHERE id = 1", [max_hlc])?;

    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO remote_audit_events
             (workstation, seq, at, actor, action, entity_type, entity_id, detail_json, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for a in &segment.audit {
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
    }

    let mut new_remote_blobs = Vec::new();
    let mut columns = ColumnCache::default();
    // Dependency order, so a document finds the patient that came in the same segment.
    let mut ordered: Vec<&(String, String)> = touched.iter().collect();
    ordered.sort_by_key(|(t, _)| ENTITIES.iter().position(|e| e.entity_type == t).unwrap_or(usize::MAX));
    for (entity_type, entity_id) in ordered {
        materialise(tx, &mut columns, entity_type, entity_id, &mut new_remote_blobs)?;
    }
    retry_waiting(tx, &mut columns, &mut new_remote_blobs)?;

    tx.execute(
        "INSERT INTO sync_peers (workstation, applied_last, applied_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (workstation) DO UPDATE SET applied_last = excluded.applied_last, applied_at = excluded.applied_at",
        params![ws, segment.last, chairside_store::now_rfc3339()],
    )?;
    Ok(Applied::Applied { new_remote_blobs, entities: touched.len() })
}

/// Entities whose row could not be inserted before (a parent from another peer was missing):
/// tried again, in dependency order, until a pass inserts nothing.
fn retry_waiting(tx: &Connection, columns: &mut ColumnCache, new_blobs: &mut Vec<String>) -> Result<(), SyncError> {
    loop {
        let mut stmt = tx.prepare_cached(
            "SELECT entity_type, entity_id FROM sync_rows INDEXED BY sync_rows_waiting WHERE waiting = 1 AND entity_type != 'blob'",
        )?;
        let mut waiting: Vec<(String, String)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        if waiting.is_empty() {
            return Ok(());
        }
        waiting.sort_by_key(|(t, _)| ENTITIES.iter().position(|e| e.entity_type == t).unwrap_or(usize::MAX));
        let mut progress = false;
        for (t, id) in &waiting {
            progress |= materialise(tx, columns, t, id, new_blobs)?;
        }
        if !progress {
            return Ok(());
        }
    }
}

#[derive(Default)]
struct ColumnCache(HashMap<&'static str, Vec<String>>);

impl ColumnCache {
    fn get(&mut self, conn: &Connection, table: &'static str) -> Result<&Vec<String>, SyncError> {
        if !self.0.contains_key(table) {
            let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
            let names: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            self.0.insert(table, names);
        }
        Ok(&self.0[table])
    }
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(*b as i64),
        Value::Number(n) => {
            n.as_i64().map(SqlValue::Integer).unwrap_or_else(|| SqlValue::Real(n.as_f64().unwrap_or(0.0)))
        }
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// Makes the entity's row what its change log says: inserts it from its snapshot if it is
/// not here yet, then sets every field to its newest change by (HLC, workstation). Returns
/// whether the row exists afterwards; one that cannot be inserted yet stays waiting.
fn materialise(
    tx: &Connection,
    columns: &mut ColumnCache,
    entity_type: &str,
    entity_id: &str,
    new_blobs: &mut Vec<String>,
) -> Result<bool, SyncError> {
    let Some(e) = entity(entity_type) else { return Ok(false) };
    let exists: bool =
        tx.query_row(&format!("SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1)", e.table), [entity_id], |r| r.get(0))?;
    if !exists {
        let snapshot: Option<String> = tx
            .query_row(
                "SELECT row_json FROM sync_rows WHERE entity_type = ?1 AND entity_id = ?2",
                [entity_type, entity_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(snapshot) = snapshot else { return Ok(false) };
        let Ok(Value::Object(mut row)) = serde_json::from_str::<Value>(&snapshot) else { return Ok(false) };
        if entity_type == "document" {
            // Derived locally: which thumbnails this workstation has made or fetched.
            row.insert("thumbs_ready".into(), Value::from(0));
            let Some(sha) = row.get("sha256").and_then(Value::as_str).map(str::to_string) else { return Ok(false) };
            if !ensure_blob(tx, columns, &sha, new_blobs)? {
                return Ok(false);
            }
        }
        let inserted = insert_row(tx, columns, e.table, &row)?
            || (entity_type == "attachment" && same_link_twice(tx, columns, &row)?);
        if !inserted {
            return Ok(false);
        }
        if entity_type == "document" {
            tx.execute(
                "UPDATE documents SET thumbs_ready = COALESCE((SELECT SUM(CASE size WHEN 256 THEN 1 WHEN 1024 THEN 2 WHEN 2048 THEN 4 ELSE 0 END)
                   FROM thumbnails WHERE thumbnails.sha256 = documents.sha256 AND status = 'ready'), 0) WHERE id = ?1",
                [entity_id],
            )?;
        }
    }

    // Here now (inserted, or created on this workstation too): nothing waits for it.
    tx.execute(
        "UPDATE sync_rows SET waiting = 0 WHERE entity_type = ?1 AND entity_id = ?2 AND waiting = 1",
        [entity_type, entity_id],
    )?;

    // The newest change of each field: ordered by field, then (HLC, workstation) descending.
    let mut stmt = tx.prepare_cached(
        "SELECT field, value_json FROM change_log INDEXED BY change_log_field WHERE entity_type = ?1 AND entity_id = ?2
         ORDER BY field, hlc DESC, workstation DESC",
    )?;
    let rows: Vec<(String, String)> =
        stmt.query_map([entity_type, entity_id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let known = columns.get(tx, e.table)?.clone();
    let mut sets = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let mut last_field: Option<&str> = None;
    for (field, value_json) in &rows {
        if last_field == Some(field.as_str()) {
            continue;
        }
        last_field = Some(field.as_str());
        let column = e.renamed.iter().find(|(f, _)| f == field).map(|(_, c)| *c).unwrap_or(field.as_str());
        // Identity and ownership never change after creation; the snapshot set them.
        if !known.iter().any(|k| k == column) || column == "id" || column == "clinic_id" {
            continue;
        }
        let value: Value = serde_json::from_str(value_json).unwrap_or(Value::Null);
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
    if !sets.is_empty() {
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
                        Err(rusqlite::Error::SqliteFailure(f, _))
                            if f.code == rusqlite::ErrorCode::ConstraintViolation => {}
                        Err(other) => return Err(other.into()),
                    }
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(true)
}

/// The same link (document, owner) made on two workstations at once: two attachment rows,
/// of which only one may be live. Every workstation keeps the smaller id live and the other
/// as ended, so all agree without either workstation's record being lost.
fn same_link_twice(tx: &Connection, columns: &mut ColumnCache, row: &Map<String, Value>) -> Result<bool, SyncError> {
    let text = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let (id, document, owner_type, owner_id) = (text("id"), text("document_id"), text("owner_type"), text("owner_id"));
    let other: Option<String> = tx
        .query_row(
            "SELECT id FROM media_attachments WHERE document_id = ?1 AND owner_type = ?2 AND owner_id = ?3
             AND unlinked_at IS NULL AND id != ?4",
            params![document, owner_type, owner_id, id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(other) = other else { return Ok(false) };
    let ended_by = "sync: the same link was made on two workstations";
    let mut row = row.clone();
    if id < other {
        // Ended at its own creation time: the same value on every workstation.
        tx.execute(
            "UPDATE media_attachments SET unlinked_at = created_at, unlinked_by = ?2 WHERE id = ?1",
            params![other, ended_by],
        )?;
    } else {
        row.insert("unlinked_at".into(), Value::from(text("created_at")));
        row.insert("unlinked_by".into(), Value::from(ended_by));
    }
    insert_row(tx, columns, "media_attachments", &row)
}

/// A document's blob row: already here (imported on this workstation too), or inserted from
/// its snapshot as known-in-the-bucket, original and thumbnail still to fetch.
fn ensure_blob(
    tx: &Connection,
    columns: &mut ColumnCache,
    sha: &str,
    new_blobs: &mut Vec<String>,
) -> Result<bool, SyncError> {
    let here: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?1)", [sha], |r| r.get(0))?;
    if here {
        return Ok(true);
    }
    let snapshot: Option<String> = tx
        .query_row("SELECT row_json FROM sync_rows WHERE entity_type = 'blob' AND entity_id = ?1", [sha], |r| r.get(0))
        .optional()?;
    let Some(Ok(Value::Object(mut row))) = snapshot.map(|s| serde_json::from_str::<Value>(&s)) else {
        return Ok(false);
    };
    row.insert("verified_at".into(), Value::Null);
    if !insert_row(tx, columns, "blobs", &row)? {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO sync_blobs (sha256, in_bucket, thumb_in_bucket, original_local, thumb_local) VALUES (?1, 1, 0, 0, 0)
         ON CONFLICT (sha256) DO UPDATE SET in_bucket = 1, original_local = 0, thumb_local = 0",
        [sha],
    )?;
    tx.execute("UPDATE sync_rows SET waiting = 0 WHERE entity_type = 'blob' AND entity_id = ?1", [sha])?;
    new_blobs.push(sha.to_string());
    Ok(true)
}

/// Inserts a snapshot's known columns. `false` when a constraint refuses it (a parent row
/// not applied yet): the statement alone is rolled back, the transaction goes on.
fn insert_row(
    tx: &Connection,
    columns: &mut ColumnCache,
    table: &'static str,
    row: &Map<String, Value>,
) -> Result<bool, SyncError> {
    let known = columns.get(tx, table)?;
    let (names, values): (Vec<&String>, Vec<SqlValue>) =
        row.iter().filter(|(k, _)| known.contains(k)).map(|(k, v)| (k, to_sql(v))).unzip();
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
        names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
        placeholders.join(", ")
    );
    match tx.execute(&sql, rusqlite::params_from_iter(values)) {
        Ok(n) => Ok(n == 1),
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The HLC physical time of the newest applied change, for "last change seen at".
pub fn newest_hlc(conn: &Connection) -> Result<Hlc, SyncError> {
    Ok(Hlc(conn.query_row("SELECT last FROM hlc_state WHERE id = 1", [], |r| r.get(0))?))
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
