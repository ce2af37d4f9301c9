//! Moving a misfiled document to another patient. The document appears in the other chart with
//! its history, adjustments, calibration, annotations, teeth and kind; the source stays here,
//! archived with the reason and a pointer to its copy (`moved_to`); its links to this patient's
//! notes, plans and series end (the link rows keep who and when). The copy's id is derived from
//! the source's and the target's, so two workstations making the same move make one document.

use chairside_store::Actor;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

use crate::MediaError;
use crate::documents::write_history;

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MoveStatus {
    Moved,
    Unchanged,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moved {
    pub id: String,
    pub new_id: String,
    pub status: MoveStatus,
    /// The links that ended: `owner_type:owner_id`.
    pub ended_links: Vec<String>,
}

/// The id of a document's copy in another patient's chart.
pub fn copy_id(document_id: &str, patient_id: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("chairside-move:{document_id}->{patient_id}").as_bytes())
        .to_string()
}

struct Source {
    patient_id: String,
    sha256: String,
    status: String,
    moved_to: Option<String>,
    version: i64,
}

/// Moves one document to `target` (a patient id). Refuses the same patient, an unknown one and
/// an archived document; a document already moved there answers `unchanged`.
pub fn move_to(tx: &Connection, actor: &Actor, id: &str, target: &str, reason: &str) -> Result<Moved, MediaError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(MediaError::MoveRefused("give the reason for the move (it is kept with both charts)".into()));
    }
    let src = tx
        .query_row("SELECT patient_id, sha256, status, moved_to, version FROM documents WHERE id = ?1", [id], |r| {
            Ok(Source {
                patient_id: r.get(0)?,
                sha256: r.get(1)?,
                status: r.get(2)?,
                moved_to: r.get(3)?,
                version: r.get(4)?,
            })
        })
        .optional()?
        .ok_or_else(|| MediaError::DocumentNotFound(id.to_string()))?;
    let to_patient = chairside_patients::get(tx, target)?;
    let from_patient = chairside_patients::get(tx, &src.patient_id)?;
    if let Some(copy) = &src.moved_to {
        let there: Option<String> =
            tx.query_row("SELECT patient_id FROM documents WHERE id = ?1", [copy], |r| r.get(0)).optional()?;
        if there.as_deref() == Some(target) {
            return Ok(Moved {
                id: id.to_string(),
                new_id: copy.clone(),
                status: MoveStatus::Unchanged,
                ended_links: vec![],
            });
        }
    }
    if src.patient_id == target {
        return Err(MediaError::MoveRefused(format!("document {id} is already in {}'s chart", to_patient.name)));
    }
    if src.status == "archived" {
        return Err(MediaError::MoveRefused(format!("document {id} is archived: restore it first, then move it")));
    }
    if to_patient.clinic_id != from_patient.clinic_id {
        return Err(MediaError::MoveRefused("the other patient belongs to another clinic".into()));
    }
    let now = chairside_store::now_rfc3339();
    // The same original may be in the target chart already (imported there too, or moved away
    // from it before): that document takes the copy's place, restored if it was archived.
    let existing: Option<(String, String)> = tx
        .query_row(
            "SELECT id, status FROM documents WHERE patient_id = ?1 AND sha256 = ?2",
            params![target, src.sha256],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let new_id = match existing {
        Some((existing_id, status)) => {
            take_over(tx, actor, id, &existing_id, &status, &now)?;
            existing_id
        }
        None => {
            let new_id = copy_id(id, target);
            copy(tx, actor, id, &new_id, target, &now)?;
            new_id
        }
    };
    crate::annotations::copy_live(tx, actor, id, &new_id)?;
    let mut ended_links = Vec::new();
    for link in crate::attachments::list(tx, id)? {
        crate::attachments::end(tx, actor, &link)?;
        ended_links.push(format!("{}:{}", link.owner_type, link.owner_id));
    }
    // The source: archived with the reason, pointing at its copy.
    let version = src.version + 1;
    let archive_reason = format!("moved to {}: {reason}", to_patient.name);
    tx.execute(
        "UPDATE documents SET status = 'archived', archived_at = ?2, archived_by = ?3, archive_reason = ?4,
             moved_to = ?5, version = ?6 WHERE id = ?1",
        params![id, now, actor.user, archive_reason, new_id, version],
    )?;
    write_history(
        tx,
        actor,
        id,
        version,
        "move",
        &json!({"patient_id": [src.patient_id, target], "moved_to": new_id, "reason": reason, "ended_links": ended_links}),
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "document",
        id,
        &[
            ("status", json!("archived")),
            ("archived_at", json!(now)),
            ("archived_by", json!(actor.user)),
            ("archive_reason", json!(archive_reason)),
            ("moved_to", json!(new_id)),
        ],
    )?;
    chairside_audit::append(
        tx,
        actor,
        "move",
        "document",
        Some(id),
        json!({"from_patient": src.patient_id, "to_patient": target, "new_id": new_id, "reason": reason}),
    )?;
    Ok(Moved { id: id.to_string(), new_id, status: MoveStatus::Moved, ended_links })
}

