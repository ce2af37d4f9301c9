//! Media: documents and their originals. Owns the blob store, import, thumbnails,
//! attachments (with the owner registry and link-time validator), archive/restore, export
//! and verify. Knows nothing of the modules that attach documents to their records: they
//! plug in through [`OwnerSpec`]s registered at the composition root.

pub mod annotations;
pub mod attachments;
pub mod blobstore;
pub mod decode;
pub mod dicom;
pub mod dicom_export;
pub mod dicom_scan;
pub mod documents;
pub mod edits;
mod error;
pub mod exif;
pub mod export;
pub mod fhir;
mod format;
pub mod fuzz_targets;
pub mod health;
pub mod heif;
pub mod import;
pub mod inventory;
mod jpeg12;
pub mod mesh;
pub mod moves;
pub mod pdf;
pub mod pdf_pages;
pub mod quarantine;
pub mod render;
pub mod replicated;
pub mod signatures;
pub mod sql;
pub mod thumbs;
pub mod tiff_pages;
pub mod verify;
pub mod video;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chairside_store::{Actor, Db};
use serde::Serialize;

pub use annotations::{Annotation, AnnotationInput, AnnotationType, Calibration, CalibrationSource, Measurement};
pub use attachments::{Attachment, OwnerRegistry, OwnerSpec};
pub use blobstore::{BlobBackend, LocalBlobStore};
pub use decode::Limits;
pub use documents::{Document, DocumentPatch, DocumentSummary, HistoryEntry, Kind, Status, StatusFilter, Transition};
pub use edits::{AdjustChange, Adjusted, Adjustments, Flip, Preset};
pub use error::{KeptCopy, MediaError};
pub use exif::ExifInfo;
pub use export::ExportSummary;
pub use format::{Format, HEAD as SNIFF_HEAD, Sniffed, sniff};
pub use import::{ImportOutcome, ImportRequest, ImportStatus};
pub use inventory::{StoredFile, stored_files};
pub use moves::{MoveStatus, Moved};
pub use replicated::REPLICATED;
pub use signatures::{ChangedAfter, Signature};
pub use thumbs::{
    Derived, DerivedState, SIZES as THUMBNAIL_SIZES, ThumbStore, ThumbnailEvent, ThumbnailRef, Thumbnailer, Thumbnails,
};
pub use verify::{VerifyOptions, VerifyReport, VerifySeconds};
pub use video::{VideoFile, VideoInfo};

/// The owner type of a link from one document to another: a frame saved from a video is
/// linked to it (role `frame`).
pub const DOCUMENT_OWNER_TYPE: &str = "document";
/// The link role of a photo saved from a video's frame.
pub const FRAME_ROLE: &str = "frame";

/// Resolves links to documents (registered by the composition root like any owner type).
pub struct DocumentOwner;

impl chairside_owner::OwnerResolver for DocumentOwner {
    fn resolve(
        &self,
        conn: &chairside_store::rusqlite::Connection,
        owner_id: &str,
    ) -> chairside_store::rusqlite::Result<Option<chairside_owner::OwnerScope>> {
        use chairside_store::rusqlite::OptionalExtension;
        conn.query_row("SELECT clinic_id, patient_id FROM documents WHERE id = ?1", [owner_id], |r| {
            Ok(chairside_owner::OwnerScope { clinic_id: r.get(0)?, patient_id: r.get(1)? })
        })
        .optional()
    }

    fn roles(&self) -> Option<&'static [&'static str]> {
        Some(&[FRAME_ROLE])
    }
}

/// The tables this crate owns: its code is the only code whose SQL names them, the others call
/// its API (`tests/architecture.rs` holds the rule).
pub const TABLES: &[&str] = &[
    "blobs",
    "documents",
    "document_history",
    "thumbnails",
    "media_attachments",
    "staged_files",
    "document_signatures",
    "annotations",
];

/// The folders media keeps its files in.
#[derive(Debug, Clone)]
pub struct MediaPaths {
    pub blobs: PathBuf,
    pub thumbs: PathBuf,
    pub quarantine: PathBuf,
}

impl MediaPaths {
    /// The layout inside a library folder.
    pub fn in_folder(dir: &std::path::Path) -> MediaPaths {
        MediaPaths { blobs: dir.join("blobs"), thumbs: dir.join("thumbs"), quarantine: dir.join("quarantine") }
    }
}

