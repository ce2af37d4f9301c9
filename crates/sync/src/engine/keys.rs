//! The clinic key after set-up: a new passphrase, a plaintext bucket encrypted in place, the
//! key rotated after a workstation is stolen. Both migrations are one re-sealing pass over
//! every object, resumable: the new key waits in the keychain's `Next` slot, the pass is
//! recorded in the settings, and an object already sealed with the new key is skipped when the
//! command runs again. The bucket's key file changes last, so until the pass is done every
//! object is readable with the key the other workstations hold or under its new name.

use std::collections::HashMap;

use chairside_vault::{ClinicKey, KdfParams, KeyFile, Vault};
use zeroize::Zeroizing;

use super::*;
use crate::config::KeySlot;
use crate::remote::{KEY_FILE, PutMode};

const MIGRATION: &str = "sync_migration";
/// Objects re-sealed at once.
const RESEAL_CONCURRENCY: usize = 8;

/// A re-sealing pass under way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Migration {
    /// The id of the key the bucket is being sealed with.
    pub to: String,
    /// The key it was sealed with (`None`: plaintext).
    pub from: Option<String>,
    pub started_at: String,
    /// The new key's key file (wrapped by the passphrase and the recovery key, so no secret),
    /// put in the bucket when the pass is done.
    pub key_file: String,
}

/// A re-sealing pass just recorded: its key, and its recovery key, shown now and never again.
pub struct Started {
    pub key_id: String,
    pub recovery_key: Zeroizing<String>,
}

/// What a finished pass did.
#[derive(Debug)]
pub struct Resealed {
    pub key_id: String,
    pub resealed: u64,
    /// Already sealed with the new key (a resumed pass).
    pub already: u64,
    /// Objects left as they were, with why.
    pub left: Vec<String>,
}

/// What an object of the bucket holds, as far as its name says.
#[derive(Clone)]
enum Kind {
    Original(String),
    Thumbnail(String),
    /// Segments, records, the format file: the same name under either key.
    Named,
}

