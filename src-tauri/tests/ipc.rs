//! The shell as the webview meets it, with no display: the real context (capabilities, ACL,
//! config) on Tauri's mock runtime, commands called through IPC, and the `media:` protocol
//! answering for a real library with real photos.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindow, WebviewWindowBuilder};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name)
}

struct Shell {
    _app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    _dir: tempfile::TempDir,
}

fn shell() -> Shell {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = chairside_desktop::with_chairside(mock_builder(), Some(dir.path().to_path_buf()), Instant::now())
        .build(tauri::generate_context!())
        .expect("app builds with the real configuration");
    // `setup` runs when an event loop starts, which the mock runtime has not: open the
    // library the way it does.
    chairside_desktop::open_library(app.handle(), dir.path().to_path_buf());
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("main window");
    Shell { _app: app, window, _dir: dir }
}

impl Shell {
    fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(&self.window, request).map(|b| b.deserialize::<Value>().expect("json answer"))
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.call(cmd, args.clone()).unwrap_or_else(|e| panic!("{cmd} {args} failed: {e}"))
    }

    fn library(&self) -> std::sync::Arc<chairside_app::Library> {
        self.window.state::<chairside_desktop::Shared>().library().expect("library open")
    }
}

#[test]
fn a_clinicians_session_through_ipc() {
    let s = shell();
    let patient =
        s.ok("add_patient", json!({"input": {"name": "Ana Kovač", "external_id": "C-1", "birth_date": null}}));
    let pid = patient["id"].as_str().expect("id");
    assert_eq!(s.ok("list_patients", json!({"query": "C-1"}))[0]["name"], "Ana Kovač");

    let files = [fixture("orient_1.jpg"), fixture("png_chelsea_pentax.png"), fixture("broken_truncated.jpg")];
    let results = s.ok("import_files", json!({"importId": "t", "patientId": pid, "paths": files, "kind": "intraoral"}));
    let statuses: Vec<&str> =
        results.as_array().expect("array").iter().map(|r| r["status"].as_str().unwrap_or("")).collect();
    assert_eq!(statuses, ["imported", "imported", "rejected"]);
    assert_eq!(results[2]["error"]["code"], "corrupt_file");

    let docs = s.ok("list_documents", json!({"patientId": pid, "status": "active"}));
    assert_eq!(docs.as_array().map(Vec::len), Some(2));
    let doc = docs[0]["id"].as_str().expect("doc id").to_string();
    assert_eq!(docs[0]["kind"], "intraoral");
    // Thumbnails are stored in the background; the webview learns their sizes, never paths.
    assert!(docs[0].get("thumbnails").is_none(), "{}", docs[0]);
    let mut previews = json!(null);
    for _ in 0..200 {
        previews = s.ok("list_documents", json!({"patientId": pid, "status": "active"}))[0]["previews"].clone();
        if previews == json!([256, 1024, 2048]) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(previews, json!([256, 1024, 2048]));
    let first = s.ok("list_documents", json!({"patientId": pid, "status": "active", "limit": 1}));
    assert_eq!(first.as_array().map(Vec::len), Some(1));
    assert_eq!(first[0]["id"], docs[0]["id"], "the first page is the head of the full list");

    assert_eq!(
        s.ok("update_document", json!({"id": doc, "edit": {"kind": "extraoral", "notes": "left side"}})),
        "changed"
    );
    assert_eq!(s.ok("archive_document", json!({"id": doc, "reason": "blurred"})), "changed");
    assert_eq!(s.ok("list_documents", json!({"patientId": pid, "status": "archived"}))[0]["id"], doc.as_str());
    assert_eq!(s.ok("restore_document", json!({"id": doc})), "changed");
    let details = s.ok("show_document", json!({"id": doc}));
    let actions: Vec<&str> =
        details["history"].as_array().expect("history").iter().map(|h| h["action"].as_str().unwrap_or("")).collect();
    assert!(actions.contains(&"archive") && actions.contains(&"restore"), "{actions:?}");
    assert_eq!(details["notes"], "left side");

    let plan = s.ok("add_plan", json!({"patientId": pid, "title": "Implant 36"}));
    let item = s.ok("add_plan_item", json!({"planId": plan["id"], "title": "Crown"}));
    s.ok("link_document", json!({"documentId": doc, "ownerType": "plan_item", "ownerId": item["id"], "role": "after"}));
    let linked = s.ok("owner_documents", json!({"ownerType": "plan_item", "ownerId": item["id"]}));
    assert_eq!(linked[0]["role"], "after");
    let note = s.ok("add_note", json!({"patientId": pid, "text": "Healing well"}));
    assert_eq!(s.ok("edit_note", json!({"id": note["id"], "text": "Healing very well"}))["version"], 2);

    let status = s.ok("library_status", json!({}));
    assert_eq!(status["documents"], 2);
}

#[test]
fn an_import_reports_each_file_as_an_import_progress_event() {
    use tauri::Listener;
    let s = shell();
    let patient = s.ok("add_patient", json!({"input": {"name": "Progress", "external_id": null, "birth_date": null}}));
    let events: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = Default::default();
    let sink = std::sync::Arc::clone(&events);
    s.window.listen_any(chairside_desktop::EVENT_IMPORT_PROGRESS, move |e| {
        sink.lock().expect("lock").push(serde_json::from_str(e.payload()).expect("JSON payload"));
    });
    let files = [fixture("orient_1.jpg"), fixture("broken_truncated.jpg"), fixture("png_chelsea_pentax.png")];
    let results =
        s.ok("import_files", json!({"importId": "panel-1", "patientId": patient["id"], "paths": files, "kind": null}));
    let events = events.lock().expect("lock").clone();
    // What the import panel shows: one event per file, counted, with the file's own outcome.
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.iter().all(|e| e["import_id"] == "panel-1" && e["total"] == 3), "{events:?}");
    let mut done: Vec<u64> = events.iter().filter_map(|e| e["done"].as_u64()).collect();
    done.sort();
    assert_eq!(done, [1, 2, 3]);
    for r in results.as_array().expect("results") {
        let event = events.iter().find(|e| e["result"]["path"] == r["path"]).expect("an event for each file");
        assert_eq!(event["result"], *r, "the event carries the file's outcome");
    }
    let broken = events.iter().find(|e| e["result"]["status"] == "rejected").expect("the damaged file");
    assert_eq!(broken["result"]["error"]["code"], "corrupt_file");
}

