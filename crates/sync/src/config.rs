//! Where the bucket is and how to sign in: the plain part in the library's settings, the
//! secret in the OS keychain (or, where no secret service runs, a file only the user may read).

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use chairside_vault::ClinicKey;

use crate::SyncError;

const SETTING: &str = "sync_config";
const KEYRING_SERVICE: &str = "org.chairside.sync";
/// The file the secret falls back to when no secret service is available.
pub const SECRET_FILE: &str = "sync-secret";
/// The file the clinic key falls back to, beside it.
pub const CLINIC_KEY_FILE: &str = "sync-clinic-key";

/// When a peer's originals are downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Originals {
    /// Every original, after the thumbnails (a full local copy: the default).
    #[default]
    All,
    /// Only when a document is first opened; thumbnails are always fetched.
    OnOpen,
}

/// The bucket a library syncs with. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncConfig {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// Key prefix inside the bucket ("" or e.g. "clinic-a"), without slashes at either end.
    pub prefix: String,
    /// Path-style addressing (`endpoint/bucket/key`), which MinIO and Ceph need; otherwise
    /// virtual-hosted (`bucket.endpoint/key`).
    pub path_style: bool,
    pub access_key: String,
    #[serde(default)]
    pub originals: Originals,
    /// The clinic's own certificate authority (PEM), trusted besides the system's: for a
    /// bucket behind a certificate the clinic issued.
    #[serde(default)]
    pub ca_cert: Option<String>,
    /// Plain HTTP to a host other than this machine: the keys and images travel unencrypted.
    /// Only when asked for by name (`--allow-insecure-http`).
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// The id of the clinic key every object is sealed with (the key itself is in the
    /// keychain); `None` for a bucket kept unencrypted. Set by configure from the bucket,
    /// never typed.
    #[serde(default)]
    pub encryption: Option<String>,
}

impl SyncConfig {
    /// Checks and normalises what a person typed.
    pub fn normalised(mut self) -> Result<SyncConfig, SyncError> {
        self.endpoint = self.endpoint.trim().trim_end_matches('/').to_string();
        if !(self.endpoint.starts_with("http://") || self.endpoint.starts_with("https://")) {
            return Err(SyncError::InvalidConfig(format!(
                "the endpoint {:?} must be a URL starting with https://",
                self.endpoint
            )));
        }
        self.check_transport()?;
        if let Some(pem) = &self.ca_cert {
            let pem = pem.trim().to_string();
            if reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_or(true, |c| c.is_empty()) {
                return Err(SyncError::InvalidConfig(
                    "the CA certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----): give the clinic authority's certificate file".into(),
                ));
            }
            self.ca_cert = Some(pem);
        }
        self.bucket = self.bucket.trim().to_string();
        let valid_bucket = (3..=63).contains(&self.bucket.len())
            && self.bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(SyncError::InvalidConfig(format!(
                "{:?} is not a bucket name: use 3 to 63 lowercase letters, digits, dots and hyphens",
                self.bucket
            )));
        }
        self.prefix = self.prefix.trim().trim_matches('/').to_string();
        if self.prefix.split('/').any(|p| p == "." || p == "..") || self.prefix.contains("//") {
            return Err(SyncError::InvalidConfig(format!("{:?} is not a usable key prefix", self.prefix)));
        }
        self.region = match self.region.trim() {
            "" => "us-east-1".to_string(),
            r => r.to_string(),
        };
        self.access_key = self.access_key.trim().to_string();
        if self.access_key.is_empty() {
            return Err(SyncError::InvalidConfig("the access key is empty".into()));
        }
        Ok(self)
    }

    /// Plain HTTP is refused unless the endpoint is this machine (a local test server, a proxy
    /// on loopback) or the insecure transport was asked for by name.
    pub fn check_transport(&self) -> Result<(), SyncError> {
        let Some(rest) = self.endpoint.strip_prefix("http://") else { return Ok(()) };
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.rsplit_once(':').map_or(host, |(h, _)| h),
        };
        let loopback =
            host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if loopback || self.allow_insecure_http {
            return Ok(());
        }
        Err(SyncError::InsecureTransport { endpoint: self.endpoint.clone() })
    }

    pub fn load(conn: &Connection) -> Result<Option<SyncConfig>, SyncError> {
        match chairside_store::get_setting(conn, SETTING)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                SyncError::InvalidConfig(format!("the saved sync settings are unreadable ({e}): configure sync again"))
            }),
        }
    }

    pub fn save(&self, conn: &Connection) -> Result<(), SyncError> {
        let text = serde_json::to_string(self).map_err(|e| SyncError::InvalidConfig(e.to_string()))?;
        chairside_store::set_setting(conn, SETTING, &text)?;
        Ok(())
    }

    /// The keychain account: one secret per access key, endpoint and bucket.
    fn account(&self) -> String {
        format!("{}@{}/{}", self.access_key, self.endpoint, self.bucket)
    }

    /// The keychain account of the clinic key: one per bucket and prefix (a clinic).
    fn clinic_key_account(&self) -> String {
        format!("clinic-key:{}/{}/{}", self.endpoint, self.bucket, self.prefix)
    }
}

