//! 3D models from intraoral and lab scanners: STL (ASCII and binary), PLY (ASCII and binary,
//! vertex colours) and OBJ. Each is read as a stream of triangles — never held whole, so a
//! 1 GB scan costs the memory of its vertices (PLY, OBJ) or nothing (STL) — checked as it is
//! read (every count against the file's size, every index against the vertices, every number
//! finite), measured (vertex and face counts, bounding box), and drawn for the thumbnails by a
//! small z-buffer rasteriser from the occlusal side. No crate reads all three formats from a
//! stream with these bounds; each format is a page of code.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;

use crate::Format;
use crate::decode::{DecodeError, Limits};

/// What import learns from a model. Coordinates are in the file's units: scanners write
/// millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeshInfo {
    /// Vertices as the file stores them (an STL stores three per facet, shared or not).
    pub vertices: u64,
    /// Triangles, after polygons are split into triangles.
    pub faces: u64,
    /// Smallest and largest corner of the bounding box, in mm.
    pub bbox_min_mm: [f32; 3],
    pub bbox_max_mm: [f32; 3],
    pub vertex_colours: bool,
    pub binary: bool,
}

fn corrupt(why: impl Into<String>) -> DecodeError {
    DecodeError::Corrupt(why.into())
}

fn read_error(e: io::Error) -> DecodeError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        corrupt("it ends in the middle of its data (a cut-off copy?)")
    } else {
        corrupt(format!("it could not be read: {e}"))
    }
}

/// Recognises a model from its first bytes and its length, or `None`.
pub(crate) fn sniff(head: &[u8], len: u64) -> Option<Format> {
    if head.starts_with(b"ply\n") || head.starts_with(b"ply\r\n") {
        return Some(Format::Ply);
    }
    // A binary STL: 80 bytes of free text, a triangle count, 50 bytes per triangle — the
    // count must match the size exactly, which nothing else does by chance.
    if head.len() >= 84 {
        let count = u32::from_le_bytes([head[80], head[81], head[82], head[83]]) as u64;
        if count > 0 && 84 + 50 * count == len {
            return Some(Format::Stl);
        }
    }
    let text = std::str::from_utf8(trim_partial_utf8(head)).ok()?;
    if text.trim_start().starts_with("solid") && text.contains("facet") {
        return Some(Format::Stl);
    }
    // OBJ: text whose statements are all OBJ's, with at least one vertex.
    let mut vertices = 0;
    for line in text.lines().take(200) {
        let line = line.trim();
        let keyword = line.split_whitespace().next().unwrap_or("");
        match keyword {
            "" => {}
            _ if keyword.starts_with('#') => {}
            "v" => vertices += 1,
            "vt" | "vn" | "vp" | "f" | "o" | "g" | "s" | "l" | "p" | "usemtl" | "mtllib" => {}
            _ => return None,
        }
    }
    (vertices > 0).then_some(Format::Obj)
}

/// `head` without a multi-byte character cut at its end.
fn trim_partial_utf8(head: &[u8]) -> &[u8] {
    match std::str::from_utf8(head) {
        Ok(_) => head,
        Err(e) if e.error_len().is_none() => &head[..e.valid_up_to()],
        Err(_) => head,
    }
}

/// One triangle: its corners and, when the file has vertex colours, its colour.
type Visit<'a> = dyn FnMut(&[[f32; 3]; 3], Option<[u8; 3]>) + 'a;

/// Reads every triangle of `reader` (a file of `len` bytes in `format`), checking it, and
/// hands each to `visit`.
pub fn triangles(
    reader: &mut dyn BufRead,
    format: Format,
    len: u64,
    limits: &Limits,
    visit: &mut Visit<'_>,
) -> Result<MeshInfo, DecodeError> {
    let mut info = MeshInfo {
        vertices: 0,
        faces: 0,
        bbox_min_mm: [f32::INFINITY; 3],
        bbox_max_mm: [f32::NEG_INFINITY; 3],
        vertex_colours: false,
        binary: false,
    };
    let mut seen = |t: &[[f32; 3]; 3], c: Option<[u8; 3]>, info: &mut MeshInfo| {
        for p in t {
            for (k, &v) in p.iter().enumerate() {
                info.bbox_min_mm[k] = info.bbox_min_mm[k].min(v);
                info.bbox_max_mm[k] = info.bbox_max_mm[k].max(v);
            }
        }
        info.faces += 1;
        visit(t, c);
    };
    match format {
        Format::Stl => stl(reader, len, &mut info, &mut seen)?,
        Format::Ply => ply(reader, len, limits, &mut info, &mut seen)?,
        Format::Obj => obj(reader, limits, &mut info, &mut seen)?,
        _ => return Err(corrupt("not a 3D model")),
    }
    if info.faces == 0 {
        return Err(corrupt("it holds no triangles"));
    }
    Ok(info)
}

type Seen<'a> = dyn FnMut(&[[f32; 3]; 3], Option<[u8; 3]>, &mut MeshInfo) + 'a;

fn finite(p: [f32; 3]) -> Result<[f32; 3], DecodeError> {
    if p.iter().all(|v| v.is_finite()) { Ok(p) } else { Err(corrupt("a vertex is not a finite number")) }
}

