//! The generated hostile corpus: over 200 files, each a way a file can lie (nested
//! sequences, declared lengths, decompression bombs, cut and bit-flipped real files, active
//! PDFs…). `hostile.rs` imports each under time and memory bounds; `fuzz_replay.rs` runs each
//! through every fuzz target; `scripts/bench-fuzz.sh` seeds the fuzzers from it.

use std::io::Write;
use std::path::PathBuf;

use chairside_media::dicom_scan::craft as dicom;
use chairside_media::pdf::craft as pdf;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)).expect("fixture")
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    let mut crc = flate2::Crc::new();
    crc.update(&body);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

/// A PNG of `w`×`h` whose IDAT inflates to `idat_len` zero bytes (a real decompression bomb
/// when that is the whole image).
fn png_bomb(w: u32, h: u32, depth: u8, color: u8, idat_len: usize) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, color, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    let mut left = idat_len;
    while left > 0 {
        let n = left.min(zeros.len());
        z.write_all(&zeros[..n]).expect("deflate");
        left -= n;
    }
    png_chunk(&mut out, b"IDAT", &z.finish().expect("deflate"));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
    // SOF0: 8-bit, h × w, 3 components.
    out.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
    out.extend_from_slice(&h.to_be_bytes());
    out.extend_from_slice(&w.to_be_bytes());
    out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    out.extend_from_slice(&[0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0]);
    out.extend_from_slice(&[0x55; 64]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A little-endian TIFF with one IFD of `w`×`h`, whose next-IFD offset points at itself.
fn tiff_loop(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"II*\0\x08\0\0\0".to_vec();
    let entries: [(u16, u16, u32, u32); 6] =
        [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (273, 4, 1, 8), (279, 4, 1, 1 << 30)];
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    out.extend_from_slice(&8u32.to_le_bytes());
    out
}

fn bmp_claiming(w: i32, h: i32, bits: u16) -> Vec<u8> {
    let mut out = b"BM".to_vec();
    out.extend_from_slice(&[0x7a, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0]);
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(&[0u8; 24]);
    out.extend_from_slice(&[0xAB; 68]);
    out
}

fn webp_claiming(w: u32, h: u32) -> Vec<u8> {
    // VP8L: 14-bit dimensions minus one.
    let bits = (w - 1) | ((h - 1) << 14);
    let mut payload = vec![0x2f];
    payload.extend_from_slice(&bits.to_le_bytes());
    payload.extend_from_slice(&[0u8; 32]);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&((payload.len() + 12) as u32).to_le_bytes());
    out.extend_from_slice(b"WEBPVP8L");
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

fn deflated_dicom(inflated_zeros: usize) -> Vec<u8> {
    let mut out = dicom::header("1.2.840.10008.1.2.1.99");
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    let mut left = inflated_zeros;
    while left > 0 {
        let n = left.min(zeros.len());
        z.write_all(&zeros[..n]).expect("deflate");
        left -= n;
    }
    out.extend_from_slice(&z.finish().expect("deflate"));
    out
}

fn pdf_with_stream_bomb(inflated: usize) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    let mut left = inflated;
    while left > 0 {
        let n = left.min(zeros.len());
        z.write_all(&zeros[..n]).expect("deflate");
        left -= n;
    }
    let data = z.finish().expect("deflate");
    let head =
        format!("4 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length {} >>\nstream\n", data.len());
    let mut obj = head.into_bytes();
    obj.extend_from_slice(&data);
    obj.extend_from_slice(b"\nendstream\nendobj");
    let text = String::from_utf8_lossy(&obj).into_owned();
    pdf::pdf("", &[&text])
}