/// Where the secret ended up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SecretLocation {
    Keychain,
    /// No secret service answered: a file readable only by this user. Shown as a warning.
    File {
        path: String,
    },
}

/// The OS keychain, with a private file as the fallback. `CHAIRSIDE_SECRET_STORE=file`
/// skips the keychain (headless servers, tests).
pub struct Secrets {
    file: PathBuf,
    key_file: PathBuf,
}

impl Secrets {
    pub fn new(data_dir: &Path) -> Secrets {
        Secrets { file: data_dir.join(SECRET_FILE), key_file: data_dir.join(CLINIC_KEY_FILE) }
    }

    fn keychain_allowed() -> bool {
        std::env::var("CHAIRSIDE_SECRET_STORE").map(|v| v != "file").unwrap_or(true)
    }

    /// The bucket's secret key.
    pub fn store(&self, config: &SyncConfig, secret: &str) -> Result<SecretLocation, SyncError> {
        store_one(&config.account(), &self.file, secret)
    }

    pub fn load(&self, config: &SyncConfig) -> Result<String, SyncError> {
        load_one(&config.account(), &self.file)
            .ok_or_else(|| SyncError::NoSecret { access_key: config.access_key.clone() })
    }

    /// The clinic key (its secret text), beside the bucket's secret and as well kept.
    pub fn store_clinic_key(&self, config: &SyncConfig, key: &ClinicKey) -> Result<SecretLocation, SyncError> {
        self.store_key(config, KeySlot::Current, key)
    }

    pub fn load_clinic_key(&self, config: &SyncConfig) -> Result<ClinicKey, SyncError> {
        self.load_key(config, KeySlot::Current)
    }

    /// A key in one of the two slots: the clinic's, or the one a migration is sealing with.
    pub fn store_key(&self, config: &SyncConfig, slot: KeySlot, key: &ClinicKey) -> Result<SecretLocation, SyncError> {
        store_one(&slot.account(config), &slot.file(&self.key_file), &key.to_secret_text())
    }

    pub fn load_key(&self, config: &SyncConfig, slot: KeySlot) -> Result<ClinicKey, SyncError> {
        let text = zeroize::Zeroizing::new(
            load_one(&slot.account(config), &slot.file(&self.key_file)).ok_or(SyncError::NoClinicKey)?,
        );
        Ok(ClinicKey::from_secret_text(&text)?)
    }

    /// Forgets a key (sync set up again without encryption; a finished migration's old key).
    pub fn forget_key(&self, config: &SyncConfig, slot: KeySlot) {
        if Self::keychain_allowed()
            && let Ok(entry) = keyring::Entry::new(KEYRING_SERVICE, &slot.account(config))
        {
            let _ = entry.delete_credential();
        }
        let _ = std::fs::remove_file(slot.file(&self.key_file));
    }

    pub fn location(&self) -> SecretLocation {
        if self.file.is_file() {
            SecretLocation::File { path: self.file.display().to_string() }
        } else {
            SecretLocation::Keychain
        }
    }
}

/// Where a clinic key is kept: the clinic's current key, or the next one while a migration
/// (encrypting a plaintext bucket, rotating the key) re-seals the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySlot {
    Current,
    Next,
}

