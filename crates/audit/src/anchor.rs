//! The chain head anchored outside the database. A hash chain alone shows an event changed in
//! the middle, but not its last events removed, the table dropped, or the whole chain
//! recomputed after a change. So after every commit that appended events, the head (sequence
//! and hash) is written to `audit-head.json` beside the database and to a witness copy in the
//! OS account's config folder, both signed (HMAC-SHA256) with a key kept only in that config
//! folder — outside the library folder. `verify` then compares the database with the heads.
//!
//! What this does and does not catch is in the README ("What an attacker can hide").

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chairside_store::{StoreError, rusqlite};
use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The anchor file's name inside the library folder.
pub const HEAD_FILE: &str = "audit-head.json";
const FORMAT: &str = "chairside-audit-head/1";
/// Set once the first head was written: from then on a missing head file is a finding.
const ANCHORED_SETTING: &str = "audit_anchored_at";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Head {
    format: String,
    workstation: String,
    seq: i64,
    hash: String,
    at: String,
    mac: Option<String>,
}

/// What the anchors say of the chain.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AnchorCheck {
    /// The highest event the heads vouch for.
    pub anchored_seq: Option<i64>,
    /// Whether the signature could be checked (the key is on this account).
    pub signed: bool,
    pub problems: Vec<String>,
}

/// Keeps the chain head anchored for one library.
pub struct Anchor {
    library_head: PathBuf,
    witness_head: Option<PathBuf>,
    key: Option<Vec<u8>>,
    workstation: String,
    /// The highest sequence anchored, and whether anchoring stopped because the chain no
    /// longer matches an earlier head (the evidence is then left as it is).
    state: Mutex<(i64, bool)>,
}

fn mac_of(key: &[u8], h: &Head) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(serde_json::json!([h.format, h.workstation, h.seq, h.hash, h.at]).to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn read_head(path: &Path) -> Option<Result<Head, String>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(format!("{} cannot be read: {e}", path.display()))),
    };
    Some(serde_json::from_str(&text).map_err(|e| format!("{} is not an audit head: {e}", path.display())))
}

