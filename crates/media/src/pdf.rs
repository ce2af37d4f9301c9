//! What is stored as a scanned document must be one: a PDF is parsed (lopdf, whose parser
//! bounds nesting and each stream's decompressed size), must have pages, and may carry no
//! active content — JavaScript, launch or other actions run on opening, embedded files or
//! rich media. A file that only starts with `%PDF` (a JPEG or an executable behind a PDF
//! header) does not parse and is refused.

use lopdf::{Document, LoadOptions, Object};

use crate::decode::Limits;

/// Why a PDF is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PdfProblem {
    /// It does not parse as a PDF, or has no pages.
    Damaged(String),
    /// It is password-protected.
    Encrypted,
    /// It carries active content (what, where).
    Active(String),
}

/// What import learns from a valid PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfInfo {
    pub pages: u32,
}

/// Largest decompressed size of one stream while loading (object and xref streams).
const MAX_STREAM: usize = 32 * 1024 * 1024;
/// Keys whose presence anywhere means the document does something when opened.
const ACTIVE_KEYS: &[(&[u8], &str)] = &[
    (b"JavaScript", "JavaScript"),
    (b"JS", "JavaScript"),
    (b"OpenAction", "an action run on opening"),
    (b"AA", "actions run on events"),
    (b"EmbeddedFiles", "embedded files"),
    (b"EmbeddedFile", "an embedded file"),
    (b"RichMedia", "rich media"),
    (b"XFA", "an XFA form"),
];
/// Action types that are active content wherever they appear.
const ACTIVE_ACTIONS: &[&[u8]] = &[b"Launch", b"JavaScript", b"ImportData", b"SubmitForm", b"Rendition", b"GoToE"];

/// Parses the PDF and checks it is a plain document.
pub fn check(bytes: &[u8], limits: &Limits) -> Result<PdfInfo, PdfProblem> {
    // Every PDF ends with `startxref`, an offset and `%%EOF`; a cut-off file lacks them (a
    // lenient parser would rebuild what it can and hide the loss).
    let tail = &bytes[bytes.len().saturating_sub(2048)..];
    if !tail.windows(9).any(|w| w == b"startxref") {
        return Err(PdfProblem::Damaged("it ends without its cross-reference trailer (cut short?)".into()));
    }
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_STREAM.min(limits.max_decoded_bytes as usize)),
        ..LoadOptions::default()
    };
    let doc = match Document::load_mem_with_options(bytes, options) {
        Ok(d) => d,
        Err(lopdf::Error::Decryption(_)) | Err(lopdf::Error::InvalidPassword) => return Err(PdfProblem::Encrypted),
        Err(e) => return Err(PdfProblem::Damaged(format!("it does not read as a PDF ({e})"))),
    };
    if doc.is_encrypted() {
        return Err(PdfProblem::Encrypted);
    }
    let pages = doc.get_pages().len() as u32;
    if pages == 0 {
        return Err(PdfProblem::Damaged("it has no pages".into()));
    }
    for (id, object) in &doc.objects {
        if let Some(what) = active_content(object) {
            return Err(PdfProblem::Active(format!("{what} (object {} {})", id.0, id.1)));
        }
    }
    if let Some(what) = doc.trailer.iter().find_map(|(_, v)| active_content(v)) {
        return Err(PdfProblem::Active(format!("{what} (in the trailer)")));
    }
    Ok(PdfInfo { pages })
}

/// The first active content found in an object, walked without recursion.
fn active_content(object: &Object) -> Option<&'static str> {
    let mut stack = vec![object];
    while let Some(o) = stack.pop() {
        let dict = match o {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            Object::Array(items) => {
                stack.extend(items.iter());
                continue;
            }
            _ => continue,
        };
        for (key, value) in dict.iter() {
            if let Some((_, what)) = ACTIVE_KEYS.iter().find(|(k, _)| *k == key.as_slice()) {
                return Some(what);
            }
            if key.as_slice() == b"S"
                && let Object::Name(n) = value
                && ACTIVE_ACTIONS.contains(&n.as_slice())
            {
                return Some("an action that runs content");
            }
            stack.push(value);
        }
    }
    None
}

/// Builders of PDFs for tests: a minimal valid one, and with extras in its catalog.
pub mod craft {
    /// A one-page PDF whose catalog gets `catalog_extra` (e.g. `/OpenAction 4 0 R`) and whose
    /// body gets `extra_objects` (each `N 0 obj … endobj`), with a correct xref table.
    pub fn pdf(catalog_extra: &str, extra_objects: &[&str]) -> Vec<u8> {
        let mut objects = vec![
            format!("1 0 obj\n<< /Type /Catalog /Pages 2 0 R {catalog_extra} >>\nendobj\n"),
            "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n".to_string(),
            "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n".to_string(),
        ];
        objects.extend(extra_objects.iter().map(|o| format!("{o}\n")));
        let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let mut offsets = Vec::new();
        for o in &objects {
            offsets.push(out.len());
            out.extend_from_slice(o.as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
        for off in offsets {
            out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_documents_pass_and_active_or_fake_ones_do_not() {
        let limits = Limits::default();
        assert_eq!(check(&craft::pdf("", &[]), &limits), Ok(PdfInfo { pages: 1 }));
        let js = craft::pdf("/OpenAction 4 0 R", &["4 0 obj\n<< /S /JavaScript /JS (app.alert(1)) >>\nendobj"]);
        assert!(matches!(check(&js, &limits), Err(PdfProblem::Active(_))));
        let launch = craft::pdf("/Names << /EmbeddedFiles 4 0 R >>", &["4 0 obj\n<< /Names [] >>\nendobj"]);
        assert!(matches!(check(&launch, &limits), Err(PdfProblem::Active(_))));
        let nested = craft::pdf(&format!("/X {}{}", "[".repeat(5_000), "]".repeat(5_000)), &[]);
        assert!(check(&nested, &limits).is_err(), "deep nesting is refused, not a stack overflow");
        let mut fake = b"%PDF-1.4\n".to_vec();
        fake.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F']);
        fake.extend_from_slice(&[0u8; 2000]);
        fake.extend_from_slice(b"\n%%EOF\n");
        assert!(matches!(check(&fake, &limits), Err(PdfProblem::Damaged(_))), "a JPEG behind a PDF header");
        let no_pages =
            String::from_utf8_lossy(&craft::pdf("", &[])).replace("/Kids [3 0 R] /Count 1", "/Kids [] /Count 0");
        assert!(matches!(check(no_pages.as_bytes(), &limits), Err(PdfProblem::Damaged(_))));
    }
}
