//! Thumbnails: three sizes by longest edge, made from one reduced-scale decode, EXIF
//! orientation applied, never upscaled, JPEG. Content-addressed files under
//! `thumbs/<size>/ab/<sha256>.jpg`, each tracked in the `thumbnails` table with a status; a
//! pool of background workers makes them, smallest written first so the grid fills at once.

use std::collections::{HashSet, VecDeque};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use chairside_store::{Db, rusqlite};
use fast_image_resize as fr;
use image::{DynamicImage, RgbImage};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::Digest;

use crate::blobstore::LocalBlobStore;
use crate::decode::{self, DecodeError, JpegError, Limits};
use crate::{Format, MediaError};

/// Longest-edge sizes, smallest first: grid, preview, viewer/compare.
pub const SIZES: [u32; 3] = [256, 1024, 2048];
const FORMAT: &str = "jpg";
const QUALITY: i32 = 82;

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThumbnailRef {
    pub size: u32,
    pub width: u32,
    pub height: u32,
    /// Absolute path of the file.
    pub path: PathBuf,
}

/// Where thumbnail files live.
pub struct ThumbStore {
    root: PathBuf,
    /// `root` as text, shared by every [`Thumbnails`] of a listing.
    root_text: Arc<str>,
}

/// The ready thumbnails of one document. A listing holds thousands of these, so it is a few
/// words (the root is shared, paths are built when needed); it serialises as
/// `[{"size","width","height","path"}, …]`, smallest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnails {
    root: Arc<str>,
    sha256: Arc<str>,
    /// The original as displayed (after orientation).
    width: u32,
    height: u32,
    /// Bit per ready size, see [`ready_bit`].
    ready: u32,
}

