//! The `media:` URI scheme: thumbnails and originals reach the webview as image URLs, never
//! as base64 over IPC. `media://localhost/thumb/<document>/<size>` and
//! `media://localhost/original/<document>`, `…/full/<document>` (a HEIC/AVIF photo at full
//! resolution) (on Windows `http://media.localhost/…`); the UI
//! builds them with `convertFileSrc`, which percent-encodes the path.
//!
//! Every request names a document, which must exist, and is checked like a command: nothing is
//! served behind a locked window or to a role that may not view images. Thumbnails are made
//! on the spot if missing; an original (or the viewer's preview) is hash-checked and its view
//! audited each time it is served. A video is served by byte ranges from its file (the
//! original, hash-checked when first played, or its H.264 proxy) through the loopback server of
//! `video_server.rs` (the webview's player reads no custom scheme), by [`video_response`]; the
//! request that starts playback is the audited view.

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
    /// A HEIC/AVIF photo at full resolution (its largest thumbnail until that is made).
    Full {
        document: String,
    },
    /// The document as adjusted (`original`: as it is), at most `size` pixels long; `frame`
    /// of a multi-frame DICOM.
    View {
        document: String,
        size: u32,
        original: bool,
        frame: u32,
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
        ["full", id] if valid_id(id) => Some(Target::Full { document: id.to_string() }),
        // `view/<id>/<size>/<version>[/<frame>]`: the version only makes each edit a new address.
        [which @ ("view" | "view-original"), id, size, _version, frame @ ..] if valid_id(id) && frame.len() <= 1 => {
            let size: u32 = size.parse().ok().filter(|s| (16..=4096).contains(s))?;
            let frame: u32 = match frame.first() {
                Some(f) => f.parse().ok()?,
                None => 0,
            };
            Some(Target::View { document: id.to_string(), size, original: *which == "view-original", frame })
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
        // The proxy is being made: the viewer says so and asks again when it is ready.
        AppError::Media(MediaError::VideoPreparing { .. }) => 503,
        AppError::Media(MediaError::NotAVideo { .. }) => 415,
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

/// Serves one request from a page of `origin`. An original is fetched (not only shown as an image) by the 3D
/// viewer, a cross-origin read: it is allowed to the app's own pages only.
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
        Some(Target::View { document, size, original, frame }) => {
            match library.view_adjusted(&document, size, original, frame) {
                Ok(bytes) => image("image/jpeg", "private, no-cache", bytes),
                Err(e) => error_response(status_of(&e), &e.to_string()),
            }
        }
        Some(Target::Thumbnail { document, size }) => serve_thumbnail(library, document, size),
        // Not cached: the thumbnail shown until the rendition is made must not stay, and each
        // display is an audited view.
        Some(Target::Full { document }) => match library.view_full(&document) {
            Ok(Some(bytes)) => image("image/jpeg", "no-store", bytes),
            Ok(None) => serve_thumbnail(library, document, THUMBNAIL_SIZES[THUMBNAIL_SIZES.len() - 1]),
            Err(e) => error_response(status_of(&e), &e.to_string()),
        },
        // Not cached: each display of a full image is a view the audit trail records.
        Some(Target::Original { document }) => match library.view_original(&document) {
            Ok((doc, bytes)) => image(doc.summary.mime, "no-store", bytes),
            Err(e) => error_response(status_of(&e), &e.to_string()),
        },
    }
}

fn serve_thumbnail(library: &Library, document: String, size: u32) -> Response<Vec<u8>> {
    match library.thumbnail(&document, size) {
        // Revalidated at every use: a locked window, or another user, must reach the check
        // here rather than the webview's cache.
        Ok(Some(thumb)) => match std::fs::read(&thumb.path) {
            Ok(bytes) => image("image/jpeg", "private, no-cache", bytes),
            Err(e) => error_response(500, &format!("cannot read the thumbnail {}: {e}", thumb.path.display())),
        },
        Ok(None) => error_response(404, "this document has no preview"),
        Err(e) => error_response(status_of(&e), &e.to_string()),
    }
}

/// The most a video response carries: the player asks for the next range as it plays, so a
/// 4 GB file is never held whole.
pub const VIDEO_CHUNK: u64 = 8 << 20;
/// A player that sends no `Range` gets the whole file in
/// one response, up to this size; past it, the first chunk as partial content.
pub const VIDEO_WHOLE_MAX: u64 = 512 << 20;

