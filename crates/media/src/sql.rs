//! SQL over media's tables for other crates to compose into their own queries, so a query
//! that joins media's facts to another crate's rows (sync's outbox, say) runs as one statement
//! while only media's code names media's tables. Each takes the SQL expression giving a
//! blob's SHA-256 in the caller's query (a column such as `s.sha256`, or a parameter).

/// Every blob's SHA-256, as a subquery with one column `sha256`.
pub fn all_blobs() -> &'static str {
    "SELECT sha256 FROM blobs"
}

/// The blob's size in bytes (NULL when there is no such blob).
pub fn blob_size(sha: &str) -> String {
    format!("(SELECT byte_size FROM blobs WHERE blobs.sha256 = {sha})")
}

/// The blob's media type (NULL when there is no such blob).
pub fn blob_mime(sha: &str) -> String {
    format!("(SELECT mime FROM blobs WHERE blobs.sha256 = {sha})")
}

/// The file format of the blob's ready thumbnail of `size` pixels (NULL when not ready).
pub fn ready_thumbnail_format(sha: &str, size: u32) -> String {
    format!(
        "(SELECT COALESCE(format, 'jpg') FROM thumbnails
          WHERE thumbnails.sha256 = {sha} AND thumbnails.size = {size} AND thumbnails.status = 'ready')"
    )
}

/// True when a document showing the blob is active (not archived).
pub fn shown_by_an_active_document(sha: &str) -> String {
    format!("EXISTS (SELECT 1 FROM documents d WHERE d.sha256 = {sha} AND d.status = 'active')")
}
