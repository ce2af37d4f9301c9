//! Users, roles and permissions. A user signs in by name with a password (or a PIN, for quick
//! switching at the chair); a role is a set of permissions the clinic can edit. Secrets are
//! stored as argon2id hashes only. Users and roles replicate like patients; failed sign-ins are
//! this workstation's own. The checks themselves (who may do what) are made by the one API,
//! `crates/app`, from [`grant`].

mod secret;

use chairside_store::{Actor, StoreError, rusqlite};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use secret::{Hashed, MAX_FAILURES, PARAMS, check, hash_password, hash_pin, lockout_after};

/// The tables this crate owns: its code is the only code whose SQL names them, the others call
/// its API (`tests/architecture.rs` holds the rule).
pub const TABLES: &[&str] = &["roles", "users", "sign_in_attempts"];

/// Its tables that replicate between workstations (sync applies them from this declaration).
pub const REPLICATED: &[chairside_store::replicated::Replicated] = &[
    chairside_store::replicated::Replicated {
        entity_type: "role",
        table: "roles",
        renamed: &[],
        parents: &[],
        blob_field: None,
        hooks: None,
    },
    chairside_store::replicated::Replicated {
        entity_type: "user",
        table: "users",
        renamed: &[],
        parents: &["role"],
        blob_field: None,
        hooks: None,
    },
];

/// What a role may allow. The names are a contract with scripts (`role edit --allow`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    ViewImages,
    Acquire,
    EditMetadata,
    Adjust,
    Archive,
    Restore,
    Move,
    Export,
    Sign,
    ManagePatients,
    ManageUsers,
    Configure,
    ViewAudit,
}

impl Permission {
    pub const ALL: [Permission; 13] = [
        Permission::ViewImages,
        Permission::Acquire,
        Permission::EditMetadata,
        Permission::Adjust,
        Permission::Archive,
        Permission::Restore,
        Permission::Move,
        Permission::Export,
        Permission::Sign,
        Permission::ManagePatients,
        Permission::ManageUsers,
        Permission::Configure,
        Permission::ViewAudit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewImages => "view_images",
            Permission::Acquire => "acquire",
            Permission::EditMetadata => "edit_metadata",
            Permission::Adjust => "adjust",
            Permission::Archive => "archive",
            Permission::Restore => "restore",
            Permission::Move => "move",
            Permission::Export => "export",
            Permission::Sign => "sign",
            Permission::ManagePatients => "manage_patients",
            Permission::ManageUsers => "manage_users",
            Permission::Configure => "configure",
            Permission::ViewAudit => "view_audit",
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// What it allows, in words for a refusal ("… may not archive images").
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ViewImages => "view images",
            Permission::Acquire => "acquire or import images",
            Permission::EditMetadata => "edit images' details and teeth, notes and plans",
            Permission::Adjust => "adjust or annotate images",
            Permission::Archive => "archive images",
            Permission::Restore => "restore archived images",
            Permission::Move => "move images between patients",
            Permission::Export => "export, print or share",
            Permission::Sign => "sign images",
            Permission::ManagePatients => "add or change patients",
            Permission::ManageUsers => "manage users and roles",
            Permission::Configure => "change settings (inbox, sync, backups, scanning, verify)",
            Permission::ViewAudit => "see the audit trail",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of permissions, checked in a few nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions(u32);

impl Permissions {
    pub fn all() -> Permissions {
        Permissions(Permission::ALL.iter().fold(0, |a, p| a | p.bit()))
    }
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }
    pub fn list(self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|p| self.contains(*p)).collect()
    }
    fn from_json(text: &str) -> Permissions {
        // Names this build does not know (a newer peer's) are ignored, never a failure.
        let names: Vec<String> = serde_json::from_str(text).unwrap_or_default();
        Permissions(names.iter().filter_map(|n| Permission::parse(n)).fold(0, |a, p| a | p.bit()))
    }
    fn to_json(self) -> String {
        serde_json::Value::from(self.list().iter().map(|p| p.as_str()).collect::<Vec<_>>()).to_string()
    }
}

