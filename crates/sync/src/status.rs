//! What the status bar and `sync status` show, and the background loop that keeps a library
//! in step: a round every 10 s while up to date (one listing per peer), right away after a
//! local change, and backing off with jitter while the bucket is unreachable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::SyncError;
use crate::engine::{Backlog, SyncEngine};

const SETTING: &str = "sync_status";
/// Between rounds while everything is up to date.
pub const IDLE_INTERVAL: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_secs(2);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// How often the loop looks for workstations that joined the bucket.
pub const DISCOVERY_INTERVAL: Duration = Duration::from_secs(300);
/// A clock further than this off the server's is warned about.
pub const SKEW_LIMIT_S: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    Off,
    Offline,
    Syncing,
    UpToDate,
    Error,
}

/// Whether what leaves this workstation is sealed with the clinic key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum EncryptionState {
    On,
    #[default]
    Off,
    /// `sync encrypt-existing` or `sync rotate-key` is re-sealing the bucket's objects.
    Migrating,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncStatus {
    pub state: SyncState,
    /// When the current state began (offline since…, error since…).
    pub since: Option<String>,
    /// Offline: when the next attempt is due.
    pub next_try: Option<String>,
    /// Offline or error: what went wrong and what to do.
    pub message: Option<String>,
    pub code: Option<String>,
    pub backlog: Backlog,
    pub last_success_at: Option<String>,
    /// Seconds this clock is ahead of the server's (negative: behind).
    pub clock_skew_seconds: Option<i64>,
    pub warnings: Vec<String>,
    #[serde(default)]
    pub encryption: EncryptionState,
}

impl SyncStatus {
    pub fn off() -> SyncStatus {
        SyncStatus {
            state: SyncState::Off,
            since: None,
            next_try: None,
            message: None,
            code: None,
            backlog: Backlog::default(),
            last_success_at: None,
            clock_skew_seconds: None,
            warnings: vec![],
            encryption: EncryptionState::Off,
        }
    }
}

impl SyncEngine {
    /// The last recorded status (written by whichever process ran the last round), with the
    /// backlog counted now.
    pub fn status(&self) -> Result<SyncStatus, SyncError> {
        let Some(config) = self.config()? else { return Ok(SyncStatus::off()) };
        let mut status = self.saved_status()?;
        status.encryption = if self.migration()?.is_some() {
            EncryptionState::Migrating
        } else if config.encryption.is_some() {
            EncryptionState::On
        } else {
            EncryptionState::Off
        };
        status.backlog = self.backlog()?;
        if status.state == SyncState::UpToDate && status.backlog != Backlog::default() {
            status.state = SyncState::Syncing;
        }
        if status.state == SyncState::Off {
            status.state = SyncState::Syncing;
        }
        if let crate::config::SecretLocation::File { path } = self.secret_location() {
            let w = format!("no OS keychain was available: the secret key is in {path}, readable only by this user");
            if !status.warnings.contains(&w) {
                status.warnings.push(w);
            }
        }
        Ok(status)
    }

    /// The status the last round recorded, its backlog as counted then.
    fn saved_status(&self) -> Result<SyncStatus, SyncError> {
        let saved: Option<SyncStatus> = self
            .db
            .read(|c| Ok::<_, SyncError>(chairside_store::get_setting(c, SETTING)?))?
            .and_then(|s| serde_json::from_str(&s).ok());
        Ok(saved.unwrap_or(SyncStatus { state: SyncState::Syncing, ..SyncStatus::off() }))
    }

    pub(crate) fn save_status(&self, status: &SyncStatus) -> Result<(), SyncError> {
        let text = serde_json::to_string(status).unwrap_or_default();
        self.db.write(|tx| Ok::<_, SyncError>(chairside_store::set_setting(tx, SETTING, &text)?))
    }

