//! The clinic key and what it seals. Everything a workstation puts in the bucket can be
//! encrypted and authenticated here before it leaves, so the provider (or anyone holding the
//! bucket's access keys) reads neither photos nor names:
//!
//! - [`ClinicKey`]: 256 random bits, made once per clinic; each workstation keeps it in the OS
//!   keychain. Its [`KeyFile`] (in the bucket) holds it wrapped twice: by a passphrase
//!   (argon2id) and by a printable [`RecoveryKey`] with a checksum.
//! - [`Vault`]: the subkeys derived from the clinic key (HKDF-SHA256): object contents are
//!   sealed with AES-256-GCM in 64 KiB chunks under a key of the object's own, derived from
//!   its random-looking prefix (the STREAM construction: each chunk's nonce is its index and a
//!   last-chunk flag, so a cut, reordered or spliced object is refused), bound to the object's
//!   name (a ciphertext moved to another name does not open), and object names of content are
//!   a keyed hash (HMAC) of its SHA-256, so workstations still find each other's uploads while
//!   the provider cannot test whether a known photo is stored. Objects of the first format
//!   (XChaCha20-Poly1305 under the content key, the prefix in every nonce) are still opened.
//!
//! Sealing is deterministic: an object's nonce prefix is a keyed hash of its name and its
//! plaintext's SHA-256, so a resumed multipart upload seals each part again to the same bytes,
//! and two different plaintexts never share a nonce.

mod key_file;
mod stream;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use key_file::{KdfParams, KeyFile, RecoveryKey};
pub use stream::{Opener, Sealer};

type HmacSha256 = Hmac<Sha256>;

/// Plaintext bytes per sealed chunk.
pub const CHUNK: usize = 64 * 1024;
/// The authentication tag after each chunk (GCM's, as Poly1305's before it).
pub const TAG: usize = 16;
/// What starts every sealed object: it names the format, so a plaintext object is told apart.
pub const MAGIC: &[u8; 4] = b"CHS1";
/// Magic, version, chunk size (log2), key id (8 bytes), nonce prefix (19 bytes).
pub const HEADER: usize = 4 + 1 + 1 + KEY_ID + PREFIX;
const KEY_ID: usize = 8;
const PREFIX: usize = 19;
/// Format 2: AES-256-GCM, a key per object. Format 1 (XChaCha20-Poly1305) is still opened.
const VERSION: u8 = 2;
const VERSION_XCHACHA: u8 = 1;
const CHUNK_LOG2: u8 = 16;

/// What went wrong, with no key material in any message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("the passphrase is not the clinic's")]
    WrongPassphrase,
    #[error("the passphrase is too short: use at least {min} characters (a sentence is easier to remember)")]
    WeakPassphrase { min: usize },
    #[error("the recovery key has a typo: {0}")]
    RecoveryKeyTypo(String),
    #[error("the recovery key is not this clinic's")]
    WrongRecoveryKey,
    #[error("the object was sealed with another clinic key (key {found}; this workstation holds key {expected})")]
    OtherKey { expected: String, found: String },
    #[error("the object is not encrypted")]
    NotSealed,
    #[error("the object is damaged or was tampered with: {0}")]
    Damaged(String),
    #[error("the key file cannot be read: {0}")]
    KeyFile(String),
    #[error("no random numbers from the system: {0}")]
    Random(String),
}

impl VaultError {
    /// The stable code a script or the window sees.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::WrongPassphrase => "sync_wrong_passphrase",
            VaultError::WeakPassphrase { .. } => "sync_weak_passphrase",
            VaultError::RecoveryKeyTypo(_) => "sync_recovery_key_typo",
            VaultError::WrongRecoveryKey => "sync_wrong_recovery_key",
            VaultError::OtherKey { .. } => "sync_other_clinic_key",
            VaultError::NotSealed | VaultError::Damaged(_) => "sync_tampered",
            VaultError::KeyFile(_) => "sync_key_file_damaged",
            VaultError::Random(_) => "internal_error",
        }
    }
}

