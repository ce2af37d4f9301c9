//! Bucket administration: configure (and join the bucket's clinic), test, lifecycle rules,
//! share links, tags.

use chairside_vault::{ClinicKey, KdfParams, KeyFile, RecoveryKey, Vault};
use zeroize::Zeroizing;

use super::*;
use crate::remote::{KEY_FILE, PutMode};

/// How a new set-up keeps the bucket's objects.
pub enum Encryption {
    /// Unencrypted: the provider can read every photo and name. Only when asked for by name.
    Off,
    /// Sealed with the clinic key: made and wrapped by this passphrase when the bucket is new,
    /// unwrapped by it when the bucket already has one.
    Passphrase(Zeroizing<String>),
    /// Joining with the printed recovery key instead of the (forgotten) passphrase.
    RecoveryKey(Zeroizing<String>),
}

/// What a set-up saved.
pub struct Configured {
    pub secret: SecretLocation,
    /// The clinic key's id, when the bucket is encrypted.
    pub key_id: Option<String>,
    /// The recovery key of a clinic key this set-up made: shown once, never stored.
    pub recovery_key: Option<Zeroizing<String>>,
}

impl SyncEngine {
    // ------------------------------------------------------------ configure

    /// Checks the bucket with these settings — reachable, credentials accepted, writable —
    /// joins the clinic it holds (or makes it this library's clinic when it is empty), and
    /// only then saves the settings, the secret and the clinic key. Nothing is saved on any
    /// failure. An encrypted bucket is joined with its passphrase (or recovery key); an empty
    /// one gets a new clinic key unless encryption is turned off by name.
    pub fn configure(&self, config: SyncConfig, secret: &str, encryption: Encryption) -> Result<Configured, SyncError> {
        let mut config = config.normalised()?;
        if secret.trim().is_empty() {
            return Err(SyncError::InvalidConfig("the secret key is empty".into()));
        }
        let plain = Remote::new(&config, secret, None)?;
        let key_file = self.rt.block_on(async {
            plain.list_folders("").await?;
            plain.get_stored(KEY_FILE, None).await
        })?;
        // The clinic key: the bucket's, unwrapped here, or a new one (uploaded last, below).
        let (key, new_key) = match (key_file, &encryption) {
            (Some(_), Encryption::Off) => return Err(SyncError::PassphraseNeeded),
            (Some(body), Encryption::Passphrase(p)) => (Some(KeyFile::from_json(&body)?.unlock(p)?), None),
            (Some(body), Encryption::RecoveryKey(r)) => {
                (Some(KeyFile::from_json(&body)?.recover(&RecoveryKey::parse(r)?)?), None)
            }
            (None, Encryption::Off) => (None, None),
            (None, Encryption::RecoveryKey(_)) => {
                return Err(SyncError::InvalidConfig(
                    "this bucket has no clinic key yet: a recovery key only opens an existing one; choose a passphrase instead".into(),
                ));
            }
            (None, Encryption::Passphrase(p)) => {
                if self.rt.block_on(plain.exists("format.json"))? {
                    return Err(SyncError::BucketNotEncrypted);
                }
                let key = ClinicKey::generate()?;
                let (file, recovery) = KeyFile::create(&key, p, KdfParams::RECOMMENDED)?;
                (Some(key), Some((file, recovery)))
            }
        };
        config.encryption = key.as_ref().map(ClinicKey::id);
        let remote = plain.with_vault(key.as_ref().map(|k| Arc::new(Vault::new(k))));
        let (clinic_id, clinic_name) = self.db.read(|c| {
            let id = chairside_store::get_setting(c, "default_clinic_id")?.unwrap_or_default();
            let name = chairside_patients::clinic_name(c, &id)?.unwrap_or_default();
            Ok::<_, SyncError>((id, name))
        })?;
        let ws = self.actor.workstation.clone();
        let format = self.rt.block_on(async {
            let mine = BucketFormat {
                format: log::FORMAT,
                clinic_id: clinic_id.clone(),
                clinic_name: clinic_name.clone(),
                created_at: chairside_store::now_rfc3339(),
                created_by_workstation: ws.clone(),
            };
            let body = serde_json::to_vec(&mine).map_err(|e| SyncError::InvalidConfig(e.to_string()))?;
            remote.put_create("format.json", Bytes::from(body), &[]).await?;
            // Sealed, it opens only with the clinic's key: a bucket of another clinic's key
            // is refused here.
            let body = remote.get_checked("format.json", None).await?.ok_or_else(|| SyncError::Remote {
                context: "reading format.json".into(),
                reason: "it vanished right after it was written".into(),
            })?;
            let format: BucketFormat = serde_json::from_slice(&body)
                .map_err(|e| SyncError::BadSegment { key: "format.json".into(), reason: e.to_string() })?;
            // Proves the credentials may write (a create-only put is checked before its precondition).
            let about =
                json!({"workstation": ws, "user": self.actor.user, "first_seen": chairside_store::now_rfc3339()});
            remote.put_create(&format!("workstations/{ws}.json"), Bytes::from(about.to_string()), &[]).await?;
            if let Some((file, _)) = &new_key
                && remote.put_stored(KEY_FILE, Bytes::from(file.to_json()), &[], PutMode::Create).await?
                    == Put::AlreadyThere
            {
                return Err(SyncError::Remote {
                    context: "saving the clinic key".into(),
                    reason: "another workstation set this bucket up at the same moment: run the set-up again with the clinic's passphrase".into(),
                });
            }
            Ok::<_, SyncError>(format)
        })?;
        if format.format != log::FORMAT {
            return Err(SyncError::InvalidConfig(format!(
                "the bucket holds sync format {} and this Chairside reads {}: update Chairside",
                format.format,
                log::FORMAT
            )));
        }
        let before = self.config()?;
        self.db.write(|tx| {
            join_clinic(tx, &self.registry, &self.actor, &format)?;
            // Uploads in parts begun under other names (another key, or none) start over.
            if before.as_ref().is_some_and(|b| b.encryption != config.encryption) {
                tx.execute("DELETE FROM sync_multipart", [])?;
            }
            config.save(tx)?;
            Ok::<_, SyncError>(())
        })?;
        let stored = self.secrets.store(&config, secret).and_then(|location| {
            match &key {
                Some(k) => self.secrets.store_clinic_key(&config, k)?,
                None => {
                    self.secrets.forget_key(&config, crate::config::KeySlot::Current);
                    location.clone()
                }
            };
            Ok(location)
        });
        let location = match stored {
            Ok(l) => l,
            Err(e) => {
                // The settings without their secret would only fail later: take them back.
                self.db.write(|tx| Ok::<_, SyncError>(chairside_store::delete_setting(tx, "sync_config")?))?;
                return Err(e);
            }
        };
        self.db.write(|tx| {
            chairside_audit::append(
                tx,
                &self.actor,
                "sync_configure",
                "clinic",
                Some(&format.clinic_id),
                json!({"endpoint": config.endpoint, "bucket": config.bucket, "prefix": config.prefix,
                       "access_key": config.access_key, "encryption": config.encryption.is_some(),
                       "key_id": config.encryption, "new_key": new_key.is_some()}),
            )?;
            Ok::<_, SyncError>(())
        })?;
        *self.remote.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *self.known_peers.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(Configured {
            secret: location,
            key_id: config.encryption.clone(),
            recovery_key: new_key.map(|(_, r)| r.to_text()),
        })
    }

