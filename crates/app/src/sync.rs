//! Sync, as the shells see it: one engine per library, made on first use, whose downloaded
//! originals feed the thumbnail workers.

use std::sync::Arc;
use std::time::Duration;

use chairside_media::{VerifyOptions, VerifyReport};
use chairside_sync::{
    Check, Encryption, EngineOptions, LifecycleReport, Migration, Resealed, RoundReport, SecretLocation, ShareLink,
    Started, SyncConfig, SyncEngine, SyncError, SyncStatus,
};
use serde::Serialize;

use crate::{AppError, Library, Permission};

/// What `verify --repair` brought back from the bucket.
#[derive(Debug, Clone, Serialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RepairReport {
    /// Originals restored from the bucket, each checked against its SHA-256.
    pub repaired: Vec<String>,
    /// Originals that could not be restored, with the reason.
    pub failed: Vec<String>,
    /// Originals a peer has and this workstation has not fetched yet (not damage).
    pub not_downloaded_yet: u64,
}

/// What a sync set-up saved, for the window and `sync configure --json`. (Its `Debug` leaves
/// the recovery key out.)
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncSetUp {
    pub secret: SecretLocation,
    /// Whether every object is sealed with the clinic key.
    pub encryption: bool,
    pub key_id: Option<String>,
    /// The recovery key of a clinic key this set-up made: to print and keep, shown only now.
    pub recovery_key: Option<String>,
}

