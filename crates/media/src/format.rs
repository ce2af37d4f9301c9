//! What a file really is, from its first bytes (never its name).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
    Png,
    Tiff,
    Webp,
    Bmp,
    Dicom,
    Pdf,
}

impl Format {
    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Tiff => "image/tiff",
            Format::Webp => "image/webp",
            Format::Bmp => "image/bmp",
            Format::Dicom => "application/dicom",
            Format::Pdf => "application/pdf",
        }
    }

    pub fn from_mime(mime: &str) -> Option<Format> {
        [Format::Jpeg, Format::Png, Format::Tiff, Format::Webp, Format::Bmp, Format::Dicom, Format::Pdf]
            .into_iter()
            .find(|f| f.mime() == mime)
    }

    /// File extension used when exporting.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Tiff => "tif",
            Format::Webp => "webp",
            Format::Bmp => "bmp",
            Format::Dicom => "dcm",
            Format::Pdf => "pdf",
        }
    }

    /// Formats we can draw a thumbnail of.
    pub fn has_preview(self) -> bool {
        self != Format::Pdf
    }

    pub(crate) fn image_format(self) -> Option<image::ImageFormat> {
        Some(match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
            Format::Tiff => image::ImageFormat::Tiff,
            Format::Webp => image::ImageFormat::WebP,
            Format::Bmp => image::ImageFormat::Bmp,
            Format::Dicom | Format::Pdf => return None,
        })
    }
}

/// The outcome of sniffing: a format we accept, or what the bytes look like instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    Supported(Format),
    /// Recognised but not accepted; carries a human name and advice.
    Unsupported {
        what: String,
        hint: String,
    },
}

/// Identifies a file from its first bytes (at least 132 are needed for DICOM).
pub fn sniff(head: &[u8]) -> Sniffed {
    // DICOM Part 10: a 128-byte preamble then "DICM" (infer does not know it).
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return Sniffed::Supported(Format::Dicom);
    }
    let Some(kind) = infer::get(head) else {
        return Sniffed::Unsupported {
            what: "this data".into(),
            hint: "its content matches no known file type (is it really an image? a renamed or damaged file?)".into(),
        };
    };
    let format = match kind.mime_type() {
        "image/jpeg" => Format::Jpeg,
        "image/png" => Format::Png,
        "image/tiff" => Format::Tiff,
        "image/webp" => Format::Webp,
        "image/bmp" => Format::Bmp,
        "application/pdf" => Format::Pdf,
        "image/heif" | "image/heic" | "image/avif" => {
            return Sniffed::Unsupported {
                what: format!("this {} image", kind.extension().to_uppercase()),
                hint: "this build cannot decode HEIC/AVIF yet; export it from the phone or camera as JPEG".into(),
            };
        }
        other => {
            return Sniffed::Unsupported {
                what: format!("this {other} file"),
                hint: "only photos, X-rays and scanned documents can be imported".into(),
            };
        }
    };
    Sniffed::Supported(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_from_content_not_name() {
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0]),
            Sniffed::Supported(Format::Jpeg)
        );
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Sniffed::Supported(Format::Png));
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3"), Sniffed::Supported(Format::Pdf));
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM\x02\x00");
        assert_eq!(sniff(&dicom), Sniffed::Supported(Format::Dicom));
        assert!(
            matches!(sniff(b"MZ\x90\x00\x03\x00\x00\x00"), Sniffed::Unsupported { .. }),
            "an executable is refused"
        );
        assert!(matches!(sniff(b"hello, I am text"), Sniffed::Unsupported { .. }));
    }
}