impl SyncEngine {
    /// The re-sealing pass under way, if any.
    pub fn migration(&self) -> Result<Option<Migration>, SyncError> {
        let text = self.db.read(|c| Ok::<_, SyncError>(chairside_store::get_setting(c, MIGRATION)?))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Wraps the clinic key (held in this workstation's keychain) by a new passphrase; the
    /// recovery key stays valid.
    pub fn change_passphrase(&self, passphrase: &str) -> Result<(), SyncError> {
        let config = self.config()?.ok_or(SyncError::NotConfigured)?;
        let Some(id) = config.encryption.clone() else { return Err(SyncError::NotEncrypted) };
        let remote = self.remote()?;
        let key = self.secrets.load_clinic_key(&config)?;
        let body = self.rt.block_on(remote.get_stored(KEY_FILE, None))?.ok_or_else(missing_key_file)?;
        let file = KeyFile::from_json(&body)?;
        if file.key_id() != id {
            return Err(SyncError::KeyChanged { bucket: file.key_id().to_string(), local: id });
        }
        let file = file.with_passphrase(&key, passphrase, KdfParams::RECOMMENDED)?;
        self.rt.block_on(remote.put_stored(KEY_FILE, Bytes::from(file.to_json()), &[], PutMode::Overwrite))?;
        self.db.write(|tx| {
            chairside_audit::append(tx, &self.actor, "sync_passphrase_change", "clinic", None, json!({"key_id": id}))?;
            Ok::<_, SyncError>(())
        })
    }

    /// Starts encrypting a plaintext bucket in place with a new clinic key wrapped by
    /// `passphrase`; [`SyncEngine::finish_reseal`] (the command, or the next rounds in the
    /// background) does the pass.
    pub fn encrypt_existing(&self, passphrase: &str) -> Result<Started, SyncError> {
        let config = self.config()?.ok_or(SyncError::NotConfigured)?;
        if let Some(m) = self.migration()? {
            return Err(SyncError::Migrating { encrypting: m.from.is_none(), to: m.to });
        }
        if config.encryption.is_some() {
            return Err(SyncError::InvalidConfig(
                "the bucket is already encrypted: rotating the key replaces it".into(),
            ));
        }
        let secret = self.secrets.load(&config)?;
        if self.rt.block_on(Remote::new(&config, &secret, None)?.exists(KEY_FILE))? {
            // Encrypted meanwhile by another workstation: join it instead.
            return Err(SyncError::PassphraseNeeded);
        }
        self.start_reseal(&config, passphrase)
    }

    /// Starts sealing the whole bucket again with a new clinic key (after a workstation
    /// holding the old one was stolen); the other workstations join again with the passphrase.
    pub fn rotate_key(&self, passphrase: &str) -> Result<Started, SyncError> {
        let config = self.config()?.ok_or(SyncError::NotConfigured)?;
        if let Some(m) = self.migration()? {
            return Err(SyncError::Migrating { encrypting: m.from.is_none(), to: m.to });
        }
        if config.encryption.is_none() {
            return Err(SyncError::NotEncrypted);
        }
        self.start_reseal(&config, passphrase)
    }

    /// Makes the new key and its key file (a weak passphrase is refused before anything
    /// changes), keeps the key in the keychain's `Next` slot and records the pass.
    fn start_reseal(&self, config: &SyncConfig, passphrase: &str) -> Result<Started, SyncError> {
        let next = ClinicKey::generate()?;
        let (key_file, recovery) = KeyFile::create(&next, passphrase, KdfParams::RECOMMENDED)?;
        self.secrets.store_key(config, KeySlot::Next, &next)?;
        let m = Migration {
            to: next.id(),
            from: config.encryption.clone(),
            started_at: chairside_store::now_rfc3339(),
            key_file: String::from_utf8_lossy(&key_file.to_json()).into_owned(),
        };
        self.db.write(|tx| {
            let text = serde_json::to_string(&m).map_err(|e| SyncError::InvalidConfig(e.to_string()))?;
            chairside_store::set_setting(tx, MIGRATION, &text)?;
            chairside_audit::append(
                tx,
                &self.actor,
                "sync_reseal_start",
                "clinic",
                None,
                json!({"from_key_id": m.from, "to_key_id": m.to}),
            )?;
            Ok::<_, SyncError>(())
        })?;
        Ok(Started { key_id: m.to, recovery_key: recovery.to_text() })
    }

    /// The re-sealing pass recorded by `encrypt_existing` or `rotate_key`, to its end:
    /// objects already sealed with the new key are skipped, so it resumes where it stopped;
    /// the bucket's key file changes last. `Ok(None)` when no pass is under way.
    pub fn finish_reseal(&self, progress: &dyn Fn(u64, u64)) -> Result<Option<Resealed>, SyncError> {
        let Some(migration) = self.migration()? else { return Ok(None) };
        let config = self.config()?.ok_or(SyncError::NotConfigured)?;
        let secret = self.secrets.load(&config)?;
        let next = self.secrets.load_key(&config, KeySlot::Next)?;
        if next.id() != migration.to {
            return Err(SyncError::KeyChanged { bucket: migration.to.clone(), local: next.id() });
        }
        let key_file = KeyFile::from_json(migration.key_file.as_bytes())?;
        let config = &config;
        let old_vault = match &migration.from {
            None => None,
            Some(id) => {
                let key = self.secrets.load_clinic_key(config)?;
                if key.id() != *id {
                    return Err(SyncError::KeyChanged { bucket: id.clone(), local: key.id() });
                }
                Some(Arc::new(Vault::new(&key)))
            }
        };
        let new_vault = Arc::new(Vault::new(&next));
        let old = Arc::new(Remote::new(config, &secret, old_vault)?);
        let new = Arc::new(old.with_vault(Some(Arc::clone(&new_vault))));

        // Content names are keyed hashes: which original each belongs to is known from the
        // library's own list of every blob it synced.
        let shas: Vec<String> = self.db.read(|c| {
            let mut stmt = c.prepare("SELECT sha256 FROM sync_blobs")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok::<_, SyncError>(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        let mut kinds: HashMap<String, Kind> = HashMap::with_capacity(shas.len() * 2);
        for sha in shas {
            kinds.insert(old.blob_key(&sha), Kind::Original(sha.clone()));
            kinds.insert(old.thumb_key(&sha), Kind::Thumbnail(sha));
        }
        let keys = self.rt.block_on(old.list_after("", None))?;
        // Probes are litter, and a share link's decrypted copy is plaintext by design (and
        // removed when it expires).
        let keys: Vec<String> = keys
            .into_iter()
            .filter(|k| k != KEY_FILE && !k.starts_with("probes/") && !k.starts_with(super::admin::SHARES))
            .collect();
        let total = keys.len() as u64;
        let mut jobs = Vec::with_capacity(keys.len());
        let mut left = Vec::new();
        for rel in keys {
            let kind = match kinds.get(&rel) {
                Some(k) => k.clone(),
                None if rel.starts_with("blobs/") || rel.starts_with("thumbs/") => {
                    match (migration.from.is_none(), plain_content_sha(&rel)) {
                        (true, Some((sha, true))) => Kind::Original(sha),
                        (true, Some((sha, false))) => Kind::Thumbnail(sha),
                        _ => {
                            left.push(format!("{rel}: an original this library never synced; left as it is"));
                            continue;
                        }
                    }
                }
                None => Kind::Named,
            };
            jobs.push((rel, kind));
        }
        let (mut resealed, mut already, mut done) = (0u64, 0u64, 0u64);
        let mut first_error = None;
        for batch in jobs.chunks(256) {
            let results = self.rt.block_on(
                futures::stream::iter(batch.iter().cloned().map(|(rel, kind)| {
                    let (old, new) = (Arc::clone(&old), Arc::clone(&new));
                    async move { reseal_one(&old, &new, &rel, &kind).await.map_err(|e| (rel, e)) }
                }))
                .buffer_unordered(RESEAL_CONCURRENCY)
                .collect::<Vec<_>>(),
            );
            for r in results {
                done += 1;
                match r {
                    Ok(true) => resealed += 1,
                    Ok(false) => already += 1,
                    Err((_, e)) if e.is_transient() => return Err(e),
                    Err((rel, e)) => {
                        first_error.get_or_insert(e.to_string());
                        left.push(format!("{rel}: {e}"));
                    }
                }
            }
            progress(done, total);
        }
        if let Some(e) = first_error {
            // The key file still names the old key: nothing is lost, the pass can run again.
            return Err(SyncError::Remote {
                context: "re-sealing the bucket".into(),
                reason: format!(
                    "{} object(s) could not be re-sealed, first: {e}; the pass goes on at the next try",
                    left.len()
                ),
            });
        }
        self.rt.block_on(new.put_stored(KEY_FILE, Bytes::from(key_file.to_json()), &[], PutMode::Overwrite))?;
        let mut config = config.clone();
        config.encryption = Some(next.id());
        self.secrets.store_clinic_key(&config, &next)?;
        self.secrets.forget_key(&config, KeySlot::Next);
        self.db.write(|tx| {
            config.save(tx)?;
            chairside_store::delete_setting(tx, MIGRATION)?;
            // New objects carry no tags and no upload in parts goes on under the old names.
            tx.execute("UPDATE sync_blobs SET tagged_archived = 0", [])?;
            tx.execute("DELETE FROM sync_multipart", [])?;
            chairside_audit::append(
                tx,
                &self.actor,
                "sync_reseal_done",
                "clinic",
                None,
                json!({"from_key_id": migration.from, "to_key_id": migration.to, "resealed": resealed, "already": already, "left": left.len()}),
            )?;
            Ok::<_, SyncError>(())
        })?;
        *self.remote.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(Some(Resealed { key_id: next.id(), resealed, already, left }))
    }

    /// On a discovery round: the bucket's key file against the key this workstation seals
    /// with, so a bucket encrypted or re-keyed elsewhere stops the round with what to do
    /// instead of a list of unreadable objects.
    pub(super) fn check_bucket_key(&self, remote: &Remote) -> Result<(), SyncError> {
        let local = remote.config().encryption.clone();
        let Some(body) = self.rt.block_on(remote.get_stored(KEY_FILE, None))? else { return Ok(()) };
        let bucket = KeyFile::from_json(&body)?.key_id().to_string();
        if local.as_deref() != Some(bucket.as_str()) {
            return Err(SyncError::KeyChanged { bucket, local: local.unwrap_or_else(|| "none".into()) });
        }
        Ok(())
    }
}

fn missing_key_file() -> SyncError {
    SyncError::Remote {
        context: "reading the clinic key file".into(),
        reason: format!("{KEY_FILE} is missing from the bucket"),
    }
}

/// The SHA-256 in a plaintext bucket's content key, and whether it names an original (or a
/// thumbnail).
fn plain_content_sha(rel: &str) -> Option<(String, bool)> {
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(rest) = rel.strip_prefix("blobs/sha256/") {
        let sha = rest.rsplit('/').next()?;
        return (hex64(sha) && crate::engine::blob_key(sha) == rel).then(|| (sha.to_string(), true));
    }
    let sha = rel.strip_prefix("thumbs/")?.strip_suffix("/256")?;
    hex64(sha).then(|| (sha.to_string(), false))
}

/// Re-seals one object under its new name; `Ok(false)` when it already was (a resumed pass).
async fn reseal_one(old: &Remote, new: &Remote, rel: &str, kind: &Kind) -> Result<bool, SyncError> {
    let new_vault = new.vault().ok_or(SyncError::NoClinicKey)?;
    let (new_rel, expected) = match kind {
        Kind::Original(sha) => (new.blob_key(sha), Some(sha.as_str())),
        Kind::Thumbnail(sha) => (new.thumb_key(sha), None),
        Kind::Named => (rel.to_string(), None),
    };
    if new_rel != rel && new.exists(&new_rel).await? {
        old.delete(rel).await?;
        return Ok(false);
    }
    let Some(stored) = old.get_stored(rel, None).await? else { return Ok(false) };
    if chairside_vault::sealed_key_id(&stored).as_deref() == Some(new_vault.key_id().as_str()) {
        return Ok(false);
    }
    let plain = match old.vault() {
        Some(v) => crate::remote::open_off_runtime(v, rel, stored).await?,
        None if chairside_vault::is_sealed(&stored) => {
            return Err(SyncError::Remote {
                context: format!("re-sealing {rel}"),
                reason: "it is sealed with a key this workstation does not hold".into(),
            });
        }
        None => stored.to_vec(),
    };
    if let Some(expected) = expected {
        let actual = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&plain));
        if actual != expected {
            return Err(SyncError::Tampered { key: rel.to_string(), expected: expected.to_string(), actual });
        }
    }
    let mode = if new_rel == rel { PutMode::Overwrite } else { PutMode::Create };
    let sealed = crate::remote::seal_off_runtime(new_vault, &new_rel, Bytes::from(plain)).await?;
    new.put_stored(&new_rel, sealed, &[], mode).await?;
    if new_rel != rel {
        old.delete(rel).await?;
    }
    Ok(true)
}
