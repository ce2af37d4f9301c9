//! The clinical viewer's capabilities in the library: adjustments, annotations and
//! measurements, calibration, moving a misfiled document to another patient, and rendering a
//! document or a mount (PNG, JPEG, or a PDF page with the clinic's header) for a referral.
//! Each asks for its permission first; the originals are never touched.

use std::path::Path;

use chairside_media::render::RgbImage;
use chairside_media::{
    AdjustChange, Adjusted, Annotation, AnnotationInput, Calibration, Moved, Preset, RenderOptions, StatusFilter,
};
use chairside_teeth::Teeth;
use serde_json::json;

use crate::{AppError, Library, Permission};

/// What `render` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderFormat {
    Png,
    Jpeg,
    Pdf,
}

impl RenderFormat {
    /// From the output file's extension.
    pub fn of_path(path: &Path) -> Result<RenderFormat, AppError> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(RenderFormat::Png),
            Some("jpg" | "jpeg") => Ok(RenderFormat::Jpeg),
            Some("pdf") => Ok(RenderFormat::Pdf),
            _ => Err(AppError::InvalidInput(format!(
                "{}: name the output .png, .jpg or .pdf (the format follows the extension)",
                path.display()
            ))),
        }
    }
}

/// What `render` wrote.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Rendered {
    pub path: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// What `export --format pdf` wrote.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct PdfExport {
    pub path: String,
    /// Documents on a page each.
    pub documents: usize,
    pub pages: usize,
    pub bytes: u64,
    /// Documents with no image to show (a scanned PDF): not in this file.
    pub skipped: Vec<String>,
}

/// Writes `bytes` to `out` beside it first and renamed, so a reader never sees half a file;
/// readable by this account only, as exports are (it is a patient's image). A partial file an
/// interrupted run left is replaced.
fn write_new_file(out: &Path, bytes: &[u8]) -> Result<(), AppError> {
    let tmp = out.with_file_name(format!(".{}.partial", out.file_name().and_then(|n| n.to_str()).unwrap_or("render")));
    let _ = std::fs::remove_file(&tmp);
    chairside_store::private::write_new(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, out)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        AppError::Media(chairside_media::MediaError::Io { context: format!("writing {}", out.display()), source: e })
    })
}

/// The largest image `render` writes (a print at 300 dpi is smaller).
const MAX_RENDER_EDGE: u32 = 8192;
/// The long edge of a printed image (the page's width at 150 dpi, less its margins).
const PRINT_EDGE: u32 = 1600;
/// The most pages one PDF export writes (a referral, not an archive: the ZIP is for that).
const MAX_PDF_PAGES: usize = 500;

/// A frame saved from a video (`save_video_frame`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct SavedFrame {
    /// The new photo (or the one saved before from the same frame).
    pub document_id: String,
    pub video_id: String,
    pub at_s: f64,
    pub width: u32,
    pub height: u32,
    /// False when the same frame had been saved already: the existing photo is returned.
    pub new: bool,
}

impl Library {
    /// Where a video document plays from (its original, or its H.264 proxy), for the viewer's
    /// player; `audit` on the request that starts playback.
    pub fn video_file(&self, id: &str, audit: bool) -> Result<chairside_media::VideoFile, AppError> {
        let actor = self.allow(Permission::ViewImages)?;
        Ok(self.media.video_file(&actor, id, audit)?)
    }

