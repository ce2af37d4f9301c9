//! Links from documents to what they document. Media owns the table, the operations and the
//! link-time validator; the modules that own records register an [`OwnerSpec`] for their
//! owner type at the composition root. Unlinking keeps the row (who/when), never deletes it.

use std::collections::BTreeMap;

use chairside_owner::OwnerResolver;
use chairside_store::{Actor, rusqlite};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

use crate::MediaError;

/// `owner_type` is free text of at most this many characters.
pub const MAX_OWNER_TYPE_LEN: usize = 40;
const MAX_ROLE_LEN: usize = 40;

/// One attachable owner type and the resolver that knows its records.
pub struct OwnerSpec {
    pub owner_type: String,
    pub resolver: Box<dyn OwnerResolver>,
}

/// The owner types links may point at. Built explicitly by the composition root (no global
/// state), so tests build their own with mock resolvers.
#[derive(Default)]
pub struct OwnerRegistry {
    specs: BTreeMap<String, OwnerSpec>,
}

impl OwnerRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an owner type. Refuses an invalid name or a second registration of one.
    pub fn register(&mut self, spec: OwnerSpec) -> Result<(), MediaError> {
        check_owner_type(&spec.owner_type)?;
        if self.specs.contains_key(&spec.owner_type) {
            return Err(MediaError::Link(format!("owner type {:?} is registered twice", spec.owner_type)));
        }
        self.specs.insert(spec.owner_type.clone(), spec);
        Ok(())
    }

    pub fn owner_types(&self) -> Vec<&str> {
        self.specs.keys().map(String::as_str).collect()
    }

    fn get(&self, owner_type: &str) -> Result<&OwnerSpec, MediaError> {
        check_owner_type(owner_type)?;
        self.specs.get(owner_type).ok_or_else(|| {
            MediaError::Link(format!(
                "owner type {owner_type:?} is not registered (known types: {})",
                self.owner_types().join(", ")
            ))
        })
    }
}

fn check_owner_type(owner_type: &str) -> Result<(), MediaError> {
    let len = owner_type.chars().count();
    if len == 0 || len > MAX_OWNER_TYPE_LEN {
        return Err(MediaError::Link(format!(
            "owner type must be 1 to {MAX_OWNER_TYPE_LEN} characters, {owner_type:?} has {len}"
        )));
    }
    Ok(())
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attachment {
    pub id: String,
    pub document_id: String,
    pub owner_type: String,
    pub owner_id: String,
    pub patient_id: String,
    pub role: Option<String>,
    pub created_at: String,
    pub created_by: String,
}

/// Links a document to an owner after checking, in this order: the owner type is registered,
/// the document exists, the owner exists, both are in the same clinic, both belong to the
/// same patient, and the role is one the owner type accepts. Linking twice returns the
/// existing link.
pub fn link(
    tx: &Connection,
    actor: &Actor,
    registry: &OwnerRegistry,
    document_id: &str,
    owner_type: &str,
    owner_id: &str,
    role: Option<&str>,
) -> Result<Attachment, MediaError> {
    let spec = registry.get(owner_type)?;
    let (clinic_id, patient_id): (String, String) = tx
        .query_row("SELECT clinic_id, patient_id FROM documents WHERE id = ?1", [document_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
        .ok_or_else(|| MediaError::DocumentNotFound(document_id.to_string()))?;
    let scope = spec
        .resolver
        .resolve(tx, owner_id)?
        .ok_or_else(|| MediaError::Link(format!("no {owner_type} with id {owner_id}")))?;
    if scope.clinic_id != clinic_id {
        return Err(MediaError::Link(format!(
            "{owner_type} {owner_id} belongs to another clinic than document {document_id}"
        )));
    }
    if scope.patient_id != patient_id {
        return Err(MediaError::Link(format!(
            "{owner_type} {owner_id} belongs to another patient than document {document_id}"
        )));
    }
    let role = role.map(str::trim).filter(|r| !r.is_empty());
    if let Some(r) = role {
        if r.chars().count() > MAX_ROLE_LEN {
            return Err(MediaError::Link(format!("role must be at most {MAX_ROLE_LEN} characters")));
        }
        if let Some(allowed) = spec.resolver.roles()
            && !allowed.contains(&r)
        {
            return Err(MediaError::Link(format!("role {r:?} is not one of {} for {owner_type}", allowed.join(", "))));
        }
    }
    if let Some(existing) = find_live(tx, document_id, owner_type, owner_id)? {
        return Ok(existing);
    }
    let a = Attachment {
        id: chairside_store::new_id(),
        document_id: document_id.to_string(),
        owner_type: owner_type.to_string(),
        owner_id: owner_id.to_string(),
        patient_id,
        role: role.map(str::to_string),
        created_at: chairside_store::now_rfc3339(),
        created_by: actor.user.clone(),
    };
    tx.execute(
        "INSERT INTO media_attachments (id, clinic_id, document_id, owner_type, owner_id, patient_id, role, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![a.id, clinic_id, a.document_id, a.owner_type, a.owner_id, a.patient_id, a.role, a.created_at, a.created_by],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "attachment",
        &a.id,
        &[
            ("document_id", json!(a.document_id)),
            ("owner_type", json!(a.owner_type)),
            ("owner_id", json!(a.owner_id)),
            ("role", json!(a.role)),
        ],
    )?;
    chairside_audit::append(
        tx,
        actor,
        "link",
        "document",
        Some(document_id),
        json!({"attachment_id": a.id, "owner_type": owner_type, "owner_id": owner_id, "role": a.role}),
    )?;
    Ok(a)
}

const SELECT: &str =
    "SELECT id, document_id, owner_type, owner_id, patient_id, role, created_at, created_by FROM media_attachments";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        id: r.get(0)?,
        document_id: r.get(1)?,
        owner_type: r.get(2)?,
        owner_id: r.get(3)?,
        patient_id: r.get(4)?,
        role: r.get(5)?,
        created_at: r.get(6)?,
        created_by: r.get(7)?,
    })
}

