//! Who is signed in, and what they may do. Every capability of [`Library`] asks [`Library::allow`]
//! (or [`Library::signed_in`]) first, so the CLI, the desktop and any later shell get the same
//! answer. A library without users runs with its one identity (the OS user, or `--user`), as
//! libraries made before users existed did, until the first user is added.

use std::time::{SystemTime, UNIX_EPOCH};

use chairside_store::Actor;
use chairside_users::{Grant, Permission, User};
use serde::Serialize;
use serde_json::json;

use crate::{AppError, Library};

pub use chairside_users::Role;

/// The setting holding the idle time after which the window locks.
const LOCK_AFTER: &str = "lock_after_seconds";
/// Five minutes, unless the clinic sets another time.
pub const DEFAULT_LOCK_AFTER_SECONDS: u64 = 300;

/// Who holds this library open, if anybody.
#[derive(Debug, Default)]
pub(crate) struct Session {
    user: Option<SignedIn>,
    locked: bool,
}

#[derive(Debug, Clone)]
struct SignedIn {
    id: String,
}

/// How a user proves who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret<'a> {
    Password(&'a str),
    Pin(&'a str),
}

/// What a shell shows of the session: whether sign-in is needed, who is signed in, what they
/// may do (the UI hides the rest; the backend checks again), and whether the window is locked.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionState {
    /// The library has users: somebody must be signed in to use it.
    pub users: bool,
    pub user: Option<String>,
    pub role: Option<String>,
    pub permissions: Vec<Permission>,
    pub locked: bool,
    /// Idle time after which the window locks.
    pub lock_after_seconds: u64,
}

