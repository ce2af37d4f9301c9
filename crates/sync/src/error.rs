use chairside_store::StoreError;

/// What sync can fail with. Every message says what failed, why, and what to do; none ever
/// contains the secret key.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("sync is not configured")]
    NotConfigured,
    #[error("{0}")]
    InvalidConfig(String),
    #[error("no secret key is stored for access key {access_key}")]
    NoSecret { access_key: String },
    #[error("the secret key could not be stored or read: {0}")]
    Secret(String),
    #[error(
        "cannot reach {endpoint}: {reason}. Check the address and the network; sync retries on its own and nothing is lost"
    )]
    Unreachable { endpoint: String, reason: String },
    #[error(
        "the bucket refused the credentials (access key {access_key}): {reason}. Check the access key and secret with your storage administrator"
    )]
    Denied { access_key: String, reason: String },
    #[error(
        "bucket {bucket} does not exist at {endpoint}: create it first (Chairside never creates or deletes buckets)"
    )]
    NoSuchBucket { bucket: String, endpoint: String },
    #[error(
        "{endpoint} is plain HTTP to another machine: the patients' images and names would cross the network unencrypted"
    )]
    InsecureTransport { endpoint: String },
    #[error("{endpoint} did not prove its identity over TLS ({reason}): nothing was sent to it")]
    Tls { endpoint: String, reason: String },
    #[error("the bucket answered {context}: {reason}")]
    Remote { context: String, reason: String },
    #[error(
        "{key} in the bucket does not match its checksum (expected {expected}, got {actual}): it was not accepted. Someone or something altered the bucket; the local copy is untouched"
    )]
    Tampered { key: String, expected: String, actual: String },
    #[error("document {0} is not in the library")]
    DocumentNotFound(String),
    #[error("document {0} is not uploaded yet: a share link can only point to an original that is in the bucket")]
    NotUploaded(String),
    #[error(
        "this bucket belongs to clinic {bucket_clinic} but this library already syncs clinic {local_clinic}: use another bucket or prefix"
    )]
    OtherClinic { bucket_clinic: String, local_clinic: String },
    #[error("{key} in the bucket was not accepted: {source}. The local copy is untouched")]
    Sealed { key: String, source: chairside_vault::VaultError },
    #[error(transparent)]
    Vault(#[from] chairside_vault::VaultError),
    #[error(
        "this bucket is encrypted: give the clinic's passphrase (CHAIRSIDE_SYNC_PASSPHRASE, or at the prompt) to join it"
    )]
    PassphraseNeeded,
    #[error(
        "this bucket already holds a clinic's unencrypted sync: join it without encryption, then encrypt it in place"
    )]
    BucketNotEncrypted,
    #[error("the bucket is not encrypted")]
    NotEncrypted,
    #[error(
        "the clinic key in the bucket (key {bucket}) is not the one this workstation holds (key {local}): it was changed on another workstation (encrypted or rotated). Set sync up again with the clinic's passphrase"
    )]
    KeyChanged { bucket: String, local: String },
    #[error(
        "the bucket is being {} (new key {to}) and that has not finished",
        if *encrypting { "encrypted" } else { "re-sealed with a new clinic key" }
    )]
    Migrating { to: String, encrypting: bool },
    #[error(
        "no clinic key is stored on this workstation for this bucket: set sync up again with the clinic's passphrase"
    )]
    NoClinicKey,
    #[error("segment {key} is not readable: {reason}")]
    BadSegment { key: String, reason: String },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Media(#[from] chairside_media::MediaError),
}

impl From<rusqlite::Error> for SyncError {
    fn from(e: rusqlite::Error) -> Self {
        SyncError::Store(e.into())
    }
}

impl chairside_store::ErrorCode for SyncError {
    fn code(&self) -> &'static str {
        SyncError::code(self)
    }
    /// Settings that do not hold together; everything else is the bucket's or the network's.
    fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            SyncError::InvalidConfig(_)
                | SyncError::InsecureTransport { .. }
                | SyncError::PassphraseNeeded
                | SyncError::BucketNotEncrypted
                | SyncError::NotEncrypted
        ) || matches!(
            self,
            SyncError::Vault(
                chairside_vault::VaultError::WrongPassphrase
                    | chairside_vault::VaultError::WeakPassphrase { .. }
                    | chairside_vault::VaultError::RecoveryKeyTypo(_)
                    | chairside_vault::VaultError::WrongRecoveryKey
            )
        )
    }
    fn remedy(&self) -> Option<chairside_store::Remedy> {
        use chairside_store::Remedy;
        match self {
            SyncError::NotConfigured => Some(Remedy::ConfigureSync),
            SyncError::NoSecret { .. } => Some(Remedy::EnterSyncSecret),
            SyncError::InsecureTransport { .. } => Some(Remedy::AllowInsecureHttp),
            SyncError::Tls { .. } => Some(Remedy::TrustClinicCa),
            SyncError::DocumentNotFound(_) => Some(Remedy::FindDocument),
            SyncError::PassphraseNeeded | SyncError::KeyChanged { .. } | SyncError::NoClinicKey => {
                Some(Remedy::EnterSyncPassphrase)
            }
            SyncError::BucketNotEncrypted | SyncError::NotEncrypted => Some(Remedy::EncryptBucket),
            SyncError::Migrating { .. } => Some(Remedy::FinishReseal),
            _ => None,
        }
    }
}

impl SyncError {
    /// A stable machine-readable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::NotConfigured => "sync_not_configured",
            SyncError::InvalidConfig(_) => "invalid_input",
            SyncError::NoSecret { .. } | SyncError::Secret(_) => "sync_secret_unavailable",
            SyncError::Unreachable { .. } => "sync_unreachable",
            SyncError::Denied { .. } => "sync_denied",
            SyncError::NoSuchBucket { .. } => "sync_no_such_bucket",
            SyncError::Remote { .. } => "sync_remote_error",
            SyncError::InsecureTransport { .. } => "sync_insecure_http",
            SyncError::Tls { .. } => "sync_tls_refused",
            SyncError::Tampered { .. } => "sync_tampered",
            SyncError::DocumentNotFound(_) => "document_not_found",
            SyncError::NotUploaded(_) => "sync_not_uploaded",
            SyncError::OtherClinic { .. } => "sync_other_clinic",
            SyncError::BadSegment { .. } => "sync_bad_segment",
            SyncError::Sealed { source, .. } => source.code(),
            SyncError::Vault(e) => e.code(),
            SyncError::PassphraseNeeded => "sync_passphrase_needed",
            SyncError::BucketNotEncrypted => "sync_bucket_not_encrypted",
            SyncError::KeyChanged { .. } => "sync_key_changed",
            SyncError::Migrating { .. } => "sync_migrating",
            SyncError::NotEncrypted => "sync_not_encrypted",
            SyncError::NoClinicKey => "sync_secret_unavailable",
            SyncError::Io { .. } => "io_error",
            SyncError::Store(_) => "database_error",
            SyncError::Media(e) => e.code(),
        }
    }

    /// Errors that go away by themselves (network, server down): sync backs off and retries.
    pub fn is_transient(&self) -> bool {
        matches!(self, SyncError::Unreachable { .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SyncError::Io { context: context.into(), source }
    }
}