/// 128 random bits in hex: an unguessable object name (a share link's copy).
pub fn random_name() -> Result<String, VaultError> {
    Ok(hex::encode(random::<16>()?))
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| VaultError::Random(e.to_string()))?;
    Ok(out)
}

/// A clinic's key: 256 random bits, wiped from memory when dropped.
pub struct ClinicKey(Zeroizing<[u8; 32]>);

impl ClinicKey {
    /// A new key, from the system's random numbers.
    pub fn generate() -> Result<ClinicKey, VaultError> {
        Ok(ClinicKey(Zeroizing::new(random::<32>()?)))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> ClinicKey {
        ClinicKey(Zeroizing::new(bytes))
    }

    /// The key as text (hex), for the keychain; never for a log or a message.
    pub fn to_secret_text(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(*self.0))
    }

    /// The key back from [`ClinicKey::to_secret_text`].
    pub fn from_secret_text(text: &str) -> Result<ClinicKey, VaultError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), &mut *bytes)
            .map_err(|_| VaultError::KeyFile("the stored clinic key is not 64 hex digits".into()))?;
        Ok(ClinicKey(bytes))
    }

    /// A short public name of the key (16 hex digits of a keyed hash): which key sealed an
    /// object, and whether a bucket's key file is the one this workstation holds.
    pub fn id(&self) -> String {
        hex::encode(self.id_bytes())
    }

    fn id_bytes(&self) -> [u8; KEY_ID] {
        let full = self.derive(b"chairside/v1/key-id");
        let mut id = [0u8; KEY_ID];
        id.copy_from_slice(&full[..KEY_ID]);
        id
    }

    /// A subkey for one purpose (HKDF-SHA256 with the purpose as its info).
    fn derive(&self, purpose: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<Sha256>::new(None, &*self.0)
            .expand(purpose, &mut *out)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        out
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for ClinicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClinicKey({})", self.id())
    }
}

/// Seals and opens a clinic's objects, and names its content.
pub struct Vault {
    /// Format 1's cipher, kept to open what it sealed.
    aead: XChaCha20Poly1305,
    /// Format 2: each object's AES-256 key is a keyed hash of its prefix under this.
    object_keys: Zeroizing<[u8; 32]>,
    names: Zeroizing<[u8; 32]>,
    nonces: Zeroizing<[u8; 32]>,
    key_id: [u8; KEY_ID],
}

impl Vault {
    pub fn new(key: &ClinicKey) -> Vault {
        let content = key.derive(b"chairside/v1/content");
        Vault {
            aead: XChaCha20Poly1305::new((&*content).into()),
            object_keys: key.derive(b"chairside/v2/object-keys"),
            names: key.derive(b"chairside/v1/names"),
            nonces: key.derive(b"chairside/v1/nonces"),
            key_id: key.id_bytes(),
        }
    }

    /// The id of the key this vault seals with.
    pub fn key_id(&self) -> String {
        hex::encode(self.key_id)
    }