fn stl(r: &mut dyn BufRead, len: u64, info: &mut MeshInfo, seen: &mut Seen<'_>) -> Result<(), DecodeError> {
    let mut header = [0u8; 84];
    let binary = len >= 84 && {
        r.read_exact(&mut header).map_err(read_error)?;
        let count = u32::from_le_bytes([header[80], header[81], header[82], header[83]]) as u64;
        84 + 50 * count == len
    };
    if !binary {
        let count = u32::from_le_bytes([header[80], header[81], header[82], header[83]]) as u64;
        let text = header[..80].iter().all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace());
        if len >= 84 && !(text && header.trim_ascii_start().starts_with(b"solid")) && 84 + 50 * count > len {
            return Err(corrupt(format!(
                "a binary STL cut off: its header counts {count} triangles ({} bytes), the file has {len}",
                84 + 50 * count
            )));
        }
        // An ASCII STL: the 84 bytes read are its beginning.
        let start = if len >= 84 { &header[..] } else { &[][..] };
        let mut chained = start.chain(r);
        return stl_ascii(&mut chained, info, seen);
    }
    info.binary = true;
    let count = u32::from_le_bytes([header[80], header[81], header[82], header[83]]);
    stl_records(r, count.into(), &mut |t| {
        info.vertices += 3;
        seen(t, None, info);
    })
}

/// Binary STL records per read: 50 bytes each, so about 400 KB.
const RECORDS_PER_READ: usize = 8192;

/// Reads `count` binary STL records from `r` (positioned at the first), a block at a time,
/// handing each triangle to `visit`.
fn stl_records(r: &mut dyn Read, count: u64, visit: &mut dyn FnMut(&[[f32; 3]; 3])) -> Result<(), DecodeError> {
    let mut block = vec![0u8; 50 * RECORDS_PER_READ];
    let mut left = count;
    while left > 0 {
        let n = left.min(RECORDS_PER_READ as u64) as usize;
        let block = &mut block[..50 * n];
        r.read_exact(block).map_err(read_error)?;
        for record in block.chunks_exact(50) {
            let f = |i: usize| f32::from_le_bytes([record[i], record[i + 1], record[i + 2], record[i + 3]]);
            let corner = |k: usize| finite([f(12 + 12 * k), f(16 + 12 * k), f(20 + 12 * k)]);
            visit(&[corner(0)?, corner(1)?, corner(2)?]);
        }
        left -= n as u64;
    }
    Ok(())
}

/// The next line of a text format, at most 4 KB (a longer one is refused, not buffered).
fn next_line(r: &mut dyn BufRead, buf: &mut Vec<u8>, line_no: &mut u64) -> Result<bool, DecodeError> {
    buf.clear();
    let n = r.take(4097).read_until(b'\n', buf).map_err(read_error)?;
    if n == 0 {
        return Ok(false);
    }
    *line_no += 1;
    if buf.len() > 4096 {
        return Err(corrupt(format!("line {line_no} is longer than 4 KB (not a 3D model's text?)")));
    }
    Ok(true)
}

fn words(buf: &[u8], line_no: u64) -> Result<Vec<&str>, DecodeError> {
    let text = std::str::from_utf8(buf).map_err(|_| corrupt(format!("line {line_no} is not text")))?;
    Ok(text.split_whitespace().collect())
}

fn number(word: Option<&&str>, line_no: u64) -> Result<f32, DecodeError> {
    word.and_then(|w| w.parse::<f32>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| corrupt(format!("line {line_no} has a missing or bad number")))
}

fn stl_ascii(r: &mut dyn BufRead, info: &mut MeshInfo, seen: &mut Seen<'_>) -> Result<(), DecodeError> {
    let (mut buf, mut line_no) = (Vec::new(), 0u64);
    let mut corners: Vec<[f32; 3]> = Vec::with_capacity(3);
    let mut started = false;
    while next_line(r, &mut buf, &mut line_no)? {
        let w = words(&buf, line_no)?;
        match w.first().copied() {
            None => {}
            Some("solid") => started = true,
            Some(_) if !started => return Err(corrupt("an ASCII STL begins with `solid`")),
            Some("facet") => corners.clear(),
            Some("outer" | "endloop" | "endsolid") => {}
            Some("vertex") => {
                if corners.len() == 3 {
                    return Err(corrupt(format!("line {line_no}: a facet has more than three vertices")));
                }
                corners.push([number(w.get(1), line_no)?, number(w.get(2), line_no)?, number(w.get(3), line_no)?]);
                info.vertices += 1;
            }
            Some("endfacet") => {
                let [a, b, c] = corners[..] else {
                    return Err(corrupt(format!("line {line_no}: a facet ends without three vertices")));
                };
                seen(&[a, b, c], None, info);
                corners.clear();
            }
            Some(other) => {
                return Err(corrupt(format!("line {line_no}: `{}` is not an STL statement", clip(other))));
            }
        }
    }
    if !started {
        return Err(corrupt("an ASCII STL begins with `solid`"));
    }
    Ok(())
}

fn clip(s: &str) -> String {
    s.chars().take(24).collect()
}

/// Vertices held to resolve faces' indices (PLY and OBJ), within the decoded-bytes budget.
struct Vertices {
    points: Vec<[f32; 3]>,
    colours: Vec<[u8; 3]>,
    max: u64,
}

impl Vertices {
    fn new(limits: &Limits) -> Vertices {
        Vertices { points: Vec::new(), colours: Vec::new(), max: limits.max_decoded_bytes / 15 }
    }

    fn check_count(&self, count: u64) -> Result<(), DecodeError> {
        if count > self.max {
            return Err(DecodeError::TooManyBytes { width: count, height: 1, bytes: count * 15 });
        }
        Ok(())
    }