/// The role that always holds every permission, users included; a clinic keeps at least one.
pub const OWNER: &str = "owner";
/// The built-in roles, in the order they are shown.
pub const ROLES: [&str; 6] = [OWNER, "dentist", "hygienist", "assistant", "front_desk", "it"];

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("no user named {0:?}")]
    NotFound(String),
    #[error("no role named {0:?}: the roles are owner, dentist, hygienist, assistant, front_desk and it")]
    UnknownRole(String),
    #[error("no permission named {0:?}")]
    UnknownPermission(String),
    #[error("a user named {0:?} already exists")]
    Exists(String),
    #[error("a user's name must be 1 to 64 characters, without control characters")]
    BadName,
    #[error("a password must have at least {min} characters", min = secret::MIN_PASSWORD)]
    WeakPassword,
    #[error("a PIN is 4 to 8 digits")]
    BadPin,
    #[error("the first user of a library is its owner: add them with the owner role")]
    FirstUserMustBeOwner,
    #[error("{0:?} is the clinic's last enabled owner: make another user owner first")]
    LastOwner(String),
    #[error("the owner role always has every permission and cannot be edited")]
    OwnerRoleFixed,
    #[error("cannot hash the secret: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl chairside_store::ErrorCode for UsersError {
    fn code(&self) -> &'static str {
        match self {
            UsersError::NotFound(_) => "user_not_found",
            UsersError::UnknownRole(_) => "role_not_found",
            UsersError::Exists(_) => "user_exists",
            UsersError::LastOwner(_) => "last_owner",
            UsersError::UnknownPermission(_)
            | UsersError::BadName
            | UsersError::WeakPassword
            | UsersError::BadPin
            | UsersError::FirstUserMustBeOwner
            | UsersError::OwnerRoleFixed => "invalid_input",
            UsersError::Hash(_) => "internal",
            UsersError::Store(e) => e.code(),
        }
    }
    fn is_invalid_input(&self) -> bool {
        !matches!(self, UsersError::Store(_) | UsersError::Hash(_))
    }
}

impl From<rusqlite::Error> for UsersError {
    fn from(e: rusqlite::Error) -> Self {
        UsersError::Store(e.into())
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Role {
    pub name: String,
    pub permissions: Vec<Permission>,
    pub updated_at: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: String,
    pub disabled: bool,
    pub has_pin: bool,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
}

/// What a signed-in user may do now: read afresh at every action, so a role edited or a user
/// disabled meanwhile takes effect at the next one.
#[derive(Debug, Clone)]
pub struct Grant {
    pub name: String,
    pub role: String,
    pub disabled: bool,
    pub permissions: Permissions,
}

/// A new user: the secrets already hashed ([`hash_password`], [`hash_pin`]), so the write
/// transaction never waits for argon2.
pub struct NewUser {
    pub name: String,
    pub role: String,
    pub password: Hashed,
    pub pin: Option<Hashed>,
}

/// Namespace of user ids, derived from the name compared case-blind.
const USER_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x2d4e_8a61_0c3b_4f7e_b1d9_5a06_e3c2_7f18);

/// How a name is compared: trimmed and case-blind ("Anna" signs in as "anna").
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

fn check_name(name: &str) -> Result<String, UsersError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(UsersError::BadName);
    }
    Ok(name.to_string())
}

const USER_COLUMNS: &str = "id, name, role, disabled, pin_hash IS NOT NULL, created_at, created_by, updated_at";

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        disabled: r.get(3)?,
        has_pin: r.get(4)?,
        created_at: r.get(5)?,
        created_by: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

/// Whether the library has users: until it does, it runs with its one identity.
pub fn has_users(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM users)")?.query_row([], |r| r.get(0))?)
}

pub fn list_users(conn: &Connection) -> Result<Vec<User>, UsersError> {
    let mut stmt = conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name_key"))?;
    Ok(stmt.query_map([], user_row)?.collect::<Result<_, _>>()?)
}

pub fn find_user(conn: &Connection, name: &str) -> Result<Option<User>, UsersError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE name_key = ?1"))?;
    Ok(stmt.query_row([name_key(name)], user_row).optional()?)
}

pub fn get_user(conn: &Connection, name: &str) -> Result<User, UsersError> {
    find_user(conn, name)?.ok_or_else(|| UsersError::NotFound(name.trim().to_string()))
}

/// A user's stored secrets, for [`check`].
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
    pub pin_hash: Option<String>,
}

pub fn credentials(conn: &Connection, name: &str) -> Result<Option<Credentials>, UsersError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {USER_COLUMNS}, password_hash, pin_hash FROM users WHERE name_key = ?1"))?;
    Ok(stmt
        .query_row([name_key(name)], |r| {
            Ok(Credentials { user: user_row(r)?, password_hash: r.get(8)?, pin_hash: r.get(9)? })
        })
        .optional()?)
}

/// What the user with this id may do now; `None` when there is no such user.
pub fn grant(conn: &Connection, user_id: &str) -> Result<Option<Grant>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.name, u.role, u.disabled, r.permissions FROM users u JOIN roles r ON r.id = u.role WHERE u.id = ?1",
    )?;
    Ok(stmt
        .query_row([user_id], |r| {
            let role: String = r.get(1)?;
            let text: String = r.get(3)?;
            let permissions = if role == OWNER { Permissions::all() } else { Permissions::from_json(&text) };
            Ok(Grant { name: r.get(0)?, role, disabled: r.get(2)?, permissions })
        })
        .optional()?)
}