/// Deterministic noise for bit flips and cuts.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The hostile corpus: (name, bytes).
pub fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: String, bytes: Vec<u8>| files.push((name, bytes));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for depth in [63, 64, 65, 100, 1_000, 5_000, 20_000] {
        add(format!("dicom_nested_{depth}.dcm"), dicom::nested_sequences(depth));
    }
    for len in [0xFFFF_FFF0u32, 0x8000_0000, 0x1000_0000, 4_000_000, 65_536, 65] {
        add(format!("dicom_pixels_claim_{len}.dcm"), dicom::pixel_data_claiming(len));
    }
    add("dicom_deflate_bomb.dcm".into(), deflated_dicom(300 << 20));
    add("dicom_header_only.dcm".into(), dicom::header("1.2.840.10008.1.2.1"));
    add("dicom_no_syntax.dcm".into(), dicom::header("")[..132].to_vec());
    let ct = fixture("dcm_ct_small.dcm");
    for i in 0..30 {
        let cut = 132 + (rng.next() as usize % (ct.len() - 132));
        add(format!("dicom_cut_{i}_{cut}.dcm"), ct[..cut].to_vec());
    }
    for i in 0..30 {
        let mut b = ct.clone();
        for _ in 0..4 {
            let at = 132 + (rng.next() as usize % 2000).min(b.len() - 133);
            b[at] ^= 1 << (rng.next() % 8);
        }
        add(format!("dicom_flip_{i}.dcm"), b);
    }
    for (w, h, depth, color) in
        [(9_990, 9_990, 16, 6), (20_000, 20_000, 8, 0), (30_000, 30_000, 8, 2), (7_000, 7_000, 16, 6)]
    {
        add(format!("png_header_{w}x{h}_{depth}_{color}.png"), png_bomb(w, h, depth, color, 1024));
    }
    // A real bomb: 4,000 × 4,000 grey (16 MB decoded, within the budget) from ~16 KB: a valid
    // (blank) image, imported.
    add("png_real_bomb_4000.png".into(), png_bomb(4_000, 4_000, 8, 0, 4_001 * 4_000));
    let png = fixture("png_chelsea_pentax.png");
    for i in 0..25 {
        let cut = 8 + (rng.next() as usize % (png.len() - 8));
        add(format!("png_cut_{i}.png"), png[..cut].to_vec());
    }
    let jpg = fixture("jpg_oneplus_progressive_gps.jpg");
    for i in 0..25 {
        let cut = 4 + (rng.next() as usize % (jpg.len() - 4));
        add(format!("jpeg_cut_{i}.jpg"), jpg[..cut].to_vec());
    }
    for i in 0..20 {
        let mut b = jpg.clone();
        for _ in 0..8 {
            let at = rng.next() as usize % b.len();
            b[at] = rng.next() as u8;
        }
        add(format!("jpeg_noise_{i}.jpg"), b);
    }
    for (w, h) in [(65_535, 65_535), (60_000, 1), (1, 60_000), (20_000, 20_000)] {
        add(format!("jpeg_claim_{w}x{h}.jpg"), jpeg_claiming(w, h));
    }
    for (w, h) in [(100_000, 100_000), (1, 1), (50_000, 3_000)] {
        add(format!("tiff_loop_{w}x{h}.tif"), tiff_loop(w, h));
    }
    let tif = fixture("orient_6_g4.tif");
    for i in 0..10 {
        let cut = 8 + (rng.next() as usize % (tif.len() - 8));
        add(format!("tiff_cut_{i}.tif"), tif[..cut].to_vec());
    }
    for (w, h, bits) in [(30_000, 30_000, 32), (i32::MAX, 2, 24), (1, -30_000, 24), (12_000, 12_000, 1)] {
        add(format!("bmp_claim_{w}x{h}_{bits}.bmp"), bmp_claiming(w, h, bits));
    }
    for (w, h) in [(16_383, 16_383), (16_384, 1)] {
        add(format!("webp_claim_{w}x{h}.webp"), webp_claiming(w, h));
    }
    let webp = fixture("orient_6.webp");
    for i in 0..8 {
        let cut = 12 + (rng.next() as usize % (webp.len() - 12));
        add(format!("webp_cut_{i}.webp"), webp[..cut].to_vec());
    }
    let deep = format!("/X {}{}", "[".repeat(50_000), "]".repeat(50_000));
    add("pdf_nested_arrays.pdf".into(), pdf::pdf(&deep, &[]));
    let dicts = format!("/X {}{}", "<< /A ".repeat(20_000), ">> ".repeat(20_000));
    add("pdf_nested_dicts.pdf".into(), pdf::pdf(&dicts, &[]));
    add(
        "pdf_javascript.pdf".into(),
        pdf::pdf("/OpenAction 4 0 R", &["4 0 obj\n<< /S /JavaScript /JS (app.alert(1)) >>\nendobj"]),
    );
    add("pdf_launch.pdf".into(), pdf::pdf("/OpenAction 4 0 R", &["4 0 obj\n<< /S /Launch /F (cmd.exe) >>\nendobj"]));
    add(
        "pdf_embedded.pdf".into(),
        pdf::pdf("/Names << /EmbeddedFiles 4 0 R >>", &["4 0 obj\n<< /Names [] >>\nendobj"]),
    );
    add("pdf_stream_bomb.pdf".into(), pdf_with_stream_bomb(200 << 20));
    let mut fake = b"%PDF-1.4\n".to_vec();
    fake.extend_from_slice(&jpg[..4096.min(jpg.len())]);
    fake.extend_from_slice(b"\n%%EOF\n");
    add("pdf_wrapping_a_jpeg.pdf".into(), fake);
    let good_pdf = pdf::pdf("", &[]);
    for i in 0..10 {
        let cut = 9 + (rng.next() as usize % (good_pdf.len() - 9));
        let mut b = good_pdf[..cut].to_vec();
        b.extend_from_slice(b"\n%%EOF\n");
        add(format!("pdf_cut_{i}.pdf"), b);
    }
    // 3D models: declared counts the file cannot hold, indices past the vertices, cut and
    // bit-flipped real scans.
    add(
        "ply_billion_faces.ply".into(),
        b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1000000000\nproperty list uchar int vertex_indices\nend_header\n".to_vec(),
    );
    add(
        "ply_billion_vertices_ascii.ply".into(),
        b"ply\nformat ascii 1.0\nelement vertex 1000000000\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n".to_vec(),
    );
    add("obj_index_out_of_range.obj".into(), b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n".to_vec());
    add("obj_index_zero.obj".into(), b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n".to_vec());
    add("obj_huge_number.obj".into(), b"v 1e39 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n".to_vec());
    add("stl_ascii_no_facets.stl".into(), b"solid empty\nfacet normal 0 0 1\nendsolid empty\n".to_vec());
    let mut stl_claim = vec![b' '; 80];
    stl_claim.extend_from_slice(&u32::MAX.to_le_bytes());
    stl_claim.extend_from_slice(&[0u8; 500]);
    add("stl_claims_4g_triangles.stl".into(), stl_claim);
    let stl = fixture("mesh_stanford_bunny99_binary.stl");
    for i in 0..8 {
        let cut = 84 + (rng.next() as usize % (stl.len() - 84));
        add(format!("stl_cut_{i}.stl"), stl[..cut].to_vec());
    }
    let ply = fixture("mesh_vertexcolor_binary_meshlab.ply");
    let body = ply.windows(11).position(|w| w == b"end_header\n").map_or(0, |p| p + 11);
    for i in 0..8 {
        let cut = body + (rng.next() as usize % (ply.len() - body));
        add(format!("ply_cut_{i}.ply"), ply[..cut].to_vec());
    }
    for i in 0..8 {
        let mut b = ply.clone();
        for _ in 0..6 {
            let at = body + rng.next() as usize % (b.len() - body);
            b[at] = rng.next() as u8;
        }
        add(format!("ply_flip_{i}.ply"), b);
    }
    // HEIC from a phone, cut anywhere: libheif reads lazily, so every cut must be caught.
    let heic = fixture("heic_iphone14pro_ccbysa.heic");
    for i in 0..10 {
        let cut = 12 + (rng.next() as usize % (heic.len() - 12));
        add(format!("heic_cut_{i}.heic"), heic[..cut].to_vec());
    }
    add("empty.jpg".into(), Vec::new());
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(4096, 0x90);
    add("setup.jpg".into(), elf);
    add("script.png".into(), b"#!/bin/sh\nrm -rf /\n".to_vec());
    for i in 0..6 {
        let noise: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
        add(format!("noise_{i}.dcm"), noise);
    }
    // 12-bit JPEG inside DICOM (decoded by our own libjpeg-turbo call): its JPEG data flipped
    // and its header claiming other sizes; the encapsulation stays intact, so only the decoder
    // is tried. Stored without a preview at worst, never a crash.
    let nm = fixture("dcm_nm_jpeg_ext12.dcm");
    let soi = nm.windows(2).rposition(|w| w == [0xFF, 0xD8]).unwrap_or(nm.len() / 2);
    for i in 0..12 {
        let mut b = nm.clone();
        for _ in 0..6 {
            let at = soi + (rng.next() as usize % (nm.len() - soi));
            b[at] ^= 1 << (rng.next() % 8);
        }
        add(format!("dicom_jpeg12_flip_{i}.dcm"), b);
    }
    if let Some(sof) = nm.windows(2).position(|w| w == [0xFF, 0xC1]) {
        for (i, (h, w)) in [(0xFFFFu16, 0xFFFFu16), (0, 256), (1, 1)].into_iter().enumerate() {
            let mut b = nm.clone();
            b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
            b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
            add(format!("dicom_jpeg12_sof_{i}_{w}x{h}.dcm"), b);
        }
    }
    // Group 3 fax pages (decoded by the fax crate): coded lines flipped, the file cut.
    let fax = fixture("tif_fax_g3_3pages.tif");
    for i in 0..8 {
        let mut b = fax.clone();
        for _ in 0..16 {
            let at = 312 + (rng.next() as usize % (fax.len() - 312));
            b[at] ^= 1 << (rng.next() % 8);
        }
        add(format!("tiff_fax_flip_{i}.tif"), b);
    }
    for cut in [400, 20_000, 60_000] {
        add(format!("tiff_fax_cut_{cut}.tif"), fax[..cut].to_vec());
    }
    files
}
