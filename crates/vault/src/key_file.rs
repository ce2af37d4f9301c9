//! The clinic key as it is kept in the bucket: wrapped by the clinic's passphrase (argon2id)
//! and by a recovery key printed once, never in the clear. A workstation that joins reads this
//! file and asks for the passphrase once; a forgotten passphrase is replaced with the recovery
//! key; with both lost, the bucket's contents cannot be read by anyone (the workstations that
//! still hold the key in their keychain can set a new passphrase).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{ClinicKey, VaultError, random};

/// The shortest passphrase accepted for a new key or a change.
pub const MIN_PASSPHRASE_CHARS: usize = 10;
const FORMAT: &str = "chairside-clinic-key";

/// argon2id's cost: memory in KiB, passes, lanes. Kept in the key file, so a later build can
/// raise it for new files and still open old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl KdfParams {
    /// OWASP's first argon2id recommendation (64 MiB, 3 passes, 1 lane): about half a second
    /// on a workstation, once per join or passphrase change.
    pub const RECOMMENDED: KdfParams = KdfParams { m_kib: 64 * 1024, t: 3, p: 1 };

    fn argon2(self) -> Result<argon2::Argon2<'static>, VaultError> {
        let params = argon2::Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| VaultError::KeyFile(format!("its argon2id parameters are not usable: {e}")))?;
        Ok(argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PassphraseWrap {
    kdf: String,
    params: KdfParams,
    salt: String,
    sealed: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RecoveryWrap {
    sealed: String,
}

/// The clinic key, wrapped twice, as stored in the bucket (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyFile {
    format: String,
    version: u32,
    key_id: String,
    passphrase: PassphraseWrap,
    recovery: RecoveryWrap,
}

impl KeyFile {
    /// Wraps `key` by `passphrase` and by a new recovery key, returned to be shown once.
    pub fn create(key: &ClinicKey, passphrase: &str, params: KdfParams) -> Result<(KeyFile, RecoveryKey), VaultError> {
        let recovery = RecoveryKey::generate()?;
        let file = KeyFile {
            format: FORMAT.into(),
            version: 1,
            key_id: key.id(),
            passphrase: wrap_by_passphrase(key, passphrase, params)?,
            recovery: RecoveryWrap { sealed: wrap(&recovery.kek(), key, &aad("recovery", &key.id()))? },
        };
        Ok((file, recovery))
    }

    /// The same key under a new passphrase (the recovery key is unchanged). `key` must be
    /// this file's: unlocked from it, or held in the keychain.
    pub fn with_passphrase(&self, key: &ClinicKey, passphrase: &str, params: KdfParams) -> Result<KeyFile, VaultError> {
        if key.id() != self.key_id {
            return Err(VaultError::OtherKey { expected: self.key_id.clone(), found: key.id() });
        }
        Ok(KeyFile { passphrase: wrap_by_passphrase(key, passphrase, params)?, ..self.clone() })
    }

    /// Which key the file holds.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The key, with the clinic's passphrase.
    pub fn unlock(&self, passphrase: &str) -> Result<ClinicKey, VaultError> {
        let w = &self.passphrase;
        if w.kdf != "argon2id" {
            return Err(VaultError::KeyFile(format!("unknown key derivation `{}`", w.kdf)));
        }
        let salt = B64.decode(&w.salt).map_err(|_| VaultError::KeyFile("its salt is not base64".into()))?;
        let kek = derive(passphrase, &salt, w.params)?;
        let key = unwrap(&kek, &w.sealed, &aad("passphrase", &self.key_id)).ok_or(VaultError::WrongPassphrase)?;
        self.checked(key)
    }

    /// The key, with the recovery key printed when it was made.
    pub fn recover(&self, recovery: &RecoveryKey) -> Result<ClinicKey, VaultError> {
        let key = unwrap(&recovery.kek(), &self.recovery.sealed, &aad("recovery", &self.key_id))
            .ok_or(VaultError::WrongRecoveryKey)?;
        self.checked(key)
    }

    fn checked(&self, key: ClinicKey) -> Result<ClinicKey, VaultError> {
        if key.id() == self.key_id {
            Ok(key)
        } else {
            Err(VaultError::KeyFile("the key inside is not the one it names".into()))
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a key file serialises")
    }

    pub fn from_json(bytes: &[u8]) -> Result<KeyFile, VaultError> {
        let file: KeyFile = serde_json::from_slice(bytes).map_err(|e| VaultError::KeyFile(e.to_string()))?;
        if file.format != FORMAT || file.version != 1 {
            return Err(VaultError::KeyFile(format!("format {} {} is not known here", file.format, file.version)));
        }
        Ok(file)
    }
}

fn aad(kind: &str, key_id: &str) -> Vec<u8> {
    format!("chairside/v1/clinic-key/{kind}/{key_id}").into_bytes()
}

fn wrap_by_passphrase(key: &ClinicKey, passphrase: &str, params: KdfParams) -> Result<PassphraseWrap, VaultError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(VaultError::WeakPassphrase { min: MIN_PASSPHRASE_CHARS });
    }
    let salt = random::<16>()?;
    let kek = derive(passphrase, &salt, params)?;
    Ok(PassphraseWrap {
        kdf: "argon2id".into(),
        params,
        salt: B64.encode(salt),
        sealed: wrap(&kek, key, &aad("passphrase", &key.id()))?,
    })
}