/// A new document in the target chart: the source's row, active, with its history copied.
fn copy(tx: &Connection, actor: &Actor, from: &str, new_id: &str, target: &str, now: &str) -> Result<(), MediaError> {
    tx.execute(
        "INSERT INTO documents (id, clinic_id, patient_id, sha256, kind, mime, byte_size, width, height, orientation,
             thumbs_ready, original_filename, captured_at, imported_at, imported_by, workstation, source, status,
             teeth, notes, version, adjustments, calibration, moved_from)
         SELECT ?2, clinic_id, ?3, sha256, kind, mime, byte_size, width, height, orientation,
             thumbs_ready, original_filename, captured_at, imported_at, imported_by, workstation, source, 'active',
             teeth, notes, 1, adjustments, calibration, id
         FROM documents WHERE id = ?1",
        params![from, new_id, target],
    )?;
    // The source's history first, then the move that brought it here.
    tx.execute(
        "INSERT INTO document_history (document_id, version, at, actor, workstation, action, changes_json)
         SELECT ?2, version, at, actor, workstation, action, changes_json FROM document_history
         WHERE document_id = ?1 ORDER BY id",
        params![from, new_id],
    )?;
    let version: i64 = tx.query_row(
        "SELECT coalesce(max(version), 0) + 1 FROM document_history WHERE document_id = ?1",
        [new_id],
        |r| r.get(0),
    )?;
    tx.execute("UPDATE documents SET version = ?2 WHERE id = ?1", params![new_id, version])?;
    write_history(tx, actor, new_id, version, "move_in", &json!({"moved_from": from, "at": now}))?;
    let fields: Vec<(&str, serde_json::Value)> = [
        "clinic_id",
        "patient_id",
        "sha256",
        "kind",
        "original_filename",
        "captured_at",
        "status",
        "teeth",
        "notes",
        "adjustments",
        "calibration",
        "moved_from",
    ]
    .into_iter()
    .map(|f| {
        let v: Option<String> = tx
            .query_row(&format!("SELECT {f} FROM documents WHERE id = ?1"), [new_id], |r| r.get(0))
            .optional()
            .ok()
            .flatten()
            .flatten();
        let v = match (f, v) {
            ("adjustments" | "calibration", Some(s)) => serde_json::from_str(&s).unwrap_or(serde_json::Value::Null),
            (_, v) => json!(v),
        };
        (f, v)
    })
    .collect();
    chairside_store::record_change(tx, actor, "document", new_id, &fields)?;
    chairside_audit::append(tx, actor, "move_in", "document", Some(new_id), json!({"moved_from": from}))?;
    Ok(())
}

/// The target chart holds the same original already: it takes the source's clinical details and
/// edits, and is restored if it was archived (a move back).
fn take_over(tx: &Connection, actor: &Actor, from: &str, to: &str, status: &str, now: &str) -> Result<(), MediaError> {
    let (kind, teeth, notes, adjustments, calibration): (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = tx.query_row(
        "SELECT kind, teeth, notes, adjustments, calibration FROM documents WHERE id = ?1",
        [from],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let version: i64 = tx.query_row("SELECT version + 1 FROM documents WHERE id = ?1", [to], |r| r.get(0))?;
    tx.execute(
        "UPDATE documents SET status = 'active', archived_at = NULL, archived_by = NULL, archive_reason = NULL,
             moved_to = NULL, moved_from = ?2, kind = ?3, teeth = ?4, notes = ?5, adjustments = ?6, calibration = ?7,
             version = ?8
         WHERE id = ?1",
        params![to, from, kind, teeth, notes, adjustments, calibration, version],
    )?;
    let parsed =
        |s: &Option<String>| s.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or(serde_json::Value::Null);
    write_history(tx, actor, to, version, "move_in", &json!({"moved_from": from, "was": status, "at": now}))?;
    chairside_store::record_change(
        tx,
        actor,
        "document",
        to,
        &[
            ("status", json!("active")),
            ("archived_at", serde_json::Value::Null),
            ("archived_by", serde_json::Value::Null),
            ("archive_reason", serde_json::Value::Null),
            ("moved_to", serde_json::Value::Null),
            ("moved_from", json!(from)),
            ("kind", json!(kind)),
            ("teeth", json!(teeth)),
            ("notes", json!(notes)),
            ("adjustments", parsed(&adjustments)),
            ("calibration", parsed(&calibration)),
        ],
    )?;
    chairside_audit::append(tx, actor, "move_in", "document", Some(to), json!({"moved_from": from}))?;
    Ok(())
}
