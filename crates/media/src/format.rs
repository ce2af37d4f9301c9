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
    /// HEIC/HEIF (phones' default) and AVIF, through libheif.
    Heic,
    Avif,
    Dicom,
    Pdf,
    /// 3D models from intraoral and lab scanners.
    Stl,
    Ply,
    Obj,
    /// Videos from phones and intraoral cameras, through FFmpeg's libraries. M4V is stored as
    /// the MP4 it is.
    Mp4,
    Mov,
    Webm,
}

const ALL: [Format; 15] = [
    Format::Jpeg,
    Format::Png,
    Format::Tiff,
    Format::Webp,
    Format::Bmp,
    Format::Heic,
    Format::Avif,
    Format::Dicom,
    Format::Pdf,
    Format::Stl,
    Format::Ply,
    Format::Obj,
    Format::Mp4,
    Format::Mov,
    Format::Webm,
];

impl Format {
    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Tiff => "image/tiff",
            Format::Webp => "image/webp",
            Format::Bmp => "image/bmp",
            Format::Heic => "image/heic",
            Format::Avif => "image/avif",
            Format::Dicom => "application/dicom",
            Format::Pdf => "application/pdf",
            Format::Stl => "model/stl",
            Format::Ply => "model/x-ply",
            Format::Obj => "model/obj",
            Format::Mp4 => "video/mp4",
            Format::Mov => "video/quicktime",
            Format::Webm => "video/webm",
        }
    }

    pub fn from_mime(mime: &str) -> Option<Format> {
        ALL.into_iter().find(|f| f.mime() == mime)
    }

    /// What a file of this format is, for a user: the families an extension can promise.
    pub fn family(self) -> &'static str {
        match self {
            Format::Jpeg | Format::Png | Format::Tiff | Format::Webp | Format::Bmp | Format::Heic | Format::Avif => {
                "an image"
            }
            Format::Dicom => "a DICOM file",
            Format::Pdf => "a PDF",
            Format::Stl | Format::Ply | Format::Obj => "a 3D model",
            Format::Mp4 | Format::Mov | Format::Webm => "a video",
        }
    }

    /// The family a file name's extension promises, when it is one we know. Within a family a
    /// mismatch is harmless (a PNG named `.jpg` is read as the PNG it is); across families it is
    /// a mixed-up file.
    pub fn family_of_name(name: &std::path::Path) -> Option<&'static str> {
        let ext = name.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "jpg" | "jpeg" | "jpe" | "png" | "tif" | "tiff" | "webp" | "bmp" | "heic" | "heif" | "hif" | "avif" => {
                "an image"
            }
            "dcm" | "dicom" => "a DICOM file",
            "pdf" => "a PDF",
            "stl" | "ply" | "obj" => "a 3D model",
            "mp4" | "m4v" | "mov" | "qt" | "webm" => "a video",
            _ => return None,
        })
    }

    /// Decoded by libheif, which applies the file's own rotation: EXIF orientation is not
    /// applied on top.
    pub fn is_heif(self) -> bool {
        matches!(self, Format::Heic | Format::Avif)
    }

    /// A picture some decoder of ours turns into pixels (image-rs, libjpeg-turbo or libheif).
    pub fn is_raster(self) -> bool {
        self.image_format().is_some() || self.is_heif()
    }

    pub fn is_mesh(self) -> bool {
        matches!(self, Format::Stl | Format::Ply | Format::Obj)
    }

    pub fn is_video(self) -> bool {
        matches!(self, Format::Mp4 | Format::Mov | Format::Webm)
    }

    /// Whether import reads this kind from the staged copy as it goes, never holding the whole
    /// file (a mesh up to 1 GB, a video up to 4 GB); the others are read whole, within the
    /// photo limit.
    pub fn is_streamed(self) -> bool {
        self.is_mesh() || self.is_video()
    }

    /// The largest file of this kind import takes, refused from the header before any copy.
    pub fn max_bytes(self, limits: &crate::decode::Limits) -> u64 {
        match self {
            Format::Dicom => limits.max_dicom_bytes,
            Format::Stl | Format::Ply | Format::Obj => limits.max_mesh_bytes,
            Format::Mp4 | Format::Mov | Format::Webm => limits.max_video_bytes,
            _ => limits.max_bytes,
        }
    }

    /// File extension used when exporting.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Tiff => "tif",
            Format::Webp => "webp",
            Format::Bmp => "bmp",
            Format::Heic => "heic",
            Format::Avif => "avif",
            Format::Dicom => "dcm",
            Format::Pdf => "pdf",
            Format::Stl => "stl",
            Format::Ply => "ply",
            Format::Obj => "obj",
            Format::Mp4 => "mp4",
            Format::Mov => "mov",
            Format::Webm => "webm",
        }
    }

    /// Formats we can draw a thumbnail of (a PDF's first page: with poppler, on Linux).
    pub fn has_preview(self) -> bool {
        self != Format::Pdf || cfg!(target_os = "linux")
    }

    /// Why a file of this format and size gets no thumbnail, if it gets none: a DICOM over the
    /// whole-file limit is stored from a stream, and drawing it would need it whole.
    pub fn no_preview_reason(self, byte_size: u64, limits: &crate::decode::Limits) -> Option<&'static str> {
        if !self.has_preview() {
            Some("no preview for this kind of file")
        } else if self == Format::Dicom && byte_size > limits.max_bytes {
            Some("no preview yet for a DICOM file this large (it is stored whole; open it in the modality's viewer)")
        } else {
            None
        }
    }

    pub(crate) fn image_format(self) -> Option<image::ImageFormat> {
        Some(match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
            Format::Tiff => image::ImageFormat::Tiff,
            Format::Webp => image::ImageFormat::WebP,
            Format::Bmp => image::ImageFormat::Bmp,
            Format::Heic
            | Format::Avif
            | Format::Dicom
            | Format::Pdf
            | Format::Stl
            | Format::Ply
            | Format::Obj
            | Format::Mp4
            | Format::Mov
            | Format::Webm => {
                return None;
            }
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

/// How many leading bytes [`sniff`] looks at.
pub const HEAD: usize = 4096;

/// Identifies a file from its first bytes (at least 132 are needed for DICOM) and its length
/// (a binary STL is known by its triangle count matching its size: its 80-byte header is free
/// text).
pub fn sniff(head: &[u8], len: u64) -> Sniffed {
    // DICOM Part 10: a 128-byte preamble then "DICM" (infer does not know it).
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return Sniffed::Supported(Format::Dicom);
    }
    if let Some(mesh) = crate::mesh::sniff(head, len) {
        return Sniffed::Supported(mesh);
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
        "image/heif" | "image/heic" => Format::Heic,
        "image/avif" => Format::Avif,
        "video/mp4" | "video/x-m4v" => Format::Mp4,
        "video/quicktime" => Format::Mov,
        "video/webm" => Format::Webm,
        other => {
            return Sniffed::Unsupported {
                what: format!("this {other} file"),
                hint: "only photos, X-rays, scanned documents, videos (MP4, MOV, WebM) and 3D scans (STL, PLY, OBJ) can be imported".into(),
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
        let s = |b: &[u8]| sniff(b, b.len() as u64);
        assert_eq!(s(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0]), Sniffed::Supported(Format::Jpeg));
        assert_eq!(s(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Sniffed::Supported(Format::Png));
        assert_eq!(s(b"%PDF-1.7\n%\xe2\xe3"), Sniffed::Supported(Format::Pdf));
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM\x02\x00");
        assert_eq!(s(&dicom), Sniffed::Supported(Format::Dicom));
        assert!(matches!(s(b"MZ\x90\x00\x03\x00\x00\x00"), Sniffed::Unsupported { .. }), "an executable is refused");
        assert!(matches!(s(b"hello, I am text"), Sniffed::Unsupported { .. }));
        assert_eq!(s(b"ply\nformat ascii 1.0\n"), Sniffed::Supported(Format::Ply));
        assert_eq!(s(b"solid x\n facet normal 0 0 1\n"), Sniffed::Supported(Format::Stl));
        assert_eq!(s(b"# scan\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"), Sniffed::Supported(Format::Obj));
        let mut binary = vec![b' '; 80];
        binary.extend_from_slice(&1u32.to_le_bytes());
        binary.extend_from_slice(&[0; 50]);
        assert_eq!(s(&binary), Sniffed::Supported(Format::Stl));
        // The same header with a size that does not match its count is not an STL.
        assert!(matches!(sniff(&binary, 200), Sniffed::Unsupported { .. }));
    }
}
