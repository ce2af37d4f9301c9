//! How media's tables replicate: documents travel with their blob row (an original is fetched
//! after its row arrives), and a link made on two workstations at once is reconciled.

use chairside_store::replicated::{Apply, Companion, Prepared, ReplicaHooks, Replicated, Row, row_snapshot};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

/// The companion type of a document's blob row in a segment.
const BLOB: &str = "blob";

pub const REPLICATED: &[Replicated] = &[
    Replicated {
        entity_type: "document",
        table: "documents",
        renamed: &[],
        parents: &["clinic", "patient"],
        blob_field: Some("sha256"),
        hooks: Some(&DocumentReplica),
    },
    Replicated {
        entity_type: "attachment",
        table: "media_attachments",
        renamed: &[],
        parents: &["clinic", "patient", "document"],
        blob_field: None,
        hooks: Some(&AttachmentReplica),
    },
    Replicated {
        entity_type: "annotation",
        table: "annotations",
        renamed: &[],
        parents: &["document"],
        blob_field: None,
        hooks: None,
    },
    Replicated {
        entity_type: "signature",
        table: "document_signatures",
        renamed: &[],
        parents: &["document"],
        blob_field: None,
        hooks: None,
    },
];

struct DocumentReplica;

impl ReplicaHooks for DocumentReplica {
    fn companions(&self, conn: &Connection, row: &Row) -> rusqlite::Result<Vec<Companion>> {
        let Some(sha) = row.get("sha256").and_then(Value::as_str) else { return Ok(Vec::new()) };
        Ok(row_snapshot(conn, "blobs", "sha256", sha)?
            .map(|blob| Companion { entity_type: BLOB.into(), entity_id: sha.to_string(), row: blob })
            .into_iter()
            .collect())
    }

    /// Its blob row is here already (imported on this workstation too), or is made from the
    /// peer's, never verified here yet: the original itself is still to fetch.
    fn before_insert(&self, apply: &Apply<'_>, row: &mut Row) -> rusqlite::Result<Prepared> {
        // Derived locally: which thumbnails this workstation has made or fetched.
        row.insert("thumbs_ready".into(), Value::from(0));
        let Some(sha) = row.get("sha256").and_then(Value::as_str).map(str::to_string) else {
            return Ok(Prepared::Wait);
        };
        let here: bool =
            apply.tx.query_row("SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?1)", [&sha], |r| r.get(0))?;
        if here {
            return Ok(Prepared::Ready { new_blob: None });
        }
        let Some(mut blob) = apply.snapshot(BLOB, &sha)? else { return Ok(Prepared::Wait) };
        blob.insert("verified_at".into(), Value::Null);
        if !apply.insert("blobs", &blob)? {
            return Ok(Prepared::Wait);
        }
        Ok(Prepared::Ready { new_blob: Some(sha) })
    }

    fn after_insert(&self, conn: &Connection, id: &str) -> rusqlite::Result<()> {
        conn.execute(
            &format!(
                "UPDATE documents SET thumbs_ready = {} WHERE id = ?1",
                crate::thumbs::thumbs_ready_sql("documents.sha256")
            ),
            [id],
        )?;
        Ok(())
    }

    /// A peer's edit is an entry of the document's history here too, under the version it
    /// bumped to, with the peer's workstation and user.
    fn after_peer_change(
        &self,
        conn: &Connection,
        id: &str,
        fields: &[(String, Value)],
        workstation: &str,
        by: Option<&str>,
    ) -> rusqlite::Result<()> {
        let version: i64 = conn.query_row("SELECT version FROM documents WHERE id = ?1", [id], |r| r.get(0))?;
        let changes: serde_json::Map<String, Value> = fields.iter().cloned().collect();
        conn.execute(
            "INSERT INTO document_history (document_id, version, at, actor, workstation, action, changes_json)
             VALUES (?1, ?2, ?3, ?4, ?5, 'sync', ?6)",
            rusqlite::params![
                id,
                version,
                chairside_store::now_rfc3339(),
                by.unwrap_or("(unknown)"),
                workstation,
                Value::Object(changes).to_string()
            ],
        )?;
        Ok(())
    }
}

struct AttachmentReplica;

impl ReplicaHooks for AttachmentReplica {
    /// The same link (document, owner) made on two workstations at once: two rows, of which
    /// only one may be live. Every workstation keeps the smaller id live and the other as
    /// ended, so all agree without either workstation's record being lost.
    fn on_refused(&self, apply: &Apply<'_>, row: &Row) -> rusqlite::Result<bool> {
        let text = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let (id, document, owner_type, owner_id) =
            (text("id"), text("document_id"), text("owner_type"), text("owner_id"));
        let other: Option<String> = apply
            .tx
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
            apply.tx.execute(
                "UPDATE media_attachments SET unlinked_at = created_at, unlinked_by = ?2 WHERE id = ?1",
                params![other, ended_by],
            )?;
        } else {
            row.insert("unlinked_at".into(), Value::from(text("created_at")));
            row.insert("unlinked_by".into(), Value::from(ended_by));
        }
        apply.insert("media_attachments", &row)
    }
}
