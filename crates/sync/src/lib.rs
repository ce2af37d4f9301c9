//! Sync with an S3-compatible bucket: off-site copy and several workstations, with no server
//! of our own. The bucket holds, under the clinic's prefix:
//!
//! ```text
//! format.json                          the clinic and the layout version
//! workstations/<id>.json               who joined, when
//! blobs/sha256/ab/cd/<sha256>          originals, create-only, SHA-256 checksum + metadata
//! thumbs/<sha256>/256                  so a new workstation browses before originals arrive
//! ops/<workstation>/<first>-<last>.seg each workstation's change log, create-only segments
//! ```
//!
//! Encrypted (the default for a new set-up), every object but `keys/clinic-key.json` (the
//! clinic key wrapped by the passphrase and the recovery key) is sealed by `chairside-vault`
//! before it leaves, and content goes under a keyed hash of its SHA-256 instead:
//! `blobs/k/ab/<hmac>` and `thumbs/k/<hmac>`.
//!
//! Every object has exactly one writer (or is content-addressed), so nothing needs
//! compare-and-swap, and nothing is ever deleted remotely. Knows nothing of Tauri or the CLI.

pub mod config;
pub mod engine;
mod error;
pub mod log;
pub mod originals;
pub mod remote;
pub mod status;

pub use chairside_vault::sealed_key_id as vault_key_id;
pub use config::{KeySlot, Originals, SecretLocation, SyncConfig};
pub use engine::{
    Backlog, Check, Configured, Encryption, EngineOptions, LifecycleReport, Migration, Resealed, RoundReport,
    SHARE_DEFAULT, SHARE_MAX, ShareLink, Started, SyncEngine, TierTransition, blob_key, thumb_key,
};
pub use error::SyncError;
pub use status::{EncryptionState, SyncLoop, SyncState, SyncStatus};

/// The tables this crate owns: its code is the only code whose SQL names them, the others call
/// its API (`tests/architecture.rs` holds the rule).
pub const TABLES: &[&str] =
    &["sync_blobs", "sync_multipart", "sync_segments_out", "sync_peers", "sync_rows", "remote_audit_events"];
