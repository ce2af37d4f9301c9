//! A bounded walk over a DICOM file's element structure, run before dicom-rs parses it.
//!
//! dicom-rs reads nested sequences recursively and trusts declared lengths, so a 40 KB file of
//! a few thousand nested sequences overflows the stack and a 300-byte file declaring a 4 GB
//! element makes it allocate 4 GB. This walk is iterative (its depth is a `Vec`, capped), and
//! refuses any element, item or sequence whose declared length runs past the bytes that are
//! really there, before anything is allocated from that length.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

/// Deeper nesting than this is refused: real files (sensor, CBCT, structured reports) stay
/// well under ten levels.
pub const MAX_DEPTH: usize = 64;
/// Elements walked at most, so that a file of millions of empty elements is refused quickly.
pub const MAX_ELEMENTS: usize = 4_000_000;

const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
const TRANSFER_SYNTAX: (u16, u16) = (0x0002, 0x0010);

/// How the data set after the file meta group is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    ExplicitLittle,
    ImplicitLittle,
    ExplicitBig,
    /// Deflated explicit little endian: the data set is a raw deflate stream.
    Deflated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// A data set (the top level or an item of a sequence) with its defined end, if any.
    Dataset { end: Option<usize>, implicit: bool },
    /// The items of a sequence, up to its defined end or its delimiter.
    Items { end: Option<usize>, implicit: bool },
    /// Encapsulated pixel data: items of opaque bytes up to the sequence delimiter.
    Fragments,
}

/// What the walk reads from: the bytes in memory, or a file too large to hold (read a header
/// at a time, at its offset).
pub trait Source {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills `buf` from `pos`; false when the source ends first.
    fn read_at(&self, pos: usize, buf: &mut [u8]) -> bool;
}

impl Source for &[u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn read_at(&self, pos: usize, buf: &mut [u8]) -> bool {
        match pos.checked_add(buf.len()).and_then(|end| self.get(pos..end)) {
            Some(s) => {
                buf.copy_from_slice(s);
                true
            }
            None => false,
        }
    }
}

/// A file on disk, of the length it had when opened.
pub struct FileSource {
    pub file: std::fs::File,
    pub len: usize,
}

impl Source for FileSource {
    fn len(&self) -> usize {
        self.len
    }
    fn read_at(&self, pos: usize, buf: &mut [u8]) -> bool {
        use std::os::unix::fs::FileExt;
        pos.checked_add(buf.len()).is_some_and(|end| end <= self.len)
            && self.file.read_exact_at(buf, pos as u64).is_ok()
    }
}

struct Cursor<'a> {
    src: &'a dyn Source,
    pos: usize,
    big: bool,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        // Checked before allocating: a declared length is the file's word, not its size.
        if self.pos.checked_add(n).is_none_or(|end| end > self.src.len()) {
            return Err(format!("an element at byte {} declares {n} bytes, more than the file has left", self.pos));
        }
        let mut out = vec![0u8; n];
        self.fill(&mut out)?;
        Ok(out)
    }
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), String> {
        if !self.src.read_at(self.pos, buf) {
            return Err(format!("the file ends inside an element header at byte {}", self.pos));
        }
        self.pos += buf.len();
        Ok(())
    }
    fn two(&mut self) -> Result<[u8; 2], String> {
        let mut b = [0u8; 2];
        self.fill(&mut b)?;
        Ok(b)
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.two()?;
        Ok(if self.big { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    }
    fn u32(&mut self) -> Result<u32, String> {
        let mut a = [0u8; 4];
        self.fill(&mut a)?;
        Ok(if self.big { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) })
    }
}

/// Whether an explicit VR header has two reserved bytes and a 32-bit length: every VR but the
/// short ones of PS3.5 7.1.2 — an unknown VR code included, as dicom-rs reads it (the walk
/// must see the same lengths as the parser it guards).
/// The size of one value of a binary VR whose values have a fixed size.
fn value_size(vr: [u8; 2]) -> Option<u32> {
    match &vr {
        b"SS" | b"US" | b"OW" => Some(2),
        b"FL" | b"SL" | b"UL" | b"AT" | b"OF" | b"OL" => Some(4),
        b"FD" | b"OD" | b"SV" | b"UV" | b"OV" => Some(8),
        _ => None,
    }
}

