//! Series and mounts in the library: templates (teeth read in the clinic's notation), series
//! whose slots are filled by placing documents, and the capture session — the series this
//! workstation is filling now, whose next empty slot takes each new capture (from the camera,
//! the inbox or an import).

use std::path::PathBuf;

use std::str::FromStr;

use chairside_media::{DocumentPatch, Kind};
use chairside_series::{NewTemplate, Series, Slot, Template, slot_of_role, slot_role};
use serde::Serialize;

use chairside_store::Actor;

use crate::{AppError, FileResult, Library, Permission};

const CAPTURE_SERIES: &str = "capture_series_id";

/// One slot of a series as filled now.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SlotView {
    /// From 0, in capture order.
    pub index: u32,
    pub slot: Slot,
    pub document_id: Option<String>,
    /// That document's version: its thumbnails change with its adjustments, and a window
    /// that shows the mount asks for them anew when it moves on.
    pub document_version: Option<i64>,
    /// Documents this slot held before retakes, oldest first (still in the gallery).
    pub earlier: Vec<String>,
}

/// A series with its slots.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeriesView {
    pub series: Series,
    pub slots: Vec<SlotView>,
    /// The first empty slot, in capture order; none when the series is complete.
    pub next: Option<u32>,
}

/// A still from the camera, taken in.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CaptureOutcome {
    pub file: FileResult,
    /// The slot of the capture session it was placed in.
    pub slot: Option<u32>,
}

impl Library {
    pub fn series_templates(&self) -> Result<Vec<Template>, AppError> {
        self.signed_in()?;
        Ok(self.db.read(|c| chairside_series::templates(c, &self.clinic_id()))?)
    }

    /// Adds a clinic template; each slot's teeth are read in the clinic's notation.
    pub fn add_series_template(&self, new: &NewTemplate) -> Result<Template, AppError> {
        let actor = self.allow(Permission::Configure)?;
        let mut new = new.clone();
        for s in &mut new.slots {
            Kind::from_str(&s.kind)?;
            s.teeth = match s.teeth.as_deref().filter(|t| !t.trim().is_empty()) {
                Some(t) => Some(self.parse_teeth(t, None)?.canonical()).filter(|c| !c.is_empty()),
                None => None,
            };
        }
        Ok(self.db.write(|tx| chairside_series::add_template(tx, &actor, &self.clinic_id(), &new))?)
    }

    pub fn start_series(
        &self,
        patient_id: &str,
        template_id: &str,
        title: Option<&str>,
    ) -> Result<SeriesView, AppError> {
        let actor = self.allow(Permission::Acquire)?;
        let s = self.db.write(|tx| chairside_series::start(tx, &actor, patient_id, template_id, title))?;
        self.series_view_of(&s.id)
    }

    pub fn series_view(&self, id: &str) -> Result<SeriesView, AppError> {
        self.allow(Permission::ViewImages)?;
        self.series_view_of(id)
    }