    /// Seconds the local clock is ahead of (positive) or behind the server's `Date`.
    pub fn clock_skew(&self) -> Result<Option<i64>, SyncError> {
        let remote = self.remote()?;
        let server = self.rt.block_on(remote.server_time())?;
        Ok(server.map(|s| chrono::Utc::now().signed_duration_since(s).num_seconds()))
    }

    /// Tries each capability the sync needs and reports which the server has.
    pub fn test(&self) -> Result<Vec<Check>, SyncError> {
        let remote = self.remote()?;
        let ws = self.actor.workstation.clone();
        let probe = format!("probes/{ws}/{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"));
        let checks = self.rt.block_on(async {
            let mut checks = Vec::new();
            let list = remote.list_folders("").await;
            let reachable = !matches!(&list, Err(e) if e.is_transient() || matches!(e, SyncError::Denied{..} | SyncError::NoSuchBucket{..}));
            checks.push(Check::from("list", list.map(|f| format!("{} top-level folders", f.len()))));
            if !reachable {
                return checks;
            }
            let put = remote.put_create(&probe, Bytes::from_static(b"chairside probe"), &[]).await;
            let put_ok = put.is_ok();
            checks.push(Check::from("put", put.map(|_| format!("wrote {probe}"))));
            if put_ok {
                let again = remote.put_create(&probe, Bytes::from_static(b"a different body"), &[]).await;
                checks.push(match again {
                    Ok(Put::AlreadyThere) => Check::ok("conditional_put", "a second create-only put was refused (412): If-None-Match works"),
                    Ok(Put::Created) => Check::failed("conditional_put", "the server overwrote an object despite If-None-Match: *; two workstations could overwrite each other's segments"),
                    Err(e) => Check::failed("conditional_put", &e.to_string()),
                });
                let get = remote.get_checked(&probe, None).await;
                checks.push(Check::from("get", get.map(|b| format!("read back {} bytes, SHA-256 matches", b.map(|b| b.len()).unwrap_or(0)))));
                let tags = async {
                    remote.put_tags(&probe, &[(TAG_KEY, "probe")]).await?;
                    remote.get_tags(&probe).await
                }
                .await;
                checks.push(Check::from(
                    "tagging",
                    tags.and_then(|t| {
                        if t.iter().any(|(k, v)| k == TAG_KEY && v == "probe") {
                            Ok("object tags are written and read back".to_string())
                        } else {
                            Err(SyncError::Remote { context: "tagging".into(), reason: "the tag did not read back".into() })
                        }
                    }),
                ));
            }
            let lifecycle = remote.get_lifecycle().await;
            checks.push(Check::from(
                "lifecycle",
                lifecycle.map(|l| match l {
                    Some(xml) if xml.contains(TAG_KEY) => "readable; Chairside's rule is installed".to_string(),
                    Some(_) => "readable; a rule is set, not Chairside's: install Chairside's lifecycle rule to tier archived originals".to_string(),
                    None => "readable; no rule yet: install Chairside's lifecycle rule to tier archived originals".to_string(),
                }),
            ));
            let skew = remote.server_time().await;
            checks.push(match skew {
                Ok(Some(t)) => {
                    let s = chrono::Utc::now().signed_duration_since(t).num_seconds();
                    if s.abs() > 60 {
                        Check::failed("clock", &format!("this computer's clock is {s} s off the server's: fix the time (NTP), or signatures and change order suffer"))
                    } else {
                        Check::ok("clock", &format!("within {} s of the server", s.abs()))
                    }
                }
                Ok(None) => Check::ok("clock", "the server sends no Date header; not checked"),
                Err(e) => Check::failed("clock", &e.to_string()),
            });
            checks
        });
        Ok(checks)
    }

    /// Installs the lifecycle rule: objects tagged archived go to STANDARD_IA after 30 days
    /// and DEEP_ARCHIVE (or GLACIER) after 365; incomplete multipart uploads are aborted
    /// after 7 days. A storage class the server refuses is left out, and said so.
    pub fn install_lifecycle(&self) -> Result<LifecycleReport, SyncError> {
        let remote = self.remote()?;
        let prefix =
            if remote.config().prefix.is_empty() { String::new() } else { format!("{}/", remote.config().prefix) };
        let attempts: [&[(u32, &str)]; 4] = [
            &[(30, "STANDARD_IA"), (365, "DEEP_ARCHIVE")],
            &[(30, "STANDARD_IA"), (365, "GLACIER")],
            &[(30, "STANDARD_IA")],
            &[],
        ];
        let mut refused = Vec::new();
        for transitions in attempts {
            let xml = lifecycle_xml(&prefix, transitions);
            match self.rt.block_on(remote.put_lifecycle(&xml)) {
                Ok(()) => {
                    let installed = self.rt.block_on(remote.get_lifecycle())?.unwrap_or_default();
                    self.db.write(|tx| {
                        chairside_audit::append(
                            tx,
                            &self.actor,
                            "sync_lifecycle_install",
                            "clinic",
                            None,
                            json!({"transitions": transitions.iter().map(|(d, c)| json!({"days": d, "storage_class": c})).collect::<Vec<_>>()}),
                        )?;
                        Ok::<_, SyncError>(())
                    })?;
                    return Ok(LifecycleReport {
                        transitions: transitions
                            .iter()
                            .map(|(d, c)| TierTransition { days: *d, storage_class: c.to_string() })
                            .collect(),
                        abort_incomplete_multipart_days: 7,
                        refused,
                        installed_xml: installed,
                    });
                }
                Err(e @ SyncError::Remote { .. }) => {
                    let what = transitions.last().map(|(_, c)| c.to_string()).unwrap_or_default();
                    refused.push(format!("{what}: {e}"));
                }
                Err(e) => return Err(e),
            }
        }
        Err(SyncError::Remote { context: "installing the lifecycle rule".into(), reason: refused.join("; ") })
    }

    /// A presigned link to one document's original.
    pub fn share(&self, document_id: &str, expires: Duration) -> Result<ShareLink, SyncError> {
        if expires.is_zero() || expires > SHARE_MAX {
            return Err(SyncError::InvalidConfig("a share link lasts between 1 second and 7 days".into()));
        }
        let sha: String = self
            .db
            .read(|c| Ok::<_, SyncError>(chairside_media::documents::sha256_of(c, document_id)?))?
            .ok_or_else(|| SyncError::DocumentNotFound(document_id.to_string()))?;
        let uploaded: bool = self.db.read(|c| {
            Ok::<_, SyncError>(
                c.query_row("SELECT in_bucket FROM sync_blobs WHERE sha256 = ?1", [&sha], |r| r.get(0))
                    .optional()?
                    .unwrap_or(false),
            )
        })?;
        if !uploaded {
            return Err(SyncError::NotUploaded(document_id.to_string()));
        }
        let remote = self.remote()?;
        let expires_at = (chrono::Utc::now() + chrono::Duration::seconds(expires.as_secs() as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        // An encrypted bucket's original is unreadable to whoever gets the link: the link
        // points to a decrypted copy under a random name, removed by the next round after it
        // expires (and by the lifecycle rule's expiry of `shares/`, on a workstation that
        // never runs again).
        let (object, decrypted_copy) = if remote.vault().is_some() {
            let body = match self.blobs.path_of(&sha).ok().and_then(|p| std::fs::read(p).ok()) {
                Some(b) if hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&b)) == sha => Bytes::from(b),
                _ => self
                    .rt
                    .block_on(remote.get_checked(&remote.blob_key(&sha), Some(&sha)))?
                    .ok_or_else(|| SyncError::NotUploaded(document_id.to_string()))?,
            };
            let name = format!("{SHARES}{}/{document_id}", chairside_vault::random_name()?);
            self.rt.block_on(remote.put_stored(&name, body, &[(TAG_KEY, "share")], PutMode::Create))?;
            self.db.write(|tx| {
                let mut shares = shares(tx)?;
                shares.push(SharedCopy { key: name.clone(), expires_at: expires_at.clone() });
                save_shares(tx, &shares)
            })?;
            (name, true)
        } else {
            (remote.blob_key(&sha), false)
        };
        let url = self.rt.block_on(remote.share_url(&object, expires))?;
        self.db.write(|tx| {
            // The link itself is a bearer credential: the audit keeps who, what and until when.
            chairside_audit::append(
                tx,
                &self.actor,
                "share_link",
                "document",
                Some(document_id),
                json!({"expires_at": expires_at, "seconds": expires.as_secs(), "decrypted_copy": decrypted_copy}),
            )?;
            Ok::<_, SyncError>(())
        })?;
        Ok(ShareLink { document_id: document_id.to_string(), url, expires_at })
    }

    /// Removes the decrypted copies behind share links that have expired.
    pub(super) fn sweep_shares(&self, remote: &Remote) -> Result<(), SyncError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let shares = self.db.read(shares)?;
        let (expired, live): (Vec<_>, Vec<_>) = shares.into_iter().partition(|s| s.expires_at <= now);
        if expired.is_empty() {
            return Ok(());
        }
        let mut kept = live;
        for s in expired {
            if let Err(e) = self.rt.block_on(remote.delete(&s.key)) {
                if e.is_transient() {
                    return Err(e);
                }
                kept.push(s);
            }
        }
        self.db.write(|tx| save_shares(tx, &kept))
    }

    /// Reads the tags of a blob's object (tests and `sync test`).
    pub fn blob_tags(&self, sha: &str) -> Result<Vec<(String, String)>, SyncError> {
        let remote = self.remote()?;
        self.rt.block_on(remote.get_tags(&remote.blob_key(sha)))
    }
}