    fn push(&mut self, p: [f32; 3], colour: Option<[u8; 3]>) -> Result<(), DecodeError> {
        self.check_count(self.points.len() as u64 + 1)?;
        self.points.push(finite(p)?);
        if let Some(c) = colour {
            self.colours.push(c);
        }
        Ok(())
    }

    /// The triangles of a polygon (a fan from its first corner), each checked.
    fn polygon(&self, indices: &[u64], info: &mut MeshInfo, seen: &mut Seen<'_>) -> Result<(), DecodeError> {
        let n = self.points.len() as u64;
        if let Some(bad) = indices.iter().find(|&&i| i >= n) {
            return Err(corrupt(format!("a face refers to vertex {bad}, but there are only {n}")));
        }
        let coloured = self.colours.len() == self.points.len() && !self.colours.is_empty();
        for k in 1..indices.len().saturating_sub(1) {
            let idx = [indices[0] as usize, indices[k] as usize, indices[k + 1] as usize];
            let t = idx.map(|i| self.points[i]);
            let colour = coloured.then(|| {
                let c = idx.map(|i| self.colours[i]);
                [0, 1, 2].map(|ch| ((c[0][ch] as u16 + c[1][ch] as u16 + c[2][ch] as u16) / 3) as u8)
            });
            seen(&t, colour, info);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Scalar {
    fn parse(name: &str) -> Option<Scalar> {
        Some(match name {
            "char" | "int8" => Scalar::I8,
            "uchar" | "uint8" => Scalar::U8,
            "short" | "int16" => Scalar::I16,
            "ushort" | "uint16" => Scalar::U16,
            "int" | "int32" => Scalar::I32,
            "uint" | "uint32" => Scalar::U32,
            "float" | "float32" => Scalar::F32,
            "double" | "float64" => Scalar::F64,
            _ => return None,
        })
    }

    fn size(self) -> u64 {
        match self {
            Scalar::I8 | Scalar::U8 => 1,
            Scalar::I16 | Scalar::U16 => 2,
            Scalar::I32 | Scalar::U32 | Scalar::F32 => 4,
            Scalar::F64 => 8,
        }
    }
}

#[derive(Debug, Clone)]
enum Property {
    Scalar(Scalar, String),
    List(Scalar, Scalar, String),
}

#[derive(Debug, Clone)]
struct Element {
    name: String,
    count: u64,
    properties: Vec<Property>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PlyFormat {
    Ascii,
    Little,
    Big,
}

/// Reads one value of a PLY element: from the next word (ASCII) or bytes (binary).
struct PlyReader<'r> {
    r: &'r mut dyn BufRead,
    format: PlyFormat,
    line: Vec<u8>,
    words: std::vec::IntoIter<String>,
    line_no: u64,
}

impl PlyReader<'_> {
    fn value(&mut self, ty: Scalar) -> Result<f64, DecodeError> {
        if self.format == PlyFormat::Ascii {
            let word = match self.words.next() {
                Some(w) => w,
                None => return Err(corrupt(format!("line {}: an element has too few values", self.line_no))),
            };
            return word
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| corrupt(format!("line {}: `{}` is not a number", self.line_no, clip(&word))));
        }
        let mut b = [0u8; 8];
        let n = ty.size() as usize;
        self.r.read_exact(&mut b[..n]).map_err(read_error)?;
        let big = self.format == PlyFormat::Big;
        macro_rules! num {
            ($t:ty, $n:expr) => {{
                let a: [u8; $n] = b[..$n].try_into().expect("sized");
                (if big { <$t>::from_be_bytes(a) } else { <$t>::from_le_bytes(a) }) as f64
            }};
        }
        Ok(match ty {
            Scalar::I8 => b[0] as i8 as f64,
            Scalar::U8 => b[0] as f64,
            Scalar::I16 => num!(i16, 2),
            Scalar::U16 => num!(u16, 2),
            Scalar::I32 => num!(i32, 4),
            Scalar::U32 => num!(u32, 4),
            Scalar::F32 => num!(f32, 4),
            Scalar::F64 => num!(f64, 8),
        })
    }

    /// ASCII PLY: one element per line.
    fn start_record(&mut self) -> Result<(), DecodeError> {
        if self.format != PlyFormat::Ascii {
            return Ok(());
        }
        loop {
            if !next_line(self.r, &mut self.line, &mut self.line_no)? {
                return Err(corrupt("it ends before all the elements its header declares"));
            }
            let words: Vec<String> = words(&self.line, self.line_no)?.into_iter().map(str::to_string).collect();
            if !words.is_empty() {
                self.words = words.into_iter();
                return Ok(());
            }
        }
    }
}

fn ply_header(r: &mut dyn BufRead) -> Result<(PlyFormat, Vec<Element>, u64), DecodeError> {
    let (mut buf, mut line_no, mut header_bytes) = (Vec::new(), 0u64, 0u64);
    let mut format = None;
    let mut elements: Vec<Element> = Vec::new();
    loop {
        if !next_line(r, &mut buf, &mut line_no)? {
            return Err(corrupt("its header has no `end_header`"));
        }
        header_bytes += buf.len() as u64;
        if header_bytes > 64 * 1024 || elements.len() > 64 {
            return Err(corrupt("its header is longer than 64 KB or declares more than 64 elements"));
        }
        let w = words(&buf, line_no)?;
        match w.as_slice() {
            ["ply"] if line_no == 1 => {}
            _ if line_no == 1 => return Err(corrupt("a PLY file begins with `ply`")),
            ["format", f, _version] => {
                format = Some(match *f {
                    "ascii" => PlyFormat::Ascii,
                    "binary_little_endian" => PlyFormat::Little,
                    "binary_big_endian" => PlyFormat::Big,
                    other => return Err(corrupt(format!("`{}` is not a PLY format", clip(other)))),
                })
            }
            ["comment", ..] | ["obj_info", ..] | [] => {}
            ["element", name, count] => {
                let count =
                    count.parse::<u64>().map_err(|_| corrupt(format!("line {line_no}: a bad element count")))?;
                elements.push(Element { name: name.to_string(), count, properties: Vec::new() });
            }
            ["property", "list", count_ty, item_ty, name] => {
                let (Some(c), Some(i)) = (Scalar::parse(count_ty), Scalar::parse(item_ty)) else {
                    return Err(corrupt(format!("line {line_no}: an unknown property type")));
                };
                let element = elements.last_mut().ok_or_else(|| corrupt("a property before any element"))?;
                element.properties.push(Property::List(c, i, name.to_string()));
            }
            ["property", ty, name] => {
                let ty =
                    Scalar::parse(ty).ok_or_else(|| corrupt(format!("line {line_no}: an unknown property type")))?;
                let element = elements.last_mut().ok_or_else(|| corrupt("a property before any element"))?;
                element.properties.push(Property::Scalar(ty, name.to_string()));
            }
            ["end_header"] => break,
            _ => return Err(corrupt(format!("line {line_no} of its header is not PLY"))),
        }
    }
    let format = format.ok_or_else(|| corrupt("its header has no `format` line"))?;
    Ok((format, elements, header_bytes))
}

fn ply(
    r: &mut dyn BufRead,
    len: u64,
    limits: &Limits,
    info: &mut MeshInfo,
    seen: &mut Seen<'_>,
) -> Result<(), DecodeError> {
    let (format, elements, header_bytes) = ply_header(r)?;
    info.binary = format != PlyFormat::Ascii;
    // Every element takes at least its smallest encoding: a count the file cannot hold (a
    // billion declared faces in a few bytes) is refused from the header, before any read.
    let body = len.saturating_sub(header_bytes);
    let mut least = 0u64;
    for e in &elements {
        let per: u64 = if format == PlyFormat::Ascii {
            2
        } else {
            e.properties
                .iter()
                .map(|p| match p {
                    Property::Scalar(t, _) => t.size(),
                    Property::List(c, _, _) => c.size(),
                })
                .sum::<u64>()
                .max(1)
        };
        least = least.saturating_add(e.count.saturating_mul(per));
        if least > body {
            return Err(corrupt(format!(
                "its header declares {} {}s, more than its {body} bytes can hold",
                e.count,
                clip(&e.name)
            )));
        }
    }
    let mut vertices = Vertices::new(limits);
    let mut reader =
        PlyReader { r, format, line: Vec::new(), words: Vec::new().into_iter(), line_no: elements.len() as u64 };
    let mut indices: Vec<u64> = Vec::new();
    for e in &elements {
        let is_vertex = e.name == "vertex";
        let is_face = e.name == "face";
        if is_vertex {
            vertices.check_count(e.count)?;
        }
        let position = |n: &str| e.properties.iter().position(|p| matches!(p, Property::Scalar(_, name) if name == n));
        let (xyz, rgb) = if is_vertex {
            let xyz = [position("x"), position("y"), position("z")];
            let rgb = [position("red"), position("green"), position("blue")];
            let rgb = if rgb.iter().all(Option::is_some) {
                Some(rgb.map(|i| i.unwrap_or(0)))
            } else {
                let diffuse = [position("diffuse_red"), position("diffuse_green"), position("diffuse_blue")];
                diffuse.iter().all(Option::is_some).then(|| diffuse.map(|i| i.unwrap_or(0)))
            };
            if xyz.iter().any(Option::is_none) {
                return Err(corrupt("its vertices have no x, y and z"));
            }
            (xyz.map(|i| i.unwrap_or(0)), rgb)
        } else {
            ([0; 3], None)
        };
        info.vertex_colours |= rgb.is_some();
        let mut values = vec![0f64; e.properties.len()];
        for _ in 0..e.count {
            reader.start_record()?;
            indices.clear();
            for (k, p) in e.properties.iter().enumerate() {
                match p {
                    Property::Scalar(t, _) => values[k] = reader.value(*t)?,
                    Property::List(ct, it, name) => {
                        let n = reader.value(*ct)?;
                        if !(0.0..=1024.0).contains(&n) || n.fract() != 0.0 {
                            return Err(corrupt(format!("a list of {n} items (at most 1024)")));
                        }
                        let wanted = is_face && (name == "vertex_indices" || name == "vertex_index");
                        for _ in 0..n as usize {
                            let v = reader.value(*it)?;
                            if wanted {
                                if v < 0.0 || v.fract() != 0.0 {
                                    return Err(corrupt(format!("a face refers to vertex {v}")));
                                }
                                indices.push(v as u64);
                            }
                        }
                    }
                }
            }
            if is_vertex {
                let p = xyz.map(|i| values[i] as f32);
                let c = rgb.map(|c| c.map(|i| values[i].clamp(0.0, 255.0) as u8));
                vertices.push(p, c)?;
                info.vertices += 1;
            } else if is_face {
                vertices.polygon(&indices, info, seen)?;
            }
        }
    }
    Ok(())
}

fn obj(r: &mut dyn BufRead, limits: &Limits, info: &mut MeshInfo, seen: &mut Seen<'_>) -> Result<(), DecodeError> {
    let (mut buf, mut line_no) = (Vec::new(), 0u64);
    let mut vertices = Vertices::new(limits);
    let mut indices: Vec<u64> = Vec::new();
    while next_line(r, &mut buf, &mut line_no)? {
        let w = words(&buf, line_no)?;
        match w.first().copied() {
            None => {}
            Some(k) if k.starts_with('#') => {}
            Some("v") => {
                let p = [number(w.get(1), line_no)?, number(w.get(2), line_no)?, number(w.get(3), line_no)?];
                // `v x y z r g b`, colours from 0 to 1 (MeshLab, scanners' OBJ).
                let colour = if w.len() == 7 {
                    let c = [number(w.get(4), line_no)?, number(w.get(5), line_no)?, number(w.get(6), line_no)?];
                    Some(c.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
                } else {
                    None
                };
                info.vertex_colours |= colour.is_some();
                vertices.push(p, colour)?;
                info.vertices += 1;
            }
            Some("f") => {
                if w.len() > 1025 {
                    return Err(corrupt(format!("line {line_no}: a face of more than 1024 corners")));
                }
                indices.clear();
                let n = vertices.points.len() as i64;
                for corner in &w[1..] {
                    let first = corner.split('/').next().unwrap_or("");
                    let i: i64 = first.parse().map_err(|_| corrupt(format!("line {line_no}: a bad vertex index")))?;
                    // 1-based; negative counts back from the last vertex read.
                    let index = if i > 0 { i - 1 } else { n + i };
                    if i == 0 || index < 0 || index >= n {
                        return Err(corrupt(format!(
                            "line {line_no}: a face refers to vertex {i}, but there are only {n} so far"
                        )));
                    }
                    indices.push(index as u64);
                }
                if indices.len() < 3 {
                    return Err(corrupt(format!("line {line_no}: a face with fewer than three corners")));
                }
                vertices.polygon(&indices, info, seen)?;
            }
            Some("vt" | "vn" | "vp" | "o" | "g" | "s" | "l" | "p" | "usemtl" | "mtllib") => {}
            Some(other) => {
                return Err(corrupt(format!("line {line_no}: `{}` is not an OBJ statement", clip(other))));
            }
        }
    }
    Ok(())
}

/// A model's bytes, opened once per pass (and per thread): a file or, for the fuzzer, memory.
pub trait Source: Read + Seek + Send {}
impl<T: Read + Seek + Send> Source for T {}

/// Where a model is read from: the staged copy at import, the blob later, bytes when fuzzed.
pub type Open<'a> = dyn Fn() -> io::Result<Box<dyn Source + 'a>> + Sync + 'a;

/// [`inspect_and_draw`] of a file.
pub fn inspect_and_draw_file(
    path: &Path,
    format: Format,
    len: u64,
    limits: &Limits,
    long_edge: u32,
) -> Result<(MeshInfo, Vec<u8>, u32, u32), DecodeError> {
    let open = || -> io::Result<Box<dyn Source>> { Ok(Box::new(File::open(path)?)) };
    inspect_and_draw(&open, format, len, limits, long_edge)
}

/// The model's facts (one pass) and its picture at `long_edge` pixels as RGB8 (a second pass).
pub fn inspect_and_draw(
    open: &Open<'_>,
    format: Format,
    len: u64,
    limits: &Limits,
    long_edge: u32,
) -> Result<(MeshInfo, Vec<u8>, u32, u32), DecodeError> {
    if let Some(count) = large_binary_stl(open, format, len)? {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_THREADS);
        return draw_binary_stl(open, count, long_edge, threads);
    }
    let reader = || -> Result<BufReader<Box<dyn Source + '_>>, DecodeError> {
        Ok(BufReader::with_capacity(1 << 18, open().map_err(read_error)?))
    };
    let info = triangles(&mut reader()?, format, len, limits, &mut |_, _| {})?;
    let mut canvas = Canvas::new(&info, long_edge)?;
    triangles(&mut reader()?, format, len, limits, &mut |t, c| canvas.draw(t, c))?;
    let (pixels, w, h) = canvas.finish();
    Ok((info, pixels, w, h))
}

