//! The bucket, through `object_store` (signing, retries, conditional puts, multipart,
//! presigning). The few bucket calls it does not cover (object tagging, lifecycle) go as
//! requests presigned by `object_store` itself and sent with reqwest: no hand-written SigV4.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use md5::Digest as _;
pub use object_store::PutMode;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as KeyPath;
use object_store::signer::{HeaderName, HeaderValue, Method, SignedUrlOptions, Signer};
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions,
    PutPayload, RetryConfig, TagSet,
};
use sha2::Sha256;

use chairside_vault::Vault;

use crate::{SyncConfig, SyncError};

/// The user metadata key holding an object's SHA-256 (hex). An ETag is never a content hash.
pub const SHA256_METADATA: &str = "sha256";

/// Whether a create-only put wrote the object or found one there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Created,
    AlreadyThere,
}

/// The clinic key as the bucket keeps it (wrapped by the passphrase and the recovery key):
/// the one object never sealed, since it is what a joining workstation opens first.
pub const KEY_FILE: &str = "keys/clinic-key.json";

/// One bucket, under one prefix; with a vault, every object but the key file is sealed on the
/// way up and opened on the way down, and content is named by a keyed hash.
pub struct Remote {
    store: Arc<AmazonS3>,
    prefix: String,
    config: SyncConfig,
    http: reqwest::Client,
    vault: Option<Arc<Vault>>,
}

