//! Upload: new originals (whole or in resumable parts), thumbnails and change segments go
//! up, and archive tags follow the documents' status.

use super::*;

impl SyncEngine {
    pub(super) fn upload_originals(&self, remote: &Arc<Remote>, report: &mut RoundReport) -> Result<(), SyncError> {
        // New local blobs join the outbox; an idle round checks that by reading only.
        let new_blobs: bool = self.db.read(|c| {
            Ok::<_, SyncError>(c.query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM ({}) b WHERE NOT EXISTS (SELECT 1 FROM sync_blobs s WHERE s.sha256 = b.sha256))",
                    chairside_media::sql::all_blobs()
                ),
                [],
                |r| r.get(0),
            )?)
        })?;
        if new_blobs {
            self.db.write(|tx| {
                Ok::<_, SyncError>(tx.execute(
                    &format!("INSERT OR IGNORE INTO sync_blobs (sha256) {}", chairside_media::sql::all_blobs()),
                    [],
                )?)
            })?;
        }
        let pending: Vec<(String, u64)> = self.db.read(|tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT s.sha256, {} FROM sync_blobs s INDEXED BY sync_blobs_to_upload
                 WHERE s.in_bucket = 0 AND s.original_local = 1 ORDER BY s.sha256",
                chairside_media::sql::blob_size("s.sha256")
            ))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<u64>>(1)?)))?
                .filter_map(|r| match r {
                    Ok((sha, Some(size))) => Some(Ok((sha, size))),
                    Ok((_, None)) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, SyncError>(rows)
        })?;
        let (small, large): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(_, size)| *size <= MULTIPART_THRESHOLD);
        for chunk in small.chunks(64) {
            let results = self.rt.block_on(
                futures::stream::iter(chunk.iter().cloned().map(|(sha, size)| {
                    let remote = Arc::clone(remote);
                    let path = self.blobs.path_of(&sha);
                    async move {
                        let path = path.map_err(|e| SyncError::InvalidConfig(e.to_string()))?;
                        let body = tokio::fs::read(&path)
                            .await
                            .map_err(|e| SyncError::io(format!("reading {}", path.display()), e))?;
                        remote.put_create(&remote.blob_key(&sha), Bytes::from(body), &[]).await?;
                        Ok::<_, SyncError>((sha, size))
                    }
                }))
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>(),
            );
            self.record_uploads(results, report)?;
        }
        for (sha, size) in large {
            let result = self.upload_multipart(remote, &sha, size).map(|_| (sha.clone(), size));
            self.record_uploads(vec![result], report)?;
        }
        Ok(())
    }

    /// Marks uploaded blobs; the first transient error (bucket gone) ends the round after
    /// the successes are recorded, other errors are noted per blob.
    pub(super) fn record_uploads(
        &self,
        results: Vec<Result<(String, u64), SyncError>>,
        report: &mut RoundReport,
    ) -> Result<(), SyncError> {
        let mut transient = None;
        self.db.write(|tx| {
            for r in &results {
                match r {
                    Ok((sha, size)) => {
                        tx.execute("UPDATE sync_blobs SET in_bucket = 1, last_error = NULL WHERE sha256 = ?1", [sha])?;
                        report.uploaded_originals += 1;
                        report.uploaded_bytes += size;
                    }
                    Err(e)
                        if e.is_transient()
                            || matches!(e, SyncError::Denied { .. } | SyncError::NoSuchBucket { .. }) => {}
                    Err(e) => report.problems.push(e.to_string()),
                }
            }
            Ok::<_, SyncError>(())
        })?;
        for r in results {
            if let Err(e) = r
                && (e.is_transient() || matches!(e, SyncError::Denied { .. } | SyncError::NoSuchBucket { .. }))
            {
                transient.get_or_insert(e);
            }
        }
        transient.map_or(Ok(()), Err)
    }

    /// A large original in parts. The upload id and each finished part are kept in the
    /// library, so after a cut connection or a restart only the missing parts are sent.
    pub(super) fn upload_multipart(&self, remote: &Arc<Remote>, sha: &str, size: u64) -> Result<(), SyncError> {
        let key = remote.blob_key(sha);
        if self.rt.block_on(remote.exists(&key))? {
            return Ok(());
        }
        let state: Option<(String, i64, String)> = self.db.read(|c| {
            Ok::<_, SyncError>(
                c.query_row(
                    "SELECT upload_id, part_size, parts_json FROM sync_multipart WHERE sha256 = ?1",
                    [sha],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?,
            )
        })?;
        let (upload_id, part_size, mut parts) = match state {
            Some((id, ps, parts)) => (id, ps as u64, serde_json::from_str::<Vec<String>>(&parts).unwrap_or_default()),
            None => {
                let id = self.rt.block_on(remote.multipart_start(&key, sha))?;
                self.db.write(|tx| {
                    tx.execute(
                        "INSERT OR REPLACE INTO sync_multipart (sha256, upload_id, part_size, parts_json, started_at) VALUES (?1, ?2, ?3, '[]', ?4)",
                        params![sha, id, PART_SIZE as i64, chairside_store::now_rfc3339()],
                    )?;
                    Ok::<_, SyncError>(())
                })?;
                (id, PART_SIZE, Vec::new())
            }
        };
        let path = self.blobs.path_of(sha).map_err(|e| SyncError::InvalidConfig(e.to_string()))?;
        let count = size.div_ceil(part_size) as usize;
        for index in parts.len()..count {
            let data = read_range(&path, index as u64 * part_size, part_size)?;
            let result =
                self.rt.block_on(remote.multipart_part(&key, &upload_id, (index, part_size), (sha, size), data));
            let content_id = match result {
                Ok(c) => c,
                Err(e) => {
                    if let SyncError::Remote { reason, .. } = &e
                        && reason.contains("NoSuchUpload")
                    {
                        // The server forgot the upload (expired or aborted): start over next round.
                        self.db.write(|tx| {
                            Ok::<_, SyncError>(tx.execute("DELETE FROM sync_multipart WHERE sha256 = ?1", [sha])?)
                        })?;
                    }
                    return Err(e);
                }
            };
            parts.push(content_id);
            let parts_json = serde_json::to_string(&parts).unwrap_or_else(|_| "[]".into());
            self.db.write(|tx| {
                Ok::<_, SyncError>(
                    tx.execute(
                        "UPDATE sync_multipart SET parts_json = ?2 WHERE sha256 = ?1",
                        params![sha, parts_json],
                    )?,
                )
            })?;
        }
        self.rt.block_on(remote.multipart_complete(&key, &upload_id, &parts))?;
        self.db.write(|tx| Ok::<_, SyncError>(tx.execute("DELETE FROM sync_multipart WHERE sha256 = ?1", [sha])?))?;
        Ok(())
    }

    pub(super) fn upload_thumbnails(&self, remote: &Arc<Remote>, report: &mut RoundReport) -> Result<(), SyncError> {
        let pending: Vec<(String, String)> = self.db.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT sha256, format FROM (SELECT s.sha256, {} AS format FROM sync_blobs s
                   WHERE s.thumb_in_bucket = 0 AND s.thumb_local = 1) WHERE format IS NOT NULL",
                chairside_media::sql::ready_thumbnail_format("s.sha256", 256)
            ))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok::<_, SyncError>(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        for chunk in pending.chunks(256) {
            let results = self.rt.block_on(
                futures::stream::iter(chunk.iter().cloned().map(|(sha, format)| {
                    let remote = Arc::clone(remote);
                    let path = self.thumbs.path(&sha, 256, &format);
                    async move {
                        match tokio::fs::read(&path).await {
                            Ok(body) => remote
                                .put_create(&remote.thumb_key(&sha), Bytes::from(body), &[])
                                .await
                                .map(|_| Some(sha)),
                            // Made again by verify; uploaded on a later round.
                            Err(_) => Ok(None),
                        }
                    }
                }))
                .buffer_unordered(CONCURRENCY * 2)
                .collect::<Vec<_>>(),
            );
            let mut first_error = None;
            self.db.write(|tx| {
                for r in &results {
                    if let Ok(Some(sha)) = r {
                        tx.execute("UPDATE sync_blobs SET thumb_in_bucket = 1 WHERE sha256 = ?1", [sha])?;
                        report.uploaded_thumbnails += 1;
                    }
                }
                Ok::<_, SyncError>(())
            })?;
            for r in results {
                if let Err(e) = r {
                    first_error.get_or_insert(e);
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        Ok(())
    }

    pub(super) fn upload_segments(&self, remote: &Arc<Remote>, report: &mut RoundReport) -> Result<(), SyncError> {
        let ws = self.actor.workstation.clone();
        while self.db.write(|tx| log::cut_segment(tx, &self.registry, &ws))?.is_some() {}
        let pending: Vec<(i64, i64, String)> = self.db.read(|c| {
            let mut stmt =
                c.prepare("SELECT first, last, body FROM sync_segments_out WHERE uploaded_at IS NULL ORDER BY first")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok::<_, SyncError>(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        // In order: a peer never applies past a gap, so a later segment is useless before
        // an earlier one.
        for (first, last, body) in pending {
            let key = Segment::key(&ws, first, last);
            self.rt.block_on(remote.put_create(&key, Bytes::from(body), &[]))?;
            self.db.write(|tx| {
                Ok::<_, SyncError>(tx.execute(
                    "UPDATE sync_segments_out SET uploaded_at = ?2 WHERE first = ?1",
                    params![first, chairside_store::now_rfc3339()],
                )?)
            })?;
            report.uploaded_segments += 1;
        }
        Ok(())
    }

    /// Tags a blob's object `chairside-status=archived` when every document referencing it
    /// is archived, and untags it when one is restored, so the lifecycle rule tiers it.
    pub(super) fn update_tags(&self, remote: &Arc<Remote>, report: &mut RoundReport) -> Result<(), SyncError> {
        let changed: Vec<(String, bool)> = self.db.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT sha256, archived FROM (
                   SELECT s.sha256, s.tagged_archived, NOT {} AS archived
                   FROM sync_blobs s WHERE s.in_bucket = 1)
                 WHERE archived != tagged_archived",
                chairside_media::sql::shown_by_an_active_document("s.sha256")
            ))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok::<_, SyncError>(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        for (sha, archived) in changed {
            let tags: &[(&str, &str)] = if archived { &[(TAG_KEY, TAG_ARCHIVED)] } else { &[] };
            match self.rt.block_on(remote.put_tags(&remote.blob_key(&sha), tags)) {
                Ok(()) => {
                    self.db.write(|tx| {
                        Ok::<_, SyncError>(tx.execute(
                            "UPDATE sync_blobs SET tagged_archived = ?2 WHERE sha256 = ?1",
                            params![sha, archived],
                        )?)
                    })?;
                    report.tags_updated += 1;
                }
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => report.problems.push(format!("tagging {sha}: {e}")),
            }
        }
        Ok(())
    }
}

pub(super) fn read_range(path: &std::path::Path, offset: u64, len: u64) -> Result<Bytes, SyncError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| SyncError::io(format!("reading {}", path.display()), e))?;
    f.seek(SeekFrom::Start(offset)).map_err(|e| SyncError::io(format!("reading {}", path.display()), e))?;
    let mut buf = Vec::with_capacity(len as usize);
    f.take(len).read_to_end(&mut buf).map_err(|e| SyncError::io(format!("reading {}", path.display()), e))?;
    Ok(Bytes::from(buf))
}
