//! One sync round — upload what is pending, apply what is new, fetch what is missing — and
//! the operations around it. This file holds the engine and the round; each concern has its
//! module: `upload`, `pull`, `repair`, and `admin` (configure, test, lifecycle, share).
//! Network calls run on this engine's own tokio runtime; the calling thread blocks on them,
//! so a shell runs rounds on a thread of its own, never on its UI thread.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chairside_media::thumbs::{Rendered, Thumbnailer};
use chairside_media::{Format, LocalBlobStore, MediaPaths};
use chairside_store::replicated::Registry;
use chairside_store::{Actor, Db};
use futures::StreamExt;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

use chairside_vault::Vault;

use crate::SyncError;
use crate::config::{Originals, SecretLocation, Secrets, SyncConfig};
use crate::log::{self, Applied, Segment};
use crate::remote::{Put, Remote};

mod admin;
mod keys;
mod pull;
mod repair;
mod upload;

pub use admin::{Check, Configured, Encryption, LifecycleReport, ShareLink, TierTransition};
pub use keys::{Migration, Resealed, Started};

/// Originals above this go up in parts, resumably.
pub const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
pub const PART_SIZE: u64 = 8 * 1024 * 1024;
/// A peer's object that failed this many times (missing, tampered) is no longer asked for
/// every round; `verify --repair` or opening the document still tries.
const MAX_ATTEMPTS: i64 = 10;
/// Transfers in flight at once.
const CONCURRENCY: usize = 8;
/// Share links: default and longest validity.
pub const SHARE_DEFAULT: Duration = Duration::from_secs(3600);
pub const SHARE_MAX: Duration = Duration::from_secs(7 * 24 * 3600);
pub const TAG_KEY: &str = "chairside-status";
pub const TAG_ARCHIVED: &str = "archived";

/// The key of an original in an unencrypted bucket (`Remote::blob_key` names it in either).
/// (`sha` is a checked hex address; anything else gets a key no original has, rather than a
/// panic.)
pub fn blob_key(sha: &str) -> String {
    let part = |r: std::ops::Range<usize>| sha.get(r).unwrap_or("__");
    format!("blobs/sha256/{}/{}/{sha}", part(0..2), part(2..4))
}

pub fn thumb_key(sha: &str) -> String {
    format!("thumbs/{sha}/256")
}

/// The bucket's `format.json`: which clinic the bucket holds, in which layout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketFormat {
    pub format: u32,
    pub clinic_id: String,
    pub clinic_name: String,
    pub created_at: String,
    pub created_by_workstation: String,
}

/// What one round did.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoundReport {
    pub uploaded_originals: u64,
    pub uploaded_bytes: u64,
    pub uploaded_thumbnails: u64,
    pub uploaded_segments: u64,
    pub applied_segments: u64,
    pub applied_entities: u64,
    pub downloaded_thumbnails: u64,
    pub downloaded_originals: u64,
    pub tags_updated: u64,
    pub peers: u64,
    /// Problems that did not stop the round (one object each), e.g. a tampered object.
    pub problems: Vec<String>,
    pub ms: u64,
}

/// Counts behind the status line.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Backlog {
    /// Originals, thumbnails and change segments not in the bucket yet.
    pub to_upload: u64,
    /// Peer segments seen in the bucket and not applied yet, plus thumbnails and originals
    /// to download.
    pub to_apply: u64,
    pub to_download: u64,
}

/// Hears the SHA-256 of each original that arrived from the bucket.
pub type OriginalListener = Box<dyn Fn(&str) + Send + Sync>;

pub struct EngineOptions {
    pub data_dir: PathBuf,
    pub db: Arc<Db>,
    pub actor: Actor,
    pub thumbnailer: Arc<Thumbnailer>,
    /// Called after a peer's original lands, so the shell can make its larger thumbnails.
    pub on_original: Option<OriginalListener>,
    /// The replicated tables of every domain crate, as the composition root gathered them.
    pub registry: Arc<Registry>,
}

pub struct SyncEngine {
    pub(crate) db: Arc<Db>,
    actor: Actor,
    thumbnailer: Arc<Thumbnailer>,
    blobs: LocalBlobStore,
    thumbs: chairside_media::ThumbStore,
    media: MediaPaths,
    secrets: Secrets,
    rt: tokio::runtime::Runtime,
    remote: Mutex<Option<(SyncConfig, Arc<Remote>)>>,
    on_original: Option<OriginalListener>,
    registry: Arc<Registry>,
    /// Peer segments seen in the last listing and not applied (for the status).
    remote_pending: Mutex<u64>,
    /// The workstations writing to the bucket, as last discovered.
    known_peers: Mutex<Option<Vec<String>>>,
}