fn derive(passphrase: &str, salt: &[u8], params: KdfParams) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    let mut kek = Zeroizing::new([0u8; 32]);
    params
        .argon2()?
        .hash_password_into(passphrase.as_bytes(), salt, &mut *kek)
        .map_err(|e| VaultError::KeyFile(format!("argon2id: {e}")))?;
    Ok(kek)
}

/// The key sealed under a key-encryption key, as base64 of nonce ‖ ciphertext.
fn wrap(kek: &[u8; 32], key: &ClinicKey, aad: &[u8]) -> Result<String, VaultError> {
    let nonce = random::<24>()?;
    let sealed = XChaCha20Poly1305::new(kek.into())
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: key.bytes(), aad })
        .map_err(|_| VaultError::KeyFile("the key could not be sealed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(B64.encode(out))
}

fn unwrap(kek: &[u8; 32], sealed: &str, aad: &[u8]) -> Option<ClinicKey> {
    let bytes = B64.decode(sealed).ok()?;
    if bytes.len() != 24 + 32 + 16 {
        return None;
    }
    let (nonce, ct) = bytes.split_at(24);
    let plain = Zeroizing::new(
        XChaCha20Poly1305::new(kek.into()).decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad }).ok()?,
    );
    let mut key = [0u8; 32];
    key.copy_from_slice(&plain);
    Some(ClinicKey::from_bytes(key))
}

/// The printed recovery key: 256 random bits and a 16-bit checksum in Crockford's base32
/// (no I, L, O or U; they are read as 1, 1 and 0), 55 characters in groups of five.
pub struct RecoveryKey(Zeroizing<[u8; 32]>);

const RECOVERY_CHARS: usize = 55;

fn crockford() -> data_encoding::Encoding {
    let mut spec = data_encoding::Specification::new();
    spec.symbols.push_str("0123456789ABCDEFGHJKMNPQRSTVWXYZ");
    spec.translate.from.push_str("ILOabcdefghjkmnpqrstvwxyzilo");
    spec.translate.to.push_str("110ABCDEFGHJKMNPQRSTVWXYZ110");
    spec.check_trailing_bits = false;
    spec.encoding().expect("a valid base32 specification")
}

impl RecoveryKey {
    fn generate() -> Result<RecoveryKey, VaultError> {
        Ok(RecoveryKey(Zeroizing::new(random::<32>()?)))
    }

    fn checksum(bytes: &[u8; 32]) -> [u8; 2] {
        let sha = Sha256::digest([b"chairside/v1/recovery-check".as_slice(), bytes].concat());
        [sha[0], sha[1]]
    }