/// Where the decrypted copies behind an encrypted bucket's share links go.
pub const SHARES: &str = "shares/";
const SHARES_SETTING: &str = "sync_shared_copies";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SharedCopy {
    key: String,
    expires_at: String,
}

fn shares(c: &rusqlite::Connection) -> Result<Vec<SharedCopy>, SyncError> {
    let text = chairside_store::get_setting(c, SHARES_SETTING)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
}

fn save_shares(c: &rusqlite::Connection, shares: &[SharedCopy]) -> Result<(), SyncError> {
    let text = serde_json::to_string(shares).map_err(|e| SyncError::InvalidConfig(e.to_string()))?;
    Ok(chairside_store::set_setting(c, SHARES_SETTING, &text)?)
}

pub(super) fn lifecycle_xml(prefix: &str, transitions: &[(u32, &str)]) -> String {
    let mut xml = String::from("<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    if !transitions.is_empty() {
        xml.push_str(&format!(
            "<Rule><ID>chairside-archived-tiering</ID><Filter><And><Prefix>{prefix}blobs/</Prefix><Tag><Key>{TAG_KEY}</Key><Value>{TAG_ARCHIVED}</Value></Tag></And></Filter><Status>Enabled</Status>"
        ));
        for (days, class) in transitions {
            xml.push_str(&format!("<Transition><Days>{days}</Days><StorageClass>{class}</StorageClass></Transition>"));
        }
        xml.push_str("</Rule>");
    }
    // A share link lasts 7 days at most; its decrypted copy goes a day later whatever happens.
    xml.push_str(&format!(
        "<Rule><ID>chairside-expire-share-copies</ID><Filter><Prefix>{prefix}{SHARES}</Prefix></Filter><Status>Enabled</Status><Expiration><Days>8</Days></Expiration></Rule>"
    ));
    xml.push_str(&format!(
        "<Rule><ID>chairside-abort-incomplete-uploads</ID><Filter><Prefix>{prefix}</Prefix></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"
    ));
    xml.push_str("</LifecycleConfiguration>");
    xml
}

