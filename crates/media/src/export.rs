//! A patient's documents at full quality, as a ZIP of byte-exact originals plus
//! `manifest.json` and `fhir.json` (a FHIR R4 Bundle of DocumentReferences, `fhir.rs`). Every original is hash-checked as it is copied, and the finished archive
//! is read back and checked again before it gets its final name.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chairside_store::{Actor, Db};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::attachments::{self, Attachment};
use crate::blobstore::{BlobBackend, LocalBlobStore};
use crate::documents::{self, DocumentSummary, StatusFilter};
use crate::thumbs::ThumbStore;
use crate::{Format, MediaError};

/// The FHIR R4 Bundle beside the manifest.
pub const FHIR_FILE: &str = "fhir.json";

#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub path: PathBuf,
    pub documents: usize,
    pub bytes: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub document_id: String,
    pub file: String,
    pub kind: String,
    pub status: String,
    pub captured_at: Option<String>,
    pub original_filename: Option<String>,
    pub mime: String,
    pub byte_size: u64,
    pub sha256: String,
    pub links: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub exported_at: String,
    pub exported_by: String,
    pub patient: serde_json::Value,
    pub documents: Vec<ManifestEntry>,
}

fn export_err(msg: impl Into<String>) -> MediaError {
    MediaError::Export(msg.into())
}

/// A ZIP writer's error, keeping an I/O error as one (a full disk must be told as such).
fn zip_err(e: zip::result::ZipError) -> MediaError {
    match e {
        zip::result::ZipError::Io(io) => MediaError::Write(io),
        other => export_err(other.to_string()),
    }
}

/// A full disk during an export is the destination's, not the library's: say which.
fn disk_full_names(e: MediaError, out: &Path) -> MediaError {
    let full = match &e {
        MediaError::Write(io) | MediaError::Io { source: io, .. } => io.kind() == io::ErrorKind::StorageFull,
        _ => false,
    };
    if full { MediaError::ExportDiskFull { path: out.display().to_string() } } else { e }
}

/// Removes what killed exports left (their rows in `staged_files`), except a file an export
/// running now still holds. Called when the library opens and by verify.
pub fn clean_staged(db: &Db, cleaned: &mut Vec<crate::verify::Orphan>) -> Result<(), MediaError> {
    let rows: Vec<String> = db.read(|c| {
        let mut stmt = c.prepare("SELECT path FROM staged_files ORDER BY path")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok::<_, MediaError>(rows.collect::<Result<_, _>>()?)
    })?;
    for text in rows {
        let path = PathBuf::from(&text);
        if crate::blobstore::is_being_staged(&path) {
            continue;
        }
        let removed = match fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(_) => continue, // kept, and tried again next time
        };
        db.write(|tx| tx.execute("DELETE FROM staged_files WHERE path = ?1", [&text]).map_err(MediaError::from))?;
        if removed {
            cleaned.push(crate::verify::Orphan {
                path,
                quarantined_to: None,
                note: Some("the partial file of an interrupted export: removed".into()),
            });
        }
    }
    Ok(())
}

