//! The contract between media's attachment registry and the modules whose records documents
//! can be attached to. A module that owns an attachable record type implements
//! [`OwnerResolver`]; the composition root registers it under an owner type name. Keeping the
//! trait in its own crate lets media check links without depending on any of those modules.

use rusqlite::Connection;

/// Where an owner record lives: link validation requires both to match the document's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerScope {
    pub clinic_id: String,
    pub patient_id: String,
}

/// Answers, for one owner type, whether an owner exists and whose it is.
pub trait OwnerResolver: Send + Sync {
    /// `Ok(None)` when no such owner exists. Runs inside the link's transaction.
    fn resolve(&self, conn: &Connection, owner_id: &str) -> rusqlite::Result<Option<OwnerScope>>;

    /// The roles a link to this owner type may carry; `None` means any (or no) role.
    fn roles(&self) -> Option<&'static [&'static str]> {
        None
    }
}