thread_local! {
    /// Set while the background works (the inbox taking in a sensor's files): its steps are
    /// recorded under [`Library::background_actor`] and not refused behind a locked window.
    static BACKGROUND: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` as the background's work on this thread.
pub(crate) fn in_background<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            BACKGROUND.with(|b| b.set(self.0));
        }
    }
    let _reset = Reset(BACKGROUND.with(|b| b.replace(true)));
    f()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Library {
    fn session_read(&self) -> std::sync::RwLockReadGuard<'_, Session> {
        self.session.read().unwrap_or_else(|p| p.into_inner())
    }

    fn session_write(&self) -> std::sync::RwLockWriteGuard<'_, Session> {
        self.session.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the library has users (and so asks who is there).
    pub fn has_users(&self) -> Result<bool, AppError> {
        Ok(self.db.read(chairside_users::has_users)?)
    }

    /// The signed-in user's grant, or why there is none.
    fn current_grant(&self) -> Result<Option<Grant>, AppError> {
        let (user, locked) = {
            let s = self.session_read();
            (s.user.clone(), s.locked)
        };
        let Some(user) = user else {
            return if self.has_users()? {
                Err(AppError::AuthRequired(
                    "this library has users: sign in first (a name and a password or PIN)".into(),
                ))
            } else {
                Ok(None)
            };
        };
        if locked {
            return Err(AppError::AuthRequired("the window is locked: sign in again".into()));
        }
        match self.db.read(|c| chairside_users::grant(c, &user.id))? {
            Some(g) if g.disabled => {
                Err(AppError::AuthRequired(format!("the account {:?} was disabled: sign in as another user", g.name)))
            }
            Some(g) => Ok(Some(g)),
            None => Err(AppError::AuthRequired("the signed-in account is gone: sign in again".into())),
        }
    }

    /// Who acts, when they may do `permission`: the signed-in user (their role read afresh, so
    /// an edit takes effect at the next action), or the library's identity when it has no
    /// users yet. A refusal is audited and changes nothing else.
    pub(crate) fn allow(&self, permission: Permission) -> Result<Actor, AppError> {
        if BACKGROUND.with(|b| b.get()) {
            return Ok(self.background_actor());
        }
        match self.current_grant()? {
            None => Ok(self.identity.clone()),
            Some(g) if g.permissions.contains(permission) => {
                Ok(Actor { user: g.name, workstation: self.identity.workstation.clone() })
            }
            Some(g) => {
                let actor = Actor { user: g.name.clone(), workstation: self.identity.workstation.clone() };
                let _ = self.db.write(|tx| {
                    chairside_audit::append(
                        tx,
                        &actor,
                        "forbidden",
                        "user",
                        None,
                        json!({"permission": permission.as_str(), "role": g.role}),
                    )
                });
                Err(AppError::Forbidden { user: g.name, role: g.role, permission })
            }
        }
    }

    /// Who acts, for what any signed-in user may do (read a patient list, see Health).
    pub(crate) fn signed_in(&self) -> Result<Actor, AppError> {
        if BACKGROUND.with(|b| b.get()) {
            return Ok(self.background_actor());
        }
        Ok(match self.current_grant()? {
            None => self.identity.clone(),
            Some(g) => Actor { user: g.name, workstation: self.identity.workstation.clone() },
        })
    }

    /// Who the work of the background (the inbox, a scheduled backup) is recorded under: the
    /// user signed in, even behind a locked window, else the library's identity.
    pub(crate) fn background_actor(&self) -> Actor {
        let id = self.session_read().user.as_ref().map(|u| u.id.clone());
        let name = id.and_then(|id| self.db.read(|c| chairside_users::grant(c, &id)).ok().flatten()).map(|g| g.name);
        match name {
            Some(user) => Actor { user, workstation: self.identity.workstation.clone() },
            None => self.identity.clone(),
        }
    }

    /// Refuses (and audits) unless the signed-in user may do `permission`: for a shell that
    /// must know before it asks for more (a new password at a prompt).
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        self.allow(permission).map(drop)
    }

    /// Whether the signed-in user may do `permission` (for a shell choosing what to show).
    pub fn may(&self, permission: Permission) -> bool {
        match self.current_grant() {
            Ok(None) => true,
            Ok(Some(g)) => g.permissions.contains(permission),
            Err(_) => false,
        }
    }

    pub fn session(&self) -> Result<SessionState, AppError> {
        let users = self.has_users()?;
        let (user, locked) = {
            let s = self.session_read();
            (s.user.clone(), s.locked)
        };
        let grant = match &user {
            Some(u) => self.db.read(|c| chairside_users::grant(c, &u.id))?,
            None => None,
        };
        let permissions = match (&grant, users) {
            (Some(g), _) if !g.disabled => g.permissions.list(),
            (_, false) => Permission::ALL.to_vec(),
            _ => Vec::new(),
        };
        Ok(SessionState {
            users,
            user: grant.as_ref().map(|g| g.name.clone()),
            role: grant.map(|g| g.role),
            permissions,
            locked,
            lock_after_seconds: self.lock_after_seconds()?,
        })
    }

    /// Signs in (or, with another user, switches to them; or unlocks the window). Wrong
    /// attempts are counted per name on this workstation: from the fifth in a row, the name is
    /// locked for a delay that grows with each further one. Every attempt is audited.
    pub fn sign_in(&self, name: &str, secret: Secret<'_>) -> Result<SessionState, AppError> {
        let name = name.trim();
        let (text, pin) = match secret {
            Secret::Password(p) => (p, false),
            Secret::Pin(p) => (p, true),
        };
        let method = if pin { "pin" } else { "password" };
        let failed = |tx: &chairside_store::rusqlite::Transaction<'_>, reason: &str| {
            chairside_audit::append(
                tx,
                &self.identity,
                "sign_in_failed",
                "user",
                None,
                json!({"name": name, "method": method, "reason": reason}),
            )
        };
        let attempts = self.db.read(|c| chairside_users::attempts(c, name))?;
        let now = now_ms();
        if attempts.locked_until_ms > now {
            self.db.write(|tx| failed(tx, "locked_out"))?;
            return Err(AppError::LockedOut {
                name: name.to_string(),
                seconds: ((attempts.locked_until_ms - now) as u64).div_ceil(1000),
            });
        }
        let creds = self.db.read(|c| chairside_users::credentials(c, name))?;
        // The hash is checked outside any transaction: it takes a few hundred milliseconds.
        let ok = !name.chars().any(char::is_control) && chairside_users::check(creds.as_ref(), text, pin);
        let user: Option<User> = creds.map(|c| c.user).filter(|_| ok);
        let Some(user) = user else {
            let after = self.db.write(|tx| {
                let a = chairside_users::record_failure(tx, name, now)?;
                failed(tx, "wrong_secret")?;
                Ok::<_, AppError>(a)
            })?;
            if after.locked_until_ms > now {
                return Err(AppError::LockedOut {
                    name: name.to_string(),
                    seconds: ((after.locked_until_ms - now) as u64).div_ceil(1000),
                });
            }
            return Err(AppError::AuthFailed(format!(
                "wrong name or {}: check them and try again ({} of {} attempts before a pause)",
                if pin { "PIN" } else { "password" },
                after.failures,
                chairside_users::MAX_FAILURES
            )));
        };
        if user.disabled {
            self.db.write(|tx| failed(tx, "disabled"))?;
            return Err(AppError::AuthFailed(format!(
                "the account {:?} is disabled: the clinic's owner can enable it",
                user.name
            )));
        }
        let previous = self.session_read().user.clone();
        let actor = Actor { user: user.name.clone(), workstation: self.identity.workstation.clone() };
        self.db.write(|tx| {
            chairside_users::record_success(tx, name)?;
            let mut detail = json!({"method": method});
            if let Some(p) = previous.filter(|p| p.id != user.id) {
                detail["switched_from"] = json!(p.id);
            }
            chairside_audit::append(tx, &actor, "sign_in", "user", Some(&user.id), detail)?;
            Ok::<_, AppError>(())
        })?;
        *self.session_write() = Session { user: Some(SignedIn { id: user.id }), locked: false };
        self.session()
    }

    pub fn sign_out(&self) -> Result<SessionState, AppError> {
        let was = self.session_read().user.clone();
        if let Some(u) = was {
            let actor = self.background_actor();
            self.db.write(|tx| chairside_audit::append(tx, &actor, "sign_out", "user", Some(&u.id), json!({})))?;
        }
        *self.session_write() = Session::default();
        self.session()
    }

    /// Locks the window: nothing is shown or served until somebody signs in again. The signed-in
    /// user stays recorded for the inbox's work meanwhile.
    pub fn lock(&self, reason: &str) -> Result<SessionState, AppError> {
        let user = self.session_read().user.clone();
        if let Some(u) = user
            && !self.session_read().locked
        {
            let actor = self.background_actor();
            self.db.write(|tx| {
                chairside_audit::append(tx, &actor, "lock", "user", Some(&u.id), json!({"reason": reason}))
            })?;
            self.session_write().locked = true;
        }
        self.session()
    }

    pub fn lock_after_seconds(&self) -> Result<u64, AppError> {
        let v = self.db.read(|c| chairside_store::get_setting(c, LOCK_AFTER))?;
        Ok(v.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_LOCK_AFTER_SECONDS))
    }

    /// Sets the idle time after which windows lock (at least 30 s, at most 8 hours).
    pub fn set_lock_after_seconds(&self, seconds: u64) -> Result<SessionState, AppError> {
        if !(30..=8 * 3600).contains(&seconds) {
            return Err(AppError::InvalidInput("the idle time before locking is 30 seconds to 8 hours".into()));
        }
        let actor = self.allow(Permission::Configure)?;
        self.db.write(|tx| {
            chairside_store::set_setting(tx, LOCK_AFTER, &seconds.to_string())?;
            chairside_audit::append(tx, &actor, "lock_after", "library", None, json!({"seconds": seconds}))?;
            Ok::<_, AppError>(())
        })?;
        self.session()
    }

    // --- users and roles ---

    /// Adds a user. The first one is the library's owner; from then on the library asks who
    /// is there. Secrets are hashed before the write (argon2id).
    pub fn add_user(&self, name: &str, role: &str, password: &str, pin: Option<&str>) -> Result<User, AppError> {
        let actor = self.allow(Permission::ManageUsers)?;
        let password = chairside_users::hash_password(password)?;
        let pin = pin.map(chairside_users::hash_pin).transpose()?;
        let new = chairside_users::NewUser { name: name.to_string(), role: role.to_string(), password, pin };
        Ok(self.db.write(|tx| chairside_users::add_user(tx, &actor, new))?)
    }

    pub fn list_users(&self) -> Result<Vec<User>, AppError> {
        self.allow(Permission::ManageUsers)?;
        Ok(self.db.read(chairside_users::list_users)?)
    }

    pub fn edit_user(&self, name: &str, role: Option<&str>, disabled: Option<bool>) -> Result<User, AppError> {
        let actor = self.allow(Permission::ManageUsers)?;
        Ok(self.db.write(|tx| chairside_users::edit_user(tx, &actor, name, role, disabled))?)
    }

    /// Sets a user's password, and their PIN when `pin` is given (`Some(None)` removes it):
    /// users change their own; the owner (manage users) resets anybody's.
    pub fn set_user_secrets(
        &self,
        name: &str,
        password: Option<&str>,
        pin: Option<Option<&str>>,
    ) -> Result<User, AppError> {
        let me = self.signed_in()?;
        let own = self.has_users()? && chairside_users::name_key(&me.user) == chairside_users::name_key(name);
        let actor = if own { me } else { self.allow(Permission::ManageUsers)? };
        let password = password.map(chairside_users::hash_password).transpose()?;
        let pin = pin.map(|p| p.map(chairside_users::hash_pin).transpose()).transpose()?;
        Ok(self.db.write(|tx| chairside_users::set_secrets(tx, &actor, name, password, pin))?)
    }

    pub fn list_roles(&self) -> Result<Vec<Role>, AppError> {
        self.signed_in()?;
        Ok(self.db.read(chairside_users::list_roles)?)
    }

    pub fn edit_role(&self, role: &str, allow: &[Permission], deny: &[Permission]) -> Result<Role, AppError> {
        let actor = self.allow(Permission::ManageUsers)?;
        Ok(self.db.write(|tx| chairside_users::edit_role(tx, &actor, role, allow, deny))?)
    }
}
