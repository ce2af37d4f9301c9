-- Media, version 9.
-- A clinician's signature of a document: who, when, the original's SHA-256 and the state of
-- its clinical metadata at that moment (state_sha256, a hash of kind, teeth, notes, capture
-- time and patient, the same on every workstation; edit_version is this document's version
-- where it was signed, for people). A signature whose state no longer matches the document
-- is kept, shown as no longer valid. Signatures replicate and are never deleted.
CREATE TABLE document_signatures (
    id            TEXT PRIMARY KEY,
    document_id   TEXT NOT NULL REFERENCES documents (id),
    signed_by     TEXT NOT NULL,
    signed_at     TEXT NOT NULL,
    workstation   TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    edit_version  INTEGER NOT NULL,
    state_sha256  TEXT NOT NULL
);
CREATE INDEX document_signatures_document ON document_signatures (document_id, signed_at);
CREATE TRIGGER document_signatures_no_delete BEFORE DELETE ON document_signatures
BEGIN SELECT RAISE(ABORT, 'signatures are never deleted'); END;
