//! The desktop shell: a Tauri window over [`chairside_app::Library`]. Everything here adapts —
//! commands, the `media:` protocol, events — and nothing decides: the rules live in the
//! domain crates, shared with the CLI.

/// One log line on stderr, control characters escaped (messages carry file names and paths
/// from outside).
macro_rules! log_line {
    ($($t:tt)*) => {
        eprintln!("{}", chairside_app::text::escape_controls(&format!($($t)*)))
    };
}

pub mod backup;
pub mod bindings;
pub mod capture;
#[macro_use]
mod command_names;
pub mod commands;
pub mod protocol;
pub mod sync;
pub mod video_server;

pub use command_names::COMMANDS;

/// The invoke handler of every declared command (see `command_names.rs`).
macro_rules! app_handler {
    ($($c:ident),* $(,)?) => {
        tauri::generate_handler![$(commands::$c),*]
    };
}

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chairside_app::media::ThumbnailEvent;
use chairside_app::{ErrorPayload, Inbox, Library, LibraryOptions};
use tauri::{Emitter, Manager, Runtime};

/// Event names the UI listens to.
pub const EVENT_THUMBNAIL: &str = "thumbnail";
pub const EVENT_IMPORT_PROGRESS: &str = "import-progress";

/// What every command reaches: the open library, or why it could not be opened (shown by
/// the UI instead of the app vanishing). Managed before the window exists and filled by
/// `setup`, so a request that comes first waits for the library instead of failing.
pub struct Shared {
    library: Mutex<Option<Result<Arc<Library>, ErrorPayload>>>,
    opened: Condvar,
    started: Instant,
    ready_ms: OnceLock<u64>,
    /// How many `media:` requests are served at once.
    media_permits: Arc<tokio::sync::Semaphore>,
    /// The watched inbox folders at work (restarted when their settings change).
    inbox: Mutex<Option<Inbox>>,
    /// The active patient the UI was last told about.
    active: Mutex<Option<String>>,
    /// Background sync with the clinic's bucket (idle while not configured).
    sync: Mutex<Option<chairside_app::sync_engine::SyncLoop>>,
    /// Where the webview's video player reads videos, or why it cannot.
    video: OnceLock<Result<video_server::VideoServer, String>>,
}

/// Enough to keep both cores of a modest workstation busy reading thumbnails.
const MEDIA_CONCURRENCY: usize = 4;

/// How long a request waits for the library to open before saying so.
const OPEN_WAIT: Duration = Duration::from_secs(30);

impl Shared {
    pub fn new(started: Instant) -> Self {
        Shared {
            library: Mutex::new(None),
            opened: Condvar::new(),
            started,
            ready_ms: OnceLock::new(),
            media_permits: Arc::new(tokio::sync::Semaphore::new(MEDIA_CONCURRENCY)),
            inbox: Mutex::new(None),
            active: Mutex::new(None),
            sync: Mutex::new(None),
            video: OnceLock::new(),
        }
    }