/// A binary STL worth splitting over the cores: its triangle count.
fn large_binary_stl(open: &Open<'_>, format: Format, len: u64) -> Result<Option<u64>, DecodeError> {
    if format != Format::Stl || len < 84 + 50 * PARALLEL_FROM {
        return Ok(None);
    }
    let mut header = [0u8; 84];
    open().and_then(|mut r| r.read_exact(&mut header)).map_err(read_error)?;
    let count = u64::from(u32::from_le_bytes([header[80], header[81], header[82], header[83]]));
    Ok((84 + 50 * count == len).then_some(count))
}

/// Triangles from which a binary STL is read by several threads: below it, one is quick enough.
const PARALLEL_FROM: u64 = 1 << 20;
/// At most this many threads (and canvases of about 22 MB each, for a 2048 px picture).
const MAX_THREADS: usize = 3;

/// A large binary STL, whose fixed-size records let each core read its own share of the
/// file: the facts by every thread's share, then the picture as one canvas per thread,
/// merged by depth (the earlier share keeps a tie, as a single pass would).
fn draw_binary_stl(
    open: &Open<'_>,
    count: u64,
    long_edge: u32,
    threads: usize,
) -> Result<(MeshInfo, Vec<u8>, u32, u32), DecodeError> {
    let share = count.div_ceil(threads as u64);
    let ranges: Vec<(u64, u64)> =
        (0..threads as u64).map(|k| (k * share, ((k + 1) * share).min(count))).filter(|(a, b)| a < b).collect();
    let read_range = |(from, to): (u64, u64), visit: &mut dyn FnMut(&[[f32; 3]; 3])| -> Result<(), DecodeError> {
        let mut r = open().map_err(read_error)?;
        r.seek(SeekFrom::Start(84 + 50 * from)).map_err(read_error)?;
        stl_records(&mut r, to - from, visit)
    };
    let bounds = per_range(&ranges, |range| {
        let (mut min, mut max) = ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]);
        read_range(range, &mut |t| {
            for p in t {
                for k in 0..3 {
                    min[k] = min[k].min(p[k]);
                    max[k] = max[k].max(p[k]);
                }
            }
        })
        .map(|()| (min, max))
    });
    let mut info = MeshInfo {
        vertices: 3 * count,
        faces: count,
        bbox_min_mm: [f32::INFINITY; 3],
        bbox_max_mm: [f32::NEG_INFINITY; 3],
        vertex_colours: false,
        binary: true,
    };
    for part in bounds {
        let (min, max) = part?;
        for k in 0..3 {
            info.bbox_min_mm[k] = info.bbox_min_mm[k].min(min[k]);
            info.bbox_max_mm[k] = info.bbox_max_mm[k].max(max[k]);
        }
    }
    let canvases = per_range(&ranges, |range| {
        let mut canvas = Canvas::new(&info, long_edge)?;
        read_range(range, &mut |t| canvas.draw(t, None)).map(|()| canvas)
    });
    let mut canvases = canvases.into_iter();
    let mut first = canvases.next().ok_or_else(|| corrupt("it holds no triangles"))??;
    for other in canvases {
        first.merge(&other?);
    }
    let (pixels, w, h) = first.finish();
    Ok((info, pixels, w, h))
}

