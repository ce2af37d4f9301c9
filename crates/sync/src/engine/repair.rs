//! Repair: originals missing or damaged here brought back from the bucket.

use super::*;

impl SyncEngine {
    /// Brings back originals that are missing or corrupt here (from `verify`), each checked
    /// against its address. Returns the ones repaired.
    pub fn repair(&self, shas: &[String]) -> Result<(Vec<String>, Vec<String>), SyncError> {
        let remote = self.remote()?;
        let mut repaired = Vec::new();
        let mut failed = Vec::new();
        for sha in shas {
            match self.rt.block_on(remote.get_checked(&remote.blob_key(sha), Some(sha))) {
                Ok(Some(body)) => {
                    self.store_original(sha, &body)?;
                    repaired.push(sha.clone());
                }
                Ok(None) => failed.push(format!("{sha}: not in the bucket")),
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => failed.push(format!("{sha}: {e}")),
            }
        }
        Ok((repaired, failed))
    }

    /// Fetches one document's original now (originals "on open"). A refusal keeps its own
    /// error (a tampered object is `sync_tampered`, not a generic answer of the bucket).
    pub fn fetch_original(&self, sha: &str) -> Result<bool, SyncError> {
        let remote = self.remote()?;
        match self.rt.block_on(remote.get_checked(&remote.blob_key(sha), Some(sha))) {
            Ok(Some(body)) => {
                self.store_original(sha, &body)?;
                Ok(true)
            }
            Ok(None) => Err(SyncError::Remote {
                context: format!("fetching original {sha}"),
                reason: "it is not in the bucket yet (the workstation that has it uploads it when it syncs)".into(),
            }),
            Err(e) if e.is_transient() => Err(e),
            Err(e) => {
                self.count_failed_fetch(sha, &e)?;
                Err(e)
            }
        }
    }
}