fn find_live(
    conn: &Connection,
    document_id: &str,
    owner_type: &str,
    owner_id: &str,
) -> Result<Option<Attachment>, MediaError> {
    Ok(conn
        .query_row(
            &format!("{SELECT} WHERE document_id = ?1 AND owner_type = ?2 AND owner_id = ?3 AND unlinked_at IS NULL"),
            [document_id, owner_type, owner_id],
            row,
        )
        .optional()?)
}

fn mark_unlinked(tx: &Connection, actor: &Actor, a: &Attachment) -> Result<(), MediaError> {
    let now = chairside_store::now_rfc3339();
    tx.execute(
        "UPDATE media_attachments SET unlinked_at = ?2, unlinked_by = ?3 WHERE id = ?1",
        params![a.id, now, actor.user],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "attachment",
        &a.id,
        &[("unlinked_at", json!(now)), ("unlinked_by", json!(actor.user))],
    )?;
    chairside_audit::append(
        tx,
        actor,
        "unlink",
        "document",
        Some(&a.document_id),
        json!({"attachment_id": a.id, "owner_type": a.owner_type, "owner_id": a.owner_id}),
    )?;
    Ok(())
}

/// Ends one live link (a document moved to another chart ends all of its own).
pub(crate) fn end(tx: &Connection, actor: &Actor, a: &Attachment) -> Result<(), MediaError> {
    mark_unlinked(tx, actor, a)
}

/// Ends a live link (the row stays, with who and when).
pub fn unlink(
    tx: &Connection,
    actor: &Actor,
    document_id: &str,
    owner_type: &str,
    owner_id: &str,
) -> Result<Attachment, MediaError> {
    check_owner_type(owner_type)?;
    let a = find_live(tx, document_id, owner_type, owner_id)?.ok_or_else(|| MediaError::LinkNotFound {
        document_id: document_id.to_string(),
        owner_type: owner_type.to_string(),
        owner_id: owner_id.to_string(),
    })?;
    mark_unlinked(tx, actor, &a)?;
    Ok(a)
}

/// Links a document to an owner in a role only one document holds at a time (a slot of a
/// mount): whichever other document holds that role now is unlinked first, in the same
/// transaction — its link stays in the history, the document itself is untouched. Returns the
/// new link and the one it replaced.
pub fn link_exclusive(
    tx: &Connection,
    actor: &Actor,
    registry: &OwnerRegistry,
    document_id: &str,
    owner_type: &str,
    owner_id: &str,
    role: &str,
) -> Result<(Attachment, Option<Attachment>), MediaError> {
    let holder = list_for_owner(tx, owner_type, owner_id)?
        .into_iter()
        .find(|a| a.role.as_deref() == Some(role) && a.document_id != document_id);
    if let Some(old) = &holder {
        mark_unlinked(tx, actor, old)?;
    }
    // The same document in another role of this owner moves: one place per owner.
    if let Some(other) = find_live(tx, document_id, owner_type, owner_id)?
        && other.role.as_deref() != Some(role)
    {
        mark_unlinked(tx, actor, &other)?;
    }
    let a = link(tx, actor, registry, document_id, owner_type, owner_id, Some(role))?;
    Ok((a, holder))
}

/// Ends every live link to an owner; the owning module calls this when it retires a record.
pub fn unlink_all_for_owner(
    tx: &Connection,
    actor: &Actor,
    owner_type: &str,
    owner_id: &str,
) -> Result<usize, MediaError> {
    let live = list_for_owner(tx, owner_type, owner_id)?;
    for a in &live {
        mark_unlinked(tx, actor, a)?;
    }
    Ok(live.len())
}

/// Live links of a document.
pub fn list(conn: &Connection, document_id: &str) -> Result<Vec<Attachment>, MediaError> {
    let mut stmt =
        conn.prepare_cached(&format!("{SELECT} WHERE document_id = ?1 AND unlinked_at IS NULL ORDER BY created_at"))?;
    let rows = stmt.query_map([document_id], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Live links to an owner (a note's or a plan item's photos).
pub fn list_for_owner(conn: &Connection, owner_type: &str, owner_id: &str) -> Result<Vec<Attachment>, MediaError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE owner_type = ?1 AND owner_id = ?2 AND unlinked_at IS NULL ORDER BY created_at"
    ))?;
    let rows = stmt.query_map([owner_type, owner_id], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Links to an owner that have ended, oldest first: what a slot held before a retake.
pub fn ended_for_owner(conn: &Connection, owner_type: &str, owner_id: &str) -> Result<Vec<Attachment>, MediaError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE owner_type = ?1 AND owner_id = ?2 AND unlinked_at IS NOT NULL ORDER BY unlinked_at"
    ))?;
    let rows = stmt.query_map([owner_type, owner_id], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