/// The byte range a `Range` header asks of a file of `len` bytes (`bytes=a-`, `bytes=a-b`,
/// `bytes=-n`), capped at [`VIDEO_CHUNK`]; `None` when it lies outside the file (416). Several
/// ranges are answered with the first.
pub fn byte_range(header: &str, len: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let first = spec.split(',').next()?.trim();
    let (a, b) = first.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", "") => return None,
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.saturating_sub(n), len.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, len.checked_sub(1)?),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(len.saturating_sub(1))),
    };
    if start >= len || end < start {
        return None;
    }
    Some((start, end.min(start + VIDEO_CHUNK - 1)))
}

/// A video's bytes as a player asks them: the range of `range`, or the whole file when it
/// sends none and the file is small enough.
pub fn video_response(library: &Library, document: &str, range: Option<&str>) -> Response<Vec<u8>> {
    // A read from the start is the player starting: that is the view the audit records.
    let starts = range.is_none_or(|r| byte_range(r, u64::MAX).is_some_and(|(start, _)| start == 0));
    let file = match library.video_file(document, starts) {
        Ok(f) => f,
        Err(e) => return error_response(status_of(&e), &e.to_string()),
    };
    let (start, end, partial) = match range.map(|r| byte_range(r, file.len)) {
        Some(Some((start, end))) => (start, end, true),
        Some(None) => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{}", file.len))
                .body(Vec::new())
                .unwrap_or_default();
        }
        None if file.len <= VIDEO_WHOLE_MAX => (0, file.len.saturating_sub(1), false),
        None => (0, VIDEO_CHUNK - 1, true),
    };
    let mut body = Vec::new();
    let read = std::fs::File::open(&file.path).and_then(|mut f| {
        use std::io::{Read, Seek, SeekFrom};
        f.seek(SeekFrom::Start(start))?;
        f.take(end + 1 - start).read_to_end(&mut body)
    });
    if let Err(e) = read {
        return error_response(500, &format!("cannot read the video {}: {e}", file.path.display()));
    }
    let mut response = Response::builder()
        .status(if partial { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK })
        .header(header::CONTENT_TYPE, file.mime)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "no-store")
        .header("X-Content-Type-Options", "nosniff");
    if partial {
        response = response
            .header(header::CONTENT_RANGE, format!("bytes {start}-{}/{}", start + body.len() as u64 - 1, file.len));
    }
    response.body(body).unwrap_or_default()
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
            parse(&uri(&format!("media://localhost/full/{id}?r=2"))),
            Some(Target::Full { document: id.into() }),
            "the query only makes a fresh address"
        );
        assert_eq!(
            parse(&uri(&format!("media://localhost/view%2F{id}%2F2048%2F7"))),
            Some(Target::View { document: id.into(), size: 2048, original: false, frame: 0 })
        );
        assert_eq!(
            parse(&uri(&format!("media://localhost/view-original/{id}/1024/7"))),
            Some(Target::View { document: id.into(), size: 1024, original: true, frame: 0 })
        );
        assert_eq!(
            parse(&uri(&format!("media://localhost/view/{id}/1024/7/29"))),
            Some(Target::View { document: id.into(), size: 1024, original: false, frame: 29 })
        );
        for bad in [
            format!("media://localhost/view/{id}/9000/1"),
            format!("media://localhost/view/{id}/2048"),
            format!("media://localhost/view/{id}/2048/1/x"),
            format!("media://localhost/view/{id}/2048/1/2/3"),
            format!("media://localhost/thumb/{id}/300"),
            format!("media://localhost/thumb/{id}"),
            "media://localhost/original/..%2F..%2Fetc%2Fpasswd".to_string(),
            "media://localhost/original/".to_string(),
            format!("media://localhost/blob/{id}"),
            format!("media://localhost/video/{id}"),
        ] {
            assert_eq!(parse(&uri(&bad)), None, "{bad}");
        }
    }

    #[test]
    fn byte_ranges_are_read_as_players_send_them_and_capped() {
        let len = 100 << 20;
        assert_eq!(byte_range("bytes=0-", len), Some((0, VIDEO_CHUNK - 1)), "capped at a chunk");
        assert_eq!(byte_range("bytes=10-19", len), Some((10, 19)));
        assert_eq!(byte_range("bytes=-100", len), Some((len - 100, len - 1)), "the last 100 bytes");
        assert_eq!(byte_range("bytes=5-1000", 50), Some((5, 49)), "an end past the file stops at it");
        assert_eq!(byte_range("bytes=0-1, 5-9", 50), Some((0, 1)), "the first of several");
        for bad in ["bytes=50-", "bytes=9-3", "bytes=-", "items=0-1", "bytes=x-1", "bytes=0-1"] {
            let len = if bad == "bytes=0-1" { 0 } else { 50 };
            assert_eq!(byte_range(bad, len), None, "{bad} of {len} bytes");
        }
    }
}