fn role_exists(conn: &Connection, role: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM roles WHERE id = ?1)", [role], |r| r.get(0))?)
}

pub fn add_user(tx: &Connection, actor: &Actor, new: NewUser) -> Result<User, UsersError> {
    let name = check_name(&new.name)?;
    let key = name_key(&name);
    if !role_exists(tx, &new.role)? {
        return Err(UsersError::UnknownRole(new.role));
    }
    if !has_users(tx)? && new.role != OWNER {
        return Err(UsersError::FirstUserMustBeOwner);
    }
    let id = uuid::Uuid::new_v5(&USER_NAMESPACE, key.as_bytes()).to_string();
    let taken: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)", [&id], |r| r.get(0))?;
    if taken || find_user(tx, &name)?.is_some() {
        return Err(UsersError::Exists(name));
    }
    let now = chairside_store::now_rfc3339();
    let pin = new.pin.map(|p| p.0);
    tx.execute(
        "INSERT INTO users (id, name, name_key, role, password_hash, pin_hash, disabled, created_at, created_by, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?7)",
        params![id, name, key, new.role, new.password.0, pin, now, actor.user],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "user",
        &id,
        &[
            ("name", json!(name)),
            ("name_key", json!(key)),
            ("role", json!(new.role)),
            ("password_hash", json!(new.password.0)),
            ("pin_hash", json!(pin)),
            ("disabled", json!(false)),
            ("created_at", json!(now)),
            ("created_by", json!(actor.user)),
            ("updated_at", json!(now)),
        ],
    )?;
    chairside_audit::append(
        tx,
        actor,
        "user_add",
        "user",
        Some(&id),
        json!({"name": name, "role": new.role, "pin": pin.is_some()}),
    )?;
    get_user(tx, &name)
}

/// Changes a user's role or turns their account off or on. The clinic's last enabled owner
/// can be neither demoted nor disabled.
pub fn edit_user(
    tx: &Connection,
    actor: &Actor,
    name: &str,
    role: Option<&str>,
    disabled: Option<bool>,
) -> Result<User, UsersError> {
    let user = get_user(tx, name)?;
    let new_role = role.unwrap_or(&user.role).to_string();
    let new_disabled = disabled.unwrap_or(user.disabled);
    if !role_exists(tx, &new_role)? {
        return Err(UsersError::UnknownRole(new_role));
    }
    let was_owner = user.role == OWNER && !user.disabled;
    let stays_owner = new_role == OWNER && !new_disabled;
    if was_owner && !stays_owner {
        let others: i64 = tx.query_row(
            "SELECT COUNT(*) FROM users WHERE role = ?1 AND disabled = 0 AND id <> ?2",
            params![OWNER, user.id],
            |r| r.get(0),
        )?;
        if others == 0 {
            return Err(UsersError::LastOwner(user.name));
        }
    }
    let mut fields = Vec::new();
    if new_role != user.role {
        fields.push(("role", json!(new_role)));
    }
    if new_disabled != user.disabled {
        fields.push(("disabled", json!(new_disabled)));
    }
    if fields.is_empty() {
        return Ok(user);
    }
    let now = chairside_store::now_rfc3339();
    tx.execute(
        "UPDATE users SET role = ?2, disabled = ?3, updated_at = ?4 WHERE id = ?1",
        params![user.id, new_role, new_disabled, now],
    )?;
    let detail = json!({"name": user.name, "role": new_role, "disabled": new_disabled});
    fields.push(("updated_at", json!(now)));
    chairside_store::record_change(tx, actor, "user", &user.id, &fields)?;
    chairside_audit::append(tx, actor, "user_edit", "user", Some(&user.id), detail)?;
    get_user(tx, &user.name)
}

/// Sets a user's password (the owner resetting a forgotten one, or the user changing theirs),
/// or their PIN (`pin`: `Some(None)` removes it).
pub fn set_secrets(
    tx: &Connection,
    actor: &Actor,
    name: &str,
    password: Option<Hashed>,
    pin: Option<Option<Hashed>>,
) -> Result<User, UsersError> {
    let user = get_user(tx, name)?;
    let now = chairside_store::now_rfc3339();
    let mut fields = Vec::new();
    if let Some(p) = password {
        tx.execute("UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1", params![user.id, p.0, now])?;
        fields.push(("password_hash", json!(p.0)));
    }
    if let Some(pin) = pin {
        let pin = pin.map(|p| p.0);
        tx.execute("UPDATE users SET pin_hash = ?2, updated_at = ?3 WHERE id = ?1", params![user.id, pin, now])?;
        fields.push(("pin_hash", json!(pin)));
    }
    if fields.is_empty() {
        return Ok(user);
    }
    let what: Vec<&str> = fields.iter().map(|(f, _)| if *f == "pin_hash" { "pin" } else { "password" }).collect();
    fields.push(("updated_at", json!(now)));
    chairside_store::record_change(tx, actor, "user", &user.id, &fields)?;
    chairside_audit::append(tx, actor, "user_secret", "user", Some(&user.id), json!({"name": user.name, "set": what}))?;
    get_user(tx, &user.name)
}

