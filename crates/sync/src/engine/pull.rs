//! Pull: peers' segments applied in order, then the thumbnails and originals they name
//! fetched, each checked against its address.

use super::*;

impl SyncEngine {
    /// Lists each peer's new segments and applies them in order.
    pub(super) fn pull(&self, remote: &Arc<Remote>, discover: bool, report: &mut RoundReport) -> Result<(), SyncError> {
        let me = self.actor.workstation.clone();
        let mut peers: Vec<String> = {
            let mut known = self.known_peers.lock().unwrap_or_else(|p| p.into_inner());
            // Alone so far: look for peers every round (one listing, as one peer would cost).
            let alone = known.as_ref().is_none_or(|k| k.iter().all(|p| *p == me));
            if discover || alone {
                *known = Some(self.rt.block_on(remote.list_folders("ops/"))?);
            }
            known.clone().unwrap_or_default()
        };
        peers.retain(|p| *p != me);
        report.peers = peers.len() as u64;
        let mut unapplied = 0u64;
        for peer in peers {
            let applied = self.db.read(|c| log::watermark(c, &peer))?;
            let after = format!("ops/{peer}/{:012}-", applied + 1);
            let after_applied = format!("ops/{peer}/{:012}", applied);
            let keys = self.rt.block_on(remote.list_after(&format!("ops/{peer}/"), Some(&after_applied)))?;
            let keys: Vec<String> =
                keys.into_iter().filter(|k| k.as_str() >= after.as_str() && k.ends_with(".seg")).collect();
            let total = keys.len() as u64;
            let mut done = 0u64;
            for key in keys {
                let body = match self.rt.block_on(remote.get_checked(&key, None)) {
                    Ok(Some(b)) => b,
                    Ok(None) => break,
                    Err(e) if e.is_transient() => return Err(e),
                    Err(e) => {
                        // A damaged segment stops this peer here: never skip past it.
                        report.problems.push(e.to_string());
                        break;
                    }
                };
                let segment: Segment = match serde_json::from_slice(&body) {
                    Ok(s) => s,
                    Err(e) => {
                        report
                            .problems
                            .push(SyncError::BadSegment { key: key.clone(), reason: e.to_string() }.to_string());
                        break;
                    }
                };
                if let Err(e) = segment.check(&key, &peer) {
                    report.problems.push(e.to_string());
                    break;
                }
                match self.db.write(|tx| log::apply_segment(tx, &self.registry, &segment))? {
                    Applied::Applied { entities, .. } => {
                        report.applied_segments += 1;
                        report.applied_entities += entities as u64;
                    }
                    Applied::AlreadyApplied => {}
                    // The missing segment may not be listed yet (another writer's order):
                    // wait for it rather than skip.
                    Applied::Gap { .. } => break,
                }
                done += 1;
            }
            unapplied += total - done;
        }
        *self.remote_pending.lock().unwrap_or_else(|p| p.into_inner()) = unapplied;
        Ok(())
    }