/// Makes the bucket's clinic this library's clinic. A library that never synced moves its
/// records (and their not yet uploaded changes) to it; one already syncing another clinic
/// is refused.
pub(super) fn join_clinic(
    tx: &rusqlite::Transaction<'_>,
    registry: &Registry,
    actor: &Actor,
    format: &BucketFormat,
) -> Result<(), SyncError> {
    let local = chairside_store::get_setting(tx, "default_clinic_id")?.unwrap_or_default();
    if local == format.clinic_id {
        return Ok(());
    }
    let synced: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sync_peers) OR EXISTS (SELECT 1 FROM sync_segments_out)",
        [],
        |r| r.get(0),
    )?;
    if synced {
        return Err(SyncError::OtherClinic { bucket_clinic: format.clinic_id.clone(), local_clinic: local });
    }
    chairside_patients::adopt_clinic(
        tx,
        &chairside_patients::Clinic {
            id: format.clinic_id.clone(),
            name: format.clinic_name.clone(),
            created_at: format.created_at.clone(),
        },
    )?;
    // Every replicated table scoped to a clinic: its rows, and their changes not sent yet.
    for e in registry.iter() {
        if chairside_store::replicated::columns_of(tx, e.table)?.iter().any(|c| c == "clinic_id") {
            tx.execute(
                &format!("UPDATE {} SET clinic_id = ?1 WHERE clinic_id = ?2", e.table),
                params![format.clinic_id, local],
            )?;
        }
    }
    chairside_store::rewrite_own_values(
        tx,
        &actor.workstation,
        "clinic_id",
        &serde_json::Value::from(local.clone()),
        &serde_json::Value::from(format.clinic_id.clone()),
    )?;
    // The local clinic's own creation stays in the log, harmless: it is never synced to a
    // peer's default clinic. Mark its changes as already cut.
    chairside_store::set_setting(tx, "default_clinic_id", &format.clinic_id)?;
    chairside_audit::append(
        tx,
        actor,
        "sync_join_clinic",
        "clinic",
        Some(&format.clinic_id),
        json!({"previous_clinic_id": local, "clinic_name": format.clinic_name}),
    )?;
    Ok(())
}

/// One line of `sync test`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub(super) fn ok(name: &str, detail: &str) -> Check {
        Check { name: name.into(), ok: true, detail: detail.into() }
    }
    pub(super) fn failed(name: &str, detail: &str) -> Check {
        Check { name: name.into(), ok: false, detail: detail.into() }
    }
    pub(super) fn from(name: &str, r: Result<String, SyncError>) -> Check {
        match r {
            Ok(d) => Check::ok(name, &d),
            Err(e) => Check::failed(name, &e.to_string()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TierTransition {
    pub days: u32,
    pub storage_class: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LifecycleReport {
    pub transitions: Vec<TierTransition>,
    pub abort_incomplete_multipart_days: u32,
    /// Storage classes the server refused, with its answer.
    pub refused: Vec<String>,
    /// The configuration as read back from the server.
    pub installed_xml: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ShareLink {
    pub document_id: String,
    pub url: String,
    pub expires_at: String,
}
