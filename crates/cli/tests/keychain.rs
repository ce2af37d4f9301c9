//! The real keychain: a Secret Service (Debian's gnome-keyring) in a private D-Bus session,
//! unlocked for the test. `sync configure` puts the bucket's secret there and nowhere else (no
//! fallback file, no byte of it in the library folder), and a sync round reads it back.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chairside_tests::s3;
use support::Lib;

/// A private session bus with an unlocked gnome-keyring on it; both stop when dropped.
struct SecretService {
    dir: tempfile::TempDir,
    address: String,
    bus_pid: u32,
}

impl SecretService {
    fn start() -> SecretService {
        let dir = tempfile::tempdir().expect("tmp");
        let (home, run) = (dir.path().join("home"), dir.path().join("run"));
        std::fs::create_dir_all(&home).expect("home");
        std::fs::create_dir_all(&run).expect("run");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        }
        let bus = Command::new("dbus-daemon")
            .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
            .env("HOME", &home)
            .output()
            .expect("dbus-daemon (Debian dbus) runs; scripts/setup.sh installs it");
        let text = String::from_utf8_lossy(&bus.stdout).to_string();
        let mut lines = text.lines();
        let address = lines.next().unwrap_or_default().to_string();
        let bus_pid: u32 =
            lines.next().and_then(|p| p.trim().parse().ok()).unwrap_or_else(|| panic!("dbus-daemon said {text:?}"));
        let service = SecretService { dir, address, bus_pid };
        // `--unlock` reads the login keyring's password on stdin, creates that keyring, and
        // leaves the daemon running on the bus.
        let mut keyring = service
            .command("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (Debian gnome-keyring) runs; scripts/setup.sh installs it");
        if let Some(mut stdin) = keyring.stdin.take() {
            stdin.write_all(b"keychain-test-password").expect("password");
        }
        wait_bounded(&mut keyring, "gnome-keyring-daemon --unlock");
        service
    }

    /// A command in this session (its bus, its home for the keyrings).
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        self.session(&mut c);
        c
    }

    fn session(&self, c: &mut Command) {
        c.env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", self.dir.path().join("home"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env_remove("CHAIRSIDE_SECRET_STORE");
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // The keyring daemon leaves with its bus.
        let _ = Command::new("kill").arg(self.bus_pid.to_string()).status();
    }
}

fn wait_bounded(child: &mut Child, what: &str) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success(), "{what} failed: {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("{what} did not finish in 20 s");
}

/// Whether any file under `dir` holds `needle`.
fn holds(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn the_bucket_secret_goes_to_the_secret_service_and_nowhere_else() {
    let _g = s3::shared();
    let s = s3::server();
    let keychain = SecretService::start();
    let lib = Lib::new();
    let run = |args: &[&str]| {
        let mut c = lib.command();
        keychain.session(&mut c);
        support::parse(
            c.env("CHAIRSIDE_S3_SECRET", &s.secret)
                .env("CHAIRSIDE_SYNC_PASSPHRASE", "the keychain test's sentence")
                .arg("--json")
                .args(args)
                .output()
                .expect("run chairside"),
        )
    };
    let configured = run(&[
        "sync",
        "configure",
        "--endpoint",
        &s.endpoint,
        "--bucket",
        &s.bucket,
        "--region",
        &s.region,
        "--prefix",
        "cli-keychain",
        "--path-style",
        "--access-key",
        &s.access_key,
    ]);
    assert_eq!(configured.code, 0, "{} {}", configured.stdout, configured.stderr);
    assert_eq!(configured.json["secret"]["kind"], "keychain", "{}", configured.stdout);
    assert!(!configured.stderr.contains("no OS keychain"), "no fallback warning: {}", configured.stderr);
    // In the keyring, under the service and the account (access key @ endpoint / bucket).
    let account = format!("{}@{}/{}", s.access_key, s.endpoint, s.bucket);
    let looked_up = keychain
        .command("secret-tool")
        .args(["lookup", "service", "org.chairside.sync", "username", &account])
        .output()
        .expect("secret-tool (Debian libsecret-tools) runs");
    assert_eq!(String::from_utf8_lossy(&looked_up.stdout), s.secret, "the keyring holds the secret");
    // And nowhere in the library: no fallback file, no byte of it in the database or the logs.
    assert!(!lib.path().join("sync-secret").exists(), "no fallback file");
    assert_eq!(holds(lib.path(), s.secret.as_bytes()), Vec::<String>::new(), "the secret is in no library file");
    // The clinic key (the bucket is encrypted by default) beside it, and nowhere else either.
    let clinic_key = keychain
        .command("secret-tool")
        .args(["lookup", "service", "org.chairside.sync", "username"])
        .arg(format!("clinic-key:{}/{}/cli-keychain", s.endpoint, s.bucket))
        .output()
        .expect("secret-tool runs");
    let clinic_key = String::from_utf8_lossy(&clinic_key.stdout).to_string();
    assert!(clinic_key.len() == 64 && clinic_key.bytes().all(|b| b.is_ascii_hexdigit()), "{clinic_key:?}");
    assert!(!lib.path().join("sync-clinic-key").exists(), "no fallback file for the clinic key");
    assert_eq!(holds(lib.path(), clinic_key.as_bytes()), Vec::<String>::new(), "the clinic key is in no library file");
    // A round reads it back from the keychain (no CHAIRSIDE_S3_SECRET needed).
    let mut c = lib.command();
    keychain.session(&mut c);
    let round =
        support::parse(c.env_remove("CHAIRSIDE_S3_SECRET").args(["--json", "sync", "run"]).output().expect("run"));
    assert_eq!(round.code, 0, "{} {}", round.stdout, round.stderr);
    assert_eq!(round.json["status"]["state"], "up_to_date", "{}", round.stdout);
}