impl std::fmt::Debug for SyncSetUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncSetUp")
            .field("secret", &self.secret)
            .field("encryption", &self.encryption)
            .field("key_id", &self.key_id)
            .field("recovery_key", &self.recovery_key.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Library {
    /// The sync engine of this library (sync may still be unconfigured).
    pub fn sync(&self) -> Result<&Arc<SyncEngine>, AppError> {
        if let Some(engine) = self.sync.get() {
            return Ok(engine);
        }
        let queue_thumbnails = self.media.thumbnail_queue();
        let engine = SyncEngine::new(EngineOptions {
            data_dir: self.data_dir.clone(),
            db: Arc::clone(&self.db),
            actor: self.identity.clone(),
            thumbnailer: self.media.thumbnailer(),
            on_original: Some(Box::new(queue_thumbnails)),
            registry: crate::replicated(),
        })?;
        Ok(self.sync.get_or_init(|| Arc::new(engine)))
    }

    pub fn sync_configured(&self) -> Result<Option<SyncConfig>, AppError> {
        self.signed_in()?;
        Ok(self.sync()?.config()?)
    }

    /// Checks the bucket, joins its clinic (unwrapping its key with the passphrase, or making
    /// the clinic key of a new bucket) and saves the settings (nothing saved on failure).
    pub fn sync_configure(
        &self,
        config: SyncConfig,
        secret: &str,
        encryption: Encryption,
    ) -> Result<SyncSetUp, AppError> {
        self.allow(Permission::Configure)?;
        let done = self.sync()?.configure(config, secret, encryption)?;
        let clinic = self.db.read(|c| chairside_store::get_setting(c, "default_clinic_id"))?;
        if let Some(c) = clinic {
            *self.clinic_id.write().unwrap_or_else(|p| p.into_inner()) = c;
        }
        Ok(SyncSetUp {
            secret: done.secret,
            encryption: done.key_id.is_some(),
            key_id: done.key_id,
            recovery_key: done.recovery_key.map(|k| k.to_string()),
        })
    }

    /// Wraps the clinic key by a new passphrase (the recovery key stays valid).
    pub fn sync_change_passphrase(&self, passphrase: &str) -> Result<(), AppError> {
        self.allow(Permission::Configure)?;
        Ok(self.sync()?.change_passphrase(passphrase)?)
    }

    /// Starts encrypting a plaintext bucket in place: the new key's recovery key is returned
    /// now; `sync_finish_reseal` (or the background rounds) does the pass.
    pub fn sync_encrypt_existing(&self, passphrase: &str) -> Result<Started, AppError> {
        self.allow(Permission::Configure)?;
        Ok(self.sync()?.encrypt_existing(passphrase)?)
    }

    /// Starts sealing the bucket again with a new clinic key (after a stolen workstation).
    pub fn sync_rotate_key(&self, passphrase: &str) -> Result<Started, AppError> {
        self.allow(Permission::Configure)?;
        Ok(self.sync()?.rotate_key(passphrase)?)
    }

    /// The re-sealing pass under way, if any.
    pub fn sync_migration(&self) -> Result<Option<Migration>, AppError> {
        self.signed_in()?;
        Ok(self.sync()?.migration()?)
    }

    /// Runs the re-sealing pass under way to its end (resuming where it stopped).
    pub fn sync_finish_reseal(&self, progress: &dyn Fn(u64, u64)) -> Result<Option<Resealed>, AppError> {
        self.allow(Permission::Configure)?;
        Ok(self.sync()?.finish_reseal(progress)?)
    }

    /// One full round, and the status it leaves.
    pub fn sync_run(&self) -> Result<(RoundReport, SyncStatus), AppError> {
        self.signed_in()?;
        let (result, status) = self.sync()?.round_with_status(0);
        Ok((result?, status))
    }

    pub fn sync_status(&self) -> Result<SyncStatus, AppError> {
        self.signed_in()?;
        Ok(self.sync()?.status()?)
    }

    pub fn sync_test(&self) -> Result<Vec<Check>, AppError> {
        self.allow(Permission::Configure)?;
        Ok(self.sync()?.test()?)
    }

    pub fn sync_lifecycle_install(&self) -> Result<LifecycleReport, AppError> {
        self.allow(Permission::Configure)?;
        Ok(self.sync()?.install_lifecycle()?)
    }

    pub fn sync_share(&self, document_id: &str, expires: Duration) -> Result<ShareLink, AppError> {
        self.allow(Permission::Export)?;
        Ok(self.sync()?.share(document_id, expires)?)
    }

    /// Fetches an original only a peer had, when sync is set up. `Ok(false)` without sync.
    pub(crate) fn fetch_from_bucket(&self, sha256: &str) -> Result<bool, AppError> {
        let remote_only = self.db.read(|c| chairside_sync::originals::is_remote_only(c, sha256))?;
        if !remote_only || self.sync()?.config()?.is_none() {
            return Ok(false);
        }
        Ok(self.sync()?.fetch_original(sha256)?)
    }

    /// Verifies the library; with `repair` and sync set up, originals missing or corrupt here
    /// are brought back from the bucket (hash-checked) and verified again.
    pub fn verify_and_repair(
        &self,
        options: VerifyOptions,
        repair: bool,
    ) -> Result<(VerifyReport, Option<RepairReport>), AppError> {
        let mut report = self.verify(options.clone())?;
        let remote_only = self.db.read(chairside_sync::originals::remote_only)?;
        // Not damage: a peer's original this workstation fetches later (or on first open).
        let leave_out_remote = |report: &mut VerifyReport| {
            let before = report.missing.len();
            report.missing.retain(|p| !remote_only.contains(&p.sha256));
            report.ok = report.is_clean();
            (before - report.missing.len()) as u64
        };
        let not_downloaded_yet = leave_out_remote(&mut report);
        if !repair || self.sync_configured()?.is_none() {
            self.record_verify_quietly(&report);
            return Ok((report, None));
        }
        let damaged: Vec<String> = report.missing.iter().chain(&report.corrupt).map(|p| p.sha256.clone()).collect();
        let (repaired, failed) = if damaged.is_empty() { (vec![], vec![]) } else { self.sync()?.repair(&damaged)? };
        if !repaired.is_empty() {
            report = self.verify(options)?;
            leave_out_remote(&mut report);
        }
        self.record_verify_quietly(&report);
        Ok((report, Some(RepairReport { repaired, failed, not_downloaded_yet })))
    }
}

impl From<SyncError> for AppError {
    fn from(e: SyncError) -> Self {
        AppError::Sync(e)
    }
}
