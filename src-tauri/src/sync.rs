//! Background sync in the desktop app: the engine's loop on a thread of its own, its status
//! forwarded to the window as `sync` events, and a nudge after each local change so it
//! uploads at once (peers are still listed only once per interval).

use std::sync::Arc;

use chairside_app::Library;
use chairside_app::sync_engine::{SyncLoop, SyncStatus};
use serde::Serialize;
use tauri::{Emitter, Manager, Runtime};
use ts_rs::TS;

use crate::Shared;

pub const EVENT_SYNC: &str = "sync";

/// What the window hears after each round.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SyncEvent {
    pub status: SyncStatus,
    /// The round brought records, thumbnails or originals from peers: views should reload.
    pub changed: bool,
}

/// Starts the loop (it idles while sync is not configured).
pub fn start<R: Runtime>(app: &tauri::AppHandle<R>, lib: &Arc<Library>) {
    let engine = match lib.sync() {
        Ok(e) => Arc::clone(e),
        Err(e) => {
            log_line!("chairside: sync is unavailable: {e}");
            return;
        }
    };
    let emitter = app.clone();
    let sync_loop = SyncLoop::start(
        engine,
        Box::new(move |status: &SyncStatus, changed: bool| {
            let _ = emitter.emit(EVENT_SYNC, SyncEvent { status: status.clone(), changed });
        }),
    );
    *app.state::<Shared>().sync.lock().unwrap_or_else(|p| p.into_inner()) = Some(sync_loop);
}

/// A local change: upload it now.
pub fn nudge<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(l) = app.state::<Shared>().sync.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        l.nudge();
    }
}

/// A full round now (settings saved, or "Sync now").
pub fn now<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(l) = app.state::<Shared>().sync.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        l.sync_now();
    }
}
