//! Documents: one per (patient, original). Listing, metadata edits, and the only two ways a
//! document leaves or returns to the active gallery — [`archive`] and [`restore`]. Every
//! change bumps `version`, writes one `document_history` row, the change log and the audit
//! log, in the caller's transaction.

use std::str::FromStr;

use chairside_store::{Actor, rusqlite};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Format;
use crate::MediaError;
use crate::thumbs::{ThumbStore, Thumbnails};

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Intraoral,
    Extraoral,
    Xray,
    Document,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Intraoral, Kind::Extraoral, Kind::Xray, Kind::Document, Kind::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Intraoral => "intraoral",
            Kind::Extraoral => "extraoral",
            Kind::Xray => "xray",
            Kind::Document => "document",
            Kind::Other => "other",
        }
    }
}

impl FromStr for Kind {
    type Err = MediaError;
    fn from_str(s: &str) -> Result<Kind, MediaError> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| MediaError::BadKind(s.to_string()))
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Archived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Archived => "archived",
        }
    }
}

/// Which documents a listing includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Active,
    Archived,
    All,
}

impl FromStr for StatusFilter {
    type Err = MediaError;
    fn from_str(s: &str) -> Result<Self, MediaError> {
        match s {
            "active" => Ok(StatusFilter::Active),
            "archived" => Ok(StatusFilter::Archived),
            "all" => Ok(StatusFilter::All),
            other => Err(MediaError::BadStatus(other.to_string())),
        }
    }
}

impl StatusFilter {
    fn sql(self) -> Option<&'static str> {
        match self {
            StatusFilter::Active => Some("active"),
            StatusFilter::Archived => Some("archived"),
            StatusFilter::All => None,
        }
    }
}

/// A document with everything recorded about it: the gallery's [`DocumentSummary`] plus who
/// imported it, from where, and its archive state.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Document {
    #[serde(flatten)]
    pub summary: DocumentSummary,
    pub clinic_id: String,
    pub patient_id: String,
    pub imported_at: String,
    pub imported_by: String,
    pub workstation: String,
    pub source: String,
    pub archived_at: Option<String>,
    pub archived_by: Option<String>,
    pub archive_reason: Option<String>,
    pub notes: Option<String>,
    /// What the file's kind tells beyond its size: `{"mesh": {vertices, faces, bbox_min_mm,
    /// bbox_max_mm, vertex_colours, binary}}`, `{"dicom": {frames, modality}}`.
    pub details: Option<Value>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistoryEntry {
    pub version: i64,
    pub at: String,
    pub actor: String,
    pub workstation: String,
    pub action: String,
    pub changes: Value,
}

/// The SHA-256 of a document's original, `None` when there is no such document.
pub fn sha256_of(conn: &Connection, id: &str) -> Result<Option<String>, MediaError> {
    Ok(conn.query_row("SELECT sha256 FROM documents WHERE id = ?1", [id], |r| r.get(0)).optional()?)
}

/// One document with its ready thumbnails.
pub fn get(conn: &Connection, thumbs: &ThumbStore, id: &str) -> Result<Document, MediaError> {
    conn.query_row(
        &format!(
            "SELECT {SUMMARY_COLUMNS}, clinic_id, patient_id, imported_at, imported_by, workstation, source,
                archived_at, archived_by, archive_reason, notes,
                (SELECT details_json FROM blobs WHERE blobs.sha256 = documents.sha256)
             FROM documents WHERE id = ?1"
        ),
        [id],
        |r| {
            let n = SUMMARY_COLUMN_COUNT;
            Ok(Document {
                summary: summary_row(r, thumbs)?,
                clinic_id: r.get(n)?,
                patient_id: r.get(n + 1)?,
                imported_at: r.get(n + 2)?,
                imported_by: r.get(n + 3)?,
                workstation: r.get(n + 4)?,
                source: r.get(n + 5)?,
                archived_at: r.get(n + 6)?,
                archived_by: r.get(n + 7)?,
                archive_reason: r.get(n + 8)?,
                notes: r.get(n + 9)?,
                details: r.get::<_, Option<String>>(n + 10)?.and_then(|d| serde_json::from_str(&d).ok()),
            })
        },
    )
    .optional()?
    .ok_or_else(|| MediaError::DocumentNotFound(id.to_string()))
}

