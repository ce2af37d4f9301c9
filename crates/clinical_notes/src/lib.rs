//! Clinical notes: free-text notes on a patient, editable, each change kept in the change log
//! and the audit log. Registers the `clinical_note` attachment owner type.

use chairside_owner::{OwnerResolver, OwnerScope};
use chairside_store::{Actor, StoreError, rusqlite};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

/// The tables this crate owns: its code is the only code whose SQL names them, the others call
/// its API (`tests/architecture.rs` holds the rule).
pub const TABLES: &[&str] = &["clinical_notes"];

/// Its tables that replicate between workstations (sync applies them from this declaration).
pub const REPLICATED: &[chairside_store::replicated::Replicated] = &[chairside_store::replicated::Replicated {
    entity_type: "clinical_note",
    table: "clinical_notes",
    renamed: &[],
    parents: &["clinic", "patient"],
    blob_field: None,
    hooks: None,
}];

pub const OWNER_TYPE: &str = "clinical_note";

#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    #[error("no clinical note with id {0}")]
    NotFound(String),
    #[error(transparent)]
    Patient(#[from] chairside_patients::PatientError),
    #[error("a note's text must not be empty")]
    EmptyText,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl chairside_store::ErrorCode for NoteError {
    fn code(&self) -> &'static str {
        match self {
            NoteError::NotFound(_) => "note_not_found",
            NoteError::Patient(e) => e.code(),
            NoteError::EmptyText => "invalid_input",
            NoteError::Store(e) => e.code(),
        }
    }
    fn is_invalid_input(&self) -> bool {
        match self {
            NoteError::Store(_) => false,
            NoteError::Patient(e) => e.is_invalid_input(),
            _ => true,
        }
    }
    fn remedy(&self) -> Option<chairside_store::Remedy> {
        match self {
            NoteError::Patient(e) => e.remedy(),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for NoteError {
    fn from(e: rusqlite::Error) -> Self {
        NoteError::Store(e.into())
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Note {
    pub id: String,
    pub patient_id: String,
    pub text: String,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub version: i64,
}

fn clean_text(text: &str) -> Result<&str, NoteError> {
    let t = text.trim();
    if t.is_empty() { Err(NoteError::EmptyText) } else { Ok(t) }
}

pub fn create(tx: &Connection, actor: &Actor, patient_id: &str, text: &str) -> Result<Note, NoteError> {
    let text = clean_text(text)?;
    let clinic_id = chairside_patients::clinic_of(tx, patient_id)?;
    let now = chairside_store::now_rfc3339();
    let note = Note {
        id: chairside_store::new_id(),
        patient_id: patient_id.to_string(),
        text: text.to_string(),
        created_at: now.clone(),
        created_by: actor.user.clone(),
        updated_at: now,
        version: 1,
    };
    tx.execute(
        "INSERT INTO clinical_notes (id, clinic_id, patient_id, text, created_at, created_by, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![note.id, clinic_id, note.patient_id, note.text, note.created_at, note.created_by, note.updated_at],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "clinical_note",
        &note.id,
        &[("patient_id", json!(patient_id)), ("text", json!(note.text))],
    )?;
    chairside_audit::append(
        tx,
        actor,
        "note_create",
        "clinical_note",
        Some(&note.id),
        json!({"patient_id": patient_id}),
    )?;
    Ok(note)
}

pub fn edit(tx: &Connection, actor: &Actor, id: &str, text: &str) -> Result<Note, NoteError> {
    let text = clean_text(text)?;
    let mut note = get(tx, id)?;
    if note.text == text {
        return Ok(note);
    }
    note.text = text.to_string();
    note.updated_at = chairside_store::now_rfc3339();
    note.version += 1;
    tx.execute(
        "UPDATE clinical_notes SET text = ?2, updated_at = ?3, version = ?4 WHERE id = ?1",
        params![id, note.text, note.updated_at, note.version],
    )?;
    chairside_store::record_change(tx, actor, "clinical_note", id, &[("text", json!(note.text))])?;
    chairside_audit::append(tx, actor, "note_edit", "clinical_note", Some(id), json!({"version": note.version}))?;
    Ok(note)
}

const SELECT: &str = "SELECT id, patient_id, text, created_at, created_by, updated_at, version FROM clinical_notes";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Note> {
    Ok(Note {
        id: r.get(0)?,
        patient_id: r.get(1)?,
        text: r.get(2)?,
        created_at: r.get(3)?,
        created_by: r.get(4)?,
        updated_at: r.get(5)?,
        version: r.get(6)?,
    })
}

pub fn get(conn: &Connection, id: &str) -> Result<Note, NoteError> {
    conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id], row)
        .optional()?
        .ok_or_else(|| NoteError::NotFound(id.to_string()))
}

/// A patient's notes, newest first.
pub fn list_for_patient(conn: &Connection, patient_id: &str) -> Result<Vec<Note>, NoteError> {
    let mut stmt = conn.prepare(&format!("{SELECT} WHERE patient_id = ?1 ORDER BY created_at DESC, id"))?;
    let rows = stmt.query_map([patient_id], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The `clinical_note` owner type for media attachments.
pub struct NoteOwner;

impl OwnerResolver for NoteOwner {
    fn resolve(&self, conn: &Connection, owner_id: &str) -> rusqlite::Result<Option<OwnerScope>> {
        conn.query_row("SELECT clinic_id, patient_id FROM clinical_notes WHERE id = ?1", [owner_id], |r| {
            Ok(OwnerScope { clinic_id: r.get(0)?, patient_id: r.get(1)? })
        })
        .optional()
    }
}