#[test]
fn refusals_reach_the_ui_as_a_code_and_a_message() {
    let s = shell();
    let e = s.call("get_patient", json!({"id": "nobody"})).expect_err("unknown patient");
    assert_eq!(e["code"], "patient_not_found");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    // The browser e2e's mock refuses a relative inbox folder; so does the real backend, in the
    // words the Settings form shows.
    let relative = s
        .call("set_inbox_folder", json!({"folder": {"path": "relative/folder", "kind": null, "after_import": "move"}}))
        .expect_err("a relative folder");
    assert_eq!(relative["code"], "invalid_input");
    assert!(relative["message"].as_str().is_some_and(|m| m.contains("full path")), "{relative}");
    // The next step in the desktop's words, not a command line.
    assert_eq!(e["message"], "no patient with id nobody: search for the patient again in the patient list");
    let e = s
        .call("add_patient", json!({"input": {"name": "  ", "external_id": null, "birth_date": null}}))
        .expect_err("empty");
    assert_eq!(e["code"], "invalid_input");
    let e = s.call("link_document", json!({"documentId": "x", "ownerType": "invoice", "ownerId": "y", "role": null}));
    assert!(e.is_err(), "an unregistered owner type is refused");
}

#[test]
fn the_handler_the_manifest_and_the_capability_agree() {
    let s = shell();
    for cmd in chairside_desktop::COMMANDS {
        // Empty arguments: every command exists and is allowed, so it fails on its arguments
        // (or succeeds), never as unknown or forbidden.
        if let Err(e) = s.call(cmd, json!({})) {
            let text = e.to_string();
            assert!(!text.contains("not found") && !text.contains("not allowed"), "{cmd}: {text}");
        }
    }
    let capability: Value =
        serde_json::from_str(include_str!("../capabilities/main.json")).expect("capability is JSON");
    let granted: Vec<String> = capability["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-").map(|c| c.replace('-', "_")))
        .collect();
    let mut expected: Vec<String> = chairside_desktop::COMMANDS.iter().map(|c| c.to_string()).collect();
    expected.sort();
    let mut granted_sorted = granted.clone();
    granted_sorted.sort();
    assert_eq!(granted_sorted, expected, "capabilities/main.json grants exactly the app's commands");
}