    /// Runs `f` with the active patient the UI was last told about, serialised with every
    /// other change of it, so a change read back from the library is never mistaken for one
    /// made here a moment before (or after).
    pub fn with_active<T>(&self, f: impl FnOnce(&mut Option<String>) -> T) -> T {
        f(&mut self.active.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn set(&self, library: Result<Arc<Library>, ErrorPayload>) {
        *self.library.lock().unwrap_or_else(|p| p.into_inner()) = Some(library);
        self.opened.notify_all();
    }

    /// The address the video player reads `document` from.
    pub fn video_url(&self, document: &str) -> Result<String, ErrorPayload> {
        match self.video.get() {
            Some(Ok(server)) => Ok(server.url(document)),
            Some(Err(why)) => Err(ErrorPayload {
                code: "video_unavailable".into(),
                message: format!("the video player's local server could not start ({why}); restart Chairside"),
            }),
            None => Err(ErrorPayload {
                code: "library_not_ready".into(),
                message: "the window is still starting; try again in a moment".into(),
            }),
        }
    }

    /// The library, waiting (blocking) while it is being opened.
    pub fn library(&self) -> Result<Arc<Library>, ErrorPayload> {
        let guard = self.library.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) =
            self.opened.wait_timeout_while(guard, OPEN_WAIT, |l| l.is_none()).unwrap_or_else(|p| p.into_inner());
        guard.clone().unwrap_or_else(|| {
            Err(ErrorPayload {
                code: "library_not_ready".into(),
                message: "the library is still opening after 30 s; check the disk it is on, then restart Chairside"
                    .into(),
            })
        })
    }
}

/// The data folder: `CHAIRSIDE_DATA_DIR`, else the OS's per-user data folder.
fn data_dir() -> Result<PathBuf, ErrorPayload> {
    match std::env::var_os(chairside_app::DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => chairside_app::default_data_dir().map_err(|e| commands::payload(&e)),
    }
}

/// Opens the library in `dir` with thumbnail progress forwarded to the webview as events, and
/// hands it to the commands.
pub fn open_library<R: Runtime>(app: &tauri::AppHandle<R>, dir: PathBuf) {
    let mut options = LibraryOptions::new(dir);
    let emitter = app.clone();
    options.on_thumbnail = Some(Arc::new(move |event: &ThumbnailEvent| {
        // A closed window cannot be told; the thumbnail is on disk either way.
        let _ = emitter.emit(EVENT_THUMBNAIL, event);
    }));
    let library = Library::open(options).map(Arc::new).map_err(|e| commands::payload(&e));
    match &library {
        Ok(lib) => {
            let active = lib.active_patient().ok().flatten().map(|p| p.id);
            app.state::<Shared>().with_active(|known| *known = active);
            capture::start_inbox(app, lib);
            capture::follow_active_patient(app, Arc::clone(lib));
            sync::start(app, lib);
            backup::start(app, lib);
        }
        Err(e) => log_line!("chairside: cannot open the library: {}", e.message),
    }
    app.state::<Shared>().set(library);
}

/// Commands, the `media:` protocol and the library, on any runtime (the tests use the mock one).
pub fn with_chairside<R: Runtime>(
    builder: tauri::Builder<R>,
    data_dir: Option<PathBuf>,
    started: Instant,
) -> tauri::Builder<R> {
    builder
        .manage(Shared::new(started))
        .setup(move |app| {
            if let Some(window) = app.get_webview_window("main") {
                enable_camera(&window);
            }
            start_video_server(app.handle());
            match data_dir.clone().map(Ok).unwrap_or_else(self::data_dir) {
                Ok(dir) => open_library(app.handle(), dir),
                Err(e) => app.state::<Shared>().set(Err(e)),
            }
            // Launched by the practice software with a patient on the command line.
            if let Some(request) = capture::parse_bridge(&std::env::args().collect::<Vec<_>>()) {
                capture::handle_bridge(app.handle(), request);
            }
            Ok(())
        })
        .register_asynchronous_uri_scheme_protocol(protocol::SCHEME, |ctx, request, responder| {
            let app = ctx.app_handle().clone();
            tauri::async_runtime::spawn(async move {
                // A few at a time, first come first served: one scroll through thousands of
                // photos asks for hundreds of thumbnails at once, and each request holds a
                // database connection while it is served.
                let permits = app.state::<Shared>().media_permits.clone();
                let _permit = permits.acquire_owned().await;
                // Reading and hashing files is blocking work: off the webview's thread.
                let origin = request.headers().get("origin").and_then(|o| o.to_str().ok()).map(str::to_string);
                let response = tauri::async_runtime::spawn_blocking(move || match app.state::<Shared>().library() {
                    Ok(library) => protocol::respond_to(&library, request.uri(), origin.as_deref()),
                    Err(e) => protocol::error_response(503, &e.message),
                })
                .await
                .unwrap_or_else(|e| protocol::error_response(500, &format!("serving the image failed: {e}")));
                responder.respond(response);
            });
        })
        .invoke_handler(with_app_commands!(app_handler))
}

/// Starts the loopback server the video player reads from (once; `setup` calls it).
pub fn start_video_server<R: Runtime>(app: &tauri::AppHandle<R>) {
    let shared = app.state::<Shared>();
    if shared.video.get().is_some() {
        return;
    }
    let server = video_server::VideoServer::start(app.clone()).map_err(|e| e.to_string());
    if let Err(why) = &server {
        log_line!("chairside: videos cannot be played in this window: {why}");
    }
    let _ = shared.video.set(server);
}

/// Turns on getUserMedia in the webview (WebKitGTK keeps it off by default). With
/// `CHAIRSIDE_FAKE_CAMERA=1` (the tests), WebKit's own synthetic camera stands in for a USB one.
#[cfg(target_os = "linux")]
fn enable_camera<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    let fake = std::env::var_os("CHAIRSIDE_FAKE_CAMERA").is_some_and(|v| v == "1");
    let _ = window.with_webview(move |webview| {
        use webkit2gtk::{SettingsExt, WebViewExt};
        if let Some(settings) = webview.inner().settings() {
            settings.set_enable_media_stream(true);
            settings.set_enable_mock_capture_devices(fake);
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn enable_camera<R: Runtime>(_window: &tauri::WebviewWindow<R>) {}

/// Starts the desktop app.
pub fn run() {
    let started = Instant::now();
    let builder = tauri::Builder::default()
        // First: a second launch hands over to the running window and exits.
        // Its arguments may carry the practice software's patient.
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| match capture::parse_bridge(&args) {
            Some(request) => capture::handle_bridge(app, request),
            None => {
                if let Some(window) = app.get_webview_window("main") {
                    let _ = window.unminimize();
                    let _ = window.show();
                    let _ = window.set_focus();
                }
            }
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        // The window shows only our own UI (strict CSP): it may use the intraoral camera.
        .on_permission_request(|_, kind| match kind {
            tauri::webview::PermissionKind::Camera => tauri::webview::PermissionResponse::Allow,
            _ => tauri::webview::PermissionResponse::Deny,
        });
    let app = with_chairside(builder, None, started)
        .build(tauri::generate_context!())
        .expect("the app's configuration is built in; failing here is a build defect");
    // A session ending (logout, shutdown) or a service manager stopping the app sends SIGTERM:
    // the app closes as if its window were closed, so its at-close work still runs.
    let closer = app.handle().clone();
    if let Err(e) = ctrlc::set_handler(move || closer.exit(0)) {
        log_line!("chairside: closing on SIGTERM is off ({e})");
    }
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event
            && let Ok(lib) = handle.state::<Shared>().library()
        {
            backup::at_close(&lib);
        }
    });
}