impl Thumbnails {
    /// The ready thumbnails with their sizes and paths, smallest first.
    pub fn refs(&self) -> Vec<ThumbnailRef> {
        SIZES
            .iter()
            .filter(|&&size| self.ready & ready_bit(size) != 0)
            .map(|&size| {
                let (width, height) = fit(self.width, self.height, size);
                ThumbnailRef { size, width, height, path: thumbnail_path(&self.root, &self.sha256, size, FORMAT) }
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.ready == 0
    }

    /// The sizes that are ready, smallest first.
    pub fn sizes(&self) -> Vec<u32> {
        SIZES.iter().copied().filter(|&size| self.ready & ready_bit(size) != 0).collect()
    }
}

impl Serialize for Thumbnails {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.refs().serialize(serializer)
    }
}

/// The one place the layout `thumbs/<size>/ab/<sha256>.<format>` is spelled out.
fn thumbnail_path(root: &str, sha256: &str, size: u32, format: &str) -> PathBuf {
    let shard = sha256.get(0..2).unwrap_or("00");
    PathBuf::from(format!("{root}/{size}/{shard}/{sha256}.{format}"))
}

/// The bit of a size in `documents.thumbs_ready`.
pub(crate) fn ready_bit(size: u32) -> u32 {
    SIZES.iter().position(|&s| s == size).map(|i| 1 << i).unwrap_or(0)
}

impl ThumbStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let root_text = Arc::from(root.to_string_lossy().trim_end_matches('/'));
        ThumbStore { root, root_text }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, sha256: &str, size: u32, format: &str) -> PathBuf {
        thumbnail_path(&self.root_text, sha256, size, format)
    }

    /// Where a video's playable proxy lives (`thumbs/proxy/ab/<sha256>.mp4`), and, when
    /// making it failed, the note saying why (`….failed`): derived files, like thumbnails.
    pub fn proxy_path(&self, sha256: &str) -> PathBuf {
        let shard = sha256.get(0..2).unwrap_or("00");
        PathBuf::from(format!("{}/proxy/{shard}/{sha256}.mp4", self.root_text))
    }

    /// Where a HEIC/AVIF photo's full-resolution JPEG lives (`thumbs/full/ab/<sha256>.jpg`):
    /// the webview draws neither format, and the largest thumbnail is 2048 px.
    pub fn full_path(&self, sha256: &str) -> PathBuf {
        let shard = sha256.get(0..2).unwrap_or("00");
        PathBuf::from(format!("{}/full/{shard}/{sha256}.jpg", self.root_text))
    }

    fn derived_path(&self, what: Derived, sha256: &str) -> PathBuf {
        match what {
            Derived::Proxy => self.proxy_path(sha256),
            Derived::Full => self.full_path(sha256),
        }
    }

    fn failed_path(&self, what: Derived, sha256: &str) -> PathBuf {
        self.derived_path(what, sha256).with_extension("failed")
    }

    /// The thumbnails whose bits are set in `ready`, for an image displayed `width` × `height`:
    /// their sizes and paths follow from the content address, so no lookup is needed.
    pub fn derived(&self, sha256: &str, width: u32, height: u32, ready: u32) -> Thumbnails {
        Thumbnails { root: Arc::clone(&self.root_text), sha256: Arc::from(sha256), width, height, ready }
    }

    /// The ready thumbnails of a blob, smallest first.
    pub fn ready_for(&self, conn: &Connection, sha256: &str) -> Result<Vec<ThumbnailRef>, MediaError> {
        let mut stmt = conn.prepare_cached(
            "SELECT size, width, height, format FROM thumbnails WHERE sha256 = ?1 AND status = 'ready' ORDER BY size",
        )?;
        let rows = stmt.query_map([sha256], |r| {
            let size: u32 = r.get(0)?;
            let format: String = r.get(3)?;
            Ok(ThumbnailRef { size, width: r.get(1)?, height: r.get(2)?, path: self.path(sha256, size, &format) })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// One encoded thumbnail.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

/// Fits `(w, h)` into a square of `size`, never enlarging.
pub fn fit(w: u32, h: u32, size: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= size {
        return (w, h);
    }
    let scale = size as f64 / long as f64;
    let f = |v: u32| ((v as f64 * scale).round() as u32).max(1);
    if w >= h { (size, f(h)) } else { (f(w), size) }
}

/// Fits `(w, h)` into `aw`×`ah`, keeping proportions (enlarging when smaller).
pub fn fit_within(w: u32, h: u32, aw: u32, ah: u32) -> (u32, u32) {
    let scale = (aw as f64 / w.max(1) as f64).min(ah as f64 / h.max(1) as f64);
    (((w as f64 * scale).round() as u32).clamp(1, aw.max(1)), ((h as f64 * scale).round() as u32).clamp(1, ah.max(1)))
}

/// Decodes `bytes` once, at the smallest scale that still covers the largest size, and makes
/// every size by resizing step by step (2048 → 1024 → 256). Returned smallest first.
pub fn render(bytes: &[u8], format: Format, orientation: u16, limits: &Limits) -> Result<Vec<Rendered>, DecodeError> {
    if format == Format::Dicom {
        let (pixels, w, h) = rgb8(crate::dicom::render_first_frame(bytes, limits)?);
        return render_from(pixels, w, h, decode::Dimensions { width: w, height: h }, 1);
    }
    if format == Format::Pdf {
        let (pixels, w, h) = crate::pdf_pages::render_page(bytes, 0, SIZES[SIZES.len() - 1], limits)?;
        return render_from(pixels, w, h, decode::Dimensions { width: w, height: h }, 1);
    }
    let dims = decode::probe(bytes, format, limits)?;
    let largest = SIZES[SIZES.len() - 1];
    let (pixels, w, h) = match format {
        Format::Jpeg => {
            let eighths = decode::jpeg_eighths_for(dims.width.max(dims.height), largest);
            match decode::jpeg_decode_scaled(bytes, eighths) {
                Ok(decoded) => decoded,
                Err(JpegError::Unsupported) => rgb8(decode::decode_full(bytes, format, limits)?),
                Err(JpegError::Corrupt(e)) => return Err(DecodeError::Corrupt(e)),
            }
        }
        _ => rgb8(decode::decode_full(bytes, format, limits)?),
    };
    render_from(pixels, w, h, dims, orientation)
}

/// Every size of a 3D model's picture, drawn from its file as it is read.
pub fn render_mesh_file(path: &std::path::Path, format: Format, limits: &Limits) -> Result<Vec<Rendered>, DecodeError> {
    let len = std::fs::metadata(path).map_err(|e| DecodeError::Corrupt(e.to_string()))?.len();
    let (_, pixels, w, h) = crate::mesh::inspect_and_draw_file(path, format, len, limits, SIZES[SIZES.len() - 1])?;
    render_from(pixels, w, h, decode::Dimensions { width: w, height: h }, 1)
}

/// A video's poster frame at every size.
pub fn render_video_file(path: &std::path::Path, limits: &Limits) -> Result<Vec<Rendered>, DecodeError> {
    let (_, _, poster) = crate::video::inspect(path, limits, SIZES[SIZES.len() - 1])?;
    let dims = decode::Dimensions { width: poster.width, height: poster.height };
    render_from(poster.rgb, poster.width, poster.height, dims, 1)
}

/// Makes every size from decoded RGB8 pixels (`w`×`h`, possibly already reduced from the
/// original's `dims`).
pub(crate) fn render_from(
    mut pixels: Vec<u8>,
    mut w: u32,
    mut h: u32,
    dims: decode::Dimensions,
    orientation: u16,
) -> Result<Vec<Rendered>, DecodeError> {
    let mut resizer = fr::Resizer::new();
    let mut out = Vec::with_capacity(SIZES.len());
    for &size in SIZES.iter().rev() {
        // Target from the original dimensions so every size has exact proportions.
        let (tw, th) = fit(dims.width, dims.height, size);
        if (tw, th) != (w, h) {
            let src = fr::images::Image::from_vec_u8(w, h, pixels, fr::PixelType::U8x3)
                .map_err(|e| DecodeError::Corrupt(format!("resize: {e}")))?;
            let mut dst = fr::images::Image::new(tw, th, fr::PixelType::U8x3);
            // A gentle step (the DCT-scaled decode is only slightly larger than 2048) needs no
            // wide filter; a real reduction gets Catmull-Rom, sharp without Lanczos' cost.
            let filter = if tw * 3 >= w * 2 { fr::FilterType::Bilinear } else { fr::FilterType::CatmullRom };
            let options = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(filter));
            resizer.resize(&src, &mut dst, &options).map_err(|e| DecodeError::Corrupt(format!("resize: {e}")))?;
            (pixels, w, h) = (dst.into_vec(), tw, th);
        }
        out.push(encode(&pixels, w, h, orientation)?);
        out.last_mut().expect("just pushed").size = size;
    }
    out.reverse();
    Ok(out)
}

/// RGB8 pixels of any decoded image; transparency is laid over white (scanned documents and
/// screenshots are drawn on white).
pub(crate) fn rgb8(image: DynamicImage) -> (Vec<u8>, u32, u32) {
    let (w, h) = (image.width(), image.height());
    if !image.color().has_alpha() {
        return (image.into_rgb8().into_raw(), w, h);
    }
    let rgba = image.into_rgba8();
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for p in rgba.pixels() {
        let a = p[3] as u32;
        for c in 0..3 {
            rgb.push(((p[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8);
        }
    }
    (rgb, w, h)
}

fn encode(pixels: &[u8], w: u32, h: u32, orientation: u16) -> Result<Rendered, DecodeError> {
    let corrupt = |e: String| DecodeError::Corrupt(e);
    let oriented;
    let (pixels, w, h) = match image::metadata::Orientation::from_exif(orientation as u8) {
        Some(o) if orientation != 1 => {
            let buffer =
                RgbImage::from_raw(w, h, pixels.to_vec()).ok_or_else(|| corrupt("pixel buffer size".into()))?;
            let mut img = DynamicImage::ImageRgb8(buffer);
            img.apply_orientation(o);
            let (w, h) = (img.width(), img.height());
            oriented = img.into_rgb8().into_raw();
            (oriented.as_slice(), w, h)
        }
        _ => (pixels, w, h),
    };
    let mut compressor = turbojpeg::Compressor::new().map_err(|e| corrupt(e.to_string()))?;
    compressor.set_quality(QUALITY).map_err(|e| corrupt(e.to_string()))?;
    compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).map_err(|e| corrupt(e.to_string()))?;
    let image = turbojpeg::Image {
        pixels,
        width: w as usize,
        pitch: 3 * w as usize,
        height: h as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    let jpeg = compressor.compress_to_vec(image).map_err(|e| corrupt(e.to_string()))?;
    Ok(Rendered { size: 0, width: w, height: h, jpeg })
}

/// What the workers report as they go.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ThumbnailEvent {
    Ready {
        sha256: String,
        size: u32,
    },
    Failed {
        sha256: String,
        error: String,
    },
    /// A video's playable proxy was made.
    ProxyReady {
        sha256: String,
    },
    /// A HEIC/AVIF photo's full-resolution rendition was made.
    FullReady {
        sha256: String,
    },
}

pub type ThumbnailListener = Arc<dyn Fn(&ThumbnailEvent) + Send + Sync>;

/// A file made in the background from an original, beside the thumbnails and like them
/// never replacing it: what the webview cannot show from the original itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Derived {
    /// A video's playable H.264 copy (at most 1080p).
    Proxy,
    /// A HEIC/AVIF photo larger than the largest thumbnail, as a full-resolution JPEG.
    Full,
}

/// Where a derived file stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerivedState {
    /// The original is shown as it is (a video the webview plays: H.264, VP8/9 or AV1 in
    /// 4:2:0; a photo within the largest thumbnail), or it is not of the kind.
    NotNeeded,
    Ready(PathBuf),
    /// Queued or being made.
    Pending,
    /// Making it failed (the reason): the original stays, only unplayable in the app.
    Failed(String),
}

/// Makes a blob's thumbnails and records them.
pub struct Thumbnailer {
    db: Arc<Db>,
    blobs: Arc<LocalBlobStore>,
    store: Arc<ThumbStore>,
    limits: Limits,
}

impl Thumbnailer {
    pub fn new(db: Arc<Db>, blobs: Arc<LocalBlobStore>, store: Arc<ThumbStore>, limits: Limits) -> Self {
        Thumbnailer { db, blobs, store, limits }
    }

    /// Makes (or remakes) every size of a blob's thumbnails.
    pub fn make(&self, sha256: &str, on_event: &dyn Fn(&ThumbnailEvent)) -> Result<(), MediaError> {
        let (mime, orientation, byte_size): (String, u16, i64) = self
            .db
            .read(|c| {
                c.query_row("SELECT mime, orientation, byte_size FROM blobs WHERE sha256 = ?1", [sha256], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(MediaError::from)
            })?
            .ok_or_else(|| MediaError::BlobMissing { sha256: sha256.to_string() })?;
        let Some(format) = Format::from_mime(&mime) else {
            return self.set_status(sha256, "unsupported", Some("no preview for this kind of file"));
        };
        if let Some(why) = format.no_preview_reason(byte_size as u64, &self.limits) {
            return self.set_status(sha256, "unsupported", Some(why));
        }
        let failed = |e: MediaError| {
            self.set_status(sha256, "failed", Some(&e.to_string()))?;
            on_event(&ThumbnailEvent::Failed { sha256: sha256.to_string(), error: e.to_string() });
            Err(e)
        };
        // A model or a video is drawn from its file as it is read (never held), after one
        // pass that checks its hash; anything else is read whole, hash-checked.
        let path =
            self.blobs.path_of(sha256).map_err(|e| MediaError::io("blob path", io::Error::other(e.to_string())))?;
        let bytes = if format.is_streamed() {
            match crate::blobstore::check_file(&path, sha256) {
                Ok(()) => Vec::new(),
                Err(e) => return failed(e),
            }
        } else {
            match crate::blobstore::read_checked(self.blobs.as_ref(), sha256) {
                Ok(b) => b,
                Err(e) => return failed(e),
            }
        };
        let draw = || {
            if format.is_mesh() {
                render_mesh_file(&path, format, &self.limits)
            } else if format.is_video() {
                render_video_file(&path, &self.limits)
            } else {
                render(&bytes, format, orientation, &self.limits)
            }
        };
        let rendered = match decode::guarded("thumbnail", draw).and_then(|r| r) {
            Ok(r) => r,
            Err(e) => {
                let msg = match e {
                    DecodeError::Corrupt(m) => m,
                    DecodeError::TooManyPixels { width, height } => {
                        format!("{width} × {height} is over the pixel limit")
                    }
                    DecodeError::TooManyBytes { width, height, .. } => {
                        format!("{width} × {height} is over the decoded-size limit")
                    }
                };
                self.set_status(sha256, "failed", Some(&msg))?;
                on_event(&ThumbnailEvent::Failed { sha256: sha256.to_string(), error: msg });
                return Ok(());
            }
        };
        drop(bytes);
        self.store(sha256, rendered, on_event)
    }

    /// Whether a blob needs `what`, from what import kept: a video the webview cannot play as
    /// it is; a HEIC/AVIF photo longer than the largest thumbnail.
    fn needs(&self, what: Derived, sha256: &str) -> Result<bool, MediaError> {
        type Row = (String, Option<u32>, Option<u32>, Option<String>);
        let row: Option<Row> = self.db.read(|c| {
            c.query_row("SELECT mime, width, height, details_json FROM blobs WHERE sha256 = ?1", [sha256], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .map_err(MediaError::from)
        })?;
        let Some((mime, width, height, details)) = row else { return Ok(false) };
        Ok(match what {
            Derived::Proxy => {
                let playable = details
                    .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
                    .and_then(|d| d.get("video").and_then(|v| v.get("playable")).and_then(|p| p.as_bool()));
                playable == Some(false)
            }
            Derived::Full => {
                Format::from_mime(&mime).is_some_and(Format::is_heif)
                    && width.max(height).is_some_and(|long| long > SIZES[SIZES.len() - 1])
            }
        })
    }

    /// Where a blob's derived file stands.
    pub fn derived(&self, what: Derived, sha256: &str) -> Result<DerivedState, MediaError> {
        if !self.needs(what, sha256)? {
            return Ok(DerivedState::NotNeeded);
        }
        let path = self.store.derived_path(what, sha256);
        if path.is_file() {
            return Ok(DerivedState::Ready(path));
        }
        match fs::read_to_string(self.store.failed_path(what, sha256)) {
            Ok(why) => Ok(DerivedState::Failed(why)),
            Err(_) => Ok(DerivedState::Pending),
        }
    }

    /// Where a blob's playable proxy stands.
    pub fn proxy(&self, sha256: &str) -> Result<DerivedState, MediaError> {
        self.derived(Derived::Proxy, sha256)
    }

    /// Makes a blob's derived file if it needs one and has none, from the hash-checked
    /// original (minutes for a long HEVC clip, a second for a 48 MP HEIC: only ever on a
    /// worker thread). A failure is kept beside where the file would be, so it is not retried
    /// at every start.
    pub fn make_derived(&self, what: Derived, sha256: &str) -> Result<DerivedState, MediaError> {
        let state = self.derived(what, sha256)?;
        if state != DerivedState::Pending {
            return Ok(state);
        }
        let src =
            self.blobs.path_of(sha256).map_err(|e| MediaError::io("blob path", io::Error::other(e.to_string())))?;
        let dst = self.store.derived_path(what, sha256);
        let dir = dst.parent().expect("a derived path has a parent");
        chairside_store::private::create_dir_all(dir)
            .map_err(|e| MediaError::io(format!("creating {}", dir.display()), e))?;
        let made = match what {
            Derived::Proxy => crate::blobstore::check_file(&src, sha256).and_then(|()| {
                decode::guarded("video proxy", || crate::video::make_proxy(&src, &dst, &self.limits))
                    .and_then(|r| r)
                    .map_err(|e| MediaError::Render(format!("the playable copy could not be made: {e}")))
            }),
            Derived::Full => self.make_full(sha256, &dst),
        };
        if let Err(e) = made {
            // An original not on this workstation yet (synced, not fetched) is no failure of
            // the file: asked for again later, not noted as failed for good.
            if matches!(e, MediaError::BlobMissing { .. }) {
                return Err(e);
            }
            let note = self.store.failed_path(what, sha256);
            write_atomic(&note, e.to_string().as_bytes())
                .map_err(|w| MediaError::io(format!("writing {}", note.display()), w))?;
        }
        self.derived(what, sha256)
    }

    /// A HEIC/AVIF photo decoded whole (turned as the file says) and written as a JPEG of the
    /// same size, at the thumbnails' quality.
    fn make_full(&self, sha256: &str, dst: &Path) -> Result<(), MediaError> {
        let bytes = crate::blobstore::read_checked(self.blobs.as_ref(), sha256)?;
        let (pixels, w, h) = decode::guarded("full rendition", || crate::heif::decode(&bytes, &self.limits))
            .and_then(|r| r)
            .map_err(|e| MediaError::Render(format!("the full-size picture could not be made: {e}")))?;
        drop(bytes);
        let jpeg = encode(&pixels, w, h, 1).map_err(|e| MediaError::Render(e.to_string()))?;
        write_atomic(dst, &jpeg.jpeg).map_err(|e| MediaError::io(format!("writing {}", dst.display()), e))
    }

    /// Writes rendered thumbnails (smallest first) and marks each ready as it lands.
    pub fn store(
        &self,
        sha256: &str,
        rendered: Vec<Rendered>,
        on_event: &dyn Fn(&ThumbnailEvent),
    ) -> Result<(), MediaError> {
        self.store_many(vec![(sha256.to_string(), rendered)], on_event)
    }

    /// Stores the thumbnails of many blobs at once (a new workstation brings tens of thousands
    /// from the clinic's bucket): every file written, then one transaction for all their rows
    /// instead of a commit, and its wait for the disk, per thumbnail.
    pub fn store_many(
        &self,
        items: Vec<(String, Vec<Rendered>)>,
        on_event: &dyn Fn(&ThumbnailEvent),
    ) -> Result<(), MediaError> {
        let mut rows = Vec::new();
        for (sha256, rendered) in &items {
            for r in rendered {
                let path = self.store.path(sha256, r.size, FORMAT);
                let file_hash = hex::encode(sha2::Sha256::digest(&r.jpeg));
                write_atomic(&path, &r.jpeg)
                    .map_err(|e| MediaError::io(format!("writing thumbnail {}", path.display()), e))?;
                rows.push((sha256, r.size, r.width, r.height, file_hash));
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        self.db.write(|tx| {
            let mut thumb = tx.prepare_cached(
                "INSERT INTO thumbnails (sha256, size, width, height, format, status, error, updated_at, file_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'ready', NULL, ?6, ?7)
                 ON CONFLICT (sha256, size) DO UPDATE SET width = excluded.width, height = excluded.height,
                    format = excluded.format, status = 'ready', error = NULL, updated_at = excluded.updated_at,
                    file_sha256 = excluded.file_sha256",
            )?;
            let mut doc =
                tx.prepare_cached("UPDATE documents SET thumbs_ready = thumbs_ready | ?2 WHERE sha256 = ?1")?;
            let now = chairside_store::now_rfc3339();
            for (sha256, size, width, height, file_hash) in &rows {
                thumb.execute(params![sha256, size, width, height, FORMAT, now, file_hash])?;
                doc.execute(params![sha256, ready_bit(*size)])?;
            }
            Ok::<_, MediaError>(())
        })?;
        for (sha256, size, ..) in rows {
            on_event(&ThumbnailEvent::Ready { sha256: sha256.clone(), size });
        }
        Ok(())
    }

    /// The bytes of an original, checked against its address on the way in.
    fn set_status(&self, sha256: &str, status: &str, error: Option<&str>) -> Result<(), MediaError> {
        self.db.write(|tx| {
            for size in SIZES {
                tx.execute(
                    "INSERT INTO thumbnails (sha256, size, status, error, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (sha256, size) DO UPDATE SET status = excluded.status, error = excluded.error,
                        updated_at = excluded.updated_at",
                    params![sha256, size, status, error, chairside_store::now_rfc3339()],
                )?;
            }
            tx.execute("UPDATE documents SET thumbs_ready = 0 WHERE sha256 = ?1", [sha256])?;
            Ok::<_, MediaError>(())
        })
    }

    /// A thumbnail of `size`, remade on the spot if its file or row is missing.
    pub fn ensure(&self, sha256: &str, size: u32) -> Result<Option<ThumbnailRef>, MediaError> {
        let find = || -> Result<Option<ThumbnailRef>, MediaError> {
            let refs = self.db.read(|c| self.store.ready_for(c, sha256))?;
            Ok(refs.into_iter().find(|t| t.size == size && t.path.is_file()))
        };
        if let Some(t) = find()? {
            return Ok(Some(t));
        }
        self.make(sha256, &|_| {})?;
        find()
    }

    /// Blobs whose thumbnails are not all made yet (pending after a crash, or new).
    pub fn pending(&self) -> Result<Vec<String>, MediaError> {
        self.db.read(|c| {
            let mut stmt = c.prepare(
                "SELECT DISTINCT sha256 FROM thumbnails INDEXED BY thumbnails_pending WHERE status = 'pending'",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

/// Writes a derived file via a temp file and rename, so a reader never sees half a thumbnail.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("a thumbnail path has a parent");
    chairside_store::private::create_dir_all(dir)?;
    // Locked while written, so a verify beside it leaves it alone (see `StagedBlob`).
    let (tmp, mut file) = chairside_store::private::create_locked_temp(dir, ".tmp-")?;
    std::io::Write::write_all(&mut file, data)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// A blob to make thumbnails for, with them already rendered when import had them, or one of
/// its derived files.
struct Job {
    sha256: String,
    prepared: Option<Vec<Rendered>>,
    /// Only this derived file is wanted (the thumbnails are there).
    derived: Option<Derived>,
}

impl Job {
    /// What makes two queued jobs the same: a blob's thumbnails, or one of its derived files.
    fn key(&self) -> String {
        match self.derived {
            None => self.sha256.clone(),
            Some(what) => format!("{what:?}:{}", self.sha256),
        }
    }
}

/// Rendered thumbnails waiting in the queue are ~0.4 MB a photo; past this many, a burst
/// keeps only the address and the worker renders again, so memory stays bounded.
/// A blob's `thumbs_ready` bitmask (1 = 256, 2 = 1024, 4 = 2048) from its ready thumbnails,
/// as an SQL expression over `sha`, the expression giving its hash.
pub(crate) fn thumbs_ready_sql(sha: &str) -> String {
    format!(
        "(SELECT COALESCE(SUM(CASE size WHEN 256 THEN 1 WHEN 1024 THEN 2 WHEN 2048 THEN 4 ELSE 0 END), 0)
          FROM thumbnails WHERE thumbnails.sha256 = {sha} AND status = 'ready')"
    )
}

const MAX_PREPARED_QUEUED: usize = 64;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    queued: HashSet<String>,
    busy: usize,
    stop: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    work: Condvar,
    idle: Condvar,
    thumbnailer: Arc<Thumbnailer>,
    listener: Option<ThumbnailListener>,
}

/// A pool of threads making thumbnails in the background, first come first served.
pub struct ThumbnailWorkers {
    shared: Arc<Shared>,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl ThumbnailWorkers {
    pub fn start(thumbnailer: Arc<Thumbnailer>, threads: usize, listener: Option<ThumbnailListener>) -> Self {
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            work: Condvar::new(),
            idle: Condvar::new(),
            thumbnailer,
            listener,
        });
        let handles = (0..threads.max(1))
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("thumbnails-{i}"))
                    .spawn(move || worker(&shared))
                    .expect("spawning a thumbnail worker")
            })
            .collect();
        ThumbnailWorkers { shared, handles: Mutex::new(handles) }
    }

    /// Queues a blob (no-op if it is already queued).
    pub fn enqueue(&self, sha256: &str) {
        self.enqueue_prepared(sha256, None);
    }

    /// Queues a blob whose thumbnails import already rendered: the worker only stores them.
    pub fn enqueue_prepared(&self, sha256: &str, prepared: Option<Vec<Rendered>>) {
        let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.queued.insert(sha256.to_string()) {
            let prepared =
                prepared.filter(|_| q.jobs.iter().filter(|j| j.prepared.is_some()).count() < MAX_PREPARED_QUEUED);
            q.jobs.push_back(Job { sha256: sha256.to_string(), prepared, derived: None });
            self.shared.work.notify_one();
        }
    }

    /// Queues the making of a derived file (no-op if it is already queued).
    pub fn enqueue_derived(&self, sha256: &str, what: Derived) {
        let job = Job { sha256: sha256.to_string(), prepared: None, derived: Some(what) };
        let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.queued.insert(job.key()) {
            q.jobs.push_back(job);
            self.shared.work.notify_one();
        }
    }

    /// Blobs queued or being worked on.
    pub fn in_progress(&self) -> usize {
        let q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.jobs.len() + q.busy
    }

    /// Blocks until every queued job is done.
    pub fn wait_idle(&self) {
        let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        while !(q.jobs.is_empty() && q.busy == 0) {
            q = self.shared.idle.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Stops the workers after their current job; queued jobs stay pending in the table and
    /// are picked up at the next start.
    pub fn shutdown(&self) {
        {
            let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.stop = true;
            self.shared.work.notify_all();
        }
        let handles = std::mem::take(&mut *self.handles.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.join();
        }
    }
}

impl Drop for ThumbnailWorkers {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn worker(shared: &Shared) {
    loop {
        let job = {
            let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if q.stop {
                    return;
                }
                if let Some(job) = q.jobs.pop_front() {
                    q.queued.remove(&job.key());
                    q.busy += 1;
                    break job;
                }
                q = shared.work.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let notify = |e: &ThumbnailEvent| {
            if let Some(l) = &shared.listener {
                l(e);
            }
        };
        // A failure is recorded in the table (status 'failed') and reported as an event; the
        // worker carries on with the next job.
        let _ = match (job.prepared, job.derived) {
            // Queued after the blob's thumbnails, so its poster is shown first.
            (_, Some(what)) => shared.thumbnailer.make_derived(what, &job.sha256).map(|state| {
                if let DerivedState::Ready(_) = state {
                    let sha256 = job.sha256.clone();
                    notify(&match what {
                        Derived::Proxy => ThumbnailEvent::ProxyReady { sha256 },
                        Derived::Full => ThumbnailEvent::FullReady { sha256 },
                    });
                }
            }),
            (Some(rendered), None) => shared.thumbnailer.store(&job.sha256, rendered, &notify),
            (None, None) => shared.thumbnailer.make(&job.sha256, &notify),
        };
        let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.busy -= 1;
        if q.jobs.is_empty() && q.busy == 0 {
            shared.idle.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_paths_are_where_thumbnails_are_written() {
        let store = ThumbStore::new("/lib/thumbs/");
        let sha = "ab".repeat(32);
        let refs = store.derived(&sha, 4000, 3000, 0b101).refs();
        let sizes: Vec<u32> = refs.iter().map(|r| r.size).collect();
        assert_eq!(sizes, vec![256, 2048], "only the sizes whose bits are set");
        for r in &refs {
            assert_eq!(r.path, store.path(&sha, r.size, FORMAT), "a listed path is the written path");
        }
        assert_eq!((refs[1].width, refs[1].height), (2048, 1536));
        let json = serde_json::to_value(store.derived(&sha, 4000, 3000, 0b101)).expect("json");
        assert_eq!(json[0]["path"], store.path(&sha, 256, FORMAT).to_str().expect("utf8"), "serialised as the refs");
    }

    #[test]
    fn fit_never_upscales_and_keeps_proportions() {
        assert_eq!(fit(6000, 4000, 256), (256, 171));
        assert_eq!(fit(4000, 6000, 1024), (683, 1024));
        assert_eq!(fit(10, 10, 256), (10, 10), "a small image keeps its size");
        assert_eq!(fit(5000, 1, 256), (256, 1), "never zero");
    }
}
