//! Capture in the shell: the watched inbox folders running beside the window, the active
//! patient kept in step with the rest of the workstation, and the practice-management bridge
//! (`chairside-desktop open --external-id …` or a `chairside://open?…` link), which a second
//! launch hands over to the running window.

use std::sync::Arc;
use std::time::Duration;

use chairside_app::patients::Patient;
use chairside_app::{Inbox, InboxNotice, InboxOptions, Library};
use serde::Serialize;
use tauri::{Emitter, Manager, Runtime};
use ts_rs::TS;

use crate::Shared;

/// Event names the UI listens to.
pub const EVENT_INBOX: &str = "inbox";
pub const EVENT_ACTIVE_PATIENT: &str = "active-patient";

/// How often the active patient is read back, to follow a change made by another program on
/// this workstation (`chairside open` run by the practice software).
const ACTIVE_POLL: Duration = Duration::from_secs(1);

/// The active patient changed (here, from the bridge, or from another program).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ActivePatientEvent {
    pub patient: Option<Patient>,
    /// The practice software asked for this patient: the window shows them.
    pub from_bridge: bool,
}

/// What the practice software asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeRequest {
    pub external_id: String,
    pub name: String,
    pub birth_date: Option<String>,
}

/// Reads a bridge request from a command line (the program name first, as `std::env::args`
/// gives it): `open --external-id ID --name NAME [--birth-date D]` (`--flag=value` too), or a
/// `chairside://open?external_id=ID&name=NAME&birth_date=D` link. Anything else is `None`.
pub fn parse_bridge(args: &[String]) -> Option<BridgeRequest> {
    let rest = args.get(1..)?;
    if let Some(link) = rest.iter().find(|a| a.starts_with("chairside://")) {
        let url = url::Url::parse(link).ok()?;
        if url.host_str() != Some("open") && url.path().trim_matches('/') != "open" {
            return None;
        }
        let get = |k: &str| url.query_pairs().find(|(key, _)| key == k).map(|(_, v)| v.into_owned());
        return Some(BridgeRequest {
            external_id: get("external_id").filter(|s| !s.trim().is_empty())?,
            name: get("name").filter(|s| !s.trim().is_empty())?,
            birth_date: get("birth_date").filter(|s| !s.is_empty()),
        });
    }
    if rest.first().map(String::as_str) != Some("open") {
        return None;
    }
    let mut flags = std::collections::HashMap::new();
    let mut it = rest[1..].iter();
    while let Some(a) = it.next() {
        let Some(flag) = a.strip_prefix("--") else { continue };
        match flag.split_once('=') {
            Some((k, v)) => flags.insert(k.to_string(), v.to_string()),
            None => flags.insert(flag.to_string(), it.next()?.clone()),
        };
    }
    Some(BridgeRequest {
        external_id: flags.remove("external-id").filter(|s| !s.trim().is_empty())?,
        name: flags.remove("name").filter(|s| !s.trim().is_empty())?,
        birth_date: flags.remove("birth-date"),
    })
}

/// Carries out a bridge request (off the main thread) and brings the window forward.
pub fn handle_bridge<R: Runtime>(app: &tauri::AppHandle<R>, request: BridgeRequest) {
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let state = app.state::<Shared>();
        let Ok(lib) = state.library() else { return };
        let opened = state.with_active(|known| {
            let (patient, _created) =
                lib.open_external(&request.external_id, &request.name, request.birth_date.as_deref())?;
            *known = Some(patient.id.clone());
            Ok::<_, chairside_app::AppError>(patient)
        });
        match opened {
            Ok(patient) => {
                let _ =
                    app.emit(EVENT_ACTIVE_PATIENT, ActivePatientEvent { patient: Some(patient), from_bridge: true });
            }
            Err(e) => log_line!("chairside: the practice software's request failed: {e}"),
        }
        if let Some(window) = app.get_webview_window("main") {
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
        }
    });
}

/// (Re)starts the inbox with the configured folders; its outcomes reach the UI as events.
pub fn start_inbox<R: Runtime>(app: &tauri::AppHandle<R>, lib: &Arc<Library>) {
    let state = app.state::<Shared>();
    let mut slot = state.inbox.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(old) = slot.take() {
        old.stop();
    }
    let emitter = app.clone();
    match Inbox::start(Arc::clone(lib), InboxOptions::default(), move |notice: InboxNotice| {
        if matches!(notice, InboxNotice::Files { .. }) {
            crate::sync::nudge(&emitter);
        }
        let _ = emitter.emit(EVENT_INBOX, notice);
    }) {
        Ok(inbox) => *slot = Some(inbox),
        Err(e) => {
            log_line!("chairside: {e}");
            let _ = app.emit(EVENT_INBOX, InboxNotice::Failed { error: crate::commands::payload(&e) });
        }
    }
}

/// Follows the active patient when another program changes it.
pub fn follow_active_patient<R: Runtime>(app: &tauri::AppHandle<R>, lib: Arc<Library>) {
    let app = app.clone();
    let spawned = std::thread::Builder::new().name("active-patient".into()).spawn(move || {
        loop {
            std::thread::sleep(ACTIVE_POLL);
            // The id alone each second; the patient is read only when it changed.
            let changed = app.state::<Shared>().with_active(|known| {
                let id = lib.active_patient_id().ok()?;
                if *known == id {
                    return None;
                }
                let patient = lib.active_patient().ok()?;
                *known = patient.as_ref().map(|p| p.id.clone());
                Some(patient)
            });
            if let Some(patient) = changed {
                let _ = app.emit(EVENT_ACTIVE_PATIENT, ActivePatientEvent { patient, from_bridge: true });
            }
        }
    });
    if let Err(e) = spawned {
        log_line!("chairside: cannot follow the active patient: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        std::iter::once("chairside-desktop").chain(a.iter().copied()).map(String::from).collect()
    }

    #[test]
    fn bridge_command_lines() {
        let want = BridgeRequest { external_id: "C-1".into(), name: "Ada Lovelace".into(), birth_date: None };
        assert_eq!(
            parse_bridge(&args(&["open", "--external-id", "C-1", "--name", "Ada Lovelace"])),
            Some(want.clone())
        );
        assert_eq!(parse_bridge(&args(&["open", "--name=Ada Lovelace", "--external-id=C-1"])), Some(want.clone()));
        assert_eq!(
            parse_bridge(&args(&["chairside://open?external_id=C-1&name=Ada%20Lovelace&birth_date=1990-12-10"])),
            Some(BridgeRequest { birth_date: Some("1990-12-10".into()), ..want })
        );
        assert_eq!(parse_bridge(&args(&[])), None);
        assert_eq!(parse_bridge(&args(&["open", "--external-id", "C-1"])), None, "a name is required");
        assert_eq!(parse_bridge(&args(&["open", "--external-id"])), None);
        assert_eq!(parse_bridge(&args(&["chairside://delete?external_id=C-1&name=X"])), None);
        assert_eq!(parse_bridge(&args(&["--some-webview-flag"])), None);
    }
}