#[test]
fn every_command_function_is_registered_and_listed() {
    // The handler and COMMANDS expand from one list (command_names.rs), so what is registered
    // is what is listed; this checks that no #[tauri::command] function is left out of it.
    let source = include_str!("../src/commands.rs");
    let mut functions: Vec<String> = Vec::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        if !line.trim_start().starts_with("#[tauri::command") {
            continue;
        }
        let signature = lines.next().expect("a function follows #[tauri::command]");
        let name = signature
            .trim_start()
            .trim_start_matches("pub ")
            .trim_start_matches("async ")
            .strip_prefix("fn ")
            .and_then(|rest| rest.split(['(', '<']).next())
            .unwrap_or_else(|| panic!("not a command function: {signature}"));
        functions.push(name.to_string());
    }
    functions.sort();
    let mut listed: Vec<String> = chairside_desktop::COMMANDS.iter().map(|c| c.to_string()).collect();
    listed.sort();
    assert!(functions.len() > 40, "the command functions were found ({})", functions.len());
    assert_eq!(functions, listed, "each #[tauri::command] in commands.rs is in command_names.rs, and only those");
}

#[test]
fn each_command_has_its_client_function_in_the_ui() {
    // The client is typed by the generated `Command` union (bindings.ts), so a name it calls
    // must exist; this checks the other way: no command is left without a caller's door.
    let api = include_str!("../../ui/src/lib/api.ts");
    let missing: Vec<&str> =
        chairside_desktop::COMMANDS.iter().copied().filter(|c| !api.contains(&format!("('{c}'"))).collect();
    assert!(missing.is_empty(), "commands with no function in ui/src/lib/api.ts: {missing:?}");
}

#[test]
fn what_the_capability_does_not_grant_is_refused() {
    let s = shell();
    for cmd in ["plugin:dialog|save", "plugin:dialog|message", "plugin:event|emit", "plugin:window|close"] {
        let e = s.call(cmd, json!({})).expect_err(cmd);
        assert!(e.to_string().contains("not allowed"), "{cmd}: {e}");
    }
}