/// Stores an original that arrived from another workstation, checked against its address as
/// it is written. A damaged copy already in its place is moved to quarantine first (never
/// deleted), and the blob is stamped verified now.
pub fn receive_original(db: &Db, paths: &MediaPaths, sha256: &str, body: &[u8]) -> Result<(), MediaError> {
    let blobs = LocalBlobStore::new(&paths.blobs);
    let path = blobs
        .path_of(sha256)
        .map_err(|e| MediaError::io("locating the original", std::io::Error::other(e.to_string())))?;
    if path.exists() && blobstore::read_checked(&blobs, sha256).is_err() {
        quarantine::QuarantineRun::now(&paths.quarantine)
            .move_in("blobs", blobs.root(), &path)
            .map_err(|e| MediaError::io(format!("moving the damaged {} to quarantine", path.display()), e))?;
    }
    blobs
        .put(sha256, &mut &body[..])
        .map_err(|e| MediaError::io(format!("storing original {sha256}"), std::io::Error::other(e.to_string())))?;
    db.write(|tx| {
        tx.execute(
            "UPDATE blobs SET verified_at = ?2 WHERE sha256 = ?1",
            rusqlite::params![sha256, chairside_store::now_rfc3339()],
        )?;
        Ok::<_, MediaError>(())
    })
}

/// A document with everything known about it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct DocumentDetails {
    #[serde(flatten)]
    pub document: Document,
    pub exif: Option<serde_json::Value>,
    pub links: Vec<Attachment>,
    pub history: Vec<HistoryEntry>,
    pub signatures: Vec<Signature>,
    pub adjustments: Adjustments,
    pub annotations: Vec<Annotation>,
    pub calibration: Calibration,
    /// Where this document went when it was moved to another patient (it is archived here).
    pub moved_to: Option<String>,
    /// The document it was moved from, in another patient's chart.
    pub moved_from: Option<String>,
    /// Why the file may be another patient's (a DICOM whose Patient ID or Name disagrees with
    /// the chart); set by whoever knows the chart.
    pub patient_mismatch: Option<String>,
}

/// How to render a document for `render` and printing.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Long edge of the output at most; `None`: the adjusted image's own size.
    pub long_edge: Option<u32>,
    pub annotations: bool,
    /// The original as it is, without adjustments (the viewer's "show original").
    pub original: bool,
    /// Enlarge a smaller image to `long_edge` (printing).
    pub enlarge: bool,
    /// Which frame of a multi-frame DICOM, or page of a PDF or TIFF (0, the first, for every
    /// other kind).
    pub frame: u32,
}