/// `work` on each range on a thread of its own, the results in the ranges' order.
fn per_range<T: Send>(
    ranges: &[(u64, u64)],
    work: impl Fn((u64, u64)) -> Result<T, DecodeError> + Sync,
) -> Vec<Result<T, DecodeError>> {
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = ranges.iter().map(|&range| scope.spawn(move || work(range))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(corrupt("its reader failed")))).collect()
    })
}

const BACKGROUND: [u8; 3] = [38, 42, 48];
/// Stone-model ivory, for scans without colour.
const MODEL: [f32; 3] = [232.0, 222.0, 200.0];
/// Steps of the ivory's shading table: finer than the 8-bit channels need.
const SHADES: usize = 1024;

/// Headlight shading from how squarely a face looks at the viewer (0 edge-on … 1 facing).
fn light(facing: f32) -> f32 {
    0.18 + 0.82 * facing.powf(1.4)
}

/// An orthographic view down the model's thinnest axis — for a dental arch, the occlusal view
/// (a scan is wide and long and comparatively flat) — with the widest axis across.
struct Canvas {
    w: u32,
    h: u32,
    rgb: Vec<u8>,
    depth: Vec<f32>,
    /// Axes across, up, and towards the viewer.
    axes: [usize; 3],
    flip: bool,
    scale: f32,
    min: [f32; 3],
    max: [f32; 3],
    margin: f32,
    /// The ivory at each step of `light`, so a triangle costs no `powf`.
    ivory: Box<[[u8; 3]; SHADES + 1]>,
}