    /// The name content goes under in the bucket instead of its SHA-256: a keyed hash of it
    /// (64 hex digits), the same on every workstation of the clinic.
    pub fn content_name(&self, sha256_hex: &str) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&*self.names).expect("HMAC takes any key length");
        mac.update(b"content:");
        mac.update(sha256_hex.to_ascii_lowercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Seals a whole object kept under `name` (a segment, a record, a thumbnail).
    pub fn seal(&self, name: &str, plaintext: &[u8]) -> Vec<u8> {
        let sha: [u8; 32] = Sha256::digest(plaintext).into();
        let sealer = self.sealer(name, &sha, plaintext.len() as u64);
        let mut out = Vec::with_capacity(sealed_len(plaintext.len() as u64) as usize);
        out.extend_from_slice(sealer.header());
        let chunks = chunk_count(plaintext.len() as u64);
        for index in 0..chunks {
            let start = (index * CHUNK as u64) as usize;
            let end = (start + CHUNK).min(plaintext.len());
            sealer.seal_chunk_into(index, &plaintext[start..end], &mut out);
        }
        out
    }

    /// Opens a whole object read from `name`: refused if it is not sealed, was sealed with
    /// another key, was cut, altered, or moved from another name.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut opener = self.opener(name);
        let mut out = opener.push(sealed)?;
        out.extend(opener.finish()?);
        Ok(out)
    }

    /// Seals an object of `len` bytes whose SHA-256 is `sha256`, a chunk at a time (any
    /// chunk, in any order: a multipart upload's part is whole chunks).
    pub fn sealer(&self, name: &str, sha256: &[u8; 32], len: u64) -> Sealer<'_> {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&*self.nonces).expect("HMAC takes any key length");
        mac.update(&(name.len() as u64).to_be_bytes());
        mac.update(name.as_bytes());
        mac.update(sha256);
        mac.update(&len.to_be_bytes());
        let mut prefix = [0u8; PREFIX];
        prefix.copy_from_slice(&mac.finalize().into_bytes()[..PREFIX]);
        Sealer::new(self, name, prefix, len)
    }

    /// Opens an object streamed from `name`, as its bytes arrive.
    pub fn opener<'a>(&'a self, name: &str) -> Opener<'a> {
        Opener::new(self, name)
    }

    pub(crate) fn header(&self, prefix: &[u8; PREFIX]) -> [u8; HEADER] {
        let mut h = [0u8; HEADER];
        h[..4].copy_from_slice(MAGIC);
        h[4] = VERSION;
        h[5] = CHUNK_LOG2;
        h[6..6 + KEY_ID].copy_from_slice(&self.key_id);
        h[6 + KEY_ID..].copy_from_slice(prefix);
        h
    }

    /// The cipher of one object: what format `version` seals with, for the object whose
    /// header carries `prefix`.
    pub(crate) fn object_cipher(&self, version: u8, prefix: &[u8; PREFIX]) -> Option<ObjectCipher<'_>> {
        match version {
            VERSION => {
                let mut mac =
                    <HmacSha256 as Mac>::new_from_slice(&*self.object_keys).expect("HMAC takes any key length");
                mac.update(prefix);
                let key = Zeroizing::new(<[u8; 32]>::from(mac.finalize().into_bytes()));
                let key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &*key)
                    .expect("AES-256-GCM takes a 32-byte key");
                Some(ObjectCipher::Aes(Box::new(ring::aead::LessSafeKey::new(key))))
            }
            VERSION_XCHACHA => Some(ObjectCipher::XChaCha(&self.aead, *prefix)),
            _ => None,
        }
    }

    pub(crate) fn key_id_bytes(&self) -> &[u8; KEY_ID] {
        &self.key_id
    }
}

/// How one object's chunks are sealed and opened.
pub(crate) enum ObjectCipher<'a> {
    /// Format 2: AES-256-GCM (AES-NI and carry-less multiply where the CPU has them, which is
    /// every x86-64 and ARMv8 desktop of the last decade: several times ChaCha's speed there),
    /// under the object's own key, so a 96-bit nonce of the chunk's index and last flag is
    /// never used twice with one key.
    Aes(Box<ring::aead::LessSafeKey>),
    /// Format 1: XChaCha20-Poly1305 under the content key, the object's prefix in each nonce.
    XChaCha(&'a XChaCha20Poly1305, [u8; PREFIX]),
}

impl ObjectCipher<'_> {
    /// Seals `buf` where it is and returns its tag (no allocation: a 4 GB original is sealed
    /// a chunk at a time into one output buffer).
    pub(crate) fn seal_in_place(&self, aad: &[u8], index: u64, last: bool, buf: &mut [u8]) -> [u8; TAG] {
        match self {
            ObjectCipher::Aes(key) => {
                let tag = key
                    .seal_in_place_separate_tag(gcm_nonce(index, last), ring::aead::Aad::from(aad), buf)
                    .expect("AES-256-GCM seals any 64 KiB chunk");
                let mut out = [0u8; TAG];
                out.copy_from_slice(tag.as_ref());
                out
            }
            ObjectCipher::XChaCha(aead, prefix) => {
                use chacha20poly1305::aead::AeadInPlace;
                aead.encrypt_in_place_detached(&xnonce(prefix, index, last), aad, buf)
                    .expect("XChaCha20-Poly1305 seals any chunk under 256 GB")
                    .into()
            }
        }
    }

    pub(crate) fn open(&self, aad: &[u8], index: u64, last: bool, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        let refused =
            || VaultError::Damaged(format!("chunk {index} does not authenticate (altered, cut, reordered or renamed)"));
        match self {
            ObjectCipher::Aes(key) => {
                let mut buf = sealed.to_vec();
                let n = key
                    .open_in_place(gcm_nonce(index, last), ring::aead::Aad::from(aad), &mut buf)
                    .map_err(|_| refused())?
                    .len();
                buf.truncate(n);
                Ok(buf)
            }
            ObjectCipher::XChaCha(aead, prefix) => {
                aead.decrypt(&xnonce(prefix, index, last), Payload { msg: sealed, aad }).map_err(|_| refused())
            }
        }
    }
}