    /// The key to print or write down, e.g. `7Q2KD-…` (eleven groups of five).
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new(self.0.to_vec());
        raw.extend_from_slice(&Self::checksum(&self.0));
        let text = Zeroizing::new(crockford().encode(&raw));
        let groups: Vec<&str> = text.as_bytes().chunks(5).map(|g| std::str::from_utf8(g).unwrap_or("")).collect();
        Zeroizing::new(groups.join("-"))
    }

    /// Reads a typed recovery key: spaces, dashes and case do not matter; a mistyped
    /// character is caught by the checksum.
    pub fn parse(text: &str) -> Result<RecoveryKey, VaultError> {
        let clean: Zeroizing<String> =
            Zeroizing::new(text.chars().filter(|c| !c.is_whitespace() && *c != '-').collect());
        if let Some(bad) = clean.chars().find(|c| !c.is_ascii_alphanumeric() || matches!(c, 'u' | 'U')) {
            return Err(VaultError::RecoveryKeyTypo(format!("`{bad}` is not one of its characters")));
        }
        if clean.len() != RECOVERY_CHARS {
            return Err(VaultError::RecoveryKeyTypo(format!(
                "it has {} characters, not {RECOVERY_CHARS}",
                clean.len()
            )));
        }
        let raw = Zeroizing::new(
            crockford()
                .decode(clean.as_bytes())
                .map_err(|_| VaultError::RecoveryKeyTypo("it does not read as a recovery key".into()))?,
        );
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&raw[..32]);
        if raw[32..] != Self::checksum(&bytes) {
            return Err(VaultError::RecoveryKeyTypo(
                "its check characters do not match: look for a mistyped one".into(),
            ));
        }
        Ok(RecoveryKey(Zeroizing::new(bytes)))
    }

    fn kek(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<Sha256>::new(None, &*self.0)
            .expand(b"chairside/v1/recovery-wrap", &mut *out)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Light enough for a debug test run; the file records them like any others.
    const LIGHT: KdfParams = KdfParams { m_kib: 256, t: 1, p: 1 };

    #[test]
    fn the_passphrase_and_the_recovery_key_each_unlock_the_key_and_nothing_else_does() {
        let key = ClinicKey::generate().expect("key");
        let (file, recovery) = KeyFile::create(&key, "correct horse battery", LIGHT).expect("create");
        let file = KeyFile::from_json(&file.to_json()).expect("read back");
        assert_eq!(file.key_id(), key.id());
        assert_eq!(file.unlock("correct horse battery").expect("unlock").id(), key.id());
        let err = file.unlock("correct horse batterY").expect_err("wrong");
        assert_eq!(err, VaultError::WrongPassphrase);
        assert!(!err.to_string().contains(&*key.to_secret_text()), "no key material in the message");
        let typed = RecoveryKey::parse(&recovery.to_text().to_lowercase()).expect("any case");
        assert_eq!(file.recover(&typed).expect("recover").id(), key.id());
        let json = String::from_utf8(file.to_json()).expect("utf8");
        assert!(!json.contains(&*key.to_secret_text()) && !json.contains(&*recovery.to_text()), "nothing in the clear");

        let other = RecoveryKey::generate().expect("other");
        assert_eq!(file.recover(&other).map(|k| k.id()), Err(VaultError::WrongRecoveryKey));
    }

    #[test]
    fn a_new_passphrase_rewraps_the_same_key_and_a_short_one_is_refused() {
        let key = ClinicKey::generate().expect("key");
        let (file, recovery) = KeyFile::create(&key, "first passphrase", LIGHT).expect("create");
        let changed = file.with_passphrase(&key, "second passphrase", LIGHT).expect("rewrap");
        assert_eq!(changed.unlock("second passphrase").expect("new").id(), key.id());
        assert_eq!(changed.unlock("first passphrase").map(|k| k.id()), Err(VaultError::WrongPassphrase));
        assert_eq!(changed.recover(&recovery).expect("the recovery key still works").id(), key.id());
        assert!(matches!(file.with_passphrase(&key, "short", LIGHT), Err(VaultError::WeakPassphrase { .. })));
        let stranger = ClinicKey::generate().expect("key");
        assert!(matches!(
            file.with_passphrase(&stranger, "a long passphrase", LIGHT),
            Err(VaultError::OtherKey { .. })
        ));
        assert!(matches!(KeyFile::create(&key, "short", LIGHT), Err(VaultError::WeakPassphrase { .. })));
    }

    #[test]
    fn a_recovery_key_with_a_typo_is_refused_by_its_checksum() {
        let recovery = RecoveryKey::generate().expect("key");
        let text = recovery.to_text();
        assert_eq!(text.len(), RECOVERY_CHARS + 10, "eleven groups of five");
        assert_eq!(RecoveryKey::parse(&text.replace('-', " ")).expect("spaces").to_text(), text);
        // Every single-character change is caught (one of 32 symbols for another).
        let symbols = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mut caught = 0;
        for at in [0, 7, 20, 40, 60] {
            let original = text.as_bytes()[at] as char;
            if original == '-' {
                continue;
            }
            let other = symbols.chars().find(|&c| c != original).expect("another symbol");
            let typo: String = text.chars().enumerate().map(|(i, c)| if i == at { other } else { c }).collect();
            match RecoveryKey::parse(&typo) {
                Err(VaultError::RecoveryKeyTypo(_)) => caught += 1,
                Ok(_) => panic!("a typo at {at} passed"),
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(caught >= 4);
        assert!(matches!(RecoveryKey::parse(&text[..40]), Err(VaultError::RecoveryKeyTypo(_))), "too short");
        assert!(matches!(RecoveryKey::parse(&format!("U{}", &text[1..])), Err(VaultError::RecoveryKeyTypo(_))), "no U");
    }
}
