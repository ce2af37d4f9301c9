//! `fhir.json` in a ZIP export: a FHIR R4 `Bundle` (type `collection`) of one
//! `DocumentReference` per document, so a receiving system indexes the files without reading
//! our manifest. Each points at its file in the archive, with the hashes FHIR asks for (SHA-1,
//! base64) and ours (SHA-256, in an extension), and the teeth as ISO 3950 (FDI) codes.
//! `tests`: validated against HL7's R4 JSON schema (`crates/cli/tests/cli.rs`).

use serde_json::{Value, json};

use crate::documents::{DocumentSummary, Kind, Status};

/// Where our extensions are defined (the URL names them; nothing is fetched from it).
const EXTENSIONS: &str = "https://chairside.app/fhir/StructureDefinition";
/// The patient's chart number, as the practice's own identifier system.
const CHART_NUMBER: &str = "urn:chairside:chart-number";
const PATIENT_ID: &str = "urn:chairside:patient-id";

/// What the bundle says of one exported file.
pub struct Exported<'a> {
    pub doc: &'a DocumentSummary,
    /// The file's name in the archive.
    pub file: &'a str,
    /// Base64 of the SHA-1 of the bytes, as FHIR's `Attachment.hash`.
    pub sha1_base64: String,
}

pub fn bundle(patient: &chairside_patients::Patient, exported: &[Exported<'_>], now: &str) -> Value {
    let subject = match &patient.external_id {
        Some(chart) => json!({"identifier": {"system": CHART_NUMBER, "value": chart}, "display": patient.name}),
        None => json!({"identifier": {"system": PATIENT_ID, "value": patient.id}, "display": patient.name}),
    };
    let entries: Vec<Value> = exported
        .iter()
        .map(|e| json!({"fullUrl": format!("urn:uuid:{}", e.doc.id), "resource": document_reference(e, &subject, now)}))
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": now,
        "entry": entries,
    })
}

fn document_reference(e: &Exported<'_>, subject: &Value, now: &str) -> Value {
    let doc = e.doc;
    let mut attachment = json!({
        "contentType": doc.mime,
        "url": e.file,
        "size": doc.byte_size,
        "hash": e.sha1_base64,
        "extension": [{"url": format!("{EXTENSIONS}/sha256"), "valueString": doc.sha256}],
    });
    if let Some(name) = &doc.original_filename {
        attachment["title"] = json!(name);
    }
    if let Some(created) = doc.captured_at.as_deref().and_then(date_time) {
        attachment["creation"] = json!(created);
    }
    let mut reference = json!({
        "resourceType": "DocumentReference",
        "id": doc.id,
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", doc.id)},
        // Archived documents are kept, not withdrawn: FHIR's nearest word for "no longer the one shown".
        "status": if doc.status == Status::Archived { "superseded" } else { "current" },
        "type": kind_type(doc.kind),
        "category": [category(doc.kind)],
        "subject": subject,
        "date": now,
        "content": [{"attachment": attachment}],
    });
    let teeth = teeth(doc.teeth.as_deref());
    if !teeth.is_empty() {
        reference["extension"] = json!([{
            "url": format!("{EXTENSIONS}/teeth"),
            "valueCodeableConcept": {"coding": teeth, "text": "teeth shown (FDI / ISO 3950)"},
        }]);
    }
    reference
}

/// The document's type: LOINC where it has the concept, and our kind always.
fn kind_type(kind: Kind) -> Value {
    let ours = json!({"system": format!("{EXTENSIONS}/document-kind"), "code": kind.as_str()});
    let (loinc, text) = match kind {
        Kind::Intraoral => (Some(("72170-4", "Photographic image")), "Intraoral photograph"),
        Kind::Extraoral => (Some(("72170-4", "Photographic image")), "Extraoral photograph"),
        Kind::Xray => (Some(("18748-4", "Diagnostic imaging study")), "Dental radiograph"),
        Kind::Document => (None, "Document"),
        Kind::Other => (None, "Other"),
    };
    let mut coding = Vec::new();
    if let Some((code, display)) = loinc {
        coding.push(json!({"system": "http://loinc.org", "code": code, "display": display}));
    }
    coding.push(ours);
    json!({"coding": coding, "text": text})
}

/// The acquisition, as DICOM's modality codes name it.
fn category(kind: Kind) -> Value {
    let (code, display) = match kind {
        Kind::Intraoral | Kind::Extraoral => ("XC", "External-camera Photography"),
        Kind::Xray => ("DX", "Digital Radiography"),
        Kind::Document | Kind::Other => ("DOC", "Document"),
    };
    json!({"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": code, "display": display}]})
}

/// Teeth as stored (FDI, comma-separated) to ISO 3950 codings.
fn teeth(stored: Option<&str>) -> Vec<Value> {
    stored
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()))
        .map(|t| json!({"system": "urn:iso:std:iso:3950", "code": t, "display": format!("tooth {t}")}))
        .collect()
}

/// A FHIR `dateTime`: a time must carry its zone, so a capture time without one (EXIF's
/// local time) keeps only its date.
fn date_time(text: &str) -> Option<String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    let date = text.get(0..10)?;
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok().map(|_| date.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_without_a_zone_keep_their_date_and_teeth_become_iso_3950_codes() {
        assert_eq!(date_time("2024-05-01T10:11:12Z").as_deref(), Some("2024-05-01T10:11:12Z"));
        assert_eq!(date_time("2024-05-01T10:11:12+02:00").as_deref(), Some("2024-05-01T10:11:12+02:00"));
        assert_eq!(date_time("2024-05-01T10:11:12").as_deref(), Some("2024-05-01"));
        assert_eq!(date_time("2024:05:01 10:11:12"), None);
        let codes: Vec<String> = teeth(Some("11,46, 85,x,123")).iter().map(|c| c["code"].to_string()).collect();
        assert_eq!(codes, ["\"11\"", "\"46\"", "\"85\""]);
    }
}