impl SyncEngine {
    pub fn new(options: EngineOptions) -> Result<SyncEngine, SyncError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("chairside-sync")
            .enable_all()
            .build()
            .map_err(|e| SyncError::io("starting the sync runtime", e))?;
        // Where media keeps originals and thumbnails in the library folder: media's layout.
        let media = MediaPaths::in_folder(&options.data_dir);
        Ok(SyncEngine {
            blobs: LocalBlobStore::new(&media.blobs),
            thumbs: chairside_media::ThumbStore::new(&media.thumbs),
            media,
            secrets: Secrets::new(&options.data_dir),
            db: options.db,
            actor: options.actor,
            thumbnailer: options.thumbnailer,
            rt,
            remote: Mutex::new(None),
            on_original: options.on_original,
            registry: options.registry,
            remote_pending: Mutex::new(0),
            known_peers: Mutex::new(None),
        })
    }

    pub fn config(&self) -> Result<Option<SyncConfig>, SyncError> {
        self.db.read(SyncConfig::load)
    }

    pub fn secret_location(&self) -> SecretLocation {
        self.secrets.location()
    }

    /// The bucket of the saved configuration (cached between rounds, rebuilt when it changes).
    fn remote(&self) -> Result<Arc<Remote>, SyncError> {
        let config = self.config()?.ok_or(SyncError::NotConfigured)?;
        let mut cached = self.remote.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((c, r)) = cached.as_ref()
            && *c == config
        {
            return Ok(Arc::clone(r));
        }
        let secret = self.secrets.load(&config)?;
        let vault = match &config.encryption {
            None => None,
            Some(id) => {
                let key = self.secrets.load_clinic_key(&config)?;
                if key.id() != *id {
                    return Err(SyncError::KeyChanged { bucket: id.clone(), local: key.id() });
                }
                Some(Arc::new(Vault::new(&key)))
            }
        };
        let remote = Arc::new(Remote::new(&config, &secret, vault)?);
        *cached = Some((config, Arc::clone(&remote)));
        Ok(remote)
    }

    // ------------------------------------------------------------ the round

    /// One full round: upload everything pending, apply everything new, fetch thumbnails
    /// (and originals, by the setting). Errors that concern one object are collected in
    /// the report; an unreachable or refusing bucket ends the round with an error.
    pub fn run_round(&self) -> Result<RoundReport, SyncError> {
        self.run_round_with(true)
    }

    /// A round; `discover` also lists which workstations write to the bucket (new peers).
    /// Without it only the peers already known are listed: one request each.
    pub fn run_round_with(&self, discover: bool) -> Result<RoundReport, SyncError> {
        let started = Instant::now();
        // A re-sealing pass whose command was stopped goes on here, in the background, before
        // anything else is sent under the old key.
        self.finish_reseal(&|_, _| {})?;
        let remote = self.remote()?;
        if discover {
            self.check_bucket_key(&remote)?;
        }
        let mut report = RoundReport::default();
        self.upload_originals(&remote, &mut report)?;
        self.upload_thumbnails(&remote, &mut report)?;
        self.upload_segments(&remote, &mut report)?;
        self.update_tags(&remote, &mut report)?;
        self.pull(&remote, discover, &mut report)?;
        self.fetch_thumbnails(&remote, &mut report)?;
        let originals = remote.config().originals;
        if originals == Originals::All {
            self.fetch_originals(&remote, None, &mut report)?;
        }
        self.sweep_shares(&remote)?;
        report.ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// Only the uploads (what the background loop does right after a local change).
    pub fn push(&self) -> Result<RoundReport, SyncError> {
        if self.migration()?.is_some() {
            // The next full round finishes the re-sealing pass first, then sends this.
            return Ok(RoundReport::default());
        }
        let remote = self.remote()?;
        let mut report = RoundReport::default();
        self.upload_originals(&remote, &mut report)?;
        self.upload_thumbnails(&remote, &mut report)?;
        self.upload_segments(&remote, &mut report)?;
        Ok(report)
    }

    // ------------------------------------------------------------ status

    pub fn backlog(&self) -> Result<Backlog, SyncError> {
        let ws = self.actor.workstation.clone();
        let (blobs, thumbs, changes, segments, downloads) = self.db.read(|c| {
            let q = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
            let change_seq: i64 =
                chairside_store::get_setting(c, "sync_out_change_seq")?.and_then(|v| v.parse().ok()).unwrap_or(0);
            let blobs = q(&format!(
                "SELECT count(*) FROM ({}) b WHERE NOT EXISTS
                   (SELECT 1 FROM sync_blobs s WHERE s.sha256 = b.sha256 AND (s.in_bucket = 1 OR s.original_local = 0))",
                chairside_media::sql::all_blobs()
            ))?;
            let thumbs = q(&format!(
                "SELECT count(*) FROM sync_blobs s WHERE s.thumb_in_bucket = 0 AND s.thumb_local = 1 AND {} IS NOT NULL",
                chairside_media::sql::ready_thumbnail_format("s.sha256", 256)
            ))?;
            let changes = chairside_store::own_edits_after(c, &ws, change_seq)?;
            let segments = q("SELECT count(*) FROM sync_segments_out WHERE uploaded_at IS NULL")?;
            let all = SyncConfig::load(c)?.is_none_or(|c| c.originals == Originals::All);
            let downloads = q(&format!(
                "SELECT count(*) FROM sync_blobs WHERE attempts < {MAX_ATTEMPTS} AND (thumb_local = 0{})",
                if all { " OR original_local = 0" } else { "" }
            ))?;
            Ok::<_, SyncError>((blobs, thumbs, changes, segments, downloads))
        })?;
        let remote_pending = *self.remote_pending.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Backlog {
            to_upload: (blobs + thumbs + changes + segments) as u64,
            to_apply: remote_pending,
            to_download: downloads as u64,
        })
    }
}