    /// Runs one round and records the resulting status (what `sync run` and the loop do).
    pub fn round_with_status(&self, failures: u32) -> (Result<crate::RoundReport, SyncError>, SyncStatus) {
        self.round_with_status_discovering(true, failures)
    }

    /// A round that lists new workstations only when `discover` (the loop does so every few
    /// minutes; in between, one listing per known peer).
    pub fn round_with_status_discovering(
        &self,
        discover: bool,
        failures: u32,
    ) -> (Result<crate::RoundReport, SyncError>, SyncStatus) {
        let result = self.run_round_with(discover);
        let status = self.record(&result, failures);
        (result, status)
    }

    /// Uploads only (after a local change), and records the status.
    pub fn push_with_status(&self, failures: u32) -> (Result<crate::RoundReport, SyncError>, SyncStatus) {
        let result = self.push();
        let status = self.record(&result, failures);
        (result, status)
    }

    fn record(&self, result: &Result<crate::RoundReport, SyncError>, failures: u32) -> SyncStatus {
        // The backlog is counted once, below, not again here.
        let previous = self.saved_status().unwrap_or_else(|_| SyncStatus::off());
        let now = chairside_store::now_rfc3339();
        let mut status = previous.clone();
        status.backlog = self.backlog().unwrap_or_default();
        match result {
            Ok(report) => {
                let settled = status.backlog == Backlog::default();
                let state =
                    if settled && report.problems.is_empty() { SyncState::UpToDate } else { SyncState::Syncing };
                if status.state != state {
                    status.since = Some(now.clone());
                }
                status.state = state;
                status.next_try = None;
                status.message = report.problems.first().cloned();
                status.code = None;
                status.last_success_at = Some(now);
            }
            Err(e) => {
                let state = if e.is_transient() { SyncState::Offline } else { SyncState::Error };
                if status.state != state {
                    status.since = Some(now);
                }
                status.state = state;
                status.message = Some(e.to_string());
                status.code = Some(e.code().to_string());
                status.next_try = e.is_transient().then(|| {
                    let wait = backoff(failures + 1);
                    (chrono::Utc::now() + chrono::Duration::milliseconds(wait.as_millis() as i64))
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                });
            }
        }
        let _ = self.save_status(&status);
        status
    }

    pub(crate) fn note_skew(&self, skew: Option<i64>) {
        let mut status = self.status().unwrap_or_else(|_| SyncStatus::off());
        status.clock_skew_seconds = skew;
        status.warnings.retain(|w| !w.starts_with("this computer's clock"));
        if let Some(s) = skew.filter(|s| s.abs() > SKEW_LIMIT_S) {
            status.warnings.push(format!(
                "this computer's clock is {s} s {} the storage server's: set the time automatically (NTP), or changes may be ordered wrongly",
                if s > 0 { "ahead of" } else { "behind" }
            ));
        }
        let _ = self.save_status(&status);
    }
}

/// Exponential backoff with full jitter: a random wait up to 2 s × 2^(n-1), at most 5 min.
pub fn backoff(failures: u32) -> Duration {
    let cap = BACKOFF_MIN.saturating_mul(1u32 << failures.saturating_sub(1).min(16)).min(BACKOFF_MAX);
    let ms = cap.as_millis() as u64;
    Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2))
}

/// Hears the status after each round, and whether it brought anything new.
pub type RoundListener = Box<dyn Fn(&SyncStatus, bool) + Send>;

