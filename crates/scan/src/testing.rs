//! A real ClamAV daemon for tests: Debian's `clamd` started in a folder of the test's own, with
//! a signature database written here (no download) that detects the EICAR test file anywhere
//! in a file, including inside archives clamd unpacks.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Address, Clamd};

/// The EICAR anti-virus test file: harmless, and detected as a virus by design. Kept in two
/// halves so this source file itself is not what a developer's own scanner flags.
pub fn eicar() -> Vec<u8> {
    let mut v = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-".to_vec();
    v.extend_from_slice(b"ANTIVIRUS-TEST-FILE!$H+H*");
    v
}

/// The name our signature gives (clamd adds `.UNOFFICIAL` to signatures outside its own
/// signed databases).
pub const SIGNATURE: &str = "Chairside.Test.EICAR.UNOFFICIAL";

pub struct TestClamd {
    child: Child,
    socket: PathBuf,
    dir: PathBuf,
}

impl TestClamd {
    /// Starts clamd under `dir` and waits (bounded) until it answers. Panics with what to
    /// install when clamd is missing: the test must not pass without it.
    pub fn start(dir: &Path) -> TestClamd {
        TestClamd::start_with(dir, "")
    }

    /// The same, with more `clamd.conf` lines (`StreamMaxLength 1M`), in place of ours.
    pub fn start_with(dir: &Path, extra_conf: &str) -> TestClamd {
        let clamd = ["/usr/sbin/clamd", "/usr/local/sbin/clamd"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("clamd is not installed: run scripts/setup.sh (Debian's clamav-daemon)");
        let db = dir.join("db");
        std::fs::create_dir_all(&db).expect("db dir");
        let hex: String = eicar().iter().map(|b| format!("{b:02x}")).collect();
        // .ndb: name, target type 0 (any file), offset * (anywhere), the bytes in hex.
        std::fs::write(db.join("chairside-test.ndb"), format!("Chairside.Test.EICAR:0:*:{hex}\n")).expect("ndb");
        let socket = dir.join("clamd.sock");
        let conf = dir.join("clamd.conf");
        let mut lines = vec![
            ("LocalSocket", socket.display().to_string()),
            ("DatabaseDirectory", db.display().to_string()),
            ("Foreground", "yes".into()),
            ("LogFile", dir.join("clamd.log").display().to_string()),
            ("PidFile", dir.join("clamd.pid").display().to_string()),
            ("TemporaryDirectory", dir.display().to_string()),
            ("StreamMaxLength", "200M".into()),
            ("MaxFileSize", "200M".into()),
            ("MaxScanSize", "400M".into()),
        ];
        // clamd takes the first of a repeated option: the caller's replace ours.
        for line in extra_conf.lines() {
            if let Some((key, value)) = line.trim().split_once(' ') {
                lines.retain(|(k, _)| *k != key);
                lines.push((key, value.trim().to_string()));
            }
        }
        let text: String = lines.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        std::fs::write(&conf, text).expect("conf");
        let child = Command::new(clamd)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start clamd");
        let mut me = TestClamd { child, socket, dir: dir.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if me.clamd().version().is_ok() {
                return me;
            }
            if let Ok(Some(status)) = me.child.try_wait() {
                let log = std::fs::read_to_string(me.dir.join("clamd.log")).unwrap_or_default();
                panic!("clamd exited ({status}) before answering:\n{log}");
            }
            assert!(Instant::now() < deadline, "clamd did not answer within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn clamd(&self) -> Clamd {
        Clamd::new(Address::Unix(self.socket.clone())).with_timeout(Duration::from_secs(30))
    }

    /// Stops the daemon (a scanner that went away).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for TestClamd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A ZIP archive holding one deflated file: EICAR inside it is found only by a scanner that
/// unpacks archives (the bytes are not there as such).
pub fn zip_with(name: &str, contents: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflate.write_all(contents).expect("deflate");
    let data = deflate.finish().expect("deflate");
    let mut crc = flate2::Crc::new();
    crc.update(contents);
    let (crc, csize, usize_, nlen) = (crc.sum(), data.len() as u32, contents.len() as u32, name.len() as u16);
    // Version 2.0, no flags, method 8 (deflate), 1980-01-01 00:00.
    let common = |out: &mut Vec<u8>| {
        for v in [20u16, 0, 8, 0, 0x21] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, csize, usize_] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&nlen.to_le_bytes());
    };
    let mut zip = 0x0403_4b50u32.to_le_bytes().to_vec();
    common(&mut zip);
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(name.as_bytes());
    zip.extend_from_slice(&data);
    let cd_offset = zip.len() as u32;
    zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    zip.extend_from_slice(&20u16.to_le_bytes());
    common(&mut zip);
    // Extra, comment, disk, internal attributes; external attributes; local header offset.
    for v in [0u16, 0, 0, 0] {
        zip.extend_from_slice(&v.to_le_bytes());
    }
    zip.extend_from_slice(&0u32.to_le_bytes());
    zip.extend_from_slice(&0u32.to_le_bytes());
    zip.extend_from_slice(name.as_bytes());
    let cd_size = zip.len() as u32 - cd_offset;
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, 1, 1] {
        zip.extend_from_slice(&v.to_le_bytes());
    }
    zip.extend_from_slice(&cd_size.to_le_bytes());
    zip.extend_from_slice(&cd_offset.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}