#[test]
fn the_media_protocol_serves_thumbnails_and_audited_originals() {
    let s = shell();
    let patient = s.ok("add_patient", json!({"input": {"name": "Ben", "external_id": null, "birth_date": null}}));
    let results = s.ok(
        "import_files",
        json!({"importId": "t", "patientId": patient["id"], "paths": [fixture("orient_6.jpg")], "kind": null}),
    );
    let doc = results[0]["document_id"].as_str().expect("imported").to_string();
    let lib = s.library();
    let get = |url: String| chairside_desktop::protocol::respond(&lib, &url.parse().expect("uri"));

    let thumb = get(format!("media://localhost/thumb%2F{doc}%2F256"));
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    assert_eq!(&thumb.body()[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");

    let views_before = lib.audit_list(Some(&doc), 1000).expect("audit").iter().filter(|e| e.action == "view").count();
    let original = get(format!("media://localhost/original%2F{doc}"));
    assert_eq!(original.status(), 200);
    assert_eq!(original.body().as_slice(), std::fs::read(fixture("orient_6.jpg")).expect("fixture").as_slice());
    assert_eq!(original.headers()["cache-control"], "no-store");
    let views_after = lib.audit_list(Some(&doc), 1000).expect("audit").iter().filter(|e| e.action == "view").count();
    assert_eq!(views_after, views_before + 1, "each original served is an audited view");

    assert_eq!(get("media://localhost/thumb%2Fno-such-document%2F256".into()).status(), 404);
    assert_eq!(get("media://localhost/original%2Fno-such-document".into()).status(), 404);
    assert_eq!(get(format!("media://localhost/thumb%2F{doc}%2F333")).status(), 400);
    assert_eq!(get("media://localhost/..%2F..%2Flibrary.sqlite3".into()).status(), 400);
}

/// One HTTP/1.1 request over a plain socket: (status, headers in lower case, body).
fn http(addr: &str, request: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the video server");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read the answer");
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, answer[split + 4..].to_vec())
}

#[test]
fn videos_are_served_by_ranges_on_loopback_under_a_secret_and_audited() {
    let s = shell();
    let patient = s.ok("add_patient", json!({"input": {"name": "Vera", "external_id": null, "birth_date": null}}));
    let file = fixture("vid_h264_rot90.mp4");
    let results =
        s.ok("import_files", json!({"importId": "v", "patientId": patient["id"], "paths": [&file], "kind": null}));
    let doc = results[0]["document_id"].as_str().expect("imported").to_string();
    let bytes = std::fs::read(&file).expect("fixture");

    chairside_desktop::start_video_server(s.window.app_handle());
    let source = s.ok("video_source", json!({"id": doc}));
    assert_eq!(source["state"], "ready", "{source}");
    assert_eq!(source["proxy"], false, "H.264 plays as it is: {source}");
    let url = source["url"].as_str().expect("url").to_string();
    let rest = url.strip_prefix("http://127.0.0.1:").expect("on loopback only");
    let (port, path) = rest.split_once('/').expect("a path");
    let addr = format!("127.0.0.1:{port}");
    let path = format!("/{path}");
    let get = |path: &str, host: &str, extra: &str| {
        http(&addr, &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"))
    };
    let header = |h: &[(String, String)], name: &str| h.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let views =
        || s.library().audit_list(Some(&doc), 1000).expect("audit").iter().filter(|e| e.action == "view").count();

    let before = views();
    let (status, headers, body) = get(&path, &addr, "Range: bytes=0-99\r\n");
    assert_eq!(status, 206);
    assert_eq!(header(&headers, "content-range").as_deref(), Some(format!("bytes 0-99/{}", bytes.len()).as_str()));
    assert_eq!(header(&headers, "content-type").as_deref(), Some("video/mp4"));
    assert_eq!(body, &bytes[..100]);
    assert_eq!(views(), before + 1, "the read from the start is the audited view");
    let (status, _, body) = get(&path, &addr, "Range: bytes=100-\r\n");
    assert_eq!((status, body.as_slice()), (206, &bytes[100..]));
    assert_eq!(views(), before + 1, "reads further on are the same view");
    let (status, _, body) = get(&path, &addr, "");
    assert_eq!((status, body.len()), (200, bytes.len()), "no Range: the whole (small) file");

    let wrong_secret = path.replacen(&path[1..9], "00000000", 1);
    assert_eq!(get(&wrong_secret, &addr, "").0, 404, "a path without the secret names nothing");
    assert_eq!(get(&path, "attacker.example:80", "").0, 403, "another host name (DNS rebinding) is refused");
    assert_eq!(get(&path.replace(&doc, "no-such-document"), &addr, "").0, 404);
    let (status, _, _) =
        http(&addr, &format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 405);
    assert_eq!(get(&path, &addr, &format!("Range: bytes={}-\r\n", bytes.len())).0, 416, "a range past the end");
}
