//! Videos reach the webview's player over HTTP on the loopback interface. WebKitGTK's player
//! (GStreamer) reads only http(s) and blob: sources, never an app's own scheme, so `media:`
//! cannot feed a `<video>`; a blob would hold a whole video (up to 4 GB) in memory.
//!
//! The server listens on 127.0.0.1 only, on a port the system picks, and answers only paths
//! under a secret of 244 random bits made at start, which only the webview learns (through the
//! `video_source` command): another local process or a web page cannot name a video. A request
//! for another host name (DNS rebinding) is refused too. Behind that, each request is served
//! exactly as a `media:` one: the library checks the session (a locked window or a role that
//! may not view images gets nothing), records the view when playback starts, and the bytes go
//! by ranges of at most 8 MB (`protocol::video_response`).

use std::io;
use std::sync::Arc;

use tauri::{AppHandle, Manager, Runtime};

use crate::{Shared, protocol};

/// Requests served at once (each holds at most one 8 MB range).
const WORKERS: usize = 4;

/// The running server: where the webview finds a video.
pub struct VideoServer {
    base: String,
}

impl VideoServer {
    /// Binds 127.0.0.1 on a free port and starts the workers; they live as long as the app.
    pub fn start<R: Runtime>(app: AppHandle<R>) -> io::Result<Self> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(io::Error::other)?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| io::Error::other("the video server has no TCP address"))?;
        let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let server = Arc::new(server);
        let host = format!("127.0.0.1:{port}");
        for n in 0..WORKERS {
            let (server, app, secret, host) = (Arc::clone(&server), app.clone(), secret.clone(), host.clone());
            std::thread::Builder::new().name(format!("video-server-{n}")).spawn(move || {
                while let Ok(request) = server.recv() {
                    let response = answer(&app, &secret, &host, &request);
                    // A player that hung up mid-answer (a seek) is nothing to report.
                    let _ = request.respond(response);
                }
            })?;
        }
        Ok(VideoServer { base: format!("http://{host}/{secret}") })
    }

    /// The address the player reads `document` from.
    pub fn url(&self, document: &str) -> String {
        format!("{}/video/{document}", self.base)
    }
}

type Answer = tiny_http::Response<io::Cursor<Vec<u8>>>;

fn answer<R: Runtime>(app: &AppHandle<R>, secret: &str, host: &str, request: &tiny_http::Request) -> Answer {
    let header = |name: &'static str| {
        request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_string())
    };
    if !matches!(request.method(), tiny_http::Method::Get | tiny_http::Method::Head) {
        return convert(protocol::error_response(405, "only GET and HEAD are served"));
    }
    if header("Host").as_deref() != Some(host) {
        return convert(protocol::error_response(403, "not this server's host name"));
    }
    let Some(document) = document_of(request.url(), secret) else {
        return convert(protocol::error_response(404, "no such video"));
    };
    let range = header("Range");
    let response = match app.state::<Shared>().library() {
        Ok(library) => protocol::video_response(&library, document, range.as_deref()),
        Err(e) => protocol::error_response(503, &e.message),
    };
    convert(response)
}

/// The document of `/<secret>/video/<document>`, when the secret is right (compared in time
/// independent of where it differs).
fn document_of<'a>(path: &'a str, secret: &str) -> Option<&'a str> {
    let path = path.split('?').next()?.strip_prefix('/')?;
    let (given, rest) = path.split_once('/')?;
    let same = given.len() == secret.len() && given.bytes().zip(secret.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0;
    let document = rest.strip_prefix("video/")?;
    let valid = !document.is_empty()
        && document.len() <= 64
        && document.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (same && valid).then_some(document)
}

fn convert(response: tauri::http::Response<Vec<u8>>) -> Answer {
    let (parts, body) = response.into_parts();
    // A length, not chunks: a player seeking by ranges wants Content-Length.
    let mut out =
        tiny_http::Response::from_data(body).with_status_code(parts.status.as_u16()).with_chunked_threshold(usize::MAX);
    for (name, value) in &parts.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(name.as_str().as_bytes(), value.as_bytes()) {
            out.add_header(h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::document_of;

    #[test]
    fn only_the_secret_path_names_a_video() {
        let secret = "0123456789abcdef";
        assert_eq!(document_of("/0123456789abcdef/video/abc-1", secret), Some("abc-1"));
        assert_eq!(document_of("/0123456789abcdef/video/abc-1?x=1", secret), Some("abc-1"));
        assert_eq!(document_of("/0123456789abcdeX/video/abc-1", secret), None);
        assert_eq!(document_of("/0123456789abcde/video/abc-1", secret), None);
        assert_eq!(document_of("/video/abc-1", secret), None);
        assert_eq!(document_of("/0123456789abcdef/video/", secret), None);
        assert_eq!(document_of("/0123456789abcdef/video/../../etc", secret), None);
        assert_eq!(document_of("/0123456789abcdef/original/abc-1", secret), None);
    }
}