fn write_private_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    chairside_store::private::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-head-{}", uuid::Uuid::new_v4()));
    let result = (|| {
        let mut f = chairside_store::private::create_new(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The signing key of a workstation's chain, created on first use in the witness folder.
fn load_or_create_key(witness_dir: &Path, workstation: &str) -> std::io::Result<Vec<u8>> {
    let path = witness_dir.join(format!("{workstation}.key"));
    match fs::read_to_string(&path) {
        Ok(text) => hex::decode(text.trim()).map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = [uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat();
            write_private_atomic(&path, hex::encode(&key).as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

fn last_event(conn: &Connection) -> Result<Option<(i64, String)>, StoreError> {
    Ok(conn
        .query_row("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

fn hash_at(conn: &Connection, seq: i64) -> Result<Option<String>, StoreError> {
    Ok(conn.query_row("SELECT hash FROM audit_events WHERE seq = ?1", [seq], |r| r.get(0)).optional()?)
}

impl Anchor {
    /// Anchoring for the library in `library_dir`, with the key and witness copy in
    /// `witness_dir` (the OS account's config folder; `None` where there is none).
    pub fn new(library_dir: &Path, witness_dir: Option<&Path>, workstation: &str) -> Anchor {
        let key = witness_dir.and_then(|d| load_or_create_key(d, workstation).ok());
        let witness_head = witness_dir.map(|d| d.join(format!("{workstation}.head.json")));
        let anchor = Anchor {
            library_head: library_dir.join(HEAD_FILE),
            witness_head,
            key,
            workstation: workstation.to_string(),
            state: Mutex::new((0, false)),
        };
        let highest = anchor.heads().into_iter().filter_map(|(_, h)| h.ok()).map(|h| h.seq).max().unwrap_or(0);
        *anchor.state.lock().unwrap_or_else(|p| p.into_inner()) = (highest, false);
        anchor
    }

    fn heads(&self) -> Vec<(PathBuf, Result<Head, String>)> {
        [Some(&self.library_head), self.witness_head.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|p| read_head(p).map(|h| (p.clone(), h)))
            .collect()
    }

    /// Called after each commit: moves the heads forward when new events were appended — but
    /// never past a chain that no longer matches the last head (that is evidence to keep), and
    /// never re-creates a head file that was removed.
    pub fn refresh(&self, conn: &Connection) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (anchored, stopped) = *state;
        if stopped {
            return Ok(());
        }
        let Some((seq, hash)) = last_event(conn)? else { return Ok(()) };
        if seq <= anchored {
            return Ok(());
        }
        let first = chairside_store::get_setting(conn, ANCHORED_SETTING)?.is_none();
        if !first {
            let intact = anchored == 0
                || self.heads().iter().any(|(_, h)| {
                    h.as_ref()
                        .is_ok_and(|h| h.seq == anchored && hash_at(conn, h.seq).ok().flatten() == Some(h.hash.clone()))
                });
            if !intact || !self.library_head.exists() {
                state.1 = true;
                return Ok(());
            }
        }
        let at = self.write_heads(seq, hash)?;
        if first {
            chairside_store::set_setting(conn, ANCHORED_SETTING, &at)?;
        }
        state.0 = seq;
        Ok(())
    }

    /// Writes both heads (signed where the key is here) for the event `seq`; returns their time.
    fn write_heads(&self, seq: i64, hash: String) -> Result<String, StoreError> {
        let mut head = Head {
            format: FORMAT.into(),
            workstation: self.workstation.clone(),
            seq,
            hash,
            at: chairside_store::now_rfc3339(),
            mac: None,
        };
        head.mac = self.key.as_deref().map(|k| mac_of(k, &head));
        let body = serde_json::to_vec_pretty(&head).unwrap_or_default();
        for path in [Some(&self.library_head), self.witness_head.as_ref()].into_iter().flatten() {
            write_private_atomic(path, &body).map_err(|e| StoreError::Anchor(format!("{}: {e}", path.display())))?;
        }
        Ok(head.at)
    }

    /// Anchors the chain as it ends now, whatever the library folder held: for a library just
    /// rebuilt from a backup (its head file was not part of the snapshot), continuing as a new
    /// workstation. The caller first appends the event that records the restore.
    pub fn rebase(&self, conn: &Connection) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some((seq, hash)) = last_event(conn)? else { return Ok(()) };
        let at = self.write_heads(seq, hash)?;
        chairside_store::set_setting(conn, ANCHORED_SETTING, &at)?;
        *state = (seq, false);
        Ok(())
    }

    /// Compares the database's chain with the heads.
    pub fn check(&self, conn: &Connection) -> Result<AnchorCheck, StoreError> {
        let mut problems = Vec::new();
        let mut anchored_seq: Option<i64> = None;
        let last = last_event(conn)?;
        let anchored_before = chairside_store::get_setting(conn, ANCHORED_SETTING)?.is_some();
        let heads = self.heads();
        if !self.library_head.exists() && (anchored_before || !heads.is_empty()) {
            problems.push(format!("{} is missing: the chain's anchor beside the database was removed", HEAD_FILE));
        }
        for (path, head) in &heads {
            let head = match head {
                Ok(h) => h,
                Err(e) => {
                    problems.push(e.clone());
                    continue;
                }
            };
            if let (Some(key), Some(mac)) = (&self.key, &head.mac)
                && &mac_of(key, head) != mac
            {
                problems.push(format!("{} was edited: its signature does not match", path.display()));
                continue;
            }
            anchored_seq = anchored_seq.max(Some(head.seq));
            match hash_at(conn, head.seq)? {
                None => problems.push(format!(
                    "event {} was anchored by {} but is not in the database (the trail ends at {}): events were removed",
                    head.seq,
                    path.display(),
                    last.as_ref().map(|l| l.0.to_string()).unwrap_or_else(|| "no event at all".into())
                )),
                Some(h) if h != head.hash => problems.push(format!(
                    "event {} no longer has the hash anchored by {}: the chain was rewritten",
                    head.seq,
                    path.display()
                )),
                Some(_) => {}
            }
        }
        problems.dedup();
        Ok(AnchorCheck { anchored_seq, signed: self.key.is_some(), problems })
    }
}
