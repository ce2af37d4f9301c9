//! Passwords and PINs: argon2id hashes (RustCrypto's `argon2`), checked in the same time
//! whether or not the name exists, and the growing delay after repeated failures.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::{Credentials, UsersError};

/// argon2id with 64 MiB of memory and 6 passes, one lane: OWASP's advice is at least 19 MiB
/// and 2 passes; this is about ten times as costly to guess and still takes 150–500 ms on a
/// clinic's PC (measured by `scripts/bench-auth.sh`). A stolen database (or bucket) then
/// costs an attacker that much per guess per core. A PIN, 10,000 guesses for 4 digits, is
/// protected by the lockout, not by its hash.
pub const PARAMS: (u32, u32, u32) = (64 * 1024, 6, 1);

pub(crate) const MIN_PASSWORD: usize = 8;

/// Failures allowed before the name is locked.
pub const MAX_FAILURES: u32 = 5;

/// A secret's hash, made outside any transaction (it takes a few hundred milliseconds).
#[derive(Clone)]
pub struct Hashed(pub(crate) String);

impl std::fmt::Debug for Hashed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hashed(…)")
    }
}

fn hasher() -> Argon2<'static> {
    let (m, t, p) = PARAMS;
    // The parameters are constants within argon2's bounds (a test checks they build).
    let params = Params::new(m, t, p, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash(secret: &str) -> Result<Hashed, UsersError> {
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes()).map_err(|e| UsersError::Hash(e.to_string()))?;
    let phc = hasher().hash_password(secret.as_bytes(), &salt).map_err(|e| UsersError::Hash(e.to_string()))?;
    Ok(Hashed(phc.to_string()))
}

pub fn hash_password(password: &str) -> Result<Hashed, UsersError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(UsersError::WeakPassword);
    }
    hash(password)
}

pub fn hash_pin(pin: &str) -> Result<Hashed, UsersError> {
    if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UsersError::BadPin);
    }
    hash(pin)
}

/// Whether `secret` is the user's password (or PIN, `pin`). For a name with no user, or a
/// user without a PIN, a hash of the same cost is computed and `false` returned, so the time
/// taken says nothing about which names exist.
pub fn check(creds: Option<&Credentials>, secret: &str, pin: bool) -> bool {
    let stored = creds.and_then(|c| if pin { c.pin_hash.as_deref() } else { Some(c.password_hash.as_str()) });
    match stored.and_then(|s| PasswordHash::new(s).ok()) {
        Some(parsed) => hasher().verify_password(secret.as_bytes(), &parsed).is_ok(),
        None => {
            // The same work as a verify: one hash with these parameters.
            let salt = SaltString::encode_b64(&[0u8; 16]);
            if let Ok(salt) = salt {
                let _ = hasher().hash_password(secret.as_bytes(), &salt);
            }
            false
        }
    }
}

/// How long a name is locked after its `failures`th failure in a row: not at all before
/// [`MAX_FAILURES`], then 30 s, doubling with each further failure, at most an hour.
pub fn lockout_after(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(MAX_FAILURES)?;
    let secs = 30u64.saturating_mul(1u64 << over.min(7));
    Some(Duration::from_secs(secs.min(3600)))
}