/// Format 2's nonce of chunk `index`: the index (32 bits, big-endian), whether it is the last
/// chunk, then zeros (the key is the object's own).
fn gcm_nonce(index: u64, last: bool) -> ring::aead::Nonce {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&(index as u32).to_be_bytes());
    n[4] = u8::from(last);
    ring::aead::Nonce::assume_unique_for_key(n)
}

/// Format 1's nonce of chunk `index`: the object's prefix, the index (32 bits, big-endian)
/// and whether it is the last chunk.
fn xnonce(prefix: &[u8; PREFIX], index: u64, last: bool) -> XNonce {
    let mut n = [0u8; 24];
    n[..PREFIX].copy_from_slice(prefix);
    n[PREFIX..PREFIX + 4].copy_from_slice(&(index as u32).to_be_bytes());
    n[23] = u8::from(last);
    n.into()
}

/// Chunks of a plaintext of `len` bytes: at least one (an empty object is one empty last chunk).
pub fn chunk_count(len: u64) -> u64 {
    len.div_ceil(CHUNK as u64).max(1)
}

/// The size of a sealed object of `len` plaintext bytes.
pub fn sealed_len(len: u64) -> u64 {
    HEADER as u64 + len + TAG as u64 * chunk_count(len)
}

/// The id of the key that sealed `bytes` (hex, as [`Vault::key_id`]), when they are sealed.
pub fn sealed_key_id(bytes: &[u8]) -> Option<String> {
    (is_sealed(bytes) && bytes.len() >= 6 + KEY_ID).then(|| hex::encode(&bytes[6..6 + KEY_ID]))
}