    /// "Save this frame as a photo": the video's frame at `at_s` seconds, full size, becomes a
    /// new document of the same patient and kind, linked to the video (role `frame`), taken
    /// at the video's capture time plus `at_s`. The video itself is not touched.
    pub fn save_video_frame(&self, video_id: &str, at_s: f64) -> Result<SavedFrame, AppError> {
        let actor = self.allow(Permission::Acquire)?;
        let video = self.media.get(video_id)?;
        let frame = self.media.video_frame(video_id, at_s)?;
        let (width, height) = frame.dimensions();
        let jpeg = chairside_media::render::encode(&frame, false)?;
        self.check_free_space(jpeg.len() as u64)?;
        let dir = self.data_dir.join("tmp");
        chairside_store::private::create_dir_all(&dir)
            .map_err(|source| AppError::DataDir { path: dir.clone(), source })?;
        let stem = format!(
            "{}-{:.3}s",
            video
                .summary
                .original_filename
                .as_deref()
                .and_then(|n| Path::new(n).file_stem())
                .and_then(|s| s.to_str())
                .unwrap_or("video"),
            at_s
        );
        let path = dir.join(format!("{}-{stem}.jpg", chairside_store::new_id()));
        let written = chairside_store::private::write_new(&path, &jpeg).and_then(|()| {
            // The photo is dated when its frame was filmed (import reads the file's time).
            let taken = video
                .summary
                .captured_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| std::time::SystemTime::from(t) + std::time::Duration::from_secs_f64(at_s));
            match taken {
                Some(t) => std::fs::File::options().write(true).open(&path)?.set_modified(t),
                None => Ok(()),
            }
        });
        let imported = written.map_err(|source| AppError::DataDir { path: path.clone(), source }).and_then(|()| {
            let req = chairside_media::ImportRequest {
                patient_id: &video.patient_id,
                path: &path,
                kind: Some(video.summary.kind),
                source: "video-frame",
                scanner: None,
            };
            Ok(self.media.import(&actor, &req)?)
        });
        let _ = std::fs::remove_file(&path);
        let outcome = imported?;
        self.media.link(
            &actor,
            &outcome.document_id,
            chairside_media::DOCUMENT_OWNER_TYPE,
            video_id,
            Some(chairside_media::FRAME_ROLE),
        )?;
        Ok(SavedFrame {
            document_id: outcome.document_id,
            video_id: video_id.to_string(),
            at_s,
            width,
            height,
            new: outcome.status == chairside_media::ImportStatus::Imported,
        })
    }

    pub fn adjust(&self, id: &str, change: &AdjustChange) -> Result<Adjusted, AppError> {
        let actor = self.allow(Permission::Adjust)?;
        Ok(self.media.adjust(&actor, id, change)?)
    }

    pub fn adjust_presets(&self) -> Result<Vec<Preset>, AppError> {
        self.allow(Permission::ViewImages)?;
        Ok(self.media.presets()?)
    }

    /// Adds a clinic preset (this workstation's settings).
    pub fn save_adjust_preset(&self, preset: &Preset) -> Result<(), AppError> {
        let actor = self.allow(Permission::Configure)?;
        Ok(self.media.save_preset(&actor, preset)?)
    }

    pub fn annotate(&self, id: &str, items: &[AnnotationInput]) -> Result<Vec<Annotation>, AppError> {
        let actor = self.allow(Permission::Adjust)?;
        Ok(self.media.annotate(&actor, id, items)?)
    }

    pub fn remove_annotation(&self, id: &str, annotation_id: &str) -> Result<(), AppError> {
        let actor = self.allow(Permission::Adjust)?;
        Ok(self.media.remove_annotation(&actor, id, annotation_id)?)
    }

    pub fn annotations(&self, id: &str) -> Result<Vec<Annotation>, AppError> {
        self.allow(Permission::ViewImages)?;
        Ok(self.media.annotations(id)?)
    }

    /// Calibrates a document from a line `from`–`to` over something `mm` long; `None` clears.
    pub fn calibrate(&self, id: &str, line: Option<([f64; 2], [f64; 2], f64)>) -> Result<Calibration, AppError> {
        let actor = self.allow(Permission::Adjust)?;
        Ok(self.media.calibrate(&actor, id, line)?)
    }

    pub fn calibration(&self, id: &str) -> Result<Calibration, AppError> {
        self.allow(Permission::ViewImages)?;
        Ok(self.media.calibration(id)?)
    }

    /// Moves documents to another patient, all or none: a mistyped id or an archived document
    /// among them changes nothing.
    pub fn move_documents(&self, ids: &[String], to_patient: &str, reason: &str) -> Result<Vec<Moved>, AppError> {
        let actor = self.allow(Permission::Move)?;
        Ok(self.media.move_to(&actor, ids, to_patient, reason)?)
    }

    /// Writes a document as adjusted (with its annotations when asked) to `out`: PNG, JPEG,
    /// or a PDF page headed with the clinic, the patient, the chart number, the date and the
    /// teeth. Audited as an export.
    pub fn render_document(
        &self,
        id: &str,
        out: &Path,
        annotations: bool,
        size: Option<u32>,
    ) -> Result<Rendered, AppError> {
        let actor = self.allow(Permission::Export)?;
        let format = RenderFormat::of_path(out)?;
        let long_edge = size.unwrap_or(MAX_RENDER_EDGE).clamp(16, MAX_RENDER_EDGE);
        // A page is printed at 150 dpi: a small sensor image is enlarged to fill it before its
        // labels are drawn, so they print sharp.
        let (long_edge, enlarge) = match (format, size) {
            (RenderFormat::Pdf, None) => (PRINT_EDGE, true),
            _ => (long_edge, false),
        };
        let image = self.media.render(
            id,
            RenderOptions { long_edge: Some(long_edge), annotations, original: false, enlarge, frame: 0 },
        )?;
        let header = if format == RenderFormat::Pdf { self.print_header(&[id.to_string()])? } else { Vec::new() };
        let rendered = self.write_rendered(&image, format, &header, out)?;
        self.db.write(|tx| {
            chairside_audit::append(
                tx,
                &actor,
                "export",
                "document",
                Some(id),
                json!({"render": out.display().to_string(), "annotations": annotations}),
            )
        })?;
        Ok(rendered)
    }

    /// A patient's documents (all active ones, oldest first, or `documents` in that order) as
    /// one PDF, a page each: the image as adjusted and annotated under its header (clinic,
    /// patient, chart number, date, teeth). A document with no image to show (a scanned PDF)
    /// is listed in `skipped`. Never overwrites; audited as an export of each document.
    pub fn export_pdf(&self, patient_id: &str, documents: &[String], out: &Path) -> Result<PdfExport, AppError> {
        let actor = self.allow(Permission::Export)?;
        self.patient(patient_id)?;
        if out.exists() {
            return Err(chairside_media::MediaError::ExportTargetExists(out.display().to_string()).into());
        }
        let ids: Vec<String> = if documents.is_empty() {
            let mut all = self.media.list(patient_id, StatusFilter::Active)?;
            all.reverse();
            all.into_iter().map(|d| d.id).collect()
        } else {
            for id in documents {
                if self.media.get(id)?.patient_id != patient_id {
                    return Err(chairside_media::MediaError::DocumentNotFound(id.clone()).into());
                }
            }
            documents.to_vec()
        };
        // Every page is held (as its JPEG, ~0.3 MB) until the file is written: bounded.
        if ids.len() > MAX_PDF_PAGES {
            return Err(AppError::InvalidInput(format!(
                "{} documents is more than one PDF holds ({MAX_PDF_PAGES} pages): choose the documents to send",
                ids.len()
            )));
        }
        let mut pages = Vec::new();
        let mut skipped = Vec::new();
        for id in &ids {
            let doc = self.media.get(id)?;
            if doc.summary.width.is_none() || doc.summary.mime == "application/pdf" {
                skipped.push(id.clone());
                continue;
            }
            let options = RenderOptions {
                long_edge: Some(PRINT_EDGE),
                annotations: true,
                original: false,
                enlarge: true,
                frame: 0,
            };
            let image = self.media.render(id, options)?;
            pages.push(chairside_media::render::page(&image, &self.print_header(std::slice::from_ref(id))?)?);
        }
        if pages.is_empty() {
            return Err(AppError::InvalidInput("none of these documents has an image to put on a page".into()));
        }
        let page_count = pages.len();
        let bytes = chairside_media::render::pdf_of_pages(pages)?;
        write_new_file(out, &bytes)?;
        let printed: Vec<&String> = ids.iter().filter(|id| !skipped.contains(id)).collect();
        self.db.write(|tx| {
            for id in &printed {
                chairside_audit::append(
                    tx,
                    &actor,
                    "export",
                    "document",
                    Some(id.as_str()),
                    json!({"pdf": out.display().to_string(), "patient_id": patient_id}),
                )?;
            }
            Ok::<_, AppError>(())
        })?;
        Ok(PdfExport {
            path: out.display().to_string(),
            documents: printed.len(),
            pages: page_count,
            bytes: bytes.len() as u64,
            skipped,
        })
    }

    /// Writes a mount (a series' slots in its grid, each as adjusted) as one image or a PDF
    /// page. Audited as an export of the series and of each document in it.
    pub fn render_series(&self, series_id: &str, out: &Path, annotations: bool) -> Result<Rendered, AppError> {
        let actor = self.allow(Permission::Export)?;
        let format = RenderFormat::of_path(out)?;
        let view = self.series_view(series_id)?;
        let template = &view.series.template;
        let (cols, rows) = (template.columns.max(1) as usize, template.rows.max(1) as usize);
        let mut cells: Vec<Option<RgbImage>> = vec![None; cols * rows];
        let mut docs = Vec::new();
        for slot in &view.slots {
            let place = slot.slot.row as usize * cols + slot.slot.col as usize;
            let Some(doc) = &slot.document_id else { continue };
            let image = self.media.render(
                doc,
                RenderOptions { long_edge: Some(1024), annotations, original: false, enlarge: true, frame: 0 },
            )?;
            // The slot's own turn (a mount shows an upper occlusal upside down, as seen).
            let image = chairside_media::render::turn(image, slot.slot.rotation);
            if let Some(cell) = cells.get_mut(place) {
                *cell = Some(image);
            }
            docs.push(doc.clone());
        }
        if docs.is_empty() {
            return Err(AppError::InvalidInput("this series has no image to print yet".into()));
        }
        let grid = chairside_media::render::grid(&cells, cols as u32, 1024);
        let header = if format == RenderFormat::Pdf {
            let mut h = self.print_header(&docs)?;
            h.insert(1, format!("{} — {}", template.name, view.series.title));
            h
        } else {
            Vec::new()
        };
        let rendered = self.write_rendered(&grid, format, &header, out)?;
        self.db.write(|tx| {
            chairside_audit::append(
                tx,
                &actor,
                "export",
                "series",
                Some(series_id),
                json!({"render": out.display().to_string(), "documents": docs}),
            )?;
            for d in &docs {
                chairside_audit::append(tx, &actor, "export", "document", Some(d), json!({"series": series_id}))?;
            }
            Ok::<_, AppError>(())
        })?;
        Ok(rendered)
    }

    /// The document as the viewer shows it: adjusted (or, with `original`, as it is), without
    /// annotations (the viewer draws those as a layer), as a JPEG whose long edge is at most
    /// `long_edge`; `frame` of a multi-frame DICOM, or page of a PDF or TIFF. Audited as a view.
    pub fn view_adjusted(&self, id: &str, long_edge: u32, original: bool, frame: u32) -> Result<Vec<u8>, AppError> {
        let actor = self.allow(Permission::ViewImages)?;
        let image = self.media.render(
            id,
            RenderOptions {
                long_edge: Some(long_edge.clamp(16, MAX_RENDER_EDGE)),
                annotations: false,
                original,
                enlarge: false,
                frame,
            },
        )?;
        let jpeg = chairside_media::render::encode(&image, false)?;
        self.audit_frame_view(&actor, id, frame, json!({"adjusted": !original, "size": long_edge, "frame": frame}))?;
        Ok(jpeg)
    }

    /// A grey image's values at full depth through its geometry (see
    /// [`chairside_media::render::GreyView`], encoded), for windowing live in the viewer;
    /// `None` for a colour image. Audited as a view, as the adjusted rendition is.
    pub fn view_grey(&self, id: &str, long_edge: u32, frame: u32) -> Result<Option<Vec<u8>>, AppError> {
        let actor = self.allow(Permission::ViewImages)?;
        // The pane's size at most: 4096² samples are 32 MB over IPC.
        let Some(view) = self.media.grey_view(id, long_edge.clamp(16, 4096), frame)? else { return Ok(None) };
        self.audit_frame_view(&actor, id, frame, json!({"grey": true, "size": long_edge, "frame": frame}))?;
        Ok(Some(view.encode()))
    }

    /// The header of a printed page: clinic; patient and chart number; date; teeth.
    fn print_header(&self, docs: &[String]) -> Result<Vec<String>, AppError> {
        let first = self.media.get(&docs[0])?;
        let patient = self.patient(&first.patient_id)?;
        let clinic = self
            .db
            .read(|c| chairside_patients::clinic_name(c, &patient.clinic_id))?
            .unwrap_or_else(|| "Chairside".to_string());
        let notation = self.tooth_notation()?;
        let mut teeth = Vec::new();
        let mut dates = Vec::new();
        for id in docs {
            let doc = self.media.get(id)?;
            if let Some(t) = doc.summary.teeth.as_deref().and_then(|t| Teeth::from_canonical(t).ok()) {
                let shown = t.format(notation, ", ");
                if !teeth.contains(&shown) {
                    teeth.push(shown);
                }
            }
            if let Some(d) = doc.summary.captured_at.as_deref().and_then(|d| d.get(0..10)) {
                dates.push(d.to_string());
            }
        }
        dates.sort();
        dates.dedup();
        let chart = patient.external_id.as_deref().map(|c| format!(" · chart {c}")).unwrap_or_default();
        let birth = patient.birth_date.as_deref().map(|b| format!(" · born {b}")).unwrap_or_default();
        let date = match (dates.first(), dates.last()) {
            (Some(a), Some(b)) if a != b => format!("Taken {a} to {b}"),
            (Some(a), _) => format!("Taken {a}"),
            _ => "Date not recorded".to_string(),
        };
        let teeth =
            if teeth.is_empty() { "Teeth: not recorded".to_string() } else { format!("Teeth: {}", teeth.join("; ")) };
        let printed = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
        Ok(vec![
            clinic,
            format!("{}{chart}{birth}", patient.name),
            format!("{date} · printed {printed} by {}", self.actor().user),
            teeth,
        ])
    }

    fn write_rendered(
        &self,
        image: &RgbImage,
        format: RenderFormat,
        header: &[String],
        out: &Path,
    ) -> Result<Rendered, AppError> {
        let bytes = match format {
            RenderFormat::Png => chairside_media::render::encode(image, true)?,
            RenderFormat::Jpeg => chairside_media::render::encode(image, false)?,
            RenderFormat::Pdf => chairside_media::render::pdf_page(image, header)?,
        };
        write_new_file(out, &bytes)?;
        Ok(Rendered {
            path: out.display().to_string(),
            width: image.width(),
            height: image.height(),
            bytes: bytes.len() as u64,
        })
    }
}
