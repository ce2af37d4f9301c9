//! Large files of the kinds issue 13 adds, generated for `scripts/bench-formats.sh`: a binary
//! STL of a wavy surface (a dense scan's size and shape) and an uncompressed multi-frame
//! DICOM (a CBCT-sized file). The script times their import beside `sha256sum`.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use crate::figures::Figure;

/// A binary STL of `triangles` triangles: a height field over a grid, 40 × 30 mm.
pub fn make_stl(path: &Path, triangles: u64) -> Result<(), String> {
    let cells = (triangles / 2).max(1);
    let nx = ((cells as f64 * 4.0 / 3.0).sqrt().ceil() as u64).max(1);
    let ny = cells.div_ceil(nx);
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut header = [b' '; 80];
    header[..27].copy_from_slice(b"chairside bench wavy scan  ");
    let count = (nx * ny * 2) as u32;
    let io = |e: std::io::Error| e.to_string();
    out.write_all(&header).map_err(io)?;
    out.write_all(&count.to_le_bytes()).map_err(io)?;
    let z = |x: f32, y: f32| 2.0 * (x * 0.35).sin() * (y * 0.5).cos() + 0.6 * (x * 1.7 + y).sin();
    let point = |i: u64, j: u64| {
        let (x, y) = (i as f32 * 40.0 / nx as f32, j as f32 * 30.0 / ny as f32);
        [x, y, z(x, y)]
    };
    let mut record = [0u8; 50];
    for j in 0..ny {
        for i in 0..nx {
            let (a, b, c, d) = (point(i, j), point(i + 1, j), point(i + 1, j + 1), point(i, j + 1));
            for t in [[a, b, c], [a, c, d]] {
                for (k, p) in t.iter().enumerate() {
                    for (m, v) in p.iter().enumerate() {
                        let at = 12 + 12 * k + 4 * m;
                        record[at..at + 4].copy_from_slice(&v.to_le_bytes());
                    }
                }
                out.write_all(&record).map_err(io)?;
            }
        }
    }
    out.flush().map_err(io)
}

fn element(out: &mut Vec<u8>, group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(vr);
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
}

/// An explicit-VR little-endian multi-frame 8-bit grey DICOM of about `mb` megabytes
/// (512 × 512 frames).
pub fn make_dicom(path: &Path, mb: u64) -> Result<(), String> {
    let frames = (mb << 20) / (512 * 512);
    let mut head = vec![0u8; 128];
    head.extend_from_slice(b"DICM");
    let syntax = b"1.2.840.10008.1.2.1\0";
    let mut meta = Vec::new();
    element(&mut meta, 0x0002, 0x0010, b"UI", syntax);
    element(&mut head, 0x0002, 0x0000, b"UL", &(meta.len() as u32).to_le_bytes());
    head.extend_from_slice(&meta);
    element(&mut head, 0x0008, 0x0060, b"CS", b"CT");
    element(&mut head, 0x0008, 0x0020, b"DA", b"20261203");
    element(&mut head, 0x0010, 0x0010, b"PN", b"Bench^Volume");
    element(&mut head, 0x0028, 0x0002, b"US", &1u16.to_le_bytes());
    element(&mut head, 0x0028, 0x0004, b"CS", b"MONOCHROME2 ");
    let n = frames.to_string();
    let n = if n.len() % 2 == 1 { format!("{n} ") } else { n };
    element(&mut head, 0x0028, 0x0008, b"IS", n.as_bytes());
    element(&mut head, 0x0028, 0x0010, b"US", &512u16.to_le_bytes());
    element(&mut head, 0x0028, 0x0011, b"US", &512u16.to_le_bytes());
    element(&mut head, 0x0028, 0x0100, b"US", &8u16.to_le_bytes());
    element(&mut head, 0x0028, 0x0101, b"US", &8u16.to_le_bytes());
    element(&mut head, 0x0028, 0x0102, b"US", &7u16.to_le_bytes());
    element(&mut head, 0x0028, 0x0103, b"US", &0u16.to_le_bytes());
    let pixels = frames * 512 * 512;
    head.extend_from_slice(&0x7FE0u16.to_le_bytes());
    head.extend_from_slice(&0x0010u16.to_le_bytes());
    head.extend_from_slice(b"OB\0\0");
    head.extend_from_slice(&(pixels as u32).to_le_bytes());
    let io = |e: std::io::Error| e.to_string();
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(&head).map_err(io)?;
    let row: Vec<u8> = (0..512 * 512).map(|i| ((i % 512) ^ (i / 512)) as u8).collect();
    for _ in 0..frames {
        out.write_all(&row).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// The STL's thumbnails drawn from its file, as the thumbnail workers do (median of `runs`).
pub fn stl_thumbnail(path: &Path, runs: usize) -> Result<(), String> {
    let limits = chairside_media::Limits::default();
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let rendered = chairside_media::thumbs::render_mesh_file(path, chairside_media::Format::Stl, &limits)
            .map_err(|e| e.to_string())?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        if rendered.len() != 3 {
            return Err("three sizes expected".into());
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let mb = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    Figure::new(
        "mesh_thumbnail",
        format!("The three thumbnails of a {mb:.0} MB binary STL, drawn from its file (two streamed passes, z-buffer at 2048 px)"),
        "< 2 s",
        format!("**{median:.0} ms** median of {runs}"),
    )
    .value("ms", median)
    .runs(times)
    .report()
}
