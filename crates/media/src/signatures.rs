//! Signatures: a clinician attests a document as it is now. A signature binds who, when, the
//! original's SHA-256 and the state of its clinical details (kind, teeth, notes, capture time,
//! patient) and of the viewer's edits (adjustments, calibration, annotations); any later edit of those makes it no longer valid, and it stays in the history.
//! The state is hashed from the values themselves, so every workstation agrees on validity.

use chairside_store::Actor;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::MediaError;

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Signature {
    pub id: String,
    pub document_id: String,
    pub signed_by: String,
    pub signed_at: String,
    pub workstation: String,
    pub sha256: String,
    /// The document's version where it was signed.
    pub edit_version: i64,
    /// The document is still as it was signed.
    pub valid: bool,
    /// The first edit after signing recorded here, if any (it ended the signature's validity).
    pub changed_after: Option<ChangedAfter>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChangedAfter {
    pub by: String,
    pub at: String,
    pub action: String,
}

/// A document's signed fields: sha256, version, kind, teeth, notes, capture time, patient.
type Signed = (String, i64, String, Option<String>, Option<String>, Option<String>, String);

/// The document's current (sha256, version, state hash).
fn state(conn: &Connection, document_id: &str) -> Result<(String, i64, String), MediaError> {
    let row: Option<Signed> = conn
        .query_row(
            "SELECT sha256, version, kind, teeth, notes, captured_at, patient_id FROM documents WHERE id = ?1",
            [document_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .optional()?;
    let (sha, version, kind, teeth, notes, captured_at, patient) =
        row.ok_or_else(|| MediaError::DocumentNotFound(document_id.to_string()))?;
    // A JSON array: an unambiguous encoding of the fields. The viewer's edits (adjustments,
    // calibration, live annotations) join it once a document has any, so a signature made
    // before they existed still holds on a document nobody has edited since.
    let (adjustments, calibration): (Option<String>, Option<String>) =
        conn.query_row("SELECT adjustments, calibration FROM documents WHERE id = ?1", [document_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, points_json, text, color, width FROM annotations WHERE document_id = ?1 AND removed_at IS NULL ORDER BY id",
    )?;
    let items: Vec<(String, String, Option<String>, String, f64)> = stmt
        .query_map([document_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<Result<_, _>>()?;
    let canonical = if adjustments.is_none() && calibration.is_none() && items.is_empty() {
        json!([sha, kind, teeth, notes, captured_at, patient]).to_string()
    } else {
        json!([sha, kind, teeth, notes, captured_at, patient, adjustments, calibration, items]).to_string()
    };
    Ok((sha, version, hex::encode(Sha256::digest(canonical.as_bytes()))))
}

pub fn sign(tx: &Connection, actor: &Actor, document_id: &str) -> Result<Signature, MediaError> {
    let (sha, version, state_sha) = state(tx, document_id)?;
    let id = chairside_store::new_id();
    let at = chairside_store::now_rfc3339();
    tx.execute(
        "INSERT INTO document_signatures (id, document_id, signed_by, signed_at, workstation, sha256, edit_version, state_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![id, document_id, actor.user, at, actor.workstation, sha, version, state_sha],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "signature",
        &id,
        &[
            ("document_id", json!(document_id)),
            ("signed_by", json!(actor.user)),
            ("signed_at", json!(at)),
            ("workstation", json!(actor.workstation)),
            ("sha256", json!(sha)),
            ("edit_version", json!(version)),
            ("state_sha256", json!(state_sha)),
        ],
    )?;
    chairside_audit::append(
        tx,
        actor,
        "sign",
        "document",
        Some(document_id),
        json!({"signature_id": id, "sha256": sha, "edit_version": version}),
    )?;
    list(tx, document_id)?.into_iter().find(|s| s.id == id).ok_or(MediaError::DocumentNotFound(id))
}

/// A document's signatures, oldest first, each with whether it still holds.
pub fn list(conn: &Connection, document_id: &str) -> Result<Vec<Signature>, MediaError> {
    let (sha, _, state_now) = state(conn, document_id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, signed_by, signed_at, workstation, sha256, edit_version, state_sha256
         FROM document_signatures WHERE document_id = ?1 ORDER BY signed_at, id",
    )?;
    let rows = stmt
        .query_map([document_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, signed_by, signed_at, workstation, signed_sha, edit_version, state_then) in rows {
        // An edit here after signing (even one undone since), or details that differ from
        // the signed ones (an edit made on another workstation) end its validity.
        let changed_after = conn
            .query_row(
                "SELECT actor, at, action FROM document_history WHERE document_id = ?1 AND at > ?2
                 AND action IN ('update', 'adjust', 'annotate', 'annotation_remove', 'calibrate', 'move')
                 ORDER BY at LIMIT 1",
                params![document_id, signed_at],
                |r| Ok(ChangedAfter { by: r.get(0)?, at: r.get(1)?, action: r.get(2)? }),
            )
            .optional()?;
        let valid = signed_sha == sha && state_then == state_now && changed_after.is_none();
        out.push(Signature {
            id,
            document_id: document_id.to_string(),
            signed_by,
            signed_at,
            workstation,
            sha256: signed_sha,
            edit_version,
            valid,
            changed_after,
        });
    }
    Ok(out)
}