    pub(super) fn fetch_thumbnails(&self, remote: &Arc<Remote>, report: &mut RoundReport) -> Result<(), SyncError> {
        // A thumbnail its workstation never managed to make is not asked for forever.
        let wanted: Vec<(String, String)> = self.db.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT sha256, mime FROM (SELECT s.sha256, {} AS mime FROM sync_blobs s
                   WHERE s.thumb_local = 0 AND s.attempts < ?1) WHERE mime IS NOT NULL",
                chairside_media::sql::blob_mime("s.sha256")
            ))?;
            let rows = stmt.query_map([MAX_ATTEMPTS], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok::<_, SyncError>(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        // Files with no preview (PDF, DICOM without pixels…) have no thumbnail to fetch.
        let (with_preview, without): (Vec<_>, Vec<_>) =
            wanted.into_iter().partition(|(_, mime)| Format::from_mime(mime).is_some_and(|f| f.has_preview()));
        self.db.write(|tx| {
            for (sha, _) in &without {
                tx.execute("UPDATE sync_blobs SET thumb_local = 1 WHERE sha256 = ?1", [sha])?;
            }
            Ok::<_, SyncError>(())
        })?;
        for chunk in with_preview.chunks(256) {
            let results = self.rt.block_on(
                futures::stream::iter(chunk.iter().cloned().map(|(sha, _)| {
                    let remote = Arc::clone(remote);
                    async move { (sha.clone(), remote.get_checked(&remote.thumb_key(&sha), None).await) }
                }))
                .buffer_unordered(CONCURRENCY * 2)
                .collect::<Vec<_>>(),
            );
            // Stored and marked a chunk at a time: a transaction (and its wait for the disk)
            // per thumbnail was most of a new workstation's bootstrap.
            let mut fetched = Vec::new();
            let mut not_yet = Vec::new();
            // A dropped connection ends the round, but only once what did arrive is stored.
            let mut transient = None;
            for (sha, result) in results {
                match result {
                    Ok(Some(jpeg)) => {
                        let dims = image::ImageReader::new(std::io::Cursor::new(&jpeg[..]))
                            .with_guessed_format()
                            .ok()
                            .and_then(|r| r.into_dimensions().ok());
                        let Some((width, height)) = dims else {
                            report.problems.push(format!("the thumbnail of {sha} in the bucket is not an image"));
                            continue;
                        };
                        fetched.push((sha, vec![Rendered { size: 256, width, height, jpeg: jpeg.to_vec() }]));
                    }
                    // Not made by its workstation yet: a later round fetches it.
                    Ok(None) => not_yet.push(sha),
                    Err(e) if e.is_transient() => transient = transient.or(Some(e)),
                    Err(e) => report.problems.push(e.to_string()),
                }
            }
            let stored: Vec<String> = fetched.iter().map(|(sha, _)| sha.clone()).collect();
            self.thumbnailer.store_many(fetched, &|_| {})?;
            self.db.write(|tx| {
                let mut done =
                    tx.prepare("UPDATE sync_blobs SET thumb_local = 1, thumb_in_bucket = 1 WHERE sha256 = ?1")?;
                for sha in &stored {
                    done.execute([sha])?;
                }
                let mut again = tx.prepare("UPDATE sync_blobs SET attempts = attempts + 1 WHERE sha256 = ?1")?;
                for sha in &not_yet {
                    again.execute([sha])?;
                }
                Ok::<_, SyncError>(())
            })?;
            report.downloaded_thumbnails += stored.len() as u64;
            if let Some(e) = transient {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Downloads originals this workstation lacks (all, or only `only`), each checked
    /// against its SHA-256 before it is stored.
    pub fn fetch_originals(
        &self,
        remote: &Arc<Remote>,
        only: Option<&[String]>,
        report: &mut RoundReport,
    ) -> Result<(), SyncError> {
        let wanted: Vec<String> = match only {
            Some(list) => list.to_vec(),
            None => self.db.read(|c| {
                let mut stmt = c.prepare("SELECT sha256 FROM sync_blobs WHERE original_local = 0 AND attempts < ?1")?;
                let rows = stmt.query_map([MAX_ATTEMPTS], |r| r.get::<_, String>(0))?;
                Ok::<_, SyncError>(rows.collect::<Result<Vec<_>, _>>()?)
            })?,
        };
        for chunk in wanted.chunks(32) {
            let results = self.rt.block_on(
                futures::stream::iter(chunk.iter().cloned().map(|sha| {
                    let remote = Arc::clone(remote);
                    async move { (sha.clone(), remote.get_checked(&remote.blob_key(&sha), Some(&sha)).await) }
                }))
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>(),
            );
            for (sha, result) in results {
                match result {
                    Ok(Some(body)) => {
                        self.store_original(&sha, &body)?;
                        report.downloaded_originals += 1;
                    }
                    Ok(None) => report.problems.push(format!("original {sha} is not in the bucket yet")),
                    Err(e) if e.is_transient() => return Err(e),
                    Err(e) => {
                        self.count_failed_fetch(&sha, &e)?;
                        report.problems.push(e.to_string());
                    }
                }
            }
        }
        Ok(())
    }

    /// A download refused for good (tampered, denied…): counted, so the round stops asking
    /// after `MAX_ATTEMPTS`, with the reason kept for the status.
    pub(super) fn count_failed_fetch(&self, sha: &str, e: &SyncError) -> Result<(), SyncError> {
        let text = e.to_string();
        self.db.write(|tx| {
            Ok::<_, SyncError>(tx.execute(
                "UPDATE sync_blobs SET attempts = attempts + 1, last_error = ?2 WHERE sha256 = ?1",
                params![sha, text],
            )?)
        })?;
        Ok(())
    }

    /// Stores a downloaded original (hash-checked again by the blob store) and moves a
    /// corrupt local file, if any, to quarantine first: never deleted.
    pub(super) fn store_original(&self, sha: &str, body: &[u8]) -> Result<(), SyncError> {
        chairside_media::receive_original(&self.db, &self.media, sha, body)?;
        self.db.write(|tx| {
            tx.execute("UPDATE sync_blobs SET original_local = 1, last_error = NULL WHERE sha256 = ?1", [sha])?;
            Ok::<_, SyncError>(())
        })?;
        if let Some(f) = &self.on_original {
            f(sha);
        }
        Ok(())
    }
}
