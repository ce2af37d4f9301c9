//! The `media:` URI scheme: thumbnails and originals reach the webview as image URLs, never
//! as base64 over IPC. `media://localhost/thumb/<document>/<size>` and
//! `media://localhost/original/<document>` (on Windows `http://media.localhost/…`); the UI
//! builds them with `convertFileSrc`, which percent-encodes the path.
//!
//! Every request names a document, which must exist, and is checked like a command: nothing is
//! served behind a locked window or to a role that may not view images. Thumbnails are made
//! on the spot if missing; an original (or the viewer's preview) is hash-checked and its view
//! audited each time it is served.

use chairside_app::media::THUMBNAIL_SIZES;
use chairside_app::{AppError, Library};
use tauri::http::{Response, StatusCode, Uri, header};

pub const SCHEME: &str = "media";

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Thumbnail {
        document: String,
        size: u32,
    },
    Original {
        document: String,
    },
    /// The document as adjusted (`original`: as it is), at most `size` pixels long.
    View {
        document: String,
        size: u32,
        original: bool,
    },
}

/// Parses the path of a `media:` URL; `None` for anything else.
pub fn parse(uri: &Uri) -> Option<Target> {
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8().ok()?;
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let valid_id =
        |id: &str| !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    match parts.as_slice() {
        ["thumb", id, size] if valid_id(id) => {
            let size: u32 = size.parse().ok()?;
            THUMBNAIL_SIZES.contains(&size).then(|| Target::Thumbnail { document: id.to_string(), size })
        }
        ["original", id] if valid_id(id) => Some(Target::Original { document: id.to_string() }),
        // `view/<id>/<size>/<version>`: the version only makes each edit a new address.
        [which @ ("view" | "view-original"), id, size, _version] if valid_id(id) => {
            let size: u32 = size.parse().ok().filter(|s| (16..=4096).contains(s))?;
            Some(Target::View { document: id.to_string(), size, original: *which == "view-original" })
        }
        _ => None,
    }
}

pub fn error_response(status: u16, message: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(message.as_bytes().to_vec())
        .unwrap_or_default()
}

fn status_of(e: &AppError) -> u16 {
    use chairside_app::media::MediaError;
    match e {
        AppError::Media(MediaError::DocumentNotFound(_)) => 404,
        // The record is there but its original is gone or damaged here.
        AppError::Media(MediaError::BlobMissing { .. } | MediaError::BlobCorrupt { .. }) => 410,
        // Nobody signed in, the window locked, or the role may not view images: nothing served.
        e if e.is_access_refused() => 403,
        _ => 500,
    }
}

fn image(mime: &str, cache: &str, bytes: Vec<u8>) -> Response<Vec<u8>> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, mime)
        .header(header::CACHE_CONTROL, cache)
        .header("X-Content-Type-Options", "nosniff")
        .body(bytes)
        .unwrap_or_default()
}

/// The origins the app's own pages are served from (Linux and macOS; Windows and Android).
const APP_ORIGINS: [&str; 3] = ["tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"];

/// Serves one request. Blocking: call it off the UI thread.
pub fn respond(library: &Library, uri: &Uri) -> Response<Vec<u8>> {
    respond_to(library, uri, None)
}

/// Serves one request from a page of `origin`. An original is fetched (not only shown as an
/// image) by the 3D viewer, a cross-origin read: it is allowed to the app's own pages only.
pub fn respond_to(library: &Library, uri: &Uri, origin: Option<&str>) -> Response<Vec<u8>> {
    let mut response = serve(library, uri);
    if let Some(origin) = origin.filter(|o| APP_ORIGINS.contains(o))
        && let Ok(value) = origin.parse()
    {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        response.headers_mut().insert(header::VARY, header::HeaderValue::from_static("Origin"));
    }
    response
}

fn serve(library: &Library, uri: &Uri) -> Response<Vec<u8>> {
    match parse(uri) {
        None => error_response(400, "not a Chairside media address"),
        Some(Target::View { document, size, original }) => match library.view_adjusted(&document, size, original) {
            Ok(bytes) => image("image/jpeg", "private, no-cache", bytes),
            Err(e) => error_response(status_of(&e), &e.to_string()),
        },
        Some(Target::Thumbnail { document, size }) => match library.thumbnail(&document, size) {
            // Revalidated at every use: a locked window, or another user, must reach the check
            // here rather than the webview's cache.
            Ok(Some(thumb)) => match std::fs::read(&thumb.path) {
                Ok(bytes) => image("image/jpeg", "private, no-cache", bytes),
                Err(e) => error_response(500, &format!("cannot read the thumbnail {}: {e}", thumb.path.display())),
            },
            Ok(None) => error_response(404, "this document has no preview"),
            Err(e) => error_response(status_of(&e), &e.to_string()),
        },
        // Not cached: each display of a full image is a view the audit trail records.
        Some(Target::Original { document }) => match library.view_original(&document) {
            Ok((doc, bytes)) => image(doc.summary.mime, "no-store", bytes),
            Err(e) => error_response(status_of(&e), &e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().expect("uri")
    }

    #[test]
    fn parses_both_url_forms_and_refuses_the_rest() {
        let id = "0191a0b2-7c3d-5e4f-8a9b-0c1d2e3f4a5b";
        let thumb = Target::Thumbnail { document: id.into(), size: 256 };
        assert_eq!(parse(&uri(&format!("media://localhost/thumb%2F{id}%2F256"))), Some(thumb));
        assert_eq!(
            parse(&uri(&format!("http://media.localhost/original/{id}"))),
            Some(Target::Original { document: id.into() })
        );
        assert_eq!(
            parse(&uri(&format!("media://localhost/view%2F{id}%2F2048%2F7"))),
            Some(Target::View { document: id.into(), size: 2048, original: false })
        );
        assert_eq!(
            parse(&uri(&format!("media://localhost/view-original/{id}/1024/7"))),
            Some(Target::View { document: id.into(), size: 1024, original: true })
        );
        for bad in [
            format!("media://localhost/view/{id}/9000/1"),
            format!("media://localhost/view/{id}/2048"),
            format!("media://localhost/thumb/{id}/300"),
            format!("media://localhost/thumb/{id}"),
            "media://localhost/original/..%2F..%2Fetc%2Fpasswd".to_string(),
            "media://localhost/original/".to_string(),
            format!("media://localhost/blob/{id}"),
        ] {
            assert_eq!(parse(&uri(&bad)), None, "{bad}");
        }
    }
}
