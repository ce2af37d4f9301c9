//! Clinics and patients. A patient belongs to one clinic and may carry the
//! practice-management system's chart number as `external_id` (unique within the clinic).

use chairside_owner::{OwnerResolver, OwnerScope};
use chairside_store::{Actor, StoreError, rusqlite};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

/// The tables this crate owns: its code is the only code whose SQL names them, the others call
/// its API (`tests/architecture.rs` holds the rule).
pub const TABLES: &[&str] = &["clinics", "patients"];

/// Its tables that replicate between workstations (sync applies them from this declaration).
pub const REPLICATED: &[chairside_store::replicated::Replicated] = &[
    chairside_store::replicated::Replicated {
        entity_type: "clinic",
        table: "clinics",
        renamed: &[],
        parents: &[],
        blob_field: None,
        hooks: None,
    },
    chairside_store::replicated::Replicated {
        entity_type: "patient",
        table: "patients",
        renamed: &[],
        parents: &["clinic"],
        blob_field: None,
        hooks: None,
    },
];

#[derive(Debug, thiserror::Error)]
pub enum PatientError {
    #[error("no patient with id {0}")]
    NotFound(String),
    #[error("no clinic with id {0}")]
    ClinicNotFound(String),
    #[error("a patient's name must not be empty")]
    EmptyName,
    #[error("birth date {0:?} is not a date: use YYYY-MM-DD")]
    BadBirthDate(String),
    #[error("chart number {0:?} already belongs to another patient of this clinic")]
    DuplicateExternalId(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl chairside_store::ErrorCode for PatientError {
    fn code(&self) -> &'static str {
        match self {
            PatientError::NotFound(_) => "patient_not_found",
            PatientError::ClinicNotFound(_) => "clinic_not_found",
            PatientError::DuplicateExternalId(_) => "duplicate_external_id",
            PatientError::EmptyName | PatientError::BadBirthDate(_) => "invalid_input",
            PatientError::Store(e) => e.code(),
        }
    }
    fn is_invalid_input(&self) -> bool {
        !matches!(self, PatientError::Store(_))
    }
    fn remedy(&self) -> Option<chairside_store::Remedy> {
        matches!(self, PatientError::NotFound(_)).then_some(chairside_store::Remedy::FindPatient)
    }
}

impl From<rusqlite::Error> for PatientError {
    fn from(e: rusqlite::Error) -> Self {
        PatientError::Store(e.into())
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Clinic {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Patient {
    pub id: String,
    pub clinic_id: String,
    pub name: String,
    pub external_id: Option<String>,
    pub birth_date: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What a new patient is made of.
#[derive(Debug, Clone, Default)]
pub struct NewPatient {
    pub name: String,
    pub external_id: Option<String>,
    pub birth_date: Option<String>,
}

/// Namespace of the ids derived from a clinic and a chart number.
const PATIENT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_2b0e_5a3d_4c71_9e2a_c4a1_d0b7_3e55);

pub fn create_clinic(tx: &Connection, actor: &Actor, name: &str) -> Result<Clinic, PatientError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(PatientError::EmptyName);
    }
    let clinic =
        Clinic { id: chairside_store::new_id(), name: name.to_string(), created_at: chairside_store::now_rfc3339() };
    tx.execute(
        "INSERT INTO clinics (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![clinic.id, clinic.name, clinic.created_at],
    )?;
    chairside_store::record_change(tx, actor, "clinic", &clinic.id, &[("name", json!(clinic.name))])?;
    chairside_audit::append(tx, actor, "clinic_create", "clinic", Some(&clinic.id), json!({"name": clinic.name}))?;
    Ok(clinic)
}

/// Makes a clinic known here as another workstation created it (same id, name and time).
pub fn adopt_clinic(tx: &Connection, clinic: &Clinic) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO clinics (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![clinic.id, clinic.name, clinic.created_at],
    )?;
    Ok(())
}

/// A clinic's name, `None` when there is no such clinic.
pub fn clinic_name(conn: &Connection, id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn.query_row("SELECT name FROM clinics WHERE id = ?1", [id], |r| r.get(0)).optional()?)
}

