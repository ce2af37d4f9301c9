//! Treatment plans and their items. Registers the `plan_item` attachment owner type, whose
//! links carry a role: `before`, `after`, `xray` or `reference`.

use chairside_owner::{OwnerResolver, OwnerScope};
use chairside_store::{Actor, StoreError, rusqlite};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

/// The tables this crate owns: its code is the only code whose SQL names them, the others call
/// its API (`tests/architecture.rs` holds the rule).
pub const TABLES: &[&str] = &["treatment_plans", "plan_items"];

/// Its tables that replicate between workstations (sync applies them from this declaration).
pub const REPLICATED: &[chairside_store::replicated::Replicated] = &[
    chairside_store::replicated::Replicated {
        entity_type: "treatment_plan",
        table: "treatment_plans",
        renamed: &[],
        parents: &["clinic", "patient"],
        blob_field: None,
        hooks: None,
    },
    chairside_store::replicated::Replicated {
        entity_type: "plan_item",
        table: "plan_items",
        renamed: &[],
        parents: &["treatment_plan"],
        blob_field: None,
        hooks: None,
    },
];

pub const OWNER_TYPE: &str = "plan_item";
pub const ROLES: &[&str] = &["before", "after", "xray", "reference"];

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("no treatment plan with id {0}")]
    PlanNotFound(String),
    #[error("no plan item with id {0}")]
    ItemNotFound(String),
    #[error(transparent)]
    Patient(#[from] chairside_patients::PatientError),
    #[error("a title must not be empty")]
    EmptyTitle,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl chairside_store::ErrorCode for PlanError {
    fn code(&self) -> &'static str {
        match self {
            PlanError::PlanNotFound(_) => "plan_not_found",
            PlanError::ItemNotFound(_) => "plan_item_not_found",
            PlanError::Patient(e) => e.code(),
            PlanError::EmptyTitle => "invalid_input",
            PlanError::Store(e) => e.code(),
        }
    }
    fn is_invalid_input(&self) -> bool {
        match self {
            PlanError::Store(_) => false,
            PlanError::Patient(e) => e.is_invalid_input(),
            _ => true,
        }
    }
    fn remedy(&self) -> Option<chairside_store::Remedy> {
        match self {
            PlanError::Patient(e) => e.remedy(),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for PlanError {
    fn from(e: rusqlite::Error) -> Self {
        PlanError::Store(e.into())
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlanItem {
    pub id: String,
    pub plan_id: String,
    pub position: i64,
    pub title: String,
    pub status: String,
    pub created_at: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Plan {
    pub id: String,
    pub patient_id: String,
    pub title: String,
    pub status: String,
    pub created_at: String,
    pub created_by: String,
    pub items: Vec<PlanItem>,
}

fn clean_title(title: &str) -> Result<&str, PlanError> {
    let t = title.trim();
    if t.is_empty() { Err(PlanError::EmptyTitle) } else { Ok(t) }
}

pub fn create_plan(tx: &Connection, actor: &Actor, patient_id: &str, title: &str) -> Result<Plan, PlanError> {
    let title = clean_title(title)?;
    let clinic_id = chairside_patients::clinic_of(tx, patient_id)?;
    let plan = Plan {
        id: chairside_store::new_id(),
        patient_id: patient_id.to_string(),
        title: title.to_string(),
        status: "proposed".into(),
        created_at: chairside_store::now_rfc3339(),
        created_by: actor.user.clone(),
        items: vec![],
    };
    tx.execute(
        "INSERT INTO treatment_plans (id, clinic_id, patient_id, title, status, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![plan.id, clinic_id, plan.patient_id, plan.title, plan.status, plan.created_at, plan.created_by],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "treatment_plan",
        &plan.id,
        &[("patient_id", json!(patient_id)), ("title", json!(plan.title)), ("status", json!(plan.status))],
    )?;
    chairside_audit::append(
        tx,
        actor,
        "plan_create",
        "treatment_plan",
        Some(&plan.id),
        json!({"patient_id": patient_id}),
    )?;
    Ok(plan)
}

pub fn add_item(tx: &Connection, actor: &Actor, plan_id: &str, title: &str) -> Result<PlanItem, PlanError> {
    let title = clean_title(title)?;
    let exists: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM treatment_plans WHERE id = ?1)", [plan_id], |r| r.get(0))?;
    if !exists {
        return Err(PlanError::PlanNotFound(plan_id.to_string()));
    }
    let position: i64 =
        tx.query_row("SELECT COALESCE(MAX(position), 0) + 1 FROM plan_items WHERE plan_id = ?1", [plan_id], |r| {
            r.get(0)
        })?;
    let item = PlanItem {
        id: chairside_store::new_id(),
        plan_id: plan_id.to_string(),
        position,
        title: title.to_string(),
        status: "planned".into(),
        created_at: chairside_store::now_rfc3339(),
    };
    tx.execute(
        "INSERT INTO plan_items (id, plan_id, position, title, status, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![item.id, item.plan_id, item.position, item.title, item.status, item.created_at, actor.user],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "plan_item",
        &item.id,
        &[
            ("plan_id", json!(plan_id)),
            ("position", json!(position)),
            ("title", json!(item.title)),
            ("status", json!(item.status)),
        ],
    )?;
    chairside_audit::append(tx, actor, "plan_item_create", "plan_item", Some(&item.id), json!({"plan_id": plan_id}))?;
    Ok(item)
}

fn items(conn: &Connection, plan_id: &str) -> Result<Vec<PlanItem>, PlanError> {
    let mut stmt = conn.prepare(
        "SELECT id, plan_id, position, title, status, created_at FROM plan_items WHERE plan_id = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map([plan_id], |r| {
        Ok(PlanItem {
            id: r.get(0)?,
            plan_id: r.get(1)?,
            position: r.get(2)?,
            title: r.get(3)?,
            status: r.get(4)?,
            created_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get_plan(conn: &Connection, id: &str) -> Result<Plan, PlanError> {
    let mut plan = conn
        .query_row(
            "SELECT id, patient_id, title, status, created_at, created_by FROM treatment_plans WHERE id = ?1",
            [id],
            |r| {
                Ok(Plan {
                    id: r.get(0)?,
                    patient_id: r.get(1)?,
                    title: r.get(2)?,
                    status: r.get(3)?,
                    created_at: r.get(4)?,
                    created_by: r.get(5)?,
                    items: vec![],
                })
            },
        )
        .optional()?
        .ok_or_else(|| PlanError::PlanNotFound(id.to_string()))?;
    plan.items = items(conn, id)?;
    Ok(plan)
}

/// A patient's plans with their items, oldest first.
pub fn list_for_patient(conn: &Connection, patient_id: &str) -> Result<Vec<Plan>, PlanError> {
    let ids: Vec<String> = {
        let mut stmt = conn.prepare("SELECT id FROM treatment_plans WHERE patient_id = ?1 ORDER BY created_at, id")?;
        let rows = stmt.query_map([patient_id], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    ids.iter().map(|id| get_plan(conn, id)).collect()
}

/// The `plan_item` owner type for media attachments.
pub struct PlanItemOwner;

impl OwnerResolver for PlanItemOwner {
    fn resolve(&self, conn: &Connection, owner_id: &str) -> rusqlite::Result<Option<OwnerScope>> {
        conn.query_row(
            "SELECT p.clinic_id, p.patient_id FROM plan_items i JOIN treatment_plans p ON p.id = i.plan_id WHERE i.id = ?1",
            [owner_id],
            |r| Ok(OwnerScope { clinic_id: r.get(0)?, patient_id: r.get(1)? }),
        )
        .optional()
    }

    fn roles(&self) -> Option<&'static [&'static str]> {
        Some(ROLES)
    }
}