fn long_form(vr: [u8; 2]) -> bool {
    !matches!(
        &vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

fn is_sequence_in_dictionary(tag: (u16, u16)) -> bool {
    StandardDataDictionary.by_tag(Tag(tag.0, tag.1)).is_some_and(|e| e.vr().relaxed() == VR::SQ)
}

/// Reads the file meta group (always explicit VR little endian) and returns where the data set
/// starts and how it is encoded.
pub fn meta(bytes: &[u8]) -> Result<(usize, Encoding), String> {
    if bytes.len() < 132 || &bytes[128..132] != b"DICM" {
        return Err("it has no DICOM preamble".into());
    }
    let mut c = Cursor { src: &bytes, pos: 132, big: false };
    let mut syntax: Option<String> = None;
    while c.pos + 8 <= bytes.len() && u16::from_le_bytes([bytes[c.pos], bytes[c.pos + 1]]) == 0x0002 {
        let tag = (c.u16()?, c.u16()?);
        let vr = c.two()?;
        let len = if long_form(vr) {
            c.two()?;
            c.u32()?
        } else {
            c.u16()? as u32
        };
        if len == UNDEFINED {
            return Err("its file meta information has an element of undefined length".into());
        }
        let value = c
            .take(len as usize)
            .map_err(|_| format!("a file meta element declares {len} bytes, more than the file has left"))?;
        if tag == TRANSFER_SYNTAX {
            syntax = Some(String::from_utf8_lossy(&value).trim_end_matches(['\0', ' ']).to_string());
        }
    }
    let encoding = match syntax.as_deref() {
        Some("1.2.840.10008.1.2") => Encoding::ImplicitLittle,
        Some("1.2.840.10008.1.2.2") => Encoding::ExplicitBig,
        Some("1.2.840.10008.1.2.1.99") => Encoding::Deflated,
        Some(_) => Encoding::ExplicitLittle,
        None => return Err("its file meta information names no transfer syntax".into()),
    };
    Ok((c.pos, encoding))
}

/// Walks the data set `bytes[start..]` element by element. Returns a reason when the structure
/// is deeper than [`MAX_DEPTH`], has more than [`MAX_ELEMENTS`] elements, or declares a length
/// that runs past its container or the end of the file.
pub fn walk(bytes: &dyn Source, start: usize, encoding: Encoding) -> Result<(), String> {
    let implicit_top = encoding == Encoding::ImplicitLittle;
    let mut c = Cursor { src: bytes, pos: start, big: encoding == Encoding::ExplicitBig };
    let mut stack = vec![Frame::Dataset { end: None, implicit: implicit_top }];
    let mut elements = 0usize;
    loop {
        close_finished(&mut stack, c.pos)?;
        let Some(&top) = stack.last() else {
            // The top level never has a defined end, so this is unreachable in practice.
            return Ok(());
        };
        if c.pos == bytes.len() {
            return match top {
                Frame::Dataset { end: None, .. } if stack.len() == 1 => Ok(()),
                _ => Err("the file ends inside a sequence".into()),
            };
        }
        elements += 1;
        if elements > MAX_ELEMENTS {
            return Err(format!("it has more than {MAX_ELEMENTS} elements"));
        }
        let limit = frame_end(&stack).unwrap_or(bytes.len());
        let tag = (c.u16()?, c.u16()?);
        match top {
            Frame::Fragments => fragment(&mut c, &mut stack, tag, limit)?,
            Frame::Items { implicit, .. } => item(&mut c, &mut stack, tag, limit, implicit)?,
            Frame::Dataset { implicit, end } => element(&mut c, &mut stack, tag, limit, implicit, end)?,
        }
    }
}

/// Closes every frame whose defined end has been reached.
fn close_finished(stack: &mut Vec<Frame>, pos: usize) -> Result<(), String> {
    while let Some(&top) = stack.last() {
        let end = match top {
            Frame::Dataset { end, .. } | Frame::Items { end, .. } => end,
            Frame::Fragments => None,
        };
        match end {
            Some(e) if pos == e => {
                stack.pop();
            }
            Some(e) if pos > e => return Err(format!("an element runs past the end of its container at byte {e}")),
            _ => break,
        }
    }
    Ok(())
}

/// One element inside encapsulated pixel data: a fragment, or the delimiter that ends them.
fn fragment(c: &mut Cursor<'_>, stack: &mut Vec<Frame>, tag: (u16, u16), limit: usize) -> Result<(), String> {
    let len = c.u32()?;
    match tag {
        ITEM if len != UNDEFINED => skip(c, len, limit),
        SEQUENCE_END => {
            stack.pop();
            Ok(())
        }
        _ => Err(format!("encapsulated pixel data holds an unexpected element at byte {}", c.pos)),
    }
}

/// One element of a sequence: an item (a nested data set), or the sequence's delimiter.
fn item(
    c: &mut Cursor<'_>,
    stack: &mut Vec<Frame>,
    tag: (u16, u16),
    limit: usize,
    implicit: bool,
) -> Result<(), String> {
    let len = c.u32()?;
    match tag {
        ITEM => {
            let end = defined_end(c, len, limit)?;
            push(stack, Frame::Dataset { end, implicit })
        }
        SEQUENCE_END => {
            if frame_end(stack).is_some() {
                return Err("a sequence of defined length ends with a delimiter".into());
            }
            stack.pop();
            Ok(())
        }
        _ => Err(format!("a sequence holds a non-item element at byte {}", c.pos)),
    }
}

/// One element of a data set: skipped, or opened when it is a sequence or pixel fragments.
fn element(
    c: &mut Cursor<'_>,
    stack: &mut Vec<Frame>,
    tag: (u16, u16),
    limit: usize,
    implicit: bool,
    end: Option<usize>,
) -> Result<(), String> {
    if tag == ITEM_END {
        c.u32()?;
        if end.is_some() || stack.len() == 1 {
            return Err(format!("an unexpected item delimiter at byte {}", c.pos));
        }
        stack.pop();
        return Ok(());
    }
    if tag.0 == 0xFFFE {
        return Err(format!("an item element outside a sequence at byte {}", c.pos));
    }
    let (vr, len) = if implicit {
        (None, c.u32()?)
    } else {
        let vr = c.two()?;
        let len = if long_form(vr) {
            c.two()?;
            c.u32()?
        } else {
            c.u16()? as u32
        };
        if let Some(size) = value_size(vr).filter(|&n| len != UNDEFINED && len % n != 0) {
            // dicom-rs reads whole values and would go on from a byte inside this element,
            // taking the bytes after it for lengths (the fuzzer's 1.3 GB allocation).
            return Err(format!(
                "element ({:04X},{:04X}) at byte {} declares {len} bytes of {}, not a whole number of {size}-byte values",
                tag.0,
                tag.1,
                c.pos,
                String::from_utf8_lossy(&vr)
            ));
        }
        (Some(vr), len)
    };
    let sequence = match vr {
        Some(v) => &v == b"SQ",
        None => is_sequence_in_dictionary(tag),
    };
    if len == UNDEFINED {
        if tag == PIXEL_DATA && !implicit {
            push(stack, Frame::Fragments)
        } else if sequence || vr.is_none() || vr == Some(*b"UN") {
            // Undefined length means a sequence; a UN one is encoded implicit VR.
            let inner_implicit = implicit || vr == Some(*b"UN");
            push(stack, Frame::Items { end: None, implicit: inner_implicit })
        } else {
            Err(format!("an element of undefined length that is not a sequence at byte {}", c.pos))
        }
    } else if sequence {
        let end = defined_end(c, len, limit)?;
        push(stack, Frame::Items { end, implicit })
    } else {
        skip(c, len, limit)
    }
}

/// The innermost defined end among the open frames: nothing inside may pass it.
fn frame_end(stack: &[Frame]) -> Option<usize> {
    stack.iter().rev().find_map(|f| match *f {
        Frame::Dataset { end, .. } | Frame::Items { end, .. } => end,
        Frame::Fragments => None,
    })
}

fn defined_end(c: &Cursor<'_>, len: u32, limit: usize) -> Result<Option<usize>, String> {
    if len == UNDEFINED {
        return Ok(None);
    }
    let end = c.pos + len as usize;
    if end > limit {
        return Err(too_long(len, limit - c.pos));
    }
    Ok(Some(end))
}

fn skip(c: &mut Cursor<'_>, len: u32, limit: usize) -> Result<(), String> {
    let left = limit.saturating_sub(c.pos);
    if len as usize > left {
        return Err(too_long(len, left));
    }
    c.pos += len as usize;
    Ok(())
}

fn too_long(len: u32, left: usize) -> String {
    format!("an element declares {len} bytes but only {left} are left: the file is truncated or damaged")
}

fn push(stack: &mut Vec<Frame>, frame: Frame) -> Result<(), String> {
    if stack.len() >= MAX_DEPTH {
        return Err(format!("its sequences are nested more than {MAX_DEPTH} deep"));
    }
    stack.push(frame);
    Ok(())
}

/// Builders of hostile DICOM files, for tests here and in the test tree.
pub mod craft {
    /// A file with `depth` nested sequences of undefined length (explicit VR little endian).
    pub fn nested_sequences(depth: usize) -> Vec<u8> {
        let mut out = header("1.2.840.10008.1.2.1");
        for _ in 0..depth {
            // (0008,1115) SQ, undefined length, then an item of undefined length.
            out.extend_from_slice(&[0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
            out.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        for _ in 0..depth {
            out.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
            out.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        }
        out
    }

    /// A small file whose pixel data declares `len` bytes (and has a few).
    pub fn pixel_data_claiming(len: u32) -> Vec<u8> {
        let mut out = header("1.2.840.10008.1.2.1");
        // Rows, Columns = 16 (US), then Pixel Data OW with the declared length.
        out.extend_from_slice(&[0x28, 0x00, 0x10, 0x00, b'U', b'S', 2, 0, 16, 0]);
        out.extend_from_slice(&[0x28, 0x00, 0x11, 0x00, b'U', b'S', 2, 0, 16, 0]);
        out.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0]);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&[0u8; 64]);
        out
    }

    /// The preamble, `DICM` and a file meta group naming `syntax`.
    pub fn header(syntax: &str) -> Vec<u8> {
        let mut out = vec![0u8; 128];
        out.extend_from_slice(b"DICM");
        let mut uid = syntax.as_bytes().to_vec();
        if uid.len() % 2 == 1 {
            uid.push(0);
        }
        out.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        out.extend_from_slice(&(uid.len() as u16).to_le_bytes());
        out.extend_from_slice(&uid);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Result<(), String> {
        let (start, enc) = meta(bytes)?;
        walk(&bytes, start, enc)
    }

    #[test]
    fn deep_nesting_and_lying_lengths_are_refused_without_recursion() {
        assert!(check(&craft::nested_sequences(8)).is_ok(), "modest nesting is fine");
        let deep = check(&craft::nested_sequences(5_000)).expect_err("5,000 levels");
        assert!(deep.contains("nested more than"), "{deep}");
        let long = check(&craft::pixel_data_claiming(0xFFFF_FFF0)).expect_err("4 GB claimed");
        assert!(long.contains("declares"), "{long}");
        assert!(check(&craft::pixel_data_claiming(64)).is_ok(), "an honest length passes");
        let mut cut = craft::nested_sequences(3);
        cut.truncate(cut.len() - 8);
        assert!(check(&cut).is_err(), "a sequence left open at the end of the file");
    }

    #[test]
    fn a_meta_element_claiming_more_than_the_file_is_refused_before_any_allocation() {
        // The fuzzer's find: a 641-byte file whose meta element claimed 1.3 GB, allocated
        // (zeroed) before the read failed.
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        bytes.extend_from_slice(&[0x02, 0x00, 0x01, 0x00, b'O', b'B', 0, 0]);
        bytes.extend_from_slice(&0x4F55_0000u32.to_le_bytes());
        bytes.extend_from_slice(&[0u8; 64]);
        let refused = meta(&bytes).expect_err("1.3 GB claimed in a 200-byte file");
        assert!(refused.contains("declares"), "{refused}");
    }

    #[test]
    fn a_binary_value_of_a_length_that_is_no_whole_number_of_values_is_refused() {
        // The fuzzer's second find: an SH element turned FD with 14 bytes; dicom-rs read one
        // double and took what followed for the next element, then a 1.3 GB length.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/dcm_ct_small.dcm");
        let good = std::fs::read(path).expect("fixture");
        let (start, _) = meta(&good).expect("meta");
        let mut bytes = good[..start].to_vec();
        bytes.extend_from_slice(&[0x40, 0x00, 0x53, 0x02, b'F', b'D', 14, 0]);
        bytes.extend_from_slice(b"SONOPPS0002171");
        let refused = check(&bytes).expect_err("14 bytes of FD");
        assert!(refused.contains("not a whole number of 8-byte values"), "{refused}");
        let mut honest = good[..start].to_vec();
        honest.extend_from_slice(&[0x40, 0x00, 0x53, 0x02, b'F', b'D', 16, 0]);
        honest.extend_from_slice(&[0u8; 16]);
        assert!(check(&honest).is_ok(), "two doubles are fine");
    }

    #[test]
    fn a_real_file_walks_to_its_end() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/dcm_ct_small.dcm");
        let bytes = std::fs::read(path).expect("fixture");
        check(&bytes).expect("a real CT slice is well formed");
    }
}
