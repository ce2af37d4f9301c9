//! `chairside user …` and `chairside role …`: who may use the library, and what each role may do.
//! New secrets come from `CHAIRSIDE_NEW_PASSWORD` / `CHAIRSIDE_NEW_PIN` or a prompt, never
//! from an argument (which other accounts could read in the process list).

use std::sync::Arc;

use chairside_app::{AppError, Library, Permission};
use clap::Subcommand;

use crate::output::{Output, f};

#[derive(Subcommand)]
pub enum UserCmd {
    /// Add a user (the first one is the library's owner). Password from CHAIRSIDE_NEW_PASSWORD
    /// or a prompt.
    Add {
        #[arg(long)]
        name: String,
        /// owner, dentist, hygienist, assistant, front_desk or it.
        #[arg(long)]
        role: String,
        /// Also set a 4–8 digit PIN for quick switching (CHAIRSIDE_NEW_PIN or a prompt).
        #[arg(long)]
        pin: bool,
    },
    List,
    /// Change a user's role, or disable or enable their account.
    Edit {
        name: String,
        #[arg(long)]
        role: Option<String>,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Set a user's password (yours, or anyone's as the owner): CHAIRSIDE_NEW_PASSWORD or a
    /// prompt. With --pin, set the PIN instead (CHAIRSIDE_NEW_PIN); --no-pin removes it.
    Password {
        name: String,
        #[arg(long, conflicts_with = "no_pin")]
        pin: bool,
        #[arg(long)]
        no_pin: bool,
    },
}

#[derive(Subcommand)]
pub enum RoleCmd {
    /// The roles and their permissions.
    List,
    /// Grant (--allow) or withdraw (--deny) permissions of a role.
    Edit {
        role: String,
        #[arg(long, num_args = 1.., value_name = "PERM")]
        allow: Vec<String>,
        #[arg(long, num_args = 1.., value_name = "PERM")]
        deny: Vec<String>,
    },
}

fn new_secret(env: &str, prompt: &str) -> Result<String, AppError> {
    match std::env::var(env) {
        Ok(s) if !s.is_empty() => Ok(s),
        _ => {
            let first = rpassword::prompt_password(prompt).map_err(|e| {
                AppError::InvalidInput(format!("no secret given: set {env} or type it at the prompt ({e})"))
            })?;
            let again = rpassword::prompt_password("Again: ").map_err(|e| {
                AppError::InvalidInput(format!("no secret given: set {env} or type it at the prompt ({e})"))
            })?;
            if first != again {
                return Err(AppError::InvalidInput("the two entries differ: nothing was changed".into()));
            }
            Ok(first)
        }
    }
}

fn permissions(names: &[String]) -> Result<Vec<Permission>, AppError> {
    names
        .iter()
        .map(|n| {
            Permission::parse(n).ok_or_else(|| {
                let known: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
                AppError::InvalidInput(format!("no permission named {n:?}: the permissions are {}", known.join(", ")))
            })
        })
        .collect()
}

fn user_line(u: &chairside_app::User) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        f(&u.name),
        u.role,
        if u.disabled { "disabled" } else { "enabled" },
        if u.has_pin { "pin" } else { "-" }
    )
}

pub fn run_user(lib: &Arc<Library>, cmd: UserCmd) -> Result<Output, AppError> {
    match cmd {
        UserCmd::Add { name, role, pin } => {
            lib.require(Permission::ManageUsers)?;
            let first = !lib.has_users()?;
            let password = new_secret("CHAIRSIDE_NEW_PASSWORD", &format!("Password for {name}: "))?;
            let pin = if pin { Some(new_secret("CHAIRSIDE_NEW_PIN", &format!("PIN for {name}: "))?) } else { None };
            let u = lib.add_user(&name, &role, &password, pin.as_deref())?;
            if first {
                say!(
                    "chairside: {} is the library's owner; from now on every command needs --user and a password",
                    u.name
                );
            }
            let text = user_line(&u);
            Output::ok(u, text)
        }
        UserCmd::List => {
            let users = lib.list_users()?;
            let text = users.iter().map(user_line).collect::<Vec<_>>().join("\n");
            Output::ok(users, text)
        }
        UserCmd::Edit { name, role, disable, enable } => {
            let disabled = if disable {
                Some(true)
            } else if enable {
                Some(false)
            } else {
                None
            };
            let u = lib.edit_user(&name, role.as_deref(), disabled)?;
            let text = user_line(&u);
            Output::ok(u, text)
        }
        UserCmd::Password { name, pin, no_pin } => {
            let u = if no_pin {
                lib.set_user_secrets(&name, None, Some(None))?
            } else if pin {
                let p = new_secret("CHAIRSIDE_NEW_PIN", &format!("New PIN for {name}: "))?;
                lib.set_user_secrets(&name, None, Some(Some(&p)))?
            } else {
                let p = new_secret("CHAIRSIDE_NEW_PASSWORD", &format!("New password for {name}: "))?;
                lib.set_user_secrets(&name, Some(&p), None)?
            };
            let text = user_line(&u);
            Output::ok(u, text)
        }
    }
}

pub fn run_role(lib: &Arc<Library>, cmd: RoleCmd) -> Result<Output, AppError> {
    let line = |r: &chairside_app::Role| {
        format!("{}\t{}", r.name, r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(","))
    };
    match cmd {
        RoleCmd::List => {
            let roles = lib.list_roles()?;
            let text = roles.iter().map(line).collect::<Vec<_>>().join("\n");
            Output::ok(roles, text)
        }
        RoleCmd::Edit { role, allow, deny } => {
            if allow.is_empty() && deny.is_empty() {
                return Err(AppError::InvalidInput("give --allow PERM… or --deny PERM…".into()));
            }
            let r = lib.edit_role(&role, &permissions(&allow)?, &permissions(&deny)?)?;
            let text = line(&r);
            Output::ok(r, text)
        }
    }
}