pub fn list_clinics(conn: &Connection) -> Result<Vec<Clinic>, PatientError> {
    let mut stmt = conn.prepare("SELECT id, name, created_at FROM clinics ORDER BY created_at")?;
    let rows = stmt.query_map([], |r| Ok(Clinic { id: r.get(0)?, name: r.get(1)?, created_at: r.get(2)? }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn clean(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn check_birth_date(d: &Option<String>) -> Result<(), PatientError> {
    if let Some(d) = d
        && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
    {
        return Err(PatientError::BadBirthDate(d.clone()));
    }
    Ok(())
}

pub fn add(tx: &Connection, actor: &Actor, clinic_id: &str, new: &NewPatient) -> Result<Patient, PatientError> {
    let name = new.name.trim();
    if name.is_empty() {
        return Err(PatientError::EmptyName);
    }
    let external_id = clean(new.external_id.as_deref());
    let birth_date = clean(new.birth_date.as_deref());
    check_birth_date(&birth_date)?;
    let clinic_exists: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM clinics WHERE id = ?1)", [clinic_id], |r| r.get(0))?;
    if !clinic_exists {
        return Err(PatientError::ClinicNotFound(clinic_id.to_string()));
    }
    if let Some(ext) = &external_id
        && find_by_external_id(tx, clinic_id, ext)?.is_some()
    {
        return Err(PatientError::DuplicateExternalId(ext.clone()));
    }
    let now = chairside_store::now_rfc3339();
    // A chart number names one patient of a clinic: derived from it, the id is the same on
    // every workstation that registers them (the practice software opening them at two chairs),
    // so sync merges the two records instead of keeping both. A derived id already taken (the
    // number moved to another patient since) falls back to a fresh one.
    let id = external_id
        .as_deref()
        .map(|ext| uuid::Uuid::new_v5(&PATIENT_NAMESPACE, format!("{clinic_id}:{ext}").as_bytes()).to_string())
        .filter(|id| {
            !tx.query_row("SELECT EXISTS (SELECT 1 FROM patients WHERE id = ?1)", [id], |r| r.get::<_, bool>(0))
                .unwrap_or(true)
        })
        .unwrap_or_else(chairside_store::new_id);
    let p = Patient {
        id,
        clinic_id: clinic_id.to_string(),
        name: name.to_string(),
        external_id,
        birth_date,
        created_at: now.clone(),
        updated_at: now,
    };
    tx.execute(
        "INSERT INTO patients (id, clinic_id, external_id, name, birth_date, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![p.id, p.clinic_id, p.external_id, p.name, p.birth_date, p.created_at, p.updated_at],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "patient",
        &p.id,
        &[
            ("clinic_id", json!(p.clinic_id)),
            ("name", json!(p.name)),
            ("external_id", json!(p.external_id)),
            ("birth_date", json!(p.birth_date)),
        ],
    )?;
    chairside_audit::append(
        tx,
        actor,
        "patient_create",
        "patient",
        Some(&p.id),
        json!({"external_id": p.external_id}),
    )?;
    Ok(p)
}

/// Changes a patient's name, chart number or birth date (fields left `None` keep their value).
pub fn update(tx: &Connection, actor: &Actor, id: &str, changes: &NewPatient) -> Result<Patient, PatientError> {
    let mut p = get(tx, id)?;
    let mut fields = Vec::new();
    let name = changes.name.trim();
    if !name.is_empty() && name != p.name {
        p.name = name.to_string();
        fields.push(("name", json!(p.name)));
    }
    if let Some(ext) = clean(changes.external_id.as_deref())
        && Some(&ext) != p.external_id.as_ref()
    {
        if find_by_external_id(tx, &p.clinic_id, &ext)?.is_some() {
            return Err(PatientError::DuplicateExternalId(ext));
        }
        p.external_id = Some(ext);
        fields.push(("external_id", json!(p.external_id)));
    }
    if let Some(bd) = clean(changes.birth_date.as_deref())
        && Some(&bd) != p.birth_date.as_ref()
    {
        check_birth_date(&Some(bd.clone()))?;
        p.birth_date = Some(bd);
        fields.push(("birth_date", json!(p.birth_date)));
    }
    if fields.is_empty() {
        return Ok(p);
    }
    p.updated_at = chairside_store::now_rfc3339();
    tx.execute(
        "UPDATE patients SET name = ?2, external_id = ?3, birth_date = ?4, updated_at = ?5, version = version + 1 WHERE id = ?1",
        params![p.id, p.name, p.external_id, p.birth_date, p.updated_at],
    )?;
    let names: Vec<&str> = fields.iter().map(|(f, _)| *f).collect();
    chairside_store::record_change(tx, actor, "patient", &p.id, &fields)?;
    chairside_audit::append(tx, actor, "patient_update", "patient", Some(&p.id), json!({"fields": names}))?;
    Ok(p)
}

const SELECT: &str = "SELECT id, clinic_id, name, external_id, birth_date, created_at, updated_at FROM patients";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Patient> {
    Ok(Patient {
        id: r.get(0)?,
        clinic_id: r.get(1)?,
        name: r.get(2)?,
        external_id: r.get(3)?,
        birth_date: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

pub fn get(conn: &Connection, id: &str) -> Result<Patient, PatientError> {
    conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id], row)
        .optional()?
        .ok_or_else(|| PatientError::NotFound(id.to_string()))
}

/// The clinic a patient belongs to ([`PatientError::NotFound`] when there is no such patient):
/// what the modules that attach records to a patient need before they write.
pub fn clinic_of(conn: &Connection, patient_id: &str) -> Result<String, PatientError> {
    conn.query_row("SELECT clinic_id FROM patients WHERE id = ?1", [patient_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| PatientError::NotFound(patient_id.to_string()))
}

pub fn find_by_external_id(
    conn: &Connection,
    clinic_id: &str,
    external_id: &str,
) -> Result<Option<Patient>, PatientError> {
    Ok(conn
        .query_row(&format!("{SELECT} WHERE clinic_id = ?1 AND external_id = ?2"), [clinic_id, external_id], row)
        .optional()?)
}

/// Patients whose name or chart number contains `query` (case-insensitive), by name.
pub fn list(conn: &Connection, query: Option<&str>) -> Result<Vec<Patient>, PatientError> {
    let pattern = query.map(|q| {
        let escaped = q.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    });
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE ?1 IS NULL OR name LIKE ?1 ESCAPE '\\' OR external_id LIKE ?1 ESCAPE '\\'
         ORDER BY name COLLATE NOCASE, id"
    ))?;
    let rows = stmt.query_map([pattern], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The `patient` owner type: a document can be linked to its own patient record.
pub struct PatientOwner;

impl OwnerResolver for PatientOwner {
    fn resolve(&self, conn: &Connection, owner_id: &str) -> rusqlite::Result<Option<OwnerScope>> {
        conn.query_row("SELECT clinic_id, id FROM patients WHERE id = ?1", [owner_id], |r| {
            Ok(OwnerScope { clinic_id: r.get(0)?, patient_id: r.get(1)? })
        })
        .optional()
    }
}