/// The background loop of a running app.
pub struct SyncLoop {
    shared: Arc<LoopShared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Wake {
    push: bool,
    full: bool,
}

struct LoopShared {
    wake: Mutex<Wake>,
    cv: Condvar,
    stop: AtomicBool,
}

impl SyncLoop {
    /// Starts rounds on a thread of its own; `on_round` hears each status (and whether the
    /// round applied anything, so the UI can reload).
    pub fn start(engine: Arc<SyncEngine>, on_round: RoundListener) -> SyncLoop {
        let shared = Arc::new(LoopShared {
            wake: Mutex::new(Wake::default()),
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("chairside-sync-loop".into())
            .spawn(move || {
                let mut failures = 0u32;
                let mut last_skew_check: Option<Instant> = None;
                let mut last_full: Option<Instant> = None;
                let mut last_discovery: Option<Instant> = None;
                let mut told_off = false;
                let mut full_wanted = true;
                while !s.stop.load(Ordering::Relaxed) {
                    let wait = if engine.config().ok().flatten().is_none() {
                        // Said once, not every interval, while nothing is configured.
                        if last_full.is_some() || !told_off {
                            on_round(&SyncStatus::off(), false);
                            told_off = true;
                        }
                        last_full = None;
                        IDLE_INTERVAL
                    } else {
                        if last_skew_check.is_none_or(|t| t.elapsed() > Duration::from_secs(3600))
                            && let Ok(skew) = engine.clock_skew()
                        {
                            engine.note_skew(skew);
                            last_skew_check = Some(Instant::now());
                        }
                        // Peers are listed once per interval; a local change in between only
                        // uploads (and costs nothing when there is nothing to upload).
                        let full = full_wanted || last_full.is_none_or(|t| t.elapsed() >= IDLE_INTERVAL);
                        let discover = full_wanted || last_discovery.is_none_or(|t| t.elapsed() >= DISCOVERY_INTERVAL);
                        let (result, status) = if full {
                            engine.round_with_status_discovering(discover, failures)
                        } else {
                            engine.push_with_status(failures)
                        };
                        if full {
                            last_full = Some(Instant::now());
                            if discover && result.is_ok() {
                                last_discovery = last_full;
                            }
                        }
                        match result {
                            Ok(report) => {
                                failures = 0;
                                let changed = report.applied_segments > 0
                                    || report.downloaded_thumbnails > 0
                                    || report.downloaded_originals > 0;
                                on_round(&status, changed);
                                if status.backlog.to_upload > 0 {
                                    // More queued behind a full batch: go again soon.
                                    Duration::from_secs(1)
                                } else {
                                    IDLE_INTERVAL.saturating_sub(last_full.map(|t| t.elapsed()).unwrap_or_default())
                                }
                            }
                            Err(e) => {
                                on_round(&status, false);
                                if e.is_transient() {
                                    failures += 1;
                                    backoff(failures)
                                } else {
                                    failures = 0;
                                    Duration::from_secs(60)
                                }
                            }
                        }
                    };
                    let guard = s.wake.lock().unwrap_or_else(|p| p.into_inner());
                    let (mut woken, _) =
                        s.cv.wait_timeout_while(guard, wait.max(Duration::from_millis(50)), |w| {
                            !w.push && !w.full && !s.stop.load(Ordering::Relaxed)
                        })
                        .unwrap_or_else(|p| p.into_inner());
                    full_wanted = woken.full;
                    *woken = Wake::default();
                }
            })
            .ok();
        SyncLoop { shared, thread }
    }

    /// Settings changed or the person asked: a full round now.
    pub fn sync_now(&self) {
        self.shared.wake.lock().unwrap_or_else(|p| p.into_inner()).full = true;
        self.shared.cv.notify_all();
    }

    /// A local change happened (import, edit) or settings changed: run a round now.
    pub fn nudge(&self) {
        self.shared.wake.lock().unwrap_or_else(|p| p.into_inner()).push = true;
        self.shared.cv.notify_all();
    }

    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.nudge();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SyncLoop {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for n in 1..30 {
            let d = backoff(n);
            let cap = BACKOFF_MIN.saturating_mul(1u32 << (n - 1).min(16)).min(BACKOFF_MAX);
            assert!(d <= cap && d >= cap / 2, "attempt {n}: {d:?} outside [{:?}, {cap:?}]", cap / 2);
        }
        assert!(backoff(40) <= BACKOFF_MAX);
    }
}
