//! One sync round — upload what is pending, apply what is new, fetch what is missing — and
//! the operations around it (configure, test, lifecycle, share, repair). Network calls run
//! on this engine's own tokio runtime; the calling thread blocks on them, so a shell runs
//! rounds on a thread of its own, never on its UI thread.

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

use crate::SyncError;
use crate::config::{Originals, SecretLocation, Secrets, SyncConfig};
use crate::log::{self, Applied, Segment};
use crate::remote::{Put, Remote};

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

/// The key of an original. (`sha` is a checked hex address; anything else gets a key no
/// original has, rather than a panic.)
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
        let remote = Arc::new(Remote::new(&config, &secret)?);
        *cached = Some((config, Arc::clone(&remote)));
        Ok(remote)
    }

    // ------------------------------------------------------------ configure

    /// Checks the bucket with these settings — reachable, credentials accepted, writable —
    /// joins the clinic it holds (or makes it this library's clinic when it is empty), and
    /// only then saves the settings and the secret. Nothing is saved on any failure.
    pub fn configure(&self, config: SyncConfig, secret: &str) -> Result<SecretLocation, SyncError> {
        let config = config.normalised()?;
        if secret.trim().is_empty() {
            return Err(SyncError::InvalidConfig("the secret key is empty".into()));
        }
        let remote = Remote::new(&config, secret)?;
        let (clinic_id, clinic_name) = self.db.read(|c| {
            let id = chairside_store::get_setting(c, "default_clinic_id")?.unwrap_or_default();
            let name = chairside_patients::clinic_name(c, &id)?.unwrap_or_default();
            Ok::<_, SyncError>((id, name))
        })?;
        let ws = self.actor.workstation.clone();
        let format = self.rt.block_on(async {
            remote.list_folders("").await?;
            let mine = BucketFormat {
                format: log::FORMAT,
                clinic_id: clinic_id.clone(),
                clinic_name: clinic_name.clone(),
                created_at: chairside_store::now_rfc3339(),
                created_by_workstation: ws.clone(),
            };
            let body = serde_json::to_vec(&mine).map_err(|e| SyncError::InvalidConfig(e.to_string()))?;
            remote.put_create("format.json", Bytes::from(body), &[]).await?;
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
            Ok::<_, SyncError>(format)
        })?;
        if format.format != log::FORMAT {
            return Err(SyncError::InvalidConfig(format!(
                "the bucket holds sync format {} and this Chairside reads {}: update Chairside",
                format.format,
                log::FORMAT
            )));
        }
        self.db.write(|tx| {
            join_clinic(tx, &self.registry, &self.actor, &format)?;
            config.save(tx)?;
            Ok::<_, SyncError>(())
        })?;
        let location = match self.secrets.store(&config, secret) {
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
                json!({"endpoint": config.endpoint, "bucket": config.bucket, "prefix": config.prefix, "access_key": config.access_key}),
            )?;
            Ok::<_, SyncError>(())
        })?;
        *self.remote.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *self.known_peers.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(location)
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
        let remote = self.remote()?;
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
        report.ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// Only the uploads (what the background loop does right after a local change).
    pub fn push(&self) -> Result<RoundReport, SyncError> {
        let remote = self.remote()?;
        let mut report = RoundReport::default();
        self.upload_originals(&remote, &mut report)?;
        self.upload_thumbnails(&remote, &mut report)?;
        self.upload_segments(&remote, &mut report)?;
        Ok(report)
    }

    fn upload_originals(&self, remote: &Arc<Remote>, report: &mut RoundReport) -> Result<(), SyncError> {
        // New local blobs join the outbox; an idle round checks that by reading only.
        let new_blobs: bool = self.db.read(|c| {
            Ok::<_, SyncError>(c.query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM ({}) b WHERE NOT EXISTS (SELECT 1 FROM sync_blobs s WHERE s.sha256 = b.sha256))",
                    chairside_media::sql::all_blobs()
                ),
                [],
                |r| r.get(0),
            )?)
        })?;
        if new_blobs {
            self.db.write(|tx| {
                Ok::<_, SyncError>(tx.execute(
                    &format!("INSERT OR IGNORE INTO sync_blobs (sha256) {}", chairside_media::sql::all_blobs()),
                    [],
                )?)
            })?;
        }
        let pending: Vec<(String, u64)> = self.db.read(|tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT s.sha256, {} FROM sync_blobs s INDEXED BY sync_blobs_to_upload
                 WHERE s.in_bucket = 0 AND s.original_local = 1 ORDER BY s.sha256",
                chairside_media::sql::blob_size("s.sha256")
            ))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<u64>>(1)?)))?
                .filter_map(|r| match r {
                    Ok((sha, Some(size))) => Some(Ok((sha, size))),
                    Ok((_, None)) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, SyncError>(rows)
        })?;
        let (small, large): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(_, size)| *size <= MULTIPART_THRESHOLD);
        for chunk in small.chunks(64) {
            let results = self.rt.block_on(
                futures::stream::iter(chunk.iter().cloned().map(|(sha, size)| {
                    let remote = Arc::clone(remote);
                    let path = self.blobs.path_of(&sha);
                    async move {
                        let path = path.map_err(|e| SyncError::InvalidConfig(e.to_string()))?;
                        let body = tokio::fs::read(&path)
                            .await
                            .map_err(|e| SyncError::io(format!("reading {}", path.display()), e))?;
                        remote.put_create(&blob_key(&sha), Bytes::from(body), &[]).await?;
                        Ok::<_, SyncError>((sha, size))
                    }
                }))
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>(),
            );
            self.record_uploads(results, report)?;
        }
        for (sha, size) in large {
            let result = self.upload_multipart(remote, &sha, size).map(|_| (sha.clone(), size));
            self.record_uploads(vec![result], report)?;
        }
        Ok(())
    }

    /// Marks uploaded blobs; the first transient error (bucket gone) ends the round after
    /// the successes are recorded, other errors are noted per blob.
    fn record_uploads(
        &self,
        results: Vec<Result<(String, u64), SyncError>>,
        report: &mut RoundReport,
    ) -> Result<(), SyncError> {
        let mut transient = None;
        self.db.write(|tx| {
            for r in &results {
                match r {
                    Ok((sha, size)) => {
                        tx.execute("UPDATE sync_blobs SET in_bucket = 1, last_error = NULL WHERE sha256 = ?1", [sha])?;
                        report.uploaded_originals += 1;
                        report.uploaded_bytes += size;
                    }
                    Err(e)
                        if e.is_transient()
                            || matches!(e, SyncError::Denied { .. } | SyncError::NoSuchBucket { .. }) => {}
                    Err(e) => report.problems.push(e.to_string()),
                }
            }
            Ok::<_, SyncError>(())
        })?;
        for r in results {
            if let Err(e) = r
                && (e.is_transient() || matches!(e, SyncError::Denied { .. } | SyncError::NoSuchBucket { .. }))
            {
                transient.get_or_insert(e);
            }
        }
        transient.map_or(Ok(()), Err)
    }

    /// A large original in parts. The upload id and each finished part are kept in the
    /// library, so after a cut connection or a restart only the missing parts are sent.
    fn upload_multipart(&self, remote: &Arc<Remote>, sha: &str, size: u64) -> Result<(), SyncError> {
        let key = blob_key(sha);
        if self.rt.block_on(remote.exists(&key))? {
            return Ok(());
        }
        let state: Option<(String, i64, String)> = self.db.read(|c| {
            Ok::<_, SyncError>(
                c.query_row(
                    "SELECT upload_id, part_size, parts_json FROM sync_multipart WHERE sha256 = ?1",
                    [sha],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?,
            )
        })?;
        let (upload_id, part_size, mut parts) = match state {
            Some((id, ps, parts)) => (id, ps as u64, serde_json::from_str::<Vec<String>>(&parts).unwrap_or_default()),
            None => {
                let id = self.rt.block_on(remote.multipart_start(&key, sha))?;
                self.db.write(|tx| {
                    tx.execute(
                        "INSERT OR REPLACE INTO sync_multipart (sha256, upload_id, part_size, parts_json, started_at) VALUES (?1, ?2, ?3, '[]', ?4)",
                        params![sha, id, PART_SIZE as i64, chairside_store::now_rfc3339()],
                    )?;
                    Ok::<_, SyncError>(())
                })?;
                (id, PART_SIZE, Vec::new())
            }
        };
        let path = self.blobs.path_of(sha).map_err(|e| SyncError::InvalidConfig(e.to_string()))?;
        let count = size.div_ceil(part_size) as usize;
        for index in parts.len()..count {
            let data = read_range(&path, index as u64 * part_size, part_size)?;
            let result = self.rt.block_on(remote.multipart_part(&key, &upload_id, index, data));
            let content_id = match result {
                Ok(c) => c,
                Err(e) => {
                    if let SyncError::Remote { reason, .. } = &e
                        && reason.contains("NoSuchUpload")
                    {
                        // The server forgot the upload (expired or aborted): start over next round.
                        self.db.write(|tx| {
                            Ok::<_, SyncError>(tx.execute("DELETE FROM sync_multipart WHERE sha256 = ?1", [sha])?)
                        })?;
                    }
                    return Err(e);
                }
            };
            parts.push(content_id);
            let parts_json = serde_json::to_string(&parts).unwrap_or_else(|_| "[]".into());
            self.db.write(|tx| {
                Ok::<_, SyncError>(
                    tx.execute(
                        "UPDATE sync_multipart SET parts_json = ?2 WHERE sha256 = ?1",
                        params![sha, parts_json],
                    )?,
                )
            })?;
        }
        self.rt.block_on(remote.multipart_complete(&key, &upload_id, &parts))?;
        self.db.write(|tx| Ok::<_, SyncError>(tx.execute("DELETE FROM sync_multipart WHERE sha256 = ?1", [sha])?))?;
        Ok(())
    }

    fn upload_thumbnails(&self, remote: &Arc<Remote>, report: &mut RoundReport) -> Result<(), SyncError> {
        let pending: Vec<(String, String)> = self.db.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT sha256, format FROM (SELECT s.sha256, {} AS format FROM sync_blobs s
                   WHERE s.thumb_in_bucket = 0 AND s.thumb_local = 1) WHERE format IS NOT NULL",
                chairside_media::sql::ready_thumbnail_format("s.sha256", 256)
            ))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok::<_, SyncError>(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        for chunk in pending.chunks(256) {
            let results = self.rt.block_on(
                futures::stream::iter(chunk.iter().cloned().map(|(sha, format)| {
                    let remote = Arc::clone(remote);
                    let path = self.thumbs.path(&sha, 256, &format);
                    async move {
                        match tokio::fs::read(&path).await {
                            Ok(body) => {
                                remote.put_create(&thumb_key(&sha), Bytes::from(body), &[]).await.map(|_| Some(sha))
                            }
                            // Made again by verify; uploaded on a later round.
                            Err(_) => Ok(None),
                        }
                    }
                }))
                .buffer_unordered(CONCURRENCY * 2)
                .collect::<Vec<_>>(),
            );
            let mut first_error = None;
            self.db.write(|tx| {
                for r in &results {
                    if let Ok(Some(sha)) = r {
                        tx.execute("UPDATE sync_blobs SET thumb_in_bucket = 1 WHERE sha256 = ?1", [sha])?;
                        report.uploaded_thumbnails += 1;
                    }
                }
                Ok::<_, SyncError>(())
            })?;
            for r in results {
                if let Err(e) = r {
                    first_error.get_or_insert(e);
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        Ok(())
    }

    fn upload_segments(&self, remote: &Arc<Remote>, report: &mut RoundReport) -> Result<(), SyncError> {
        let ws = self.actor.workstation.clone();
        while self.db.write(|tx| log::cut_segment(tx, &self.registry, &ws))?.is_some() {}
        let pending: Vec<(i64, i64, String)> = self.db.read(|c| {
            let mut stmt =
                c.prepare("SELECT first, last, body FROM sync_segments_out WHERE uploaded_at IS NULL ORDER BY first")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok::<_, SyncError>(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        // In order: a peer never applies past a gap, so a later segment is useless before
        // an earlier one.
        for (first, last, body) in pending {
            let key = Segment::key(&ws, first, last);
            self.rt.block_on(remote.put_create(&key, Bytes::from(body), &[]))?;
            self.db.write(|tx| {
                Ok::<_, SyncError>(tx.execute(
                    "UPDATE sync_segments_out SET uploaded_at = ?2 WHERE first = ?1",
                    params![first, chairside_store::now_rfc3339()],
                )?)
            })?;
            report.uploaded_segments += 1;
        }
        Ok(())
    }

    /// Tags a blob's object `chairside-status=archived` when every document referencing it
    /// is archived, and untags it when one is restored, so the lifecycle rule tiers it.
    fn update_tags(&self, remote: &Arc<Remote>, report: &mut RoundReport) -> Result<(), SyncError> {
        let changed: Vec<(String, bool)> = self.db.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT sha256, archived FROM (
                   SELECT s.sha256, s.tagged_archived, NOT {} AS archived
                   FROM sync_blobs s WHERE s.in_bucket = 1)
                 WHERE archived != tagged_archived",
                chairside_media::sql::shown_by_an_active_document("s.sha256")
            ))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok::<_, SyncError>(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        for (sha, archived) in changed {
            let tags: &[(&str, &str)] = if archived { &[(TAG_KEY, TAG_ARCHIVED)] } else { &[] };
            match self.rt.block_on(remote.put_tags(&blob_key(&sha), tags)) {
                Ok(()) => {
                    self.db.write(|tx| {
                        Ok::<_, SyncError>(tx.execute(
                            "UPDATE sync_blobs SET tagged_archived = ?2 WHERE sha256 = ?1",
                            params![sha, archived],
                        )?)
                    })?;
                    report.tags_updated += 1;
                }
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => report.problems.push(format!("tagging {sha}: {e}")),
            }
        }
        Ok(())
    }

    /// Lists each peer's new segments and applies them in order.
    fn pull(&self, remote: &Arc<Remote>, discover: bool, report: &mut RoundReport) -> Result<(), SyncError> {
        let me = self.actor.workstation.clone();
        let mut peers: Vec<String> = {
            let mut known = self.known_peers.lock().unwrap_or_else(|p| p.into_inner());
            // Alone so far: look for peers every round (one listing, as one peer would cost).
            let alone = known.as_ref().is_none_or(|k| k.iter().all(|p| *p == me));
            if discover || alone {
                *known = Some(self.rt.block_on(remote.list_folders("ops/"))?);
            }
            known.clone().unwrap_or_default()
        };
        peers.retain(|p| *p != me);
        report.peers = peers.len() as u64;
        let mut unapplied = 0u64;
        for peer in peers {
            let applied = self.db.read(|c| log::watermark(c, &peer))?;
            let after = format!("ops/{peer}/{:012}-", applied + 1);
            let after_applied = format!("ops/{peer}/{:012}", applied);
            let keys = self.rt.block_on(remote.list_after(&format!("ops/{peer}/"), Some(&after_applied)))?;
            let keys: Vec<String> =
                keys.into_iter().filter(|k| k.as_str() >= after.as_str() && k.ends_with(".seg")).collect();
            let total = keys.len() as u64;
            let mut done = 0u64;
            for key in keys {
                let body = match self.rt.block_on(remote.get_checked(&key, None)) {
                    Ok(Some(b)) => b,
                    Ok(None) => break,
                    Err(e) if e.is_transient() => return Err(e),
                    Err(e) => {
                        // A damaged segment stops this peer here: never skip past it.
                        report.problems.push(e.to_string());
                        break;
                    }
                };
                let segment: Segment = match serde_json::from_slice(&body) {
                    Ok(s) => s,
                    Err(e) => {
                        report
                            .problems
                            .push(SyncError::BadSegment { key: key.clone(), reason: e.to_string() }.to_string());
                        break;
                    }
                };
                if let Err(e) = segment.check(&key, &peer) {
                    report.problems.push(e.to_string());
                    break;
                }
                match self.db.write(|tx| log::apply_segment(tx, &self.registry, &segment))? {
                    Applied::Applied { entities, .. } => {
                        report.applied_segments += 1;
                        report.applied_entities += entities as u64;
                    }
                    Applied::AlreadyApplied => {}
                    // The missing segment may not be listed yet (another writer's order):
                    // wait for it rather than skip.
                    Applied::Gap { .. } => break,
                }
                done += 1;
            }
            unapplied += total - done;
        }
        *self.remote_pending.lock().unwrap_or_else(|p| p.into_inner()) = unapplied;
        Ok(())
    }

    fn fetch_thumbnails(&self, remote: &Arc<Remote>, report: &mut RoundReport) -> Result<(), SyncError> {
        // A thumbnail its workstation never managed to make is not asked for forever.
        let wanted: Vec<(String, String)> = self.db.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT sha256, mime FROM (SELECT s.sha256, {} AS mime FROM sync_blobs s
                   WHERE s.thumb_local = 0 AND s.attempts < ?1) WHERE mime IS NOT NULL",
                chairside_media::sql::blob_mime("s.sha256")
            ))?;
            let rows = stmt.query_map([MAX_ATTEMPTS], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok::<_, SyncError>(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        // Files with no preview (PDF, DICOM without pixels…) have no thumbnail to fetch.
        let (with_preview, without): (Vec<_>, Vec<_>) =
            wanted.into_iter().partition(|(_, mime)| Format::from_mime(mime).is_some_and(|f| f.has_preview()));
        self.db.write(|tx| {
            for (sha, _) in &without {
                tx.execute("UPDATE sync_blobs SET thumb_local = 1 WHERE sha256 = ?1", [sha])?;
            }
            Ok::<_, SyncError>(())
        })?;
        for chunk in with_preview.chunks(256) {
            let results = self.rt.block_on(
                futures::stream::iter(chunk.iter().cloned().map(|(sha, _)| {
                    let remote = Arc::clone(remote);
                    async move { (sha.clone(), remote.get_checked(&thumb_key(&sha), None).await) }
                }))
                .buffer_unordered(CONCURRENCY * 2)
                .collect::<Vec<_>>(),
            );
            for (sha, result) in results {
                match result {
                    Ok(Some(jpeg)) => {
                        let dims = image::ImageReader::new(std::io::Cursor::new(&jpeg[..]))
                            .with_guessed_format()
                            .ok()
                            .and_then(|r| r.into_dimensions().ok());
                        let Some((width, height)) = dims else {
                            report.problems.push(format!("the thumbnail of {sha} in the bucket is not an image"));
                            continue;
                        };
                        self.thumbnailer.store(
                            &sha,
                            vec![Rendered { size: 256, width, height, jpeg: jpeg.to_vec() }],
                            &|_| {},
                        )?;
                        self.db.write(|tx| {
                            Ok::<_, SyncError>(tx.execute(
                                "UPDATE sync_blobs SET thumb_local = 1, thumb_in_bucket = 1 WHERE sha256 = ?1",
                                [&sha],
                            )?)
                        })?;
                        report.downloaded_thumbnails += 1;
                    }
                    // Not made by its workstation yet: a later round fetches it.
                    Ok(None) => {
                        self.db.write(|tx| {
                            Ok::<_, SyncError>(
                                tx.execute("UPDATE sync_blobs SET attempts = attempts + 1 WHERE sha256 = ?1", [&sha])?,
                            )
                        })?;
                    }
                    Err(e) if e.is_transient() => return Err(e),
                    Err(e) => report.problems.push(e.to_string()),
                }
            }
        }
        Ok(())
    }

    /// Downloads originals this workstation lacks (all, or only `only`), each checked
    /// against its SHA-256 before it is stored.
    pub fn fetch_originals(
        &self,
        remote: &Arc<Remote>,
        only: Option<&[String]>,
        report: &mut RoundReport,
    ) -> Result<(), SyncError> {
        let wanted: Vec<String> = match only {
            Some(list) => list.to_vec(),
            None => self.db.read(|c| {
                let mut stmt = c.prepare("SELECT sha256 FROM sync_blobs WHERE original_local = 0 AND attempts < ?1")?;
                let rows = stmt.query_map([MAX_ATTEMPTS], |r| r.get::<_, String>(0))?;
                Ok::<_, SyncError>(rows.collect::<Result<Vec<_>, _>>()?)
            })?,
        };
        for chunk in wanted.chunks(32) {
            let results = self.rt.block_on(
                futures::stream::iter(chunk.iter().cloned().map(|sha| {
                    let remote = Arc::clone(remote);
                    async move { (sha.clone(), remote.get_checked(&blob_key(&sha), Some(&sha)).await) }
                }))
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>(),
            );
            for (sha, result) in results {
                match result {
                    Ok(Some(body)) => {
                        self.store_original(&sha, &body)?;
                        report.downloaded_originals += 1;
                    }
                    Ok(None) => report.problems.push(format!("original {sha} is not in the bucket yet")),
                    Err(e) if e.is_transient() => return Err(e),
                    Err(e) => {
                        let text = e.to_string();
                        self.db.write(|tx| {
                            Ok::<_, SyncError>(tx.execute(
                                "UPDATE sync_blobs SET attempts = attempts + 1, last_error = ?2 WHERE sha256 = ?1",
                                params![sha, text],
                            )?)
                        })?;
                        report.problems.push(text);
                    }
                }
            }
        }
        Ok(())
    }

    /// Stores a downloaded original (hash-checked again by the blob store) and moves a
    /// corrupt local file, if any, to quarantine first: never deleted.
    fn store_original(&self, sha: &str, body: &[u8]) -> Result<(), SyncError> {
        chairside_media::receive_original(&self.db, &self.media, sha, body)?;
        self.db.write(|tx| {
            tx.execute("UPDATE sync_blobs SET original_local = 1, last_error = NULL WHERE sha256 = ?1", [sha])?;
            Ok::<_, SyncError>(())
        })?;
        if let Some(f) = &self.on_original {
            f(sha);
        }
        Ok(())
    }

    /// Brings back originals that are missing or corrupt here (from `verify`), each checked
    /// against its address. Returns the ones repaired.
    pub fn repair(&self, shas: &[String]) -> Result<(Vec<String>, Vec<String>), SyncError> {
        let remote = self.remote()?;
        let mut repaired = Vec::new();
        let mut failed = Vec::new();
        for sha in shas {
            match self.rt.block_on(remote.get_checked(&blob_key(sha), Some(sha))) {
                Ok(Some(body)) => {
                    self.store_original(sha, &body)?;
                    repaired.push(sha.clone());
                }
                Ok(None) => failed.push(format!("{sha}: not in the bucket")),
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => failed.push(format!("{sha}: {e}")),
            }
        }
        Ok((repaired, failed))
    }

    /// Fetches one document's original now (originals "on open").
    pub fn fetch_original(&self, sha: &str) -> Result<bool, SyncError> {
        let remote = self.remote()?;
        let mut report = RoundReport::default();
        self.fetch_originals(&remote, Some(&[sha.to_string()]), &mut report)?;
        if let Some(p) = report.problems.pop() {
            return Err(SyncError::Remote { context: format!("fetching original {sha}"), reason: p });
        }
        Ok(report.downloaded_originals == 1)
    }

    // ------------------------------------------------------------ status, test, lifecycle, share

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
                    Some(_) => "readable; a rule is set, not Chairside's (run `sync lifecycle install`)".to_string(),
                    None => "readable; no rule yet (run `sync lifecycle install`)".to_string(),
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
        let url = self.rt.block_on(remote.share_url(&blob_key(&sha), expires))?;
        let expires_at = (chrono::Utc::now() + chrono::Duration::seconds(expires.as_secs() as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.db.write(|tx| {
            // The link itself is a bearer credential: the audit keeps who, what and until when.
            chairside_audit::append(
                tx,
                &self.actor,
                "share_link",
                "document",
                Some(document_id),
                json!({"expires_at": expires_at, "seconds": expires.as_secs()}),
            )?;
            Ok::<_, SyncError>(())
        })?;
        Ok(ShareLink { document_id: document_id.to_string(), url, expires_at })
    }

    /// Reads the tags of a blob's object (tests and `sync test`).
    pub fn blob_tags(&self, sha: &str) -> Result<Vec<(String, String)>, SyncError> {
        let remote = self.remote()?;
        self.rt.block_on(remote.get_tags(&blob_key(sha)))
    }
}

fn lifecycle_xml(prefix: &str, transitions: &[(u32, &str)]) -> String {
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
    xml.push_str(&format!(
        "<Rule><ID>chairside-abort-incomplete-uploads</ID><Filter><Prefix>{prefix}</Prefix></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"
    ));
    xml.push_str("</LifecycleConfiguration>");
    xml
}

fn read_range(path: &std::path::Path, offset: u64, len: u64) -> Result<Bytes, SyncError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| SyncError::io(format!("reading {}", path.display()), e))?;
    f.seek(SeekFrom::Start(offset)).map_err(|e| SyncError::io(format!("reading {}", path.display()), e))?;
    let mut buf = Vec::with_capacity(len as usize);
    f.take(len).read_to_end(&mut buf).map_err(|e| SyncError::io(format!("reading {}", path.display()), e))?;
    Ok(Bytes::from(buf))
}

/// Makes the bucket's clinic this library's clinic. A library that never synced moves its
/// records (and their not yet uploaded changes) to it; one already syncing another clinic
/// is refused.
fn join_clinic(
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
    let lookup = |_: &rusqlite::Connection, _: &str, _: &str| Ok(None);
    let apply = chairside_store::replicated::Apply::new(tx, &lookup);
    for e in registry.iter() {
        if apply.columns(e.table)?.iter().any(|c| c == "clinic_id") {
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
    fn ok(name: &str, detail: &str) -> Check {
        Check { name: name.into(), ok: true, detail: detail.into() }
    }
    fn failed(name: &str, detail: &str) -> Check {
        Check { name: name.into(), ok: false, detail: detail.into() }
    }
    fn from(name: &str, r: Result<String, SyncError>) -> Check {
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
