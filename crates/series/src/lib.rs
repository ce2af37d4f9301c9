//! Photo series and X-ray mounts: templates of ordered slots (the ABO 8-view orthodontic series,
//! a full-mouth series of 18, 4 bitewings, a before/after pair, and a clinic's own), and series —
//! one filling of a template for a patient. Registers the `series` attachment owner type: the
//! document in slot N is linked with role `slot-N`, so a retake ends the earlier link and the
//! earlier image stays where it always was, in the gallery.
//!
//! Kinds and teeth are plain strings here (media's kinds, FDI codes); the app checks them.

use chairside_owner::{OwnerResolver, OwnerScope};
use chairside_store::{Actor, StoreError, rusqlite};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The tables this crate owns: its code is the only code whose SQL names them, the others call
/// its API (`tests/architecture.rs` holds the rule).
pub const TABLES: &[&str] = &["series_templates", "series"];

/// Its tables that replicate between workstations (sync applies them from this declaration).
/// The JSON columns carry a `_json` suffix the change fields do not.
pub const REPLICATED: &[chairside_store::replicated::Replicated] = &[
    chairside_store::replicated::Replicated {
        entity_type: "series_template",
        table: "series_templates",
        renamed: &[("slots", "slots_json")],
        parents: &["clinic"],
        blob_field: None,
        hooks: None,
    },
    chairside_store::replicated::Replicated {
        entity_type: "series",
        table: "series",
        renamed: &[("template", "template_json")],
        parents: &["clinic", "patient"],
        blob_field: None,
        hooks: None,
    },
];

pub const OWNER_TYPE: &str = "series";