pub fn list_roles(conn: &Connection) -> Result<Vec<Role>, UsersError> {
    let mut stmt = conn.prepare("SELECT id, permissions, updated_at FROM roles")?;
    let mut roles: Vec<Role> = stmt
        .query_map([], |r| {
            let name: String = r.get(0)?;
            let text: String = r.get(1)?;
            let perms = if name == OWNER { Permissions::all() } else { Permissions::from_json(&text) };
            Ok(Role { name, permissions: perms.list(), updated_at: r.get(2)? })
        })?
        .collect::<Result<_, _>>()?;
    roles.sort_by_key(|r| ROLES.iter().position(|n| *n == r.name).unwrap_or(usize::MAX));
    Ok(roles)
}

/// Grants and withdraws permissions of a role (every user holding it, at their next action).
pub fn edit_role(
    tx: &Connection,
    actor: &Actor,
    role: &str,
    allow: &[Permission],
    deny: &[Permission],
) -> Result<Role, UsersError> {
    if role == OWNER {
        return Err(UsersError::OwnerRoleFixed);
    }
    let text: String = tx
        .query_row("SELECT permissions FROM roles WHERE id = ?1", [role], |r| r.get(0))
        .optional()?
        .ok_or_else(|| UsersError::UnknownRole(role.to_string()))?;
    let before = Permissions::from_json(&text);
    let mut bits = before.0;
    for p in allow {
        bits |= p.bit();
    }
    for p in deny {
        bits &= !p.bit();
    }
    let after = Permissions(bits);
    if after != before {
        let now = chairside_store::now_rfc3339();
        let json_text = after.to_json();
        tx.execute("UPDATE roles SET permissions = ?2, updated_at = ?3 WHERE id = ?1", params![role, json_text, now])?;
        chairside_store::record_change(
            tx,
            actor,
            "role",
            role,
            &[("permissions", json!(json_text)), ("updated_at", json!(now))],
        )?;
        let names = |p: Permissions| p.list().iter().map(|p| p.as_str()).collect::<Vec<_>>();
        chairside_audit::append(
            tx,
            actor,
            "role_edit",
            "role",
            Some(role),
            json!({"before": names(before), "after": names(after)}),
        )?;
    }
    list_roles(tx)?.into_iter().find(|r| r.name == role).ok_or_else(|| UsersError::UnknownRole(role.to_string()))
}

/// Failed sign-ins under a name on this workstation, and until when it is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    pub failures: u32,
    pub locked_until_ms: i64,
}

pub fn attempts(conn: &Connection, name: &str) -> Result<Attempts, StoreError> {
    let row = conn
        .prepare_cached("SELECT failures, locked_until_ms FROM sign_in_attempts WHERE name_key = ?1")?
        .query_row([name_key(name)], |r| Ok(Attempts { failures: r.get(0)?, locked_until_ms: r.get(1)? }))
        .optional()?;
    Ok(row.unwrap_or(Attempts { failures: 0, locked_until_ms: 0 }))
}

/// Counts one more failure; from the [`MAX_FAILURES`]th on, the name is locked for a delay that
/// doubles with each further failure.
pub fn record_failure(tx: &Connection, name: &str, now_ms: i64) -> Result<Attempts, StoreError> {
    let failures = attempts(tx, name)?.failures.saturating_add(1);
    let locked_until_ms = lockout_after(failures).map(|d| now_ms + d.as_millis() as i64).unwrap_or(0);
    tx.execute(
        "INSERT INTO sign_in_attempts (name_key, failures, last_failure_at, locked_until_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name_key) DO UPDATE SET failures = excluded.failures,
             last_failure_at = excluded.last_failure_at, locked_until_ms = excluded.locked_until_ms",
        params![name_key(name), failures, chairside_store::now_rfc3339(), locked_until_ms],
    )?;
    Ok(Attempts { failures, locked_until_ms })
}

/// A successful sign-in forgets the failures before it.
pub fn record_success(tx: &Connection, name: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE sign_in_attempts SET failures = 0, locked_until_ms = 0 WHERE name_key = ?1 AND failures > 0",
        [name_key(name)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