    fn series_view_of(&self, id: &str) -> Result<SeriesView, AppError> {
        let series = self.db.read(|c| chairside_series::get(c, id))?;
        let live = self.media.links_for_owner(chairside_series::OWNER_TYPE, id)?;
        let ended = self.media.ended_links_for_owner(chairside_series::OWNER_TYPE, id)?;
        let mut slots: Vec<SlotView> = series
            .template
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| SlotView {
                index: i as u32,
                slot: slot.clone(),
                document_id: None,
                document_version: None,
                earlier: Vec::new(),
            })
            .collect();
        for a in &live {
            if let Some(v) = a.role.as_deref().and_then(slot_of_role).and_then(|i| slots.get_mut(i)) {
                v.document_id = Some(a.document_id.clone());
                v.document_version = Some(self.media.get(&a.document_id)?.summary.version);
            }
        }
        for a in &ended {
            if let Some(v) = a.role.as_deref().and_then(slot_of_role).and_then(|i| slots.get_mut(i))
                && v.document_id.as_deref() != Some(a.document_id.as_str())
                && !v.earlier.contains(&a.document_id)
            {
                v.earlier.push(a.document_id.clone());
            }
        }
        let next = slots.iter().find(|s| s.document_id.is_none()).map(|s| s.index);
        Ok(SeriesView { series, slots, next })
    }

    /// A patient's series, newest first.
    pub fn list_series(&self, patient_id: &str) -> Result<Vec<SeriesView>, AppError> {
        self.allow(Permission::ViewImages)?;
        self.patient(patient_id)?;
        let all = self.db.read(|c| chairside_series::list(c, patient_id))?;
        all.iter().map(|s| self.series_view_of(&s.id)).collect()
    }

    /// Puts a document in slot `index` (from 0). A document already there is unmounted (a
    /// retake): it stays in the gallery and in the link history. The document takes the slot's
    /// kind, and its default teeth when it has none.
    pub fn place_in_series(&self, series_id: &str, index: usize, document_id: &str) -> Result<SeriesView, AppError> {
        let actor = self.allow(Permission::EditMetadata)?;
        self.place_as(&actor, series_id, index, document_id)
    }

    fn place_as(
        &self,
        actor: &Actor,
        series_id: &str,
        index: usize,
        document_id: &str,
    ) -> Result<SeriesView, AppError> {
        let series = self.db.read(|c| chairside_series::get(c, series_id))?;
        let count = series.template.slots.len();
        let slot = series
            .template
            .slots
            .get(index)
            .ok_or(chairside_series::SeriesError::NoSuchSlot { slot: index + 1, count })?;
        let doc = self.media.get(document_id)?;
        let patch = DocumentPatch {
            kind: Some(Kind::from_str(&slot.kind)?),
            teeth: if doc.summary.teeth.is_none() { slot.teeth.clone() } else { None },
            ..Default::default()
        };
        self.media.link_exclusive_and_update(
            actor,
            (chairside_series::OWNER_TYPE, series_id, &slot_role(index)),
            document_id,
            &patch,
        )?;
        self.series_view_of(series_id)
    }

    /// Places a document in the series' first empty slot; `None` when the series is complete.
    pub fn fill_next(&self, series_id: &str, document_id: &str) -> Result<Option<u32>, AppError> {
        let actor = self.allow(Permission::Acquire)?;
        let view = self.series_view_of(series_id)?;
        // Already mounted in this series (the same photo taken in twice): where it is.
        if let Some(s) = view.slots.iter().find(|s| s.document_id.as_deref() == Some(document_id)) {
            return Ok(Some(s.index));
        }
        let Some(next) = view.next else { return Ok(None) };
        self.place_as(&actor, series_id, next as usize, document_id)?;
        Ok(Some(next))
    }

    // --- the capture session ---

    /// Starts a series for a patient and makes it this workstation's capture session (and the
    /// patient the one in the chair): new captures fill its slots in order.
    pub fn start_capture(
        &self,
        patient_id: &str,
        template_id: &str,
        title: Option<&str>,
    ) -> Result<SeriesView, AppError> {
        let view = self.start_series(patient_id, template_id, title)?;
        self.set_active_patient(Some(patient_id))?;
        self.resume_capture(Some(&view.series.id))?;
        Ok(view)
    }

    /// Makes `series_id` the capture session again (or, with `None`, ends the session).
    pub fn resume_capture(&self, series_id: Option<&str>) -> Result<Option<SeriesView>, AppError> {
        self.allow(Permission::Acquire)?;
        let view = series_id.map(|id| self.series_view_of(id)).transpose()?;
        self.db.write(|tx| chairside_store::set_setting(tx, CAPTURE_SERIES, series_id.unwrap_or("")))?;
        Ok(view)
    }

    /// The series being filled at this workstation, if any — only while its patient is the one
    /// in the chair.
    pub fn capture_session(&self) -> Result<Option<SeriesView>, AppError> {
        self.signed_in()?;
        let id = self.db.read(|c| chairside_store::get_setting(c, CAPTURE_SERIES))?;
        let Some(id) = id.filter(|s| !s.is_empty()) else { return Ok(None) };
        let view = self.series_view_of(&id)?;
        let active = self.active_patient()?.map(|p| p.id);
        Ok((active.as_deref() == Some(view.series.patient_id.as_str())).then_some(view))
    }

    /// A still from the camera: imported into the patient in the chair (as the capture slot's
    /// kind, else intraoral) and placed in the capture session's next slot.
    pub fn capture_still(&self, jpeg: &[u8]) -> Result<CaptureOutcome, AppError> {
        let patient = self.active_patient()?.ok_or_else(|| {
            AppError::InvalidInput("nobody is in the chair: choose the patient first, then capture".into())
        })?;
        let session = self.capture_session()?;
        let kind = session
            .as_ref()
            .and_then(|s| s.next.and_then(|n| s.slots.get(n as usize)))
            .and_then(|s| Kind::from_str(&s.slot.kind).ok())
            .unwrap_or(Kind::Intraoral);
        // Import reads files: the still is written beside the library first (same disk, so
        // the blob store's rename stays atomic), then that working copy is removed.
        let dir = self.data_dir.join("tmp");
        chairside_store::private::create_dir_all(&dir)
            .map_err(|source| AppError::DataDir { path: dir.clone(), source })?;
        let path: PathBuf = dir.join(format!("capture-{}.jpg", chairside_store::new_id()));
        chairside_store::private::write_new(&path, jpeg)
            .map_err(|source| AppError::DataDir { path: path.clone(), source })?;
        let result = self.import_paths(&patient.id, std::slice::from_ref(&path), Some(kind), "camera", &|_| {});
        let _ = std::fs::remove_file(&path);
        let file = result?.into_iter().next().ok_or_else(|| AppError::InvalidInput("the still was empty".into()))?;
        let slot = match (&session, &file.document_id) {
            (Some(s), Some(doc)) => self.fill_next(&s.series.id, doc)?,
            _ => None,
        };
        Ok(CaptureOutcome { file, slot })
    }
}
