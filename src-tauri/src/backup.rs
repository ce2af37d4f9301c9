//! Scheduled backups in the desktop app: a thread of its own looks every few minutes whether a
//! backup is due by the clinic's schedule and takes it (off the UI thread and out of async
//! tasks; a backup is disk-bound work), then tells the window to refresh its health. At close,
//! one more backup when the schedule asks for it.

use std::sync::Arc;
use std::time::Duration;

use chairside_app::Library;
use tauri::{Emitter, Runtime};

pub const EVENT_HEALTH: &str = "health";
/// How often the schedule is looked at: a daily backup runs within this of being due.
const LOOK_EVERY: Duration = Duration::from_secs(300);
/// The first look waits for the app's start-up work (thumbnails, the inbox) to settle.
const FIRST_LOOK: Duration = Duration::from_secs(60);

pub fn start<R: Runtime>(app: &tauri::AppHandle<R>, lib: &Arc<Library>) {
    let app = app.clone();
    let lib = Arc::clone(lib);
    let spawned = std::thread::Builder::new().name("backup-schedule".into()).spawn(move || {
        std::thread::sleep(FIRST_LOOK);
        loop {
            run_if_due(&app, &lib);
            std::thread::sleep(LOOK_EVERY);
        }
    });
    if let Err(e) = spawned {
        log_line!("chairside: scheduled backups are off (no thread: {e})");
    }
}

fn run_if_due<R: Runtime>(app: &tauri::AppHandle<R>, lib: &Library) {
    let Ok(state) = lib.backup_state_now() else { return };
    // A missing folder is for Health to show, not for a failed run every five minutes.
    if state.due
        && !state.target_missing
        && let Err(e) = lib.scheduled_backup()
    {
        log_line!("chairside: the scheduled backup failed: {e}");
    }
    let _ = app.emit(EVENT_HEALTH, ());
}

/// The app is closing: back up once more if the schedule says so.
pub fn at_close(lib: &Library) {
    let Ok(state) = lib.backup_state_now() else { return };
    if state.schedule.at_close && state.schedule.target.is_some() && !state.target_missing {
        match lib.scheduled_backup() {
            Ok(r) => log_line!("chairside: backed up at close: snapshot {} ({:.1} s)", r.snapshot, r.seconds),
            Err(e) => log_line!("chairside: the backup at close failed: {e}"),
        }
    }
}