/// Whether bytes start as a sealed object does (a plaintext object from before encryption
/// was turned on does not).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::new(&ClinicKey::from_bytes([7; 32]))
    }

    #[test]
    fn an_object_opens_under_its_name_only_and_every_change_is_refused() {
        let v = vault();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let sealed = v.seal("blobs/x", &plain);
            assert_eq!(sealed.len() as u64, sealed_len(len as u64), "{len}");
            assert_eq!(v.open("blobs/x", &sealed).expect("opens"), plain, "{len}");
            assert_eq!(v.seal("blobs/x", &plain), sealed, "deterministic: a resumed upload seals the same bytes");
            assert!(matches!(v.open("blobs/y", &sealed), Err(VaultError::Damaged(_))), "moved to another name");
            for cut in [HEADER, sealed.len() - 1, sealed.len() - TAG - 1] {
                if cut < sealed.len() {
                    assert!(v.open("blobs/x", &sealed[..cut]).is_err(), "{len}: cut at {cut}");
                }
            }
            let mut flipped = sealed.clone();
            let at = sealed.len() - 1 - len / 2;
            flipped[at] ^= 1;
            assert!(v.open("blobs/x", &flipped).is_err(), "{len}: a flipped bit at {at}");
        }
    }

    #[test]
    fn a_cut_at_a_chunk_boundary_and_reordered_chunks_are_refused() {
        let v = vault();
        let plain = vec![5u8; 3 * CHUNK];
        let sealed = v.seal("n", &plain);
        let step = CHUNK + TAG;
        // The first two chunks whole: each authenticates, but neither is flagged last.
        let cut = &sealed[..HEADER + 2 * step];
        assert!(matches!(v.open("n", cut), Err(VaultError::Damaged(_))));
        let mut swapped = sealed[..HEADER].to_vec();
        swapped.extend_from_slice(&sealed[HEADER + step..HEADER + 2 * step]);
        swapped.extend_from_slice(&sealed[HEADER..HEADER + step]);
        swapped.extend_from_slice(&sealed[HEADER + 2 * step..]);
        assert!(matches!(v.open("n", &swapped), Err(VaultError::Damaged(_))));
    }

    #[test]
    fn another_clinics_object_and_a_plaintext_object_are_told_apart() {
        let ours = vault();
        let theirs = Vault::new(&ClinicKey::from_bytes([8; 32]));
        let sealed = theirs.seal("n", b"photo");
        match ours.open("n", &sealed) {
            Err(VaultError::OtherKey { found, expected }) => {
                assert_eq!((found, expected), (theirs.key_id(), ours.key_id()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ours.open("n", b"\xff\xd8\xff\xe0 a JPEG"), Err(VaultError::NotSealed));
        assert!(!is_sealed(b"\xff\xd8\xff"));
        assert!(is_sealed(&sealed));
    }

    /// Objects sealed in the first format (XChaCha20-Poly1305) before format 2 still open, and
    /// a format-2 object cannot be passed off as one of them.
    #[test]
    fn objects_of_the_first_format_still_open() {
        let v = vault();
        let plain: Vec<u8> = (0..2 * CHUNK + 5).map(|i| (i % 241) as u8).collect();
        let sealed = v.seal("thumbs/x", &plain);
        assert_eq!(sealed[4], VERSION);
        let prefix: [u8; PREFIX] = sealed[6 + KEY_ID..HEADER].try_into().expect("prefix");
        // Sealed as the first format did: its version in the header, ChaCha with the prefix.
        let mut old = sealed[..HEADER].to_vec();
        old[4] = VERSION_XCHACHA;
        let mut aad = old.clone();
        aad.extend_from_slice(b"thumbs/x");
        let cipher = v.object_cipher(VERSION_XCHACHA, &prefix).expect("format 1");
        for (i, part) in plain.chunks(CHUNK).enumerate() {
            let mut buf = part.to_vec();
            let tag = cipher.seal_in_place(&aad, i as u64, i == 2, &mut buf);
            old.extend_from_slice(&buf);
            old.extend_from_slice(&tag);
        }
        assert_eq!(old.len(), sealed.len());
        assert_ne!(old[HEADER..], sealed[HEADER..], "another cipher");
        assert_eq!(v.open("thumbs/x", &old).expect("format 1 opens"), plain);
        let mut relabelled = sealed.clone();
        relabelled[4] = VERSION_XCHACHA;
        assert!(matches!(v.open("thumbs/x", &relabelled), Err(VaultError::Damaged(_))));
        let mut unknown = sealed;
        unknown[4] = 9;
        assert!(matches!(v.open("thumbs/x", &unknown), Err(VaultError::Damaged(m)) if m.contains("newer")));
    }

    #[test]
    fn content_names_are_keyed_and_reveal_nothing_of_the_hash() {
        let v = vault();
        let sha = "ab".repeat(32);
        let name = v.content_name(&sha);
        assert_eq!(name.len(), 64);
        assert_ne!(name, sha);
        assert_eq!(name, v.content_name(&sha.to_uppercase()), "the same on every workstation, any case");
        assert_ne!(name, Vault::new(&ClinicKey::from_bytes([8; 32])).content_name(&sha), "keyed");
    }

    #[test]
    fn the_key_round_trips_through_its_secret_text_and_hides_in_debug() {
        let key = ClinicKey::from_bytes([9; 32]);
        let back = ClinicKey::from_secret_text(&key.to_secret_text()).expect("hex");
        assert_eq!(back.id(), key.id());
        assert!(!format!("{key:?}").contains("0909"), "no key bytes in a debug print");
        assert!(ClinicKey::from_secret_text("zz").is_err());
    }
}