/// A document as a gallery lists it: what the grid, filters and sort need. Everything else
/// is in [`Document`] (see [`get`]).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DocumentSummary {
    pub id: String,
    pub sha256: String,
    pub kind: Kind,
    pub status: Status,
    pub mime: &'static str,
    pub byte_size: u64,
    /// As displayed, after EXIF orientation.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub orientation: u16,
    pub captured_at: Option<String>,
    pub original_filename: Option<String>,
    pub teeth: Option<String>,
    pub version: i64,
    #[cfg_attr(feature = "ts", ts(as = "Vec<crate::thumbs::ThumbnailRef>"))]
    pub thumbnails: Thumbnails,
}

fn kind_of(v: rusqlite::types::ValueRef<'_>) -> Kind {
    v.as_str().ok().and_then(|k| Kind::from_str(k).ok()).unwrap_or(Kind::Other)
}

fn status_of(v: rusqlite::types::ValueRef<'_>) -> Status {
    if v.as_str().ok() == Some("archived") { Status::Archived } else { Status::Active }
}

const SUMMARY_COLUMNS: &str = "id, sha256, kind, status, mime, byte_size, width, height, orientation, captured_at,
    original_filename, teeth, version, thumbs_ready";
const SUMMARY_COLUMN_COUNT: usize = 14;

/// The gallery listing. Read from the covering index `documents_gallery` alone, in capture
/// order, so a patient with thousands of photos opens at once. `?1` patient, `?2` status or
/// NULL for all. Public so the benchmark measures this very statement.
pub const LIST_SQL: &str = "SELECT id, sha256, kind, status, mime, byte_size, width, height, orientation, captured_at,
        original_filename, teeth, version, thumbs_ready
    FROM documents INDEXED BY documents_gallery
    WHERE patient_id = ?1 AND (?2 IS NULL OR status = ?2)
    ORDER BY captured_at DESC
    LIMIT ?3";

/// Decodes the first [`SUMMARY_COLUMN_COUNT`] columns, in [`SUMMARY_COLUMNS`] order.
fn summary_row(r: &rusqlite::Row<'_>, thumbs: &ThumbStore) -> rusqlite::Result<DocumentSummary> {
    let orientation: u16 = r.get(8)?;
    let (w, h): (Option<u32>, Option<u32>) = (r.get(6)?, r.get(7)?);
    // Orientations 5–8 turn the picture a quarter: width and height swap on screen.
    let (width, height) = if (5..=8).contains(&orientation) { (h, w) } else { (w, h) };
    let sha256: String = r.get(1)?;
    let thumbnails = match (width, height) {
        (Some(w), Some(h)) => thumbs.derived(&sha256, w, h, r.get(13)?),
        _ => thumbs.derived(&sha256, 0, 0, 0),
    };
    Ok(DocumentSummary {
        id: r.get(0)?,
        sha256,
        kind: kind_of(r.get_ref(2)?),
        status: status_of(r.get_ref(3)?),
        // Every stored mime comes from `Format::mime`, so it maps back to a static string.
        mime: r
            .get_ref(4)?
            .as_str()
            .ok()
            .and_then(Format::from_mime)
            .map(Format::mime)
            .unwrap_or("application/octet-stream"),
        byte_size: r.get(5)?,
        width,
        height,
        orientation,
        captured_at: r.get(9)?,
        original_filename: r.get(10)?,
        teeth: r.get(11)?,
        version: r.get(12)?,
        thumbnails,
    })
}