impl Remote {
    pub fn new(config: &SyncConfig, secret: &str, vault: Option<Arc<Vault>>) -> Result<Remote, SyncError> {
        // Settings saved before plain HTTP had to be asked for are held to the same rule.
        config.check_transport()?;
        let bad_ca = |e: String| {
            SyncError::InvalidConfig(format!(
                "the saved CA certificate is not usable ({e}): set sync up again with the clinic authority's certificate"
            ))
        };
        let pem = config.ca_cert.as_deref().unwrap_or("").as_bytes();
        let mut options = ClientOptions::new()
            .with_allow_http(config.endpoint.starts_with("http://"))
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(300));
        let mut http =
            reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(30));
        // The clinic's own authority, trusted besides the system's (both clients: data and
        // the presigned admin calls).
        if !pem.is_empty() {
            for cert in object_store::Certificate::from_pem_bundle(pem).map_err(|e| bad_ca(e.to_string()))? {
                options = options.with_root_certificate(cert);
            }
            for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| bad_ca(e.to_string()))? {
                http = http.add_root_certificate(cert);
            }
        }
        // Few quick retries inside one call; the sync loop itself backs off between rounds.
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
        };
        let store = AmazonS3Builder::new()
            .with_endpoint(&config.endpoint)
            .with_region(&config.region)
            .with_bucket_name(&config.bucket)
            .with_access_key_id(&config.access_key)
            .with_secret_access_key(secret)
            .with_virtual_hosted_style_request(!config.path_style)
            .with_client_options(options)
            .with_retry(retry)
            .with_checksum_algorithm(object_store::aws::Checksum::SHA256)
            .build()
            .map_err(|e| SyncError::InvalidConfig(format!("the sync settings are not usable: {e}")))?;
        let http = http.build().map_err(|e| SyncError::InvalidConfig(format!("no HTTP client: {e}")))?;
        let prefix = if config.prefix.is_empty() { String::new() } else { format!("{}/", config.prefix) };
        Ok(Remote { store: Arc::new(store), prefix, config: config.clone(), http, vault })
    }

    /// The same bucket with another vault (or none): joining, migrating, rotating.
    pub fn with_vault(&self, vault: Option<Arc<Vault>>) -> Remote {
        Remote {
            store: Arc::clone(&self.store),
            prefix: self.prefix.clone(),
            config: self.config.clone(),
            http: self.http.clone(),
            vault,
        }
    }

    pub fn vault(&self) -> Option<&Arc<Vault>> {
        self.vault.as_ref()
    }

    /// Where an original goes: under its SHA-256, or a keyed hash of it when sealed (so the
    /// provider cannot test whether a known photo is stored).
    pub fn blob_key(&self, sha: &str) -> String {
        match &self.vault {
            None => crate::engine::blob_key(sha),
            Some(v) => {
                let name = v.content_name(sha);
                format!("blobs/k/{}/{name}", &name[..2])
            }
        }
    }

    /// Where an original's 256 px thumbnail goes.
    pub fn thumb_key(&self, sha: &str) -> String {
        match &self.vault {
            None => crate::engine::thumb_key(sha),
            Some(v) => format!("thumbs/k/{}", v.content_name(sha)),
        }
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// The full key of `rel` (a path under the clinic prefix).
    pub fn key(&self, rel: &str) -> KeyPath {
        KeyPath::from(format!("{}{rel}", self.prefix))
    }

    /// `rel` of a full key, when it is under our prefix.
    pub fn rel<'a>(&self, key: &'a KeyPath) -> Option<&'a str> {
        key.as_ref().strip_prefix(self.prefix.as_str())
    }

    /// Maps an `object_store` error to what a person can act on.
    pub fn error(&self, context: &str, e: object_store::Error) -> SyncError {
        use object_store::Error as E;
        match e {
            E::PermissionDenied { source, .. } | E::Unauthenticated { source, .. } => SyncError::Denied {
                access_key: self.config.access_key.clone(),
                reason: first_line(&source.to_string()),
            },
            other => {
                let text = error_chain(&other);
                if text.contains("NoSuchBucket") {
                    SyncError::NoSuchBucket {
                        bucket: self.config.bucket.clone(),
                        endpoint: self.config.endpoint.clone(),
                    }
                } else if ["SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "403 Forbidden"]
                    .iter()
                    .any(|m| text.contains(m))
                {
                    SyncError::Denied { access_key: self.config.access_key.clone(), reason: first_line(&text) }
                } else if is_tls_refusal(&text) {
                    SyncError::Tls { endpoint: self.config.endpoint.clone(), reason: tls_reason(&text) }
                } else if is_connection_failure(&text) {
                    SyncError::Unreachable { endpoint: self.config.endpoint.clone(), reason: first_line(&text) }
                } else {
                    SyncError::Remote { context: context.to_string(), reason: first_line(&text) }
                }
            }
        }
    }

    /// A create-only put (`If-None-Match: *`) with the SHA-256 sent as `x-amz-checksum-sha256`
    /// and kept as user metadata. "Already there" is success: content-addressed and
    /// single-writer keys never hold anything else.
    pub async fn put_create(&self, rel: &str, body: Bytes, tags: &[(&str, &str)]) -> Result<Put, SyncError> {
        match &self.vault {
            None => {
                let sha = hex::encode(Sha256::digest(&body));
                self.put_body(rel, body, tags, PutMode::Create, Some(sha)).await
            }
            // Sealed on the blocking pool (a few ms a photo, not on the runtime's threads), and
            // without a SHA-256 of its own: every chunk authenticates itself when opened.
            Some(v) => {
                let sealed = seal_off_runtime(v, rel, body).await?;
                self.put_body(rel, sealed, tags, PutMode::Create, None).await
            }
        }
    }

    /// Puts bytes as they are (the key file; a migration's already sealed copy), create-only
    /// or overwriting.
    pub async fn put_stored(
        &self,
        rel: &str,
        body: Bytes,
        tags: &[(&str, &str)],
        mode: PutMode,
    ) -> Result<Put, SyncError> {
        let sha = hex::encode(Sha256::digest(&body));
        self.put_body(rel, body, tags, mode, Some(sha)).await
    }

    async fn put_body(
        &self,
        rel: &str,
        body: Bytes,
        tags: &[(&str, &str)],
        mode: PutMode,
        sha: Option<String>,
    ) -> Result<Put, SyncError> {
        let mut attributes = Attributes::new();
        if let Some(sha) = sha {
            attributes.insert(Attribute::Metadata(SHA256_METADATA.into()), sha.into());
        }
        let mut tag_set = TagSet::default();
        for (k, v) in tags {
            tag_set.push(k, v);
        }
        let opts = PutOptions { mode, tags: tag_set, attributes, ..Default::default() };
        match self.store.put_opts(&self.key(rel), PutPayload::from(body), opts).await {
            Ok(_) => Ok(Put::Created),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                Ok(Put::AlreadyThere)
            }
            Err(e) => Err(self.error(&format!("uploading {rel}"), e)),
        }
    }

    /// An object's bytes, checked against `expected` (or, if `None`, its SHA-256 metadata).
    /// With a vault the object is opened first (refused if it is not sealed by this clinic's
    /// key for this name, or was altered) and `expected` is the plaintext's SHA-256.
    /// `Ok(None)` when it is not there.
    pub async fn get_checked(&self, rel: &str, expected: Option<&str>) -> Result<Option<Bytes>, SyncError> {
        let Some(vault) = &self.vault else { return self.get_stored(rel, expected).await };
        let Some(sealed) = self.get_stored(rel, None).await? else { return Ok(None) };
        let plain = open_off_runtime(vault, rel, sealed).await?;
        if let Some(expected) = expected {
            let actual = hex::encode(Sha256::digest(&plain));
            if actual != expected {
                return Err(SyncError::Tampered { key: rel.to_string(), expected: expected.to_string(), actual });
            }
        }
        Ok(Some(Bytes::from(plain)))
    }

    /// An object's bytes as stored, checked against `expected` or its SHA-256 metadata (a
    /// sealed object without it is checked when opened).
    pub async fn get_stored(&self, rel: &str, expected: Option<&str>) -> Result<Option<Bytes>, SyncError> {
        let result = match self.store.get(&self.key(rel)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error(&format!("downloading {rel}"), e)),
        };
        let meta_sha = result.attributes.get(&Attribute::Metadata(SHA256_METADATA.into())).map(|v| v.to_string());
        let body = result.bytes().await.map_err(|e| self.error(&format!("downloading {rel}"), e))?;
        let actual = hex::encode(Sha256::digest(&body));
        let expected = match (expected, meta_sha) {
            (Some(e), _) => e.to_string(),
            (None, Some(m)) => m,
            // A sealed object uploaded in parts carries no checksum: its chunks authenticate
            // themselves when it is opened.
            (None, None) if chairside_vault::is_sealed(&body) => return Ok(Some(body)),
            (None, None) => {
                return Err(SyncError::Tampered {
                    key: rel.to_string(),
                    expected: "a sha256 metadata entry".into(),
                    actual: "none".into(),
                });
            }
        };
        if actual != expected {
            return Err(SyncError::Tampered { key: rel.to_string(), expected, actual });
        }
        Ok(Some(body))
    }

    /// Removes an object: only a migration's old copy, once its sealed copy is in place.
    pub async fn delete(&self, rel: &str) -> Result<(), SyncError> {
        match self.store.delete(&self.key(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(&format!("removing {rel}"), e)),
        }
    }

    pub async fn exists(&self, rel: &str) -> Result<bool, SyncError> {
        match self.store.head(&self.key(rel)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error(&format!("looking up {rel}"), e)),
        }
    }

    /// The "folders" directly under `rel` (e.g. one per workstation under `ops/`).
    pub async fn list_folders(&self, rel: &str) -> Result<Vec<String>, SyncError> {
        let listing = self
            .store
            .list_with_delimiter(Some(&self.key(rel)))
            .await
            .map_err(|e| self.error(&format!("listing {rel}"), e))?;
        Ok(listing.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_string)).collect())
    }

    /// Keys under `rel` that sort after `after` (a full `rel` key), in key order.
    pub async fn list_after(&self, rel: &str, after: Option<&str>) -> Result<Vec<String>, SyncError> {
        use futures::TryStreamExt;
        let prefix = self.key(rel);
        let stream = match after {
            Some(a) => self.store.list_with_offset(Some(&prefix), &self.key(a)),
            None => self.store.list(Some(&prefix)),
        };
        let metas: Vec<_> = stream.try_collect().await.map_err(|e| self.error(&format!("listing {rel}"), e))?;
        let mut keys: Vec<String> = metas.iter().filter_map(|m| self.rel(&m.location).map(str::to_string)).collect();
        keys.sort();
        Ok(keys)
    }

    // ---- multipart, resumable: the caller keeps the upload id and the parts done ----

    /// Starts an upload in parts. Sealed objects carry no SHA-256 metadata: the plaintext's
    /// would name the photo, and the AEAD authenticates every chunk.
    pub async fn multipart_start(&self, rel: &str, sha256: &str) -> Result<String, SyncError> {
        let mut attributes = Attributes::new();
        if self.vault.is_none() {
            attributes.insert(Attribute::Metadata(SHA256_METADATA.into()), sha256.to_string().into());
        }
        let opts = PutMultipartOptions { attributes, ..Default::default() };
        self.store
            .create_multipart_opts(&self.key(rel), opts)
            .await
            .map_err(|e| self.error(&format!("starting the upload of {rel}"), e))
    }

    /// Part `index` of an object of `len` bytes whose SHA-256 is `sha256`; `data` is its
    /// plaintext, `PART_SIZE` bytes (a whole number of the vault's chunks) but the last.
    /// Sealing is deterministic, so a part sent again after a restart is the same bytes.
    pub async fn multipart_part(
        &self,
        rel: &str,
        upload_id: &str,
        (index, part_size): (usize, u64),
        (sha256, len): (&str, u64),
        data: Bytes,
    ) -> Result<String, SyncError> {
        let data = match &self.vault {
            None => data,
            Some(v) => {
                let mut sha = [0u8; 32];
                hex::decode_to_slice(sha256, &mut sha)
                    .map_err(|_| SyncError::InvalidConfig(format!("{sha256:?} is not a SHA-256")))?;
                let sealer = v.sealer(rel, &sha, len);
                let per_part = part_size / chairside_vault::CHUNK as u64;
                let first = index as u64 * per_part;
                let mut out = Vec::with_capacity(data.len() + data.len() / 4096 + chairside_vault::HEADER);
                if index == 0 {
                    out.extend_from_slice(sealer.header());
                }
                let short = || SyncError::Remote {
                    context: format!("sealing part {} of {rel}", index + 1),
                    reason: "the part does not hold its chunks".into(),
                };
                let mut at = 0usize;
                for chunk in first..(first + per_part).min(sealer.chunks()) {
                    let n = sealer.chunk_len(chunk);
                    sealer.seal_chunk_into(chunk, data.get(at..at + n).ok_or_else(short)?, &mut out);
                    at += n;
                }
                if at != data.len() {
                    return Err(short());
                }
                Bytes::from(out)
            }
        };
        let part = self
            .store
            .put_part(&self.key(rel), &upload_id.to_string(), index, PutPayload::from(data))
            .await
            .map_err(|e| self.error(&format!("uploading part {} of {rel}", index + 1), e))?;
        Ok(part.content_id)
    }

    pub async fn multipart_complete(&self, rel: &str, upload_id: &str, parts: &[String]) -> Result<(), SyncError> {
        let parts: Vec<PartId> = parts.iter().map(|c| PartId { content_id: c.clone() }).collect();
        self.store
            .complete_multipart(&self.key(rel), &upload_id.to_string(), parts)
            .await
            .map(|_| ())
            .map_err(|e| self.error(&format!("completing the upload of {rel}"), e))
    }

    // ---- calls object_store does not wrap: presigned by it, sent with reqwest ----

    /// A URL presigned for one request to `key` (an object, or the bucket itself for the
    /// empty key), with its sub-resource query and Content-MD5 folded into the signature.
    async fn presigned(
        &self,
        method: Method,
        key: &KeyPath,
        query: &[(&str, &str)],
        md5: Option<&str>,
    ) -> Result<reqwest::Url, SyncError> {
        let mut opts = SignedUrlOptions::new().with_query(query.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        if let Some(m) = md5
            && let Ok(v) = HeaderValue::from_str(m)
        {
            opts = opts.with_signed_header(HeaderName::from_static("content-md5"), v);
        }
        let url = self
            .store
            .signed_url_opts(method, key, Duration::from_secs(300), &opts)
            .await
            .map_err(|e| self.error(&format!("signing a request for {key}"), e))?;
        reqwest::Url::parse(url.as_str())
            .map_err(|e| SyncError::Remote { context: key.to_string(), reason: e.to_string() })
    }

    /// Sends a presigned request; the answer's body on 2xx, a mapped error otherwise.
    async fn send(&self, context: &str, request: reqwest::RequestBuilder) -> Result<String, SyncError> {
        let unreachable = |e: reqwest::Error| SyncError::Unreachable {
            endpoint: self.config.endpoint.clone(),
            reason: first_line(&error_chain(&e)),
        };
        let spare = request.try_clone();
        let response = match (request.send().await, spare.as_ref().and_then(|s| s.try_clone())) {
            (Ok(r), _) => r,
            // A pooled connection the server closed while it sat idle fails on its first use
            // (radosgw does this between two clicks in Settings). Every call sent here is
            // idempotent (a GET, or a PUT of a whole document): one more try, on a new
            // connection. A timeout is not tried again.
            (Err(e), Some(again)) if !e.is_timeout() => again.send().await.map_err(unreachable)?,
            (Err(e), _) => return Err(unreachable(e)),
        };
        let mut status = response.status();
        let mut body = response.text().await.unwrap_or_default();
        // A 500 or 503 is a server's passing trouble (radosgw under load answers some requests
        // so): once more after a moment, as S3's own clients do, for the same idempotent call.
        if matches!(status.as_u16(), 500 | 503)
            && let Some(again) = spare
        {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let retried = again.send().await.map_err(unreachable)?;
            status = retried.status();
            body = retried.text().await.unwrap_or_default();
        }
        if status.is_success() {
            return Ok(body);
        }
        let code = xml_value(&body, "Code").unwrap_or_default();
        let reason = format!("{status} {code}").trim().to_string();
        Err(match (status.as_u16(), code.as_str()) {
            (_, "NoSuchBucket") => {
                SyncError::NoSuchBucket { bucket: self.config.bucket.clone(), endpoint: self.config.endpoint.clone() }
            }
            (401 | 403, _) => SyncError::Denied { access_key: self.config.access_key.clone(), reason },
            // Overloaded or restarting: as transient as a refused connection.
            (500..=599, _) => SyncError::Unreachable { endpoint: self.config.endpoint.clone(), reason },
            _ => SyncError::Remote {
                context: context.to_string(),
                reason: format!("{reason} {}", xml_value(&body, "Message").unwrap_or_default()).trim().to_string(),
            },
        })
    }

    /// Replaces an object's tags.
    pub async fn put_tags(&self, rel: &str, tags: &[(&str, &str)]) -> Result<(), SyncError> {
        let mut xml = String::from("<Tagging><TagSet>");
        for (k, v) in tags {
            xml.push_str(&format!("<Tag><Key>{}</Key><Value>{}</Value></Tag>", escape(k), escape(v)));
        }
        xml.push_str("</TagSet></Tagging>");
        let md5 = content_md5(xml.as_bytes());
        let url = self.presigned(Method::PUT, &self.key(rel), &[("tagging", "")], Some(&md5)).await?;
        self.send(&format!("tagging {rel}"), self.http.put(url).header("content-md5", md5).body(xml)).await.map(|_| ())
    }

    /// An object's tags as (key, value) pairs.
    pub async fn get_tags(&self, rel: &str) -> Result<Vec<(String, String)>, SyncError> {
        let url = self.presigned(Method::GET, &self.key(rel), &[("tagging", "")], None).await?;
        let body = self.send(&format!("reading the tags of {rel}"), self.http.get(url)).await?;
        Ok(body.split("<Tag>").skip(1).filter_map(|t| Some((xml_value(t, "Key")?, xml_value(t, "Value")?))).collect())
    }

    /// Puts the bucket's lifecycle configuration (replacing any).
    pub async fn put_lifecycle(&self, xml: &str) -> Result<(), SyncError> {
        let md5 = content_md5(xml.as_bytes());
        let url = self.presigned(Method::PUT, &KeyPath::from(""), &[("lifecycle", "")], Some(&md5)).await?;
        self.send("installing the lifecycle rule", self.http.put(url).header("content-md5", md5).body(xml.to_string()))
            .await
            .map(|_| ())
    }

    pub async fn get_lifecycle(&self) -> Result<Option<String>, SyncError> {
        let url = self.presigned(Method::GET, &KeyPath::from(""), &[("lifecycle", "")], None).await?;
        match self.send("reading the lifecycle rule", self.http.get(url)).await {
            Ok(body) => Ok(Some(body)),
            Err(SyncError::Remote { reason, .. }) if reason.contains("NoSuchLifecycleConfiguration") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A presigned GET of one object, valid for `expires`.
    pub async fn share_url(&self, rel: &str, expires: Duration) -> Result<String, SyncError> {
        let url = self
            .store
            .signed_url(Method::GET, &self.key(rel), expires)
            .await
            .map_err(|e| self.error(&format!("signing a link to {rel}"), e))?;
        Ok(url.to_string())
    }

    /// The server's clock (its `Date` header), to warn about skew that breaks signatures and
    /// the order of changes.
    pub async fn server_time(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, SyncError> {
        let response = self.http.head(&self.config.endpoint).send().await.map_err(|e| SyncError::Unreachable {
            endpoint: self.config.endpoint.clone(),
            reason: first_line(&error_chain(&e)),
        })?;
        Ok(response
            .headers()
            .get("date")
            .and_then(|v| v.to_str().ok())
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.with_timezone(&chrono::Utc)))
    }
}

fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The text of the first `<name>…</name>` in `xml` (S3's answers are small and flat).
/// Seals `body` as the object `rel` on the blocking pool: a photo is milliseconds of CPU,
/// which the runtime's two threads must not spend between network calls.
pub(crate) async fn seal_off_runtime(vault: &Arc<Vault>, rel: &str, body: Bytes) -> Result<Bytes, SyncError> {
    let (v, name) = (Arc::clone(vault), rel.to_string());
    tokio::task::spawn_blocking(move || Bytes::from(v.seal(&name, &body)))
        .await
        .map_err(|e| SyncError::Remote { context: format!("sealing {rel}"), reason: e.to_string() })
}

/// Opens the object `rel` on the blocking pool (see [`seal_off_runtime`]).
pub(crate) async fn open_off_runtime(vault: &Arc<Vault>, rel: &str, sealed: Bytes) -> Result<Vec<u8>, SyncError> {
    let (v, name) = (Arc::clone(vault), rel.to_string());
    tokio::task::spawn_blocking(move || v.open(&name, &sealed))
        .await
        .map_err(|e| SyncError::Remote { context: format!("opening {rel}"), reason: e.to_string() })?
        .map_err(|source| SyncError::Sealed { key: rel.to_string(), source })
}

pub(crate) fn xml_value(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].to_string())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A TLS handshake that failed on the server's certificate (rustls words it "invalid peer
/// certificate: …").
fn is_tls_refusal(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["invalid peer certificate", "unknownissuer", "notvalidforname", "certificate verify failed", "handshake failure"]
        .iter()
        .any(|m| t.contains(m))
}

/// What a person can act on, from rustls' reason.
fn tls_reason(text: &str) -> String {
    let t = text.to_ascii_lowercase();
    if t.contains("unknownissuer") || t.contains("unknown issuer") {
        "its certificate was issued by an authority this workstation does not trust".into()
    } else if t.contains("notvalidforname") || t.contains("not valid for name") {
        "its certificate is for another host name".into()
    } else if t.contains("expired") {
        "its certificate has expired".into()
    } else if t.contains("notvalidyet") {
        "its certificate is not valid yet (check this workstation's clock)".into()
    } else {
        first_line(text)
    }
}

fn is_connection_failure(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "connection refused",
        "error sending request",
        "connect",
        "timed out",
        "timeout",
        "dns error",
        "connection reset",
        "broken pipe",
        "unexpected eof",
        "incomplete message",
        "connection closed",
        "502 bad gateway",
        "503 service unavailable",
        "504 gateway timeout",
    ]
    .iter()
    .any(|m| t.contains(m))
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.len() > 300 { format!("{}…", &line[..line.floor_char_boundary(300)]) } else { line.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_values_and_md5() {
        let xml = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
        assert_eq!(xml_value(xml, "Code").as_deref(), Some("NoSuchKey"));
        assert_eq!(xml_value(xml, "Missing"), None);
        // RFC 1864's example: the MD5 of "" is 1B2M2Y8AsgTpgAmY7PhCfg==.
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }
}