/// Writes the archive to `tmp` (each original checked as it is copied), checks it, and
/// names it `out`: the number of documents it holds.
fn write_archive(
    tmp: &Path,
    out: &Path,
    blobs: &LocalBlobStore,
    actor: &Actor,
    patient: &chairside_patients::Patient,
    docs: &[DocumentSummary],
    links: Vec<Vec<Attachment>>,
) -> Result<usize, MediaError> {
    let file = chairside_store::private::create_new(tmp)
        .map_err(|e| MediaError::io(format!("creating {}", tmp.display()), e))?;
    file.lock().map_err(|e| MediaError::io(format!("locking {}", tmp.display()), e))?;
    let mut zip = zip::ZipWriter::new(io::BufWriter::new(file));
    // Photos are already compressed: store them as they are.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip_now())
        .large_file(true);
    let mut entries = Vec::with_capacity(docs.len());
    let mut sha1s = Vec::with_capacity(docs.len());
    for (doc, links) in docs.iter().zip(links) {
        let ext = Format::from_mime(doc.mime).map(Format::extension).unwrap_or("bin");
        let date = doc.captured_at.as_deref().and_then(|c| c.get(0..10)).unwrap_or("undated");
        let name = format!("documents/{date}_{}_{}.{ext}", doc.kind.as_str(), doc.id);
        zip.start_file(name.as_str(), options).map_err(zip_err)?;
        sha1s.push(copy_checked(blobs, &doc.sha256, &mut zip)?);
        entries.push(ManifestEntry {
            document_id: doc.id.clone(),
            file: name,
            kind: doc.kind.as_str().to_string(),
            status: doc.status.as_str().to_string(),
            captured_at: doc.captured_at.clone(),
            original_filename: doc.original_filename.clone(),
            mime: doc.mime.to_string(),
            byte_size: doc.byte_size,
            sha256: doc.sha256.clone(),
            links: links
                .iter()
                .map(|l| json!({"owner_type": l.owner_type, "owner_id": l.owner_id, "role": l.role}))
                .collect(),
        });
    }
    let manifest = Manifest {
        format: "chairside-export/1".into(),
        exported_at: chairside_store::now_rfc3339(),
        exported_by: actor.user.clone(),
        patient: json!({"id": patient.id, "name": patient.name, "external_id": patient.external_id, "birth_date": patient.birth_date}),
        documents: entries,
    };
    zip.start_file("manifest.json", options).map_err(zip_err)?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest).map_err(|e| export_err(e.to_string()))?)
        .map_err(MediaError::Write)?;
    // The same documents as a FHIR R4 Bundle, for a receiving system.
    let exported: Vec<crate::fhir::Exported<'_>> = docs
        .iter()
        .zip(&manifest.documents)
        .zip(sha1s)
        .map(|((doc, entry), sha1_base64)| crate::fhir::Exported { doc, file: &entry.file, sha1_base64 })
        .collect();
    let bundle = crate::fhir::bundle(patient, &exported, &manifest.exported_at);
    zip.start_file(FHIR_FILE, options).map_err(zip_err)?;
    zip.write_all(&serde_json::to_vec_pretty(&bundle).map_err(|e| export_err(e.to_string()))?)
        .map_err(MediaError::Write)?;
    let writer = zip.finish().map_err(zip_err)?;
    let file = writer.into_inner().map_err(|e| MediaError::Write(e.into_error()))?;
    file.sync_all().map_err(MediaError::Write)?;
    check_archive(tmp)?;
    fs::rename(tmp, out).map_err(|e| MediaError::io(format!("naming {}", out.display()), e))?;
    Ok(manifest.documents.len())
}

/// Writes every document of a patient (active and archived), or only those of `only` (each
/// one of the patient's), to `out`, which must not exist.
pub fn export_patient(
    db: &Db,
    blobs: &LocalBlobStore,
    thumbs: &ThumbStore,
    actor: &Actor,
    patient_id: &str,
    only: &[String],
    out: &Path,
) -> Result<ExportSummary, MediaError> {
    let patient = db.read(|c| chairside_patients::get(c, patient_id).map_err(MediaError::from))?;
    if out.exists() {
        return Err(MediaError::ExportTargetExists(out.display().to_string()));
    }
    let (docs, links) = db.read(|c| {
        let mut docs = documents::list(c, thumbs, patient_id, StatusFilter::All, None)?;
        // A selection: every id must be one of this patient's documents.
        if !only.is_empty() {
            if let Some(stray) = only.iter().find(|id| !docs.iter().any(|d| &d.id == *id)) {
                return Err(MediaError::DocumentNotFound(stray.clone()));
            }
            docs.retain(|d| only.contains(&d.id));
        }
        let links = docs.iter().map(|d| attachments::list(c, &d.id)).collect::<Result<Vec<Vec<Attachment>>, _>>()?;
        Ok::<_, MediaError>((docs, links))
    })?;

    let tmp = out.with_file_name(format!(
        ".{}.part-{}",
        out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        uuid::Uuid::new_v4()
    ));
    // Recorded before the first byte, and locked while written: a kill leaves a row naming the
    // partial file, which the next start (or verify) removes — unless an export still holds it.
    let tmp_text = tmp.display().to_string();
    db.write(|tx| {
        tx.execute(
            "INSERT OR REPLACE INTO staged_files (path, purpose, created_at) VALUES (?1, 'export', ?2)",
            [&tmp_text, &chairside_store::now_rfc3339()],
        )?;
        Ok::<_, MediaError>(())
    })?;
    let result = write_archive(&tmp, out, blobs, actor, &patient, &docs, links);
    if result.is_err() {
        let _ = fs::remove_file(&tmp); // our own partial archive, never an original
    }
    let _ =
        db.write(|tx| tx.execute("DELETE FROM staged_files WHERE path = ?1", [&tmp_text]).map_err(MediaError::from));
    let count = result.map_err(|e| disk_full_names(e, out))?;
    let bytes = fs::metadata(out).map_err(|e| MediaError::io(format!("reading {}", out.display()), e))?.len();
    db.write(|tx| {
        chairside_audit::append(
            tx,
            actor,
            "export",
            "patient",
            Some(patient_id),
            json!({"documents": count, "bytes": bytes, "path": out.display().to_string()}),
        )
        .map_err(MediaError::from)
    })?;
    Ok(ExportSummary { path: out.to_path_buf(), documents: count, bytes })
}

