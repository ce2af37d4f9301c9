//! Running the real `chairside` binary against a temporary library.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_chairside")
}

/// The result of one CLI run.
pub struct Run {
    pub code: i32,
    pub json: Value,
    pub stdout: String,
    pub stderr: String,
}

/// A library in a temporary folder, with its own folder for the audit heads' key and witness
/// copy (the account's config folder in real use).
pub struct Lib {
    pub dir: tempfile::TempDir,
    pub config: tempfile::TempDir,
}

impl Lib {
    pub fn new() -> Lib {
        Lib::in_dir(tempfile::tempdir().expect("tempdir"))
    }

    pub fn in_dir(dir: tempfile::TempDir) -> Lib {
        Lib { dir, config: tempfile::tempdir().expect("config tempdir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.arg("--data-dir")
            .arg(self.dir.path())
            .env("CHAIRSIDE_USER", "dr.test")
            .env("CHAIRSIDE_CONFIG_DIR", self.config.path())
            .env_remove("CHAIRSIDE_DATA_DIR");
        c
    }

    /// Runs with `--json` and parses stdout, which must be exactly one JSON document.
    pub fn json<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Run {
        let out = self.command().arg("--json").args(args).output().expect("run chairside");
        parse(out)
    }

    /// Runs with `--json`, asserting success.
    pub fn ok<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Value {
        let r = self.json(args);
        assert_eq!(
            r.code,
            0,
            "chairside {:?} failed: {}\n{}",
            args.iter().map(|a| a.as_ref().to_owned()).collect::<Vec<_>>(),
            r.stdout,
            r.stderr
        );
        r.json
    }

    pub fn patient(&self, name: &str) -> String {
        self.ok(&["patient", "add", "--name", name])["id"].as_str().expect("id").to_string()
    }

    pub fn import(&self, patient: &str, paths: &[&Path]) -> Run {
        let mut args: Vec<std::ffi::OsString> = vec!["import".into(), "--patient".into(), patient.into()];
        args.extend(paths.iter().map(|p| p.as_os_str().to_owned()));
        self.json(&args)
    }

    /// Every regular file under a folder of the library.
    pub fn files_under(&self, sub: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.dir.path().join(sub), &mut out);
        out.sort();
        out
    }
}

pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() { walk(&p, out) } else { out.push(p) }
    }
}

pub fn parse(out: Output) -> Run {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("--json stdout must be exactly one JSON document ({e}):\n{stdout}\nstderr: {stderr}")
    });
    Run { code: out.status.code().unwrap_or(-1), json, stdout, stderr }
}

pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).expect("read")))
}

/// A PNG whose header claims `w` × `h` pixels, with a token of image data: enough to be
/// recognised as a PNG and refused on its size.
pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    png_header_claiming(w, h, 8, 0)
}

/// A PNG whose header claims `w` × `h` pixels of `depth`-bit samples in PNG colour type
/// `color` (0 grey, 2 RGB, 6 RGBA), with a token of image data.
pub fn png_header_claiming(w: u32, h: u32, depth: u8, color: u8) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, color, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    // A zlib stream holding one stored empty block.
    chunk(&mut png, b"IDAT", &[0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A small, valid JPEG whose pixels depend on `seed`, so each seed is a different original.
pub fn jpeg(seed: u32, w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 7 + seed * 13) as u8, (y * 5 + seed * 29) as u8, ((x + y) * 3 + seed * 101) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Jpeg).expect("encode jpeg");
    out.into_inner()
}

/// A path's permission bits.
pub fn mode_of(path: &Path) -> u32 {
    chairside_store::private::mode_of(path).expect("mode")
}

/// A small deterministic generator for kill schedules, so a failure can be replayed.
pub struct Lcg {
    /// What the generator started from: name it in failure messages.
    pub seed: u64,
    state: u64,
}

impl Lcg {
    /// Seeded from `CHAIRSIDE_CRASH_SEED`, else the clock; the seed is printed with `what`.
    pub fn from_env(what: &str) -> Lcg {
        let seed = std::env::var("CHAIRSIDE_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0x5eed)
        });
        eprintln!("{what} seed {seed}: replay with CHAIRSIDE_CRASH_SEED={seed}");
        Lcg { seed, state: seed }
    }

    pub fn next(&mut self, below: u64) -> u64 {
        self.state = self.state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.state >> 33) % below
    }
}

/// Writes `bytes` over a file the library keeps read-only (an original): damage, as a test
/// needs it.
pub fn overwrite(path: &Path, bytes: &[u8]) {
    let mut perms = std::fs::metadata(path).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).expect("writable");
    std::fs::write(path, bytes).expect("overwrite");
}
