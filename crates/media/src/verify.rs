//! The integrity check: every original re-hashed against its address, every thumbnail's file
//! present (remade if not), and files in the blob store that no blob row names moved to
//! `quarantine/` — never deleted.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chairside_store::{Actor, Db};
use serde::Serialize;
use serde_json::json;

use crate::MediaError;
use crate::blobstore::{LocalBlobStore, is_sha256_hex, sha256_of};
use crate::thumbs::{ThumbStore, Thumbnailer};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BlobProblem {
    pub sha256: String,
    pub path: PathBuf,
    /// The hash the file has now (corrupt blobs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Orphan {
    pub path: PathBuf,
    /// Where it was moved; `None` when it was left in place (see `note`).
    pub quarantined_to: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub blobs_checked: u64,
    pub bytes_checked: u64,
    pub corrupt: Vec<BlobProblem>,
    pub missing: Vec<BlobProblem>,
    pub orphans: Vec<Orphan>,
    pub thumbnails_checked: u64,
    pub thumbnails_remade: u64,
    pub thumbnails_failed: Vec<String>,
}

impl VerifyReport {
    /// Nothing corrupt, missing, stray or unmakeable: what `ok` says.
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty()
            && self.missing.is_empty()
            && self.orphans.is_empty()
            && self.thumbnails_failed.is_empty()
    }
}

/// Options of a verify run.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Files younger than this may belong to an import that is committing right now: they are
    /// reported but left in place.
    pub orphan_grace: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions { orphan_grace: Duration::from_secs(120) }
    }
}

pub fn verify(
    db: &Db,
    blobs: &LocalBlobStore,
    thumbs: &ThumbStore,
    thumbnailer: &Thumbnailer,
    quarantine: &Path,
    actor: &Actor,
    options: VerifyOptions,
) -> Result<VerifyReport, MediaError> {
    let rows: Vec<String> = db.read(|c| {
        let mut stmt = c.prepare("SELECT sha256 FROM blobs ORDER BY sha256")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok::<_, MediaError>(rows.collect::<Result<_, _>>()?)
    })?;
    let mut report = VerifyReport {
        ok: true,
        blobs_checked: 0,
        bytes_checked: 0,
        corrupt: vec![],
        missing: vec![],
        orphans: vec![],
        thumbnails_checked: 0,
        thumbnails_remade: 0,
        thumbnails_failed: vec![],
    };
    let mut good = Vec::new();
    for sha in &rows {
        report.blobs_checked += 1;
        // A row whose address is not hex can name no file: report it rather than stop.
        let Ok(path) = blobs.path_of(sha) else {
            report.corrupt.push(BlobProblem { sha256: sha.clone(), path: PathBuf::new(), actual_sha256: None });
            continue;
        };
        match fs::File::open(&path) {
            Err(_) => report.missing.push(BlobProblem { sha256: sha.clone(), path, actual_sha256: None }),
            Ok(mut f) => {
                let (actual, n) =
                    sha256_of(&mut f).map_err(|e| MediaError::io(format!("reading {}", path.display()), e))?;
                report.bytes_checked += n;
                if &actual == sha {
                    good.push(sha.clone());
                } else {
                    report.corrupt.push(BlobProblem { sha256: sha.clone(), path, actual_sha256: Some(actual) });
                }
            }
        }
    }
    let now = chairside_store::now_rfc3339();
    db.write(|tx| {
        let mut stmt = tx.prepare("UPDATE blobs SET verified_at = ?2 WHERE sha256 = ?1")?;
        for sha in &good {
            stmt.execute([sha, &now])?;
        }
        Ok::<_, MediaError>(())
    })?;

    // Thumbnails: derived data, so a missing one is simply made again.
    let thumb_rows: Vec<(String, u32, String, Option<String>)> = db.read(|c| {
        let mut stmt = c.prepare("SELECT sha256, size, status, format FROM thumbnails WHERE status IN ('ready', 'pending') ORDER BY sha256, size")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok::<_, MediaError>(rows.collect::<Result<_, _>>()?)
    })?;
    let bad: HashSet<&String> = report.missing.iter().chain(&report.corrupt).map(|p| &p.sha256).collect();
    let mut to_remake: Vec<String> = Vec::new();
    for (sha, size, status, format) in &thumb_rows {
        report.thumbnails_checked += 1;
        let present = status == "ready" && thumbs.path(sha, *size, format.as_deref().unwrap_or("jpg")).is_file();
        if !present && !bad.contains(sha) && to_remake.last() != Some(sha) {
            to_remake.push(sha.clone());
        }
    }
    for sha in to_remake {
        match thumbnailer.make(&sha, &|_| {}) {
            Ok(()) => report.thumbnails_remade += 1,
            Err(e) => report.thumbnails_failed.push(format!("{sha}: {e}")),
        }
    }

    let known: HashSet<&str> = rows.iter().map(String::as_str).collect();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let mut files = Vec::new();
    walk(blobs.root(), &mut files);
    for path in files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let in_place = is_sha256_hex(&name) && blobs.path_of(&name).map(|p| p == path).unwrap_or(false);
        if in_place && known.contains(name.as_str()) {
            continue;
        }
        let young = fs::metadata(&path)
            .and_then(|m| m.modified())
            .map(|m| SystemTime::now().duration_since(m).unwrap_or_default() < options.orphan_grace)
            .unwrap_or(false);
        if young {
            report.orphans.push(Orphan {
                path,
                quarantined_to: None,
                note: Some("written moments ago, may belong to an import in progress: left in place".into()),
            });
            continue;
        }
        let rel = path.strip_prefix(blobs.root()).unwrap_or(&path).to_path_buf();
        let dest = quarantine.join(&stamp).join("blobs").join(rel);
        let moved =
            dest.parent().map(fs::create_dir_all).transpose().and_then(|_| fs::rename(&path, &dest)).map(|_| dest);
        match moved {
            Ok(dest) => report.orphans.push(Orphan { path, quarantined_to: Some(dest), note: None }),
            Err(e) => report.orphans.push(Orphan {
                path,
                quarantined_to: None,
                note: Some(format!("could not move it to quarantine: {e}")),
            }),
        }
    }

    report.ok = report.is_clean();
    db.write(|tx| {
        chairside_audit::append(
            tx,
            actor,
            "verify",
            "library",
            None,
            json!({
                "ok": report.ok,
                "blobs_checked": report.blobs_checked,
                "corrupt": report.corrupt.iter().map(|p| &p.sha256).collect::<Vec<_>>(),
                "missing": report.missing.iter().map(|p| &p.sha256).collect::<Vec<_>>(),
                "orphans": report.orphans.len(),
                "thumbnails_remade": report.thumbnails_remade,
            }),
        )
        .map_err(MediaError::from)
    })?;
    Ok(report)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out),
            Ok(_) => out.push(p),
            Err(_) => {}
        }
    }
}