/// Now, as a ZIP entry's time.
fn zip_now() -> zip::DateTime {
    use chrono::{Datelike, Timelike};
    let now = chrono::Utc::now();
    zip::DateTime::from_date_and_time(
        now.year() as u16,
        now.month() as u8,
        now.day() as u8,
        now.hour() as u8,
        now.minute() as u8,
        now.second() as u8,
    )
    .unwrap_or_default()
}

/// Streams an original into `out`, hashing it on the way: an original that no longer hashes
/// to its address fails the export rather than being copied out. Returns its SHA-1 in base64
/// (FHIR's `Attachment.hash`).
pub(crate) fn copy_checked(blobs: &LocalBlobStore, sha256: &str, out: &mut impl Write) -> Result<String, MediaError> {
    use base64::Engine;
    let mut reader = blobs.open(sha256).map_err(|_| MediaError::BlobMissing { sha256: sha256.to_string() })?;
    let mut hasher = Sha256::new();
    let mut sha1 = sha1::Sha1::new();
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(|e| MediaError::io(format!("reading blob {sha256}"), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        sha1.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(MediaError::Write)?;
    }
    let actual = hex::encode(hasher.finalize());
    if actual != sha256 {
        return Err(MediaError::BlobCorrupt { sha256: sha256.to_string(), actual });
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(sha1.finalize()))
}

/// Reads a written archive back: every file named by the manifest is there and hashes to the
/// recorded SHA-256.
pub fn check_archive(path: &Path) -> Result<Manifest, MediaError> {
    let file = File::open(path).map_err(|e| MediaError::io(format!("reopening {}", path.display()), e))?;
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|e| export_err(format!("the archive does not read back: {e}")))?;
    let manifest: Manifest = {
        let entry = zip.by_name("manifest.json").map_err(|e| export_err(format!("manifest.json missing: {e}")))?;
        serde_json::from_reader(entry).map_err(|e| export_err(format!("manifest.json unreadable: {e}")))?
    };
    let bundle: serde_json::Value = {
        let entry = zip.by_name(FHIR_FILE).map_err(|e| export_err(format!("{FHIR_FILE} missing: {e}")))?;
        serde_json::from_reader(entry).map_err(|e| export_err(format!("{FHIR_FILE} unreadable: {e}")))?
    };
    if bundle["entry"].as_array().map(Vec::len) != Some(manifest.documents.len()) {
        return Err(export_err(format!("{FHIR_FILE} does not list every document")));
    }
    for entry in &manifest.documents {
        let mut f = zip
            .by_name(&entry.file)
            .map_err(|e| export_err(format!("{} missing from the archive: {e}", entry.file)))?;
        let (sha, size) = crate::blobstore::sha256_of(&mut f)
            .map_err(|e| MediaError::io(format!("reading back {}", entry.file), e))?;
        if sha != entry.sha256 || size != entry.byte_size {
            return Err(export_err(format!("{} reads back with SHA-256 {sha}, expected {}", entry.file, entry.sha256)));
        }
    }
    Ok(manifest)
}
