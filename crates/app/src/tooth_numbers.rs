//! Tooth numbers in the library: stored canonically (FDI codes, `"16,26"`), read and shown in
//! the clinic's notation (a setting of the library).

use std::str::FromStr;

use chairside_media::{DocumentPatch, DocumentSummary, Transition};
use chairside_teeth::{Notation, Teeth, Tooth};
use serde::Serialize;
use serde_json::json;

use crate::{AppError, Library, Permission};

const NOTATION: &str = "tooth_notation";

/// One tooth as the UI's chart shows it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToothLabel {
    /// The stored FDI code.
    pub fdi: u8,
    /// As written in the requested notation.
    pub label: String,
    /// 1 upper right, 2 upper left, 3 lower left, 4 lower right (the patient's sides).
    pub quadrant: u8,
    pub position: u8,
    pub primary: bool,
}

impl Library {
    /// The clinic's notation for tooth numbers (FDI unless chosen otherwise).
    pub fn tooth_notation(&self) -> Result<Notation, AppError> {
        let stored = self.db.read(|c| chairside_store::get_setting(c, NOTATION))?;
        Ok(stored.and_then(|s| Notation::from_str(&s).ok()).unwrap_or_default())
    }

    pub fn set_tooth_notation(&self, notation: Notation) -> Result<(), AppError> {
        let actor = self.allow(Permission::Configure)?;
        self.db.write(|tx| {
            chairside_store::set_setting(tx, NOTATION, notation.as_str())?;
            chairside_audit::append(
                tx,
                &actor,
                "tooth_notation_set",
                "clinic",
                Some(&self.clinic_id()),
                json!({"notation": notation.as_str()}),
            )?;
            Ok::<_, AppError>(())
        })
    }

    /// Reads teeth written in `notation` (else the clinic's): `"UR6, UL6"`, `"3 14"`, `"16;26"`.
    pub fn parse_teeth(&self, text: &str, notation: Option<Notation>) -> Result<Teeth, AppError> {
        let notation = match notation {
            Some(n) => n,
            None => self.tooth_notation()?,
        };
        Ok(Teeth::parse(text, notation)?)
    }

    /// Changes a document's kind, notes, teeth or captured time. Teeth are read in `notation`
    /// (else the clinic's) and stored canonically; an empty text clears them.
    pub fn update_document_in(
        &self,
        id: &str,
        patch: &DocumentPatch,
        notation: Option<Notation>,
    ) -> Result<Transition, AppError> {
        let actor = self.allow(Permission::EditMetadata)?;
        let mut patch = patch.clone();
        if let Some(text) = &patch.teeth {
            patch.teeth = Some(self.parse_teeth(text, notation)?.canonical());
        }
        Ok(self.media.update(&actor, id, &patch)?)
    }

    /// Every tooth of the chart, labelled in `notation` (else the clinic's).
    pub fn tooth_chart(&self, notation: Option<Notation>) -> Result<Vec<ToothLabel>, AppError> {
        let notation = match notation {
            Some(n) => n,
            None => self.tooth_notation()?,
        };
        Ok(Tooth::all()
            .map(|t| ToothLabel {
                fdi: t.fdi(),
                label: t.format(notation),
                quadrant: t.quadrant(),
                position: t.position(),
                primary: t.is_primary(),
            })
            .collect())
    }
}

/// Whether a document is tagged with `tooth`. Stored values are canonical; one that is not
/// (written before teeth were checked) matches nothing rather than failing the listing.
pub fn shows_tooth(doc: &DocumentSummary, tooth: Tooth) -> bool {
    doc.teeth.as_deref().and_then(|t| Teeth::from_canonical(t).ok()).is_some_and(|t| t.as_slice().contains(&tooth))
}