impl Canvas {
    fn new(info: &MeshInfo, long_edge: u32) -> Result<Canvas, DecodeError> {
        let (min, max) = (info.bbox_min_mm, info.bbox_max_mm);
        let extent = [0, 1, 2].map(|k| max[k] - min[k]);
        let mut order = [0usize, 1, 2];
        order.sort_by(|&a, &b| extent[b].total_cmp(&extent[a]));
        let [across, up, towards] = order;
        if extent[across].partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(corrupt("the model has no extent (every vertex at one point)"));
        }
        // Seen from +towards with `across` to the right and `up` up, the picture is mirrored
        // unless (across, up, towards) is a right-handed order of the axes.
        let right_handed = matches!(order, [0, 1, 2] | [1, 2, 0] | [2, 0, 1]);
        let long = long_edge.max(16) as f32;
        let margin = (long * 0.04).round();
        let scale = (long - 2.0 * margin) / extent[across];
        let w = long as u32;
        let h = ((extent[up] * scale + 2.0 * margin).round() as u32).clamp(16, w);
        let n = w as usize * h as usize;
        let mut rgb = Vec::with_capacity(n * 3);
        for _ in 0..n {
            rgb.extend_from_slice(&BACKGROUND);
        }
        Ok(Canvas {
            w,
            h,
            rgb,
            depth: vec![f32::NEG_INFINITY; n],
            axes: [across, up, towards],
            flip: !right_handed,
            scale,
            min,
            max,
            margin,
            ivory: Box::new(std::array::from_fn(|i| {
                let light = light(i as f32 / SHADES as f32);
                MODEL.map(|ch| (ch * light).clamp(0.0, 255.0) as u8)
            })),
        })
    }

    fn project(&self, p: &[f32; 3]) -> [f32; 3] {
        let [a, u, t] = self.axes;
        let x = if self.flip { self.max[a] - p[a] } else { p[a] - self.min[a] };
        [x * self.scale + self.margin, (self.max[u] - p[u]) * self.scale + self.margin, p[t]]
    }

    fn draw(&mut self, t: &[[f32; 3]; 3], colour: Option<[u8; 3]>) {
        let [a, b, c] = [self.project(&t[0]), self.project(&t[1]), self.project(&t[2])];
        let area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
        // NaN (coordinates too far apart for f32) is refused with the degenerate ones.
        if area.abs().partial_cmp(&1e-12) != Some(std::cmp::Ordering::Greater) {
            return;
        }
        // Only the pixels whose centre (x + 0.5) can lie inside: most triangles of a large
        // scan cover no centre at all, and leave here before their shading is worked out.
        let x0 = (a[0].min(b[0]).min(c[0]) - 0.5).ceil().max(0.0) as i64;
        let x1 = (a[0].max(b[0]).max(c[0]) - 0.5).floor().min(self.w as f32 - 1.0) as i64;
        let y0 = (a[1].min(b[1]).min(c[1]) - 0.5).ceil().max(0.0) as i64;
        let y1 = (a[1].max(b[1]).max(c[1]) - 0.5).floor().min(self.h as f32 - 1.0) as i64;
        if x0 > x1 || y0 > y1 {
            return;
        }
        let Some(shade) = self.shade(t, colour) else { return };
        let inverse = 1.0 / area;
        for y in y0..=y1 {
            let py = y as f32 + 0.5;
            for x in x0..=x1 {
                let px = x as f32 + 0.5;
                let w0 = ((b[0] - px) * (c[1] - py) - (b[1] - py) * (c[0] - px)) * inverse;
                let w1 = ((c[0] - px) * (a[1] - py) - (c[1] - py) * (a[0] - px)) * inverse;
                let w2 = 1.0 - w0 - w1;
                if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                    continue;
                }
                let z = w0 * a[2] + w1 * b[2] + w2 * c[2];
                let i = y as usize * self.w as usize + x as usize;
                if z > self.depth[i] {
                    self.depth[i] = z;
                    self.rgb[i * 3..i * 3 + 3].copy_from_slice(&shade);
                }
            }
        }
    }

    /// Headlight shading from the face's normal (two-sided: scans are open surfaces); `None`
    /// for a face with no normal.
    fn shade(&self, t: &[[f32; 3]; 3], colour: Option<[u8; 3]>) -> Option<[u8; 3]> {
        let (u, v) = ([0, 1, 2].map(|k| t[1][k] - t[0][k]), [0, 1, 2].map(|k| t[2][k] - t[0][k]));
        let n = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
        let length = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        if length.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        let facing = (n[self.axes[2]] / length).abs().min(1.0);
        Some(match colour {
            None => self.ivory[(facing * SHADES as f32) as usize],
            Some(c) => {
                let light = light(facing);
                c.map(|ch| (f32::from(ch) * light).clamp(0.0, 255.0) as u8)
            }
        })
    }

    /// Takes from `other` (the same view, drawn from a later share of the triangles) every
    /// pixel it has nearer the viewer.
    fn merge(&mut self, other: &Canvas) {
        for (i, &z) in other.depth.iter().enumerate() {
            if z > self.depth[i] {
                self.depth[i] = z;
                self.rgb[i * 3..i * 3 + 3].copy_from_slice(&other.rgb[i * 3..i * 3 + 3]);
            }
        }
    }

    fn finish(self) -> (Vec<u8>, u32, u32) {
        (self.rgb, self.w, self.h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], format: Format) -> Result<MeshInfo, DecodeError> {
        triangles(&mut &bytes[..], format, bytes.len() as u64, &Limits::default(), &mut |_, _| {})
    }

    fn binary_stl(triangles: &[[[f32; 3]; 3]]) -> Vec<u8> {
        let mut out = vec![b' '; 80];
        out.extend_from_slice(&(triangles.len() as u32).to_le_bytes());
        for t in triangles {
            out.extend_from_slice(&[0; 12]);
            for p in t {
                for v in p {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            out.extend_from_slice(&[0; 2]);
        }
        out
    }

    #[test]
    fn a_binary_stl_read_by_several_threads_is_drawn_as_by_one() {
        // A folded sheet: the second half of the triangles lies partly behind, partly in
        // front of the first, so the merge by depth decides pixels.
        let mut triangles = Vec::new();
        for i in 0..60 {
            for j in 0..40 {
                let (x, y) = (i as f32, j as f32);
                let z = |x: f32, y: f32| (x * 0.3).sin() * 3.0 + (y * 0.2).cos();
                triangles.push([[x, y, z(x, y)], [x + 1.0, y, z(x + 1.0, y)], [x, y + 1.0, z(x, y + 1.0)]]);
                let w = |x: f32, y: f32| -z(x, y) + 0.5;
                triangles.push([[x, y, w(x, y)], [x + 1.0, y + 1.0, w(x + 1.0, y + 1.0)], [x, y + 1.0, w(x, y + 1.0)]]);
            }
        }
        let bytes = binary_stl(&triangles);
        let open = || -> io::Result<Box<dyn Source + '_>> { Ok(Box::new(io::Cursor::new(&bytes[..]))) };
        let reader = || BufReader::new(io::Cursor::new(&bytes[..]));
        let len = bytes.len() as u64;
        let info = triangles_of(&mut reader(), len);
        let mut canvas = Canvas::new(&info, 300).expect("canvas");
        super::triangles(&mut reader(), Format::Stl, len, &Limits::default(), &mut |t, c| canvas.draw(t, c))
            .expect("drawn");
        let one = canvas.finish();
        for threads in [1, 2, 3] {
            let (shared, pixels, w, h) = draw_binary_stl(&open, triangles.len() as u64, 300, threads).expect("drawn");
            assert_eq!(shared, info, "{threads} threads");
            assert!((w, h) == (one.1, one.2) && pixels == one.0, "{threads} threads draw the same picture");
        }
    }

    fn triangles_of(r: &mut dyn BufRead, len: u64) -> MeshInfo {
        super::triangles(r, Format::Stl, len, &Limits::default(), &mut |_, _| {}).expect("read")
    }

    #[test]
    fn the_three_formats_give_the_same_tetrahedron() {
        let t = [[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 20.0, 0.0], [0.0, 0.0, 5.0]];
        let faces = [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]];
        let tris: Vec<_> = faces.iter().map(|f| f.map(|i| t[i])).collect();
        let stl = binary_stl(&tris);
        assert_eq!(sniff(&stl, stl.len() as u64), Some(Format::Stl));
        let mut ascii = String::from("solid t\n");
        for tr in &tris {
            ascii += "facet normal 0 0 0\nouter loop\n";
            for p in tr {
                ascii += &format!("vertex {} {} {}\n", p[0], p[1], p[2]);
            }
            ascii += "endloop\nendfacet\n";
        }
        ascii += "endsolid t\n";
        let mut obj = String::from("# tetra\n");
        for p in &t {
            obj += &format!("v {} {} {}\n", p[0], p[1], p[2]);
        }
        obj += "f 1 2 3\nf 1 2 4\nf -4 -2 -1\nf 2/1 3/1 4/1\n";
        let mut ply = String::from(
            "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n\
             property uchar red\nproperty uchar green\nproperty uchar blue\nelement face 2\n\
             property list uchar int vertex_indices\nend_header\n",
        );
        for p in &t {
            ply += &format!("{} {} {} 200 10 10\n", p[0], p[1], p[2]);
        }
        ply += "3 0 1 2\n4 0 1 3 2\n";
        for (bytes, format, faces) in [
            (stl.clone(), Format::Stl, 4),
            (ascii.into_bytes(), Format::Stl, 4),
            (obj.into_bytes(), Format::Obj, 4),
            (ply.into_bytes(), Format::Ply, 3),
        ] {
            assert_eq!(sniff(&bytes, bytes.len() as u64), Some(format));
            let info = read(&bytes, format).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!(info.faces, faces, "{format:?}");
            assert_eq!(info.bbox_min_mm, [0.0, 0.0, 0.0]);
            assert_eq!(info.bbox_max_mm, [10.0, 20.0, 5.0]);
            let open = || -> io::Result<Box<dyn Source + '_>> { Ok(Box::new(io::Cursor::new(&bytes[..]))) };
            let (_, pixels, w, h) =
                inspect_and_draw(&open, format, bytes.len() as u64, &Limits::default(), 256).expect("draw");
            assert_eq!((w as usize) * (h as usize) * 3, pixels.len());
            assert_eq!(w, 256, "the widest axis (y, 20 mm) is across");
            let drawn = pixels.chunks(3).filter(|p| *p != BACKGROUND).count();
            assert!(drawn > (w * h / 8) as usize, "{format:?}: the model covers the picture ({drawn} px)");
            if format == Format::Ply {
                assert!(info.vertex_colours);
                assert!(pixels.chunks(3).any(|p| p[0] > 2 * p[1] + 20), "vertex colours (red) are drawn");
            }
        }
    }

    #[test]
    fn hostile_models_are_refused_with_a_reason() {
        let cases: Vec<(&str, Vec<u8>, Format, &str)> = vec![
            (
                "a billion declared faces",
                b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1000000000\nproperty list uchar int vertex_indices\nend_header\n".to_vec(),
                Format::Ply,
                "more than its",
            ),
            ("an index out of range", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n".to_vec(), Format::Obj, "refers to vertex 9"),
            (
                "an index out of range (PLY)",
                b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n".to_vec(),
                Format::Ply,
                "refers to vertex 7",
            ),
            ("not a number", b"v 0 0 nan\n".to_vec(), Format::Obj, "bad number"),
            ("a cut-off binary STL", binary_stl(&[[[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]; 2])[..150].to_vec(), Format::Stl, "cut off"),
            ("no triangles", b"solid x\nendsolid x\n".to_vec(), Format::Stl, "no triangles"),
            ("a four-corner STL facet", b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nvertex 1 1 0\n".to_vec(), Format::Stl, "more than three"),
            ("a long line", [b"v ".to_vec(), vec![b'1'; 10_000]].concat(), Format::Obj, "longer than 4 KB"),
            ("a flat point cloud", b"v 1 1 1\nv 1 1 1\nv 1 1 1\nf 1 2 3\n".to_vec(), Format::Obj, "no extent"),
        ];
        for (what, bytes, format, expected) in cases {
            let open = || -> io::Result<Box<dyn Source + '_>> { Ok(Box::new(io::Cursor::new(&bytes[..]))) };
            match inspect_and_draw(&open, format, bytes.len() as u64, &Limits::default(), 64) {
                Err(DecodeError::Corrupt(why)) => assert!(why.contains(expected), "{what}: {why}"),
                other => panic!("{what}: {:?}", other.map(|r| r.0)),
            }
        }
    }
}