pub struct Media {
    db: Arc<Db>,
    blobs: Arc<LocalBlobStore>,
    thumbs: Arc<ThumbStore>,
    thumbnailer: Arc<Thumbnailer>,
    quarantine: PathBuf,
    owners: OwnerRegistry,
    limits: Limits,
    /// Started once by [`Media::start_thumbnail_workers`]; without them (tools, tests),
    /// thumbnails stay pending in the table and are made on demand or at the next start.
    /// Shared, so a queue handed out before the start still reaches them once started.
    workers: Arc<OnceLock<Arc<thumbs::ThumbnailWorkers>>>,
    /// Videos whose originals were hash-checked since this process started: a 4 GB file is
    /// read whole once when first played, not at every seek.
    checked_videos: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Media {
    pub fn new(db: Arc<Db>, paths: MediaPaths, owners: OwnerRegistry, limits: Limits) -> Self {
        let blobs = Arc::new(LocalBlobStore::new(paths.blobs));
        let thumbs = Arc::new(ThumbStore::new(paths.thumbs));
        let thumbnailer = Arc::new(Thumbnailer::new(Arc::clone(&db), Arc::clone(&blobs), Arc::clone(&thumbs), limits));
        Media {
            db,
            blobs,
            thumbs,
            thumbnailer,
            quarantine: paths.quarantine,
            owners,
            limits,
            workers: Arc::default(),
            checked_videos: Default::default(),
        }
    }

    pub fn thumbnailer(&self) -> Arc<Thumbnailer> {
        Arc::clone(&self.thumbnailer)
    }

    /// Imports one file; its thumbnails (rendered while validating it) go to the workers.
    pub fn import(&self, actor: &Actor, req: &ImportRequest<'_>) -> Result<ImportOutcome, MediaError> {
        let mut outcome = import::import_file(&self.db, &self.blobs, &self.quarantine, &self.limits, actor, req)?;
        let prepared = outcome.thumbnails.take();
        if let (ImportStatus::Imported, Some(workers)) = (outcome.status, self.workers.get()) {
            workers.enqueue_prepared(&outcome.sha256, prepared);
            if let Some(what) = outcome.wants {
                workers.enqueue_derived(&outcome.sha256, what);
            }
        }
        Ok(outcome)
    }

    /// Starts the background thumbnail workers (once; later calls do nothing) and queues the
    /// blobs an earlier run left without thumbnails (a crash, a quit).
    pub fn start_thumbnail_workers(
        &self,
        threads: usize,
        listener: Option<thumbs::ThumbnailListener>,
    ) -> Result<(), MediaError> {
        let mut started = false;
        let workers = self.workers.get_or_init(|| {
            started = true;
            Arc::new(thumbs::ThumbnailWorkers::start(self.thumbnailer(), threads, listener))
        });
        if started {
            for sha in self.thumbnailer.pending()? {
                workers.enqueue(&sha);
            }
        }
        Ok(())
    }

    /// What queues a blob's thumbnails (an original that arrived another way, from the
    /// bucket): a handle that outlives the borrow of `self`.
    pub fn thumbnail_queue(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let workers = Arc::clone(&self.workers);
        move |sha256: &str| {
            if let Some(w) = workers.get() {
                w.enqueue(sha256);
            }
        }
    }

    /// Blocks until the thumbnail workers have nothing left to do.
    pub fn wait_for_thumbnails(&self) {
        if let Some(w) = self.workers.get() {
            w.wait_idle();
        }
    }

    /// Blobs whose thumbnails are queued or being made.
    pub fn thumbnails_in_progress(&self) -> usize {
        self.workers.get().map_or(0, |w| w.in_progress())
    }

    /// The size limits every import is held to.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Documents in the library, archived ones included.
    pub fn count(&self) -> Result<u64, MediaError> {
        self.db.read(|c| Ok(c.query_row("SELECT count(*) FROM documents", [], |r| r.get(0))?))
    }

    pub fn list(&self, patient_id: &str, filter: StatusFilter) -> Result<Vec<DocumentSummary>, MediaError> {
        self.list_newest(patient_id, filter, None)
    }

    /// The first `limit` documents of [`Media::list`]'s order (all when `None`): what a
    /// gallery shows first, before the rest of a long list has arrived.
    pub fn list_newest(
        &self,
        patient_id: &str,
        filter: StatusFilter,
        limit: Option<usize>,
    ) -> Result<Vec<DocumentSummary>, MediaError> {
        self.db.read(|c| {
            chairside_patients::get(c, patient_id)?;
            documents::list(c, &self.thumbs, patient_id, filter, limit)
        })
    }

    pub fn get(&self, id: &str) -> Result<Document, MediaError> {
        self.db.read(|c| documents::get(c, &self.thumbs, id))
    }

    pub fn show(&self, id: &str) -> Result<DocumentDetails, MediaError> {
        let dicom = self.dicom_spacing(id)?;
        self.db.read(|c| {
            let document = documents::get(c, &self.thumbs, id)?;
            let exif: Option<String> =
                c.query_row("SELECT exif_json FROM blobs WHERE sha256 = ?1", [&document.summary.sha256], |r| r.get(0))?;
            let (moved_to, moved_from): (Option<String>, Option<String>) =
                c.query_row("SELECT moved_to, moved_from FROM documents WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let spacing = annotations::spacing(c, id, dicom)?;
            Ok(DocumentDetails {
                exif: exif.and_then(|e| serde_json::from_str(&e).ok()),
                links: attachments::list(c, id)?,
                history: documents::history(c, id)?,
                signatures: signatures::list(c, id)?,
                adjustments: edits::adjustments_of(c, id)?,
                annotations: annotations::list(c, id, spacing)?,
                calibration: annotations::calibration(id, spacing),
                moved_to,
                moved_from,
                patient_mismatch: None,
                document,
            })
        })
    }

    // --- the viewer's edits ---

    /// Changes a document's adjustments, then remakes its edited thumbnails.
    pub fn adjust(&self, actor: &Actor, id: &str, change: &AdjustChange) -> Result<Adjusted, MediaError> {
        let adjusted = self.db.write(|tx| edits::adjust(tx, actor, id, change))?;
        // The edit is saved; its thumbnails are made now when the original is here, else on
        // demand (an original still in the bucket), so a failure here is not the edit's.
        let _ = self.edited_thumbnails(id);
        Ok(adjusted)
    }

    pub fn adjustments(&self, id: &str) -> Result<Adjustments, MediaError> {
        self.db.read(|c| edits::adjustments_of(c, id))
    }

    pub fn presets(&self) -> Result<Vec<Preset>, MediaError> {
        self.db.read(edits::presets)
    }

    pub fn save_preset(&self, actor: &Actor, preset: &Preset) -> Result<(), MediaError> {
        self.db.write(|tx| edits::save_preset(tx, actor, preset))
    }

    /// Adds annotations; returns them as listed (with their measurements).
    pub fn annotate(&self, actor: &Actor, id: &str, items: &[AnnotationInput]) -> Result<Vec<Annotation>, MediaError> {
        let ids = self.db.write(|tx| annotations::add(tx, actor, id, items))?;
        Ok(self.annotations(id)?.into_iter().filter(|a| ids.contains(&a.id)).collect())
    }

    pub fn remove_annotation(&self, actor: &Actor, id: &str, annotation_id: &str) -> Result<(), MediaError> {
        self.db.write(|tx| annotations::remove(tx, actor, id, annotation_id))
    }

    pub fn annotations(&self, id: &str) -> Result<Vec<Annotation>, MediaError> {
        let dicom = self.dicom_spacing(id)?;
        self.db.read(|c| {
            let spacing = annotations::spacing(c, id, dicom)?;
            annotations::list(c, id, spacing)
        })
    }

    /// Calibrates from a line over a known length, or clears the user's calibration.
    pub fn calibrate(
        &self,
        actor: &Actor,
        id: &str,
        line: Option<([f64; 2], [f64; 2], f64)>,
    ) -> Result<Calibration, MediaError> {
        self.db.write(|tx| annotations::calibrate(tx, actor, id, line))?;
        self.calibration(id)
    }

    pub fn calibration(&self, id: &str) -> Result<Calibration, MediaError> {
        let dicom = self.dicom_spacing(id)?;
        self.db.read(|c| Ok(annotations::calibration(id, annotations::spacing(c, id, dicom)?)))
    }

    /// A DICOM original's own pixel spacing (read from the file, hash-checked); `None` for
    /// every other kind of file.
    fn dicom_spacing(&self, id: &str) -> Result<Option<(f64, f64)>, MediaError> {
        let doc = self.get(id)?;
        if doc.summary.mime != Format::Dicom.mime() {
            return Ok(None);
        }
        // An original not here yet (fetched on open from the bucket) or damaged: no spacing
        // known, and the document still shows (verify reports the damage).
        match blobstore::read_checked(self.blobs.as_ref(), &doc.summary.sha256) {
            Ok(bytes) => Ok(dicom::pixel_spacing(&bytes, &self.limits).ok().flatten()),
            Err(MediaError::BlobMissing { .. } | MediaError::BlobCorrupt { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Moves a document to another patient (see [`moves`]).
    /// Moves documents to `target` in one transaction: one refused (archived, unknown, already
    /// there…) and none of them moves.
    pub fn move_to(&self, actor: &Actor, ids: &[String], target: &str, reason: &str) -> Result<Vec<Moved>, MediaError> {
        self.db.write(|tx| ids.iter().map(|id| moves::move_to(tx, actor, id, target, reason)).collect())
    }

    /// The document as adjusted (and annotated), as an image.
    pub fn render(&self, id: &str, options: RenderOptions) -> Result<image::RgbImage, MediaError> {
        let doc = self.get(id)?;
        if doc.summary.mime == "application/pdf" {
            // A page as it is: a PDF takes no adjustments or annotations.
            let bytes = blobstore::read_checked(self.blobs.as_ref(), &doc.summary.sha256)?;
            let edge = options.long_edge.unwrap_or(pdf_pages::MAX_EDGE);
            let (pixels, w, h) = pdf_pages::render_page(&bytes, options.frame, edge, &self.limits)
                .map_err(|e| MediaError::Render(e.to_string()))?;
            return image::RgbImage::from_raw(w, h, pixels)
                .ok_or_else(|| MediaError::Render("a page of no size".into()));
        }
        let (adjustments, items, spacing) = if options.original {
            (Adjustments::default(), Vec::new(), None)
        } else {
            let items = if options.annotations { self.annotations(id)? } else { Vec::new() };
            let spacing = if options.annotations {
                let dicom = self.dicom_spacing(id)?;
                self.db.read(|c| annotations::spacing(c, id, dicom))?
            } else {
                None
            };
            (self.adjustments(id)?, items, spacing)
        };
        let long_edge = options.long_edge.unwrap_or(u32::MAX);
        let source = self.source(&doc, &adjustments, long_edge, options.frame)?;
        render::render(
            &source,
            &render::RenderRequest {
                adjustments: &adjustments,
                long_edge,
                annotations: &items,
                spacing,
                enlarge: options.enlarge,
            },
        )
    }

    /// A document's original decoded for an output whose long edge is `long_edge` after
    /// `adjustments` (a crop decodes enough of the original for its part).
    fn source(
        &self,
        doc: &Document,
        adjustments: &Adjustments,
        long_edge: u32,
        frame: u32,
    ) -> Result<render::Source, MediaError> {
        let id = doc.summary.id.as_str();
        let format = Format::from_mime(doc.summary.mime)
            .ok_or_else(|| MediaError::NotAnImage { id: id.to_string(), mime: doc.summary.mime.to_string() })?;
        self.db.read(|c| edits::displayed_size(c, id))?;
        let bytes = blobstore::read_checked(self.blobs.as_ref(), &doc.summary.sha256)?;
        let (stored_w, stored_h): (Option<u32>, Option<u32>) = self.db.read(|c| {
            Ok::<_, MediaError>(
                c.query_row("SELECT width, height FROM documents WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?,
            )
        })?;
        let stored = (stored_w.unwrap_or(0), stored_h.unwrap_or(0));
        // A crop shows part of the original: decode enough for that part at the output size.
        let fraction = adjustments.crop.map_or(1.0, |[_, _, w, h]| {
            let (dw, dh) = if (5..=8).contains(&doc.summary.orientation) { (stored.1, stored.0) } else { stored };
            (w.max(h) as f64 / dw.max(dh).max(1) as f64).clamp(0.01, 1.0)
        });
        let decode_edge = (long_edge as f64 / fraction).min(u32::MAX as f64) as u32;
        render::decode_source(&bytes, format, stored, doc.summary.orientation, decode_edge, frame, &self.limits)
    }

    /// The document's grey values through its adjustments' geometry at full depth, for live
    /// windowing (of `frame`, for a multi-frame DICOM); `None` for a colour image.
    pub fn grey_view(&self, id: &str, long_edge: u32, frame: u32) -> Result<Option<render::GreyView>, MediaError> {
        let doc = self.get(id)?;
        let adjustments = self.adjustments(id)?;
        let source = self.source(&doc, &adjustments, long_edge, frame)?;
        render::grey_view(&source, &adjustments, long_edge)
    }

    /// The thumbnail the gallery shows for a document: its edited one when it has adjustments
    /// (made now if missing), else the original's.
    pub fn document_thumbnail(&self, id: &str, size: u32) -> Result<Option<ThumbnailRef>, MediaError> {
        let doc = self.get(id)?;
        let adjustments = self.adjustments(id)?;
        if adjustments.is_identity() || !THUMBNAIL_SIZES.contains(&size) {
            return self.thumbnailer.ensure(&doc.summary.sha256, size);
        }
        let path = self.edited_path(&doc.summary.sha256, &adjustments, size);
        if !path.is_file() {
            self.edited_thumbnails(id)?;
        }
        let (w, h) = image::image_dimensions(&path).map_err(|e| MediaError::Render(e.to_string()))?;
        Ok(Some(ThumbnailRef { size, width: w, height: h, path }))
    }

    /// Where an edited thumbnail lives: keyed by the original and the adjustments, so an edit
    /// undone finds its earlier files and two documents edited alike share them.
    fn edited_path(&self, sha256: &str, adjustments: &Adjustments, size: u32) -> PathBuf {
        use sha2::Digest;
        let key = sha2::Sha256::digest(format!("{sha256}\n{}", serde_json::json!(adjustments)).as_bytes());
        let key = hex::encode(&key[..20]);
        self.thumbs.root().join("edited").join(&key[..2]).join(format!("{key}-{size}.jpg"))
    }

    /// Renders a document's edited thumbnails at every size (from one render at the largest).
    fn edited_thumbnails(&self, id: &str) -> Result<(), MediaError> {
        let adjustments = self.adjustments(id)?;
        if adjustments.is_identity() {
            return Ok(());
        }
        let doc = self.get(id)?;
        let largest = THUMBNAIL_SIZES[THUMBNAIL_SIZES.len() - 1];
        let image = match self.render(
            id,
            RenderOptions { long_edge: Some(largest), annotations: false, original: false, enlarge: false, frame: 0 },
        ) {
            Ok(image) => image,
            // No pixels (a PDF) or a damaged original: the gallery keeps what it has.
            Err(MediaError::NotAnImage { .. } | MediaError::Render(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let (w, h) = image.dimensions();
        let rendered = thumbs::render_from(image.into_raw(), w, h, decode::Dimensions { width: w, height: h }, 1)
            .map_err(|e| MediaError::Render(e.to_string()))?;
        for r in rendered {
            let path = self.edited_path(&doc.summary.sha256, &adjustments, r.size);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| MediaError::io(format!("creating {}", dir.display()), e))?;
            }
            thumbs::write_atomic(&path, &r.jpeg)
                .map_err(|e| MediaError::io(format!("writing {}", path.display()), e))?;
        }
        Ok(())
    }

    pub fn update(&self, actor: &Actor, id: &str, patch: &DocumentPatch) -> Result<Transition, MediaError> {
        self.db.write(|tx| documents::update(tx, actor, id, patch))
    }

    pub fn archive(&self, actor: &Actor, id: &str, reason: Option<&str>) -> Result<Transition, MediaError> {
        self.db.write(|tx| documents::archive(tx, actor, id, reason))
    }

    /// Signs a document as it is now (see [`signatures`]).
    pub fn sign(&self, actor: &Actor, id: &str) -> Result<Signature, MediaError> {
        self.db.write(|tx| signatures::sign(tx, actor, id))
    }

    pub fn restore(&self, actor: &Actor, id: &str) -> Result<Transition, MediaError> {
        self.db.write(|tx| documents::restore(tx, actor, id))
    }

    pub fn link(
        &self,
        actor: &Actor,
        document_id: &str,
        owner_type: &str,
        owner_id: &str,
        role: Option<&str>,
    ) -> Result<Attachment, MediaError> {
        self.db.write(|tx| attachments::link(tx, actor, &self.owners, document_id, owner_type, owner_id, role))
    }

    /// See [`attachments::link_exclusive`].
    pub fn link_exclusive(
        &self,
        actor: &Actor,
        document_id: &str,
        owner_type: &str,
        owner_id: &str,
        role: &str,
    ) -> Result<(Attachment, Option<Attachment>), MediaError> {
        self.db
            .write(|tx| attachments::link_exclusive(tx, actor, &self.owners, document_id, owner_type, owner_id, role))
    }

    /// [`Media::link_exclusive`] and [`Media::update`] in one transaction: a photo placed in a
    /// mount's slot takes the slot's kind and teeth at the same moment, never one without the
    /// other (a reader, or a crash, in between would see a filled slot with the wrong kind).
    pub fn link_exclusive_and_update(
        &self,
        actor: &Actor,
        link: (&str, &str, &str),
        document_id: &str,
        patch: &DocumentPatch,
    ) -> Result<Transition, MediaError> {
        let (owner_type, owner_id, role) = link;
        self.db.write(|tx| {
            attachments::link_exclusive(tx, actor, &self.owners, document_id, owner_type, owner_id, role)?;
            documents::update(tx, actor, document_id, patch)
        })
    }

    pub fn unlink(
        &self,
        actor: &Actor,
        document_id: &str,
        owner_type: &str,
        owner_id: &str,
    ) -> Result<Attachment, MediaError> {
        self.db.write(|tx| attachments::unlink(tx, actor, document_id, owner_type, owner_id))
    }

    /// Ended links to an owner, oldest first.
    pub fn ended_links_for_owner(&self, owner_type: &str, owner_id: &str) -> Result<Vec<Attachment>, MediaError> {
        self.db.read(|c| attachments::ended_for_owner(c, owner_type, owner_id))
    }

    pub fn links_for_owner(&self, owner_type: &str, owner_id: &str) -> Result<Vec<Attachment>, MediaError> {
        self.db.read(|c| attachments::list_for_owner(c, owner_type, owner_id))
    }

    /// The original's bytes for viewing, hash-checked, with an audit event ("view").
    pub fn read_original(&self, actor: &Actor, id: &str) -> Result<(Document, Vec<u8>), MediaError> {
        let doc = self.get(id)?;
        let bytes = blobstore::read_checked(self.blobs.as_ref(), &doc.summary.sha256)?;
        self.db.write(|tx| {
            chairside_audit::append(tx, actor, "view", "document", Some(id), serde_json::json!({}))
                .map_err(MediaError::from)
        })?;
        Ok((doc, bytes))
    }

    /// The file a video document plays from: its original when the webview plays that, its
    /// proxy once made otherwise (queued now if it is missing). The original is hash-checked
    /// the first time it is played in this process; each call with `audit` is a view.
    pub fn video_file(&self, actor: &Actor, id: &str, audit: bool) -> Result<VideoFile, MediaError> {
        let (doc, original) = self.video_original(id)?;
        let sha = doc.summary.sha256.as_str();
        let (path, mime, proxy) = match self.thumbnailer.proxy(sha)? {
            DerivedState::NotNeeded => {
                let checked = self.checked_videos.lock().unwrap_or_else(|p| p.into_inner()).contains(sha);
                if !checked {
                    blobstore::check_file(&original, sha)?;
                    self.checked_videos.lock().unwrap_or_else(|p| p.into_inner()).insert(sha.to_string());
                }
                (original, doc.summary.mime, false)
            }
            DerivedState::Ready(path) => (path, "video/mp4", true),
            DerivedState::Pending => {
                if let Some(workers) = self.workers.get() {
                    workers.enqueue_derived(sha, Derived::Proxy);
                }
                return Err(MediaError::VideoPreparing { id: id.to_string() });
            }
            DerivedState::Failed(why) => return Err(MediaError::Render(why)),
        };
        let len = std::fs::metadata(&path).map_err(|e| MediaError::io(format!("reading {}", path.display()), e))?.len();
        if audit {
            self.db.write(|tx| {
                chairside_audit::append(
                    tx,
                    actor,
                    "view",
                    "document",
                    Some(id),
                    serde_json::json!({"video": if proxy { "proxy" } else { "original" }}),
                )
                .map_err(MediaError::from)
            })?;
        }
        Ok(VideoFile { path, mime, len, proxy })
    }

    /// A HEIC/AVIF photo's full-resolution JPEG, its view audited, once the workers have made
    /// it; `None` while it is being made (queued now if it was not), when making it failed, or
    /// when the photo needs none (the viewer then shows the largest thumbnail).
    pub fn full_view(&self, actor: &Actor, id: &str) -> Result<Option<Vec<u8>>, MediaError> {
        let doc = self.get(id)?;
        let sha = doc.summary.sha256.as_str();
        match self.thumbnailer.derived(Derived::Full, sha)? {
            DerivedState::Ready(path) => {
                let bytes =
                    std::fs::read(&path).map_err(|e| MediaError::io(format!("reading {}", path.display()), e))?;
                self.db.write(|tx| {
                    chairside_audit::append(tx, actor, "view", "document", Some(id), serde_json::json!({"full": true}))
                        .map_err(MediaError::from)
                })?;
                Ok(Some(bytes))
            }
            DerivedState::Pending => {
                if let Some(workers) = self.workers.get() {
                    workers.enqueue_derived(sha, Derived::Full);
                }
                Ok(None)
            }
            DerivedState::NotNeeded | DerivedState::Failed(_) => Ok(None),
        }
    }

    /// A video document and where its original is on disk (refused for any other kind).
    fn video_original(&self, id: &str) -> Result<(Document, PathBuf), MediaError> {
        let doc = self.get(id)?;
        if !Format::from_mime(doc.summary.mime).is_some_and(Format::is_video) {
            return Err(MediaError::NotAVideo { id: id.to_string(), mime: doc.summary.mime.to_string() });
        }
        let missing = || MediaError::BlobMissing { sha256: doc.summary.sha256.clone() };
        let path = self.blobs.path_of(&doc.summary.sha256).map_err(|_| missing())?;
        if !path.is_file() {
            return Err(missing());
        }
        Ok((doc, path))
    }

    /// A video's frame at `at_s` seconds, full size and upright, from the hash-checked original.
    pub fn video_frame(&self, id: &str, at_s: f64) -> Result<image::RgbImage, MediaError> {
        let (doc, path) = self.video_original(id)?;
        if !at_s.is_finite() || at_s < 0.0 {
            return Err(MediaError::InvalidEdit(format!("{at_s} is not a time in the video")));
        }
        blobstore::check_file(&path, &doc.summary.sha256)?;
        let picture = decode::guarded("video frame", || video::frame_at(&path, at_s, &self.limits))
            .and_then(|r| r)
            .map_err(|e| MediaError::Render(format!("the frame at {at_s:.2} s could not be read: {e}")))?;
        image::RgbImage::from_raw(picture.width, picture.height, picture.rgb)
            .ok_or_else(|| MediaError::Render("the decoded frame has the wrong size".into()))
    }

    pub fn export_patient(
        &self,
        actor: &Actor,
        patient_id: &str,
        only: &[String],
        out: &std::path::Path,
    ) -> Result<ExportSummary, MediaError> {
        export::export_patient(&self.db, &self.blobs, &self.thumbs, actor, patient_id, only, out)
    }

    /// A patient's documents (the active ones, or `only`, each the patient's) as a DICOM
    /// folder with its DICOMDIR at `out`, which must not exist (see [`dicom_export`]). Written
    /// beside it under a temporary name, read back, then renamed: never half a folder.
    pub fn export_dicom(
        &self,
        actor: &Actor,
        patient: &chairside_patients::Patient,
        only: &[String],
        out: &std::path::Path,
    ) -> Result<dicom_export::DicomExport, MediaError> {
        use dicom_export::{Plan, Source};
        if out.exists() {
            return Err(MediaError::ExportTargetExists(out.display().to_string()));
        }
        let mut docs =
            self.list(&patient.id, if only.is_empty() { StatusFilter::Active } else { StatusFilter::All })?;
        if !only.is_empty() {
            if let Some(stray) = only.iter().find(|id| !docs.iter().any(|d| &d.id == *id)) {
                return Err(MediaError::DocumentNotFound(stray.clone()));
            }
            docs.retain(|d| only.contains(&d.id));
        } else {
            docs.reverse(); // oldest first, as a referral reads
        }
        let tmp = out.with_file_name(format!(
            ".{}.part-{}",
            out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            uuid::Uuid::new_v4()
        ));
        chairside_store::private::create_dir_all(&tmp)
            .map_err(|e| MediaError::io(format!("creating {}", tmp.display()), e))?;
        let chart = dicom_export::Chart {
            name: &patient.name,
            id: patient.external_id.as_deref().unwrap_or(&patient.id),
            birth_date: patient.birth_date.as_deref(),
        };
        let written =
            dicom_export::write_folder(&tmp, &chart, &patient.id, &docs, &self.limits, |doc, plan, file| match plan {
                // A CBCT can be gigabytes: streamed, as the ZIP export copies originals.
                Plan::Copy => export::copy_checked(&self.blobs, &doc.sha256, file).map(|_| Source::Written),
                Plan::Wrap { keep_jpeg: true } => {
                    Ok(Source::Bytes(blobstore::read_checked(self.blobs.as_ref(), &doc.sha256)?))
                }
                _ => Ok(Source::Pixels(self.render(
                    &doc.id,
                    RenderOptions { long_edge: None, annotations: false, original: true, enlarge: false, frame: 0 },
                )?)),
            })
            .and_then(|r| dicom_export::check_folder(&tmp).map(|()| r));
        let (count, skipped) = match written {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp); // our own partial folder, never an original
                return Err(e);
            }
        };
        std::fs::rename(&tmp, out).map_err(|e| MediaError::io(format!("naming {}", out.display()), e))?;
        let bytes = walk_size(out);
        let sent: Vec<&DocumentSummary> = docs.iter().filter(|d| !skipped.contains(&d.id)).collect();
        self.db.write(|tx| {
            for d in &sent {
                chairside_audit::append(
                    tx,
                    actor,
                    "export",
                    "document",
                    Some(&d.id),
                    serde_json::json!({"dicom": out.display().to_string(), "patient_id": patient.id}),
                )?;
            }
            Ok::<_, MediaError>(())
        })?;
        Ok(dicom_export::DicomExport { path: out.display().to_string(), documents: count, bytes, skipped })
    }

    /// Removes the partial files killed exports left behind (see [`export::clean_staged`]).
    pub fn clean_interrupted_exports(&self) -> Result<Vec<verify::Orphan>, MediaError> {
        let mut cleaned = Vec::new();
        export::clean_staged(&self.db, &mut cleaned)?;
        Ok(cleaned)
    }

    pub fn verify(&self, actor: &Actor, options: VerifyOptions) -> Result<VerifyReport, MediaError> {
        verify::verify(&self.db, &self.blobs, &self.thumbs, &self.thumbnailer, &self.quarantine, actor, options)
    }
}

/// The bytes of the files under a folder (an export's size).
fn walk_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walk_size(&e.path()),
                    _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                })
                .sum()
        })
        .unwrap_or(0)
}