impl KeySlot {
    fn account(self, config: &SyncConfig) -> String {
        match self {
            KeySlot::Current => config.clinic_key_account(),
            KeySlot::Next => format!("{}:next", config.clinic_key_account()),
        }
    }

    fn file(self, current: &Path) -> PathBuf {
        match self {
            KeySlot::Current => current.to_path_buf(),
            KeySlot::Next => current.with_extension("next"),
        }
    }
}

fn store_one(account: &str, file: &Path, secret: &str) -> Result<SecretLocation, SyncError> {
    if Secrets::keychain_allowed() {
        let stored = keyring::Entry::new(KEYRING_SERVICE, account).and_then(|e| e.set_password(secret));
        if stored.is_ok() {
            // A stale fallback file must not outlive the secret it held.
            let _ = std::fs::remove_file(file);
            return Ok(SecretLocation::Keychain);
        }
    }
    write_private(file, secret)?;
    Ok(SecretLocation::File { path: file.display().to_string() })
}

fn load_one(account: &str, file: &Path) -> Option<String> {
    if Secrets::keychain_allowed()
        && let Ok(secret) = keyring::Entry::new(KEYRING_SERVICE, account).and_then(|e| e.get_password())
    {
        return Some(secret);
    }
    match std::fs::read_to_string(file) {
        Ok(s) if !s.trim().is_empty() => Some(s.trim_end_matches('\n').to_string()),
        _ => None,
    }
}

#[cfg(unix)]
fn write_private(path: &Path, secret: &str) -> Result<(), SyncError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| SyncError::Secret(format!("cannot write {}: {e}", tmp.display())))?;
    f.write_all(secret.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| SyncError::Secret(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| SyncError::Secret(format!("cannot write {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn write_private(path: &Path, secret: &str) -> Result<(), SyncError> {
    std::fs::write(path, secret).map_err(|e| SyncError::Secret(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SyncConfig {
        SyncConfig {
            endpoint: " https://s3.example.org/ ".into(),
            region: "".into(),
            bucket: "clinic-photos".into(),
            prefix: "/main/".into(),
            path_style: true,
            access_key: "AKIA".into(),
            originals: Originals::All,
            ca_cert: None,
            allow_insecure_http: false,
            encryption: None,
        }
    }

    #[test]
    fn plain_http_is_for_this_machine_or_asked_for_by_name() {
        for local in ["http://127.0.0.1:7480", "http://localhost:9000/", "http://[::1]:7480", "http://127.0.0.2"] {
            assert!(SyncConfig { endpoint: local.into(), ..config() }.normalised().is_ok(), "{local}");
        }
        for remote in
            ["http://s3.clinic.lan", "http://192.168.1.20:9000", "http://localhost.evil.org", "http://[fe80::1]:80"]
        {
            let refused = SyncConfig { endpoint: remote.into(), ..config() }.normalised();
            assert!(matches!(refused, Err(SyncError::InsecureTransport { .. })), "{remote}: {refused:?}");
            let asked = SyncConfig { endpoint: remote.into(), allow_insecure_http: true, ..config() };
            assert!(asked.normalised().is_ok(), "{remote} with --allow-insecure-http");
        }
        let not_pem = SyncConfig { ca_cert: Some("hello".into()), ..config() };
        assert!(matches!(not_pem.normalised(), Err(SyncError::InvalidConfig(m)) if m.contains("PEM")));
    }

    #[test]
    fn normalising_trims_and_defaults_and_refuses_nonsense() {
        let c = config().normalised().expect("valid");
        assert_eq!(c.endpoint, "https://s3.example.org");
        assert_eq!(c.prefix, "main");
        assert_eq!(c.region, "us-east-1");
        for bad in [
            SyncConfig { endpoint: "s3.example.org".into(), ..config() },
            SyncConfig { bucket: "Clinic_Photos".into(), ..config() },
            SyncConfig { prefix: "a/../b".into(), ..config() },
            SyncConfig { access_key: " ".into(), ..config() },
        ] {
            assert!(matches!(bad.normalised(), Err(SyncError::InvalidConfig(_))));
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_fallback_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(SECRET_FILE);
        write_private(&path, "s3cr3t").expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "s3cr3t");
    }
}