#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    #[error("no series with id {0}")]
    NotFound(String),
    #[error("no series template “{0}”")]
    TemplateNotFound(String),
    #[error(transparent)]
    Patient(#[from] chairside_patients::PatientError),
    #[error("slot {slot} does not exist: this series has slots 1 to {count}")]
    NoSuchSlot { slot: usize, count: usize },
    #[error("invalid template: {0}")]
    InvalidTemplate(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl chairside_store::ErrorCode for SeriesError {
    fn code(&self) -> &'static str {
        match self {
            SeriesError::NotFound(_) => "series_not_found",
            SeriesError::TemplateNotFound(_) => "template_not_found",
            SeriesError::Patient(e) => e.code(),
            SeriesError::NoSuchSlot { .. } | SeriesError::InvalidTemplate(_) => "invalid_input",
            SeriesError::Store(e) => e.code(),
        }
    }
    fn is_invalid_input(&self) -> bool {
        match self {
            SeriesError::Store(_) => false,
            SeriesError::Patient(e) => e.is_invalid_input(),
            _ => true,
        }
    }
    fn remedy(&self) -> Option<chairside_store::Remedy> {
        match self {
            SeriesError::Patient(e) => e.remedy(),
            SeriesError::TemplateNotFound(_) => Some(chairside_store::Remedy::ListSeriesTemplates),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for SeriesError {
    fn from(e: rusqlite::Error) -> Self {
        SeriesError::Store(e.into())
    }
}

/// One place of a template.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub name: String,
    /// The kind its image gets: intraoral, extraoral, xray, document or other.
    pub kind: String,
    /// FDI codes, `"16,17"`, given to the image when it has none.
    #[serde(default)]
    pub teeth: Option<String>,
    /// Clockwise degrees (0, 90, 180, 270) the image is turned in the mount.
    #[serde(default)]
    pub rotation: u16,
    /// Place in the mount's grid, from 0.
    pub row: u8,
    pub col: u8,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub columns: u8,
    pub rows: u8,
    /// In capture order.
    pub slots: Vec<Slot>,
    #[serde(default)]
    pub builtin: bool,
}

/// A series as started: its template copied in.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub id: String,
    pub patient_id: String,
    pub template: Template,
    pub title: String,
    pub started_at: String,
    pub created_by: String,
}

/// The role of slot `index` (from 0) in attachments: `slot-1`, `slot-2`…
pub fn slot_role(index: usize) -> String {
    format!("slot-{}", index + 1)
}

/// The slot index (from 0) a role names.
pub fn slot_of_role(role: &str) -> Option<usize> {
    role.strip_prefix("slot-")?.parse::<usize>().ok()?.checked_sub(1)
}

fn slot(name: &str, kind: &str, teeth: &str, row: u8, col: u8) -> Slot {
    Slot {
        name: name.into(),
        kind: kind.into(),
        teeth: (!teeth.is_empty()).then(|| teeth.into()),
        rotation: 0,
        row,
        col,
    }
}

fn bitewings(row: u8, cols: [u8; 4]) -> Vec<Slot> {
    vec![
        slot("Right molar bitewing", "xray", "16,17,46,47", row, cols[0]),
        slot("Right premolar bitewing", "xray", "14,15,44,45", row, cols[1]),
        slot("Left premolar bitewing", "xray", "24,25,34,35", row, cols[2]),
        slot("Left molar bitewing", "xray", "26,27,36,37", row, cols[3]),
    ]
}

/// The templates every clinic has. Mounts are laid out as seen facing the patient (their right
/// on the viewer's left), maxilla on top.
pub fn builtin_templates() -> Vec<Template> {
    let abo = vec![
        slot("Right profile", "extraoral", "", 0, 0),
        slot("Frontal at rest", "extraoral", "", 0, 1),
        slot("Frontal smiling", "extraoral", "", 0, 2),
        slot("Frontal in occlusion", "intraoral", "11,12,13,21,22,23,31,32,33,41,42,43", 1, 1),
        slot("Right buccal", "intraoral", "13,14,15,16,17,43,44,45,46,47", 1, 0),
        slot("Left buccal", "intraoral", "23,24,25,26,27,33,34,35,36,37", 1, 2),
        slot("Maxillary occlusal", "intraoral", "11,12,13,14,15,16,17,21,22,23,24,25,26,27", 2, 0),
        slot("Mandibular occlusal", "intraoral", "31,32,33,34,35,36,37,41,42,43,44,45,46,47", 2, 2),
    ];
    let mut fmx = bitewings(1, [0, 1, 5, 6]);
    fmx.extend([
        slot("Upper right molar periapical", "xray", "16,17,18", 0, 0),
        slot("Upper right premolar periapical", "xray", "14,15", 0, 1),
        slot("Upper left premolar periapical", "xray", "24,25", 0, 5),
        slot("Upper left molar periapical", "xray", "26,27,28", 0, 6),
        slot("Lower left molar periapical", "xray", "36,37,38", 2, 6),
        slot("Lower left premolar periapical", "xray", "34,35", 2, 5),
        slot("Lower right premolar periapical", "xray", "44,45", 2, 1),
        slot("Lower right molar periapical", "xray", "46,47,48", 2, 0),
        slot("Upper right canine periapical", "xray", "13", 0, 2),
        slot("Upper central incisors periapical", "xray", "11,12,21,22", 0, 3),
        slot("Upper left canine periapical", "xray", "23", 0, 4),
        slot("Lower left canine periapical", "xray", "33", 2, 4),
        slot("Lower central incisors periapical", "xray", "31,32,41,42", 2, 3),
        slot("Lower right canine periapical", "xray", "43", 2, 2),
    ]);
    vec![
        Template {
            id: "abo-8".into(),
            name: "Orthodontic records (ABO 8 views)".into(),
            columns: 3,
            rows: 3,
            slots: abo,
            builtin: true,
        },
        Template {
            id: "fmx-18".into(),
            name: "Full-mouth X-rays (18)".into(),
            columns: 7,
            rows: 3,
            slots: fmx,
            builtin: true,
        },
        Template {
            id: "bitewings-4".into(),
            name: "Bitewings (4)".into(),
            columns: 4,
            rows: 1,
            slots: bitewings(0, [0, 1, 2, 3]),
            builtin: true,
        },
        Template {
            id: "compare-2".into(),
            name: "Before / after (2)".into(),
            columns: 2,
            rows: 1,
            slots: vec![slot("Before", "intraoral", "", 0, 0), slot("After", "intraoral", "", 0, 1)],
            builtin: true,
        },
    ]
}

const KINDS: [&str; 5] = ["intraoral", "extraoral", "xray", "document", "other"];

/// What a clinic's own template is made of.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Deserialize)]
pub struct NewTemplate {
    pub name: String,
    pub columns: u8,
    pub rows: u8,
    pub slots: Vec<Slot>,
}

fn check(t: &NewTemplate) -> Result<(), SeriesError> {
    let bad = |m: String| Err(SeriesError::InvalidTemplate(m));
    if t.name.trim().is_empty() {
        return bad("the name is empty".into());
    }
    if !(1..=12).contains(&t.columns) || !(1..=12).contains(&t.rows) {
        return bad("a mount has 1 to 12 columns and 1 to 12 rows".into());
    }
    if t.slots.is_empty() || t.slots.len() > 64 {
        return bad("a template has 1 to 64 slots".into());
    }
    let mut places = std::collections::HashSet::new();
    for (i, s) in t.slots.iter().enumerate() {
        let n = i + 1;
        if s.name.trim().is_empty() {
            return bad(format!("slot {n} has no name"));
        }
        if !KINDS.contains(&s.kind.as_str()) {
            return bad(format!("slot {n}: kind must be one of {}", KINDS.join(", ")));
        }
        if ![0, 90, 180, 270].contains(&s.rotation) {
            return bad(format!("slot {n}: rotation must be 0, 90, 180 or 270"));
        }
        if s.row >= t.rows || s.col >= t.columns {
            return bad(format!("slot {n} is outside the {} × {} mount", t.columns, t.rows));
        }
        if !places.insert((s.row, s.col)) {
            return bad(format!("slot {n} shares its place in the mount with another slot"));
        }
    }
    Ok(())
}

/// Adds a clinic's own template (teeth already canonical: the app converts them).
pub fn add_template(
    tx: &Connection,
    actor: &Actor,
    clinic_id: &str,
    new: &NewTemplate,
) -> Result<Template, SeriesError> {
    check(new)?;
    let t = Template {
        id: chairside_store::new_id(),
        name: new.name.trim().to_string(),
        columns: new.columns,
        rows: new.rows,
        slots: new.slots.clone(),
        builtin: false,
    };
    let slots_json = serde_json::to_string(&t.slots).map_err(|e| SeriesError::InvalidTemplate(e.to_string()))?;
    tx.execute(
        "INSERT INTO series_templates (id, clinic_id, name, columns, rows, slots_json, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![t.id, clinic_id, t.name, t.columns, t.rows, slots_json, chairside_store::now_rfc3339(), actor.user],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "series_template",
        &t.id,
        &[
            ("clinic_id", json!(clinic_id)),
            ("name", json!(t.name)),
            ("columns", json!(t.columns)),
            ("rows", json!(t.rows)),
            ("slots", json!(t.slots)),
        ],
    )?;
    chairside_audit::append(
        tx,
        actor,
        "series_template_create",
        "series_template",
        Some(&t.id),
        json!({"name": t.name}),
    )?;
    Ok(t)
}

/// The built-in templates, then the clinic's own by name.
pub fn templates(conn: &Connection, clinic_id: &str) -> Result<Vec<Template>, SeriesError> {
    let mut out = builtin_templates();
    let mut stmt = conn.prepare(
        "SELECT id, name, columns, rows, slots_json FROM series_templates WHERE clinic_id = ?1 ORDER BY name",
    )?;
    let rows = stmt.query_map([clinic_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, u8>(2)?,
            r.get::<_, u8>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    for row in rows {
        let (id, name, columns, rows, slots) = row?;
        let slots = serde_json::from_str(&slots)
            .map_err(|e| SeriesError::InvalidTemplate(format!("stored template {id} cannot be read: {e}")))?;
        out.push(Template { id, name, columns, rows, slots, builtin: false });
    }
    Ok(out)
}

pub fn template(conn: &Connection, clinic_id: &str, id: &str) -> Result<Template, SeriesError> {
    templates(conn, clinic_id)?.into_iter().find(|t| t.id == id).ok_or_else(|| SeriesError::TemplateNotFound(id.into()))
}

/// Starts a series of `template_id` for a patient; `title` defaults to the template's name.
pub fn start(
    tx: &Connection,
    actor: &Actor,
    patient_id: &str,
    template_id: &str,
    title: Option<&str>,
) -> Result<Series, SeriesError> {
    let clinic_id = chairside_patients::clinic_of(tx, patient_id)?;
    let template = template(tx, &clinic_id, template_id)?;
    let series = Series {
        id: chairside_store::new_id(),
        patient_id: patient_id.to_string(),
        title: title.map(str::trim).filter(|t| !t.is_empty()).unwrap_or(&template.name).to_string(),
        template,
        started_at: chairside_store::now_rfc3339(),
        created_by: actor.user.clone(),
    };
    let template_json =
        serde_json::to_string(&series.template).map_err(|e| SeriesError::InvalidTemplate(e.to_string()))?;
    tx.execute(
        "INSERT INTO series (id, clinic_id, patient_id, template_id, template_json, title, started_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            series.id,
            clinic_id,
            patient_id,
            series.template.id,
            template_json,
            series.title,
            series.started_at,
            series.created_by
        ],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "series",
        &series.id,
        &[
            ("patient_id", json!(patient_id)),
            ("template", json!(series.template)),
            ("title", json!(series.title)),
            ("started_at", json!(series.started_at)),
        ],
    )?;
    chairside_audit::append(
        tx,
        actor,
        "series_start",
        "series",
        Some(&series.id),
        json!({"patient_id": patient_id, "template_id": template_id}),
    )?;
    Ok(series)
}

const SELECT: &str = "SELECT id, patient_id, template_json, title, started_at, created_by FROM series";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Series> {
    let template: String = r.get(2)?;
    let template = serde_json::from_str(&template)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(Series {
        id: r.get(0)?,
        patient_id: r.get(1)?,
        template,
        title: r.get(3)?,
        started_at: r.get(4)?,
        created_by: r.get(5)?,
    })
}

pub fn get(conn: &Connection, id: &str) -> Result<Series, SeriesError> {
    conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id], row)
        .optional()?
        .ok_or_else(|| SeriesError::NotFound(id.to_string()))
}

/// A patient's series, newest first.
pub fn list(conn: &Connection, patient_id: &str) -> Result<Vec<Series>, SeriesError> {
    let mut stmt = conn.prepare(&format!("{SELECT} WHERE patient_id = ?1 ORDER BY started_at DESC, id DESC"))?;
    let rows = stmt.query_map([patient_id], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The `series` owner type: a series belongs to its patient's clinic and patient.
pub struct SeriesOwner;

impl OwnerResolver for SeriesOwner {
    fn resolve(&self, conn: &Connection, owner_id: &str) -> rusqlite::Result<Option<OwnerScope>> {
        conn.query_row("SELECT clinic_id, patient_id FROM series WHERE id = ?1", [owner_id], |r| {
            Ok(OwnerScope { clinic_id: r.get(0)?, patient_id: r.get(1)? })
        })
        .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_are_valid_and_as_specified() {
        let all = builtin_templates();
        for t in &all {
            let new = NewTemplate { name: t.name.clone(), columns: t.columns, rows: t.rows, slots: t.slots.clone() };
            check(&new).unwrap_or_else(|e| panic!("{}: {e}", t.id));
        }
        let count = |id: &str, kind: &str| {
            all.iter().find(|t| t.id == id).map(|t| t.slots.iter().filter(|s| s.kind == kind).count())
        };
        assert_eq!(count("abo-8", "extraoral"), Some(3));
        assert_eq!(count("abo-8", "intraoral"), Some(5));
        assert_eq!(count("fmx-18", "xray"), Some(18));
        let fmx = all.iter().find(|t| t.id == "fmx-18").expect("fmx");
        assert_eq!(fmx.slots.iter().filter(|s| s.name.contains("bitewing")).count(), 4);
        assert_eq!(
            fmx.slots
                .iter()
                .filter(|s| s.name.contains("molar periapical") || s.name.contains("premolar periapical"))
                .count(),
            8
        );
        assert_eq!(fmx.slots.iter().filter(|s| s.name.contains("canine") || s.name.contains("incisors")).count(), 6);
        assert_eq!(count("bitewings-4", "xray"), Some(4));
        assert_eq!(all.iter().find(|t| t.id == "compare-2").map(|t| t.slots.len()), Some(2));
    }

    #[test]
    fn roles_name_slots_from_one() {
        assert_eq!(slot_role(0), "slot-1");
        assert_eq!(slot_of_role("slot-18"), Some(17));
        assert_eq!(slot_of_role("slot-0"), None);
        assert_eq!(slot_of_role("before"), None);
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        let ok = || NewTemplate { name: "Mine".into(), columns: 2, rows: 1, slots: vec![slot("A", "xray", "", 0, 0)] };
        assert!(check(&ok()).is_ok());
        let mut t = ok();
        t.slots.push(slot("B", "xray", "", 0, 0));
        assert!(check(&t).expect_err("overlap").to_string().contains("shares its place"));
        let mut t = ok();
        t.slots[0].kind = "selfie".into();
        assert!(check(&t).expect_err("kind").to_string().contains("kind must be"));
        let mut t = ok();
        t.slots[0].col = 2;
        assert!(check(&t).expect_err("outside").to_string().contains("outside"));
        let mut t = ok();
        t.slots[0].rotation = 45;
        assert!(check(&t).is_err());
    }
}