/// A patient's documents, newest capture first (undated last), with their ready thumbnails;
/// only the first `limit` of them when one is given.
pub fn list(
    conn: &Connection,
    thumbs: &ThumbStore,
    patient_id: &str,
    filter: StatusFilter,
    limit: Option<usize>,
) -> Result<Vec<DocumentSummary>, MediaError> {
    let mut stmt = conn.prepare_cached(LIST_SQL)?;
    // SQLite reads a negative LIMIT as none.
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let rows = stmt.query_map(params![patient_id, filter.sql(), limit], |r| summary_row(r, thumbs))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn history(conn: &Connection, id: &str) -> Result<Vec<HistoryEntry>, MediaError> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, at, actor, workstation, action, changes_json FROM document_history
         WHERE document_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([id], |r| {
        let changes: String = r.get(5)?;
        Ok(HistoryEntry {
            version: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            workstation: r.get(3)?,
            action: r.get(4)?,
            changes: serde_json::from_str(&changes).unwrap_or(Value::Null),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Appends a history row for a document at `version`.
pub(crate) fn write_history(
    tx: &Connection,
    actor: &Actor,
    id: &str,
    version: i64,
    action: &str,
    changes: &Value,
) -> Result<(), MediaError> {
    tx.execute(
        "INSERT INTO document_history (document_id, version, at, actor, workstation, action, changes_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            version,
            chairside_store::now_rfc3339(),
            actor.user,
            actor.workstation,
            action,
            changes.to_string()
        ],
    )?;
    Ok(())
}

/// Whether a state change happened or the document was already in that state.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Changed,
    Unchanged,
}

struct Current {
    status: String,
    version: i64,
    archived_at: Option<String>,
    archived_by: Option<String>,
    archive_reason: Option<String>,
}

fn current(tx: &Connection, id: &str) -> Result<Current, MediaError> {
    tx.query_row(
        "SELECT status, version, archived_at, archived_by, archive_reason FROM documents WHERE id = ?1",
        [id],
        |r| {
            Ok(Current {
                status: r.get(0)?,
                version: r.get(1)?,
                archived_at: r.get(2)?,
                archived_by: r.get(3)?,
                archive_reason: r.get(4)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| MediaError::DocumentNotFound(id.to_string()))
}

/// The one way a document leaves the active gallery. Idempotent: archiving an archived
/// document changes nothing and writes no history.
pub fn archive(tx: &Connection, actor: &Actor, id: &str, reason: Option<&str>) -> Result<Transition, MediaError> {
    let cur = current(tx, id)?;
    if cur.status == "archived" {
        return Ok(Transition::Unchanged);
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let now = chairside_store::now_rfc3339();
    let version = cur.version + 1;
    tx.execute(
        "UPDATE documents SET status = 'archived', archived_at = ?2, archived_by = ?3, archive_reason = ?4, version = ?5 WHERE id = ?1",
        params![id, now, actor.user, reason, version],
    )?;
    let changes = json!({"status": ["active", "archived"], "archive_reason": [Value::Null, reason]});
    write_history(tx, actor, id, version, "archive", &changes)?;
    chairside_store::record_change(
        tx,
        actor,
        "document",
        id,
        &[
            ("status", json!("archived")),
            ("archived_at", json!(now)),
            ("archived_by", json!(actor.user)),
            ("archive_reason", json!(reason)),
        ],
    )?;
    chairside_audit::append(tx, actor, "archive", "document", Some(id), json!({"reason": reason}))?;
    Ok(Transition::Changed)
}

/// The one way an archived document returns to the active gallery. Idempotent.
pub fn restore(tx: &Connection, actor: &Actor, id: &str) -> Result<Transition, MediaError> {
    let cur = current(tx, id)?;
    if cur.status == "active" {
        return Ok(Transition::Unchanged);
    }
    let version = cur.version + 1;
    tx.execute(
        "UPDATE documents SET status = 'active', archived_at = NULL, archived_by = NULL, archive_reason = NULL, version = ?2 WHERE id = ?1",
        params![id, version],
    )?;
    // History keeps who archived it and why, since the row no longer does.
    let changes = json!({
        "status": ["archived", "active"],
        "archived_at": [cur.archived_at, Value::Null],
        "archived_by": [cur.archived_by, Value::Null],
        "archive_reason": [cur.archive_reason, Value::Null],
    });
    write_history(tx, actor, id, version, "restore", &changes)?;
    chairside_store::record_change(
        tx,
        actor,
        "document",
        id,
        &[
            ("status", json!("active")),
            ("archived_at", Value::Null),
            ("archived_by", Value::Null),
            ("archive_reason", Value::Null),
        ],
    )?;
    chairside_audit::append(tx, actor, "restore", "document", Some(id), json!({}))?;
    Ok(Transition::Changed)
}

/// Editable metadata; `None` leaves a field as it is, `Some("")` clears a text field.
#[derive(Debug, Clone, Default)]
pub struct DocumentPatch {
    pub kind: Option<Kind>,
    pub notes: Option<String>,
    pub teeth: Option<String>,
    pub captured_at: Option<String>,
}

/// Edits a document's metadata (never its original).
pub fn update(tx: &Connection, actor: &Actor, id: &str, patch: &DocumentPatch) -> Result<Transition, MediaError> {
    let (kind, notes, teeth, captured_at, version): (String, Option<String>, Option<String>, Option<String>, i64) = tx
        .query_row("SELECT kind, notes, teeth, captured_at, version FROM documents WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?
        .ok_or_else(|| MediaError::DocumentNotFound(id.to_string()))?;
    let blank_is_none = |s: &String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let mut changes = serde_json::Map::new();
    let mut fields: Vec<(&str, Value)> = Vec::new();
    let mut new = (kind.clone(), notes.clone(), teeth.clone(), captured_at.clone());
    if let Some(k) = patch.kind
        && k.as_str() != kind
    {
        new.0 = k.as_str().to_string();
        changes.insert("kind".into(), json!([kind, new.0]));
        fields.push(("kind", json!(new.0)));
    }
    if let Some(n) = &patch.notes
        && blank_is_none(n) != notes
    {
        new.1 = blank_is_none(n);
        changes.insert("notes".into(), json!([notes, new.1]));
        fields.push(("notes", json!(new.1)));
    }
    if let Some(t) = &patch.teeth
        && blank_is_none(t) != teeth
    {
        new.2 = blank_is_none(t);
        changes.insert("teeth".into(), json!([teeth, new.2]));
        fields.push(("teeth", json!(new.2)));
    }
    if let Some(c) = &patch.captured_at {
        let parsed = chrono::DateTime::parse_from_rfc3339(c.trim())
            .map_err(|_| MediaError::BadTime(c.clone()))?
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if Some(&parsed) != captured_at.as_ref() {
            changes.insert("captured_at".into(), json!([captured_at, parsed]));
            fields.push(("captured_at", json!(parsed)));
            new.3 = Some(parsed);
        }
    }
    if fields.is_empty() {
        return Ok(Transition::Unchanged);
    }
    let version = version + 1;
    tx.execute(
        "UPDATE documents SET kind = ?2, notes = ?3, teeth = ?4, captured_at = ?5, version = ?6 WHERE id = ?1",
        params![id, new.0, new.1, new.2, new.3, version],
    )?;
    let changes = Value::Object(changes);
    write_history(tx, actor, id, version, "update", &changes)?;
    chairside_store::record_change(tx, actor, "document", id, &fields)?;
    let names: Vec<&str> = fields.iter().map(|(f, _)| *f).collect();
    chairside_audit::append(tx, actor, "document_update", "document", Some(id), json!({"fields": names}))?;
    Ok(Transition::Changed)
}
