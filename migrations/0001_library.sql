-- Chairside library schema, version 1.
-- Append-only: never edit a released migration; add 0002_… instead.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Hybrid logical clock state of this workstation (one row).
CREATE TABLE hlc_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    last    INTEGER NOT NULL
);
INSERT INTO hlc_state (id, last) VALUES (1, 0);

-- Field-level change log of every replicated entity, written in the same transaction as the
-- change itself. The sync issue ships these rows; `hlc` = physical ms << 16 | logical counter.
CREATE TABLE change_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    hlc          INTEGER NOT NULL,
    workstation  TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    field        TEXT NOT NULL,
    value_json   TEXT NOT NULL,
    at           TEXT NOT NULL
);
CREATE INDEX change_log_entity ON change_log (entity_type, entity_id);

CREATE TABLE clinics (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE patients (
    id           TEXT PRIMARY KEY,
    clinic_id    TEXT NOT NULL REFERENCES clinics (id),
    external_id  TEXT,
    name         TEXT NOT NULL,
    birth_date   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX patients_external_id ON patients (clinic_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX patients_name ON patients (clinic_id, name COLLATE NOCASE);

-- Content-addressed originals. `width`/`height` are the stored pixels; `orientation` is the
-- EXIF orientation (1..8) applied only when displaying.
CREATE TABLE blobs (
    sha256       TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    byte_size    INTEGER NOT NULL,
    mime         TEXT NOT NULL,
    width        INTEGER,
    height       INTEGER,
    orientation  INTEGER NOT NULL DEFAULT 1,
    exif_json    TEXT,
    created_at   TEXT NOT NULL,
    verified_at  TEXT
);

CREATE TABLE documents (
    id                 TEXT PRIMARY KEY,
    clinic_id          TEXT NOT NULL REFERENCES clinics (id),
    patient_id         TEXT NOT NULL REFERENCES patients (id),
    sha256             TEXT NOT NULL REFERENCES blobs (sha256),
    kind               TEXT NOT NULL
        CHECK (kind IN ('intraoral', 'extraoral', 'xray', 'document', 'other')),
    -- Copied from the (immutable) blob at import so the gallery reads one table.
    mime               TEXT NOT NULL,
    byte_size          INTEGER NOT NULL,
    width              INTEGER,
    height             INTEGER,
    orientation        INTEGER NOT NULL DEFAULT 1,
    -- Bit per ready thumbnail size (1 = 256, 2 = 1024, 4 = 2048), kept in step with the
    -- thumbnails table in the same transaction.
    thumbs_ready       INTEGER NOT NULL DEFAULT 0,
    original_filename  TEXT,
    captured_at        TEXT,
    imported_at        TEXT NOT NULL,
    imported_by        TEXT NOT NULL,
    workstation        TEXT NOT NULL,
    source             TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    archived_at        TEXT,
    archived_by        TEXT,
    archive_reason     TEXT,
    teeth              TEXT,
    notes              TEXT,
    version            INTEGER NOT NULL DEFAULT 1,
    UNIQUE (patient_id, sha256)
);
-- Covers the gallery listing: a patient's range is read in capture order from the index
-- alone, without one table lookup per photo (5,000 photos list in milliseconds).
CREATE INDEX documents_gallery ON documents (patient_id, captured_at, status, id, sha256, kind, mime, byte_size,
    width, height, orientation, thumbs_ready, original_filename, teeth, version);
CREATE INDEX documents_sha256 ON documents (sha256);

-- One row per change of a document (the history-table pattern).
CREATE TABLE document_history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id  TEXT NOT NULL REFERENCES documents (id),
    version      INTEGER NOT NULL,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    workstation  TEXT NOT NULL,
    action       TEXT NOT NULL,
    changes_json TEXT NOT NULL
);
CREATE INDEX document_history_document ON document_history (document_id, version);

-- Derived files keyed by content; a row per (blob, size) with its status.
CREATE TABLE thumbnails (
    sha256      TEXT NOT NULL REFERENCES blobs (sha256),
    size        INTEGER NOT NULL,
    width       INTEGER,
    height      INTEGER,
    format      TEXT,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'failed', 'unsupported')),
    error       TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (sha256, size)
);
-- What the workers resume at start-up, found without scanning every thumbnail.
CREATE INDEX thumbnails_pending ON thumbnails (sha256) WHERE status = 'pending';

-- Polymorphic links owned by media. `owner_type` is free text (length checked in code, no CHECK
-- so a module can come or go without a media migration); no foreign key on `owner_id`.
CREATE TABLE media_attachments (
    id           TEXT PRIMARY KEY,
    clinic_id    TEXT NOT NULL REFERENCES clinics (id),
    document_id  TEXT NOT NULL REFERENCES documents (id),
    owner_type   TEXT NOT NULL,
    owner_id     TEXT NOT NULL,
    patient_id   TEXT NOT NULL REFERENCES patients (id),
    role         TEXT,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    unlinked_at  TEXT,
    unlinked_by  TEXT
);
CREATE UNIQUE INDEX media_attachments_live ON media_attachments (document_id, owner_type, owner_id)
    WHERE unlinked_at IS NULL;
CREATE INDEX media_attachments_owner ON media_attachments (owner_type, owner_id)
    WHERE unlinked_at IS NULL;

CREATE TABLE audit_events (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    workstation  TEXT NOT NULL,
    action       TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    TEXT,
    detail_json  TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_events_entity ON audit_events (entity_id);

CREATE TABLE clinical_notes (
    id          TEXT PRIMARY KEY,
    clinic_id   TEXT NOT NULL REFERENCES clinics (id),
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX clinical_notes_patient ON clinical_notes (patient_id, created_at);

CREATE TABLE treatment_plans (
    id          TEXT PRIMARY KEY,
    clinic_id   TEXT NOT NULL REFERENCES clinics (id),
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    title       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'proposed',
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX treatment_plans_patient ON treatment_plans (patient_id);

CREATE TABLE plan_items (
    id          TEXT PRIMARY KEY,
    plan_id     TEXT NOT NULL REFERENCES treatment_plans (id),
    position    INTEGER NOT NULL,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'planned',
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX plan_items_plan ON plan_items (plan_id, position);

-- Records the clinic is legally bound to keep can't be removed, by any code path.
CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents
BEGIN SELECT RAISE(ABORT, 'documents are never deleted: archive them instead'); END;
CREATE TRIGGER blobs_no_delete BEFORE DELETE ON blobs
BEGIN SELECT RAISE(ABORT, 'blobs are never deleted'); END;
CREATE TRIGGER document_history_no_delete BEFORE DELETE ON document_history
BEGIN SELECT RAISE(ABORT, 'document history is append-only'); END;
CREATE TRIGGER document_history_no_update BEFORE UPDATE ON document_history
BEGIN SELECT RAISE(ABORT, 'document history is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER change_log_no_delete BEFORE DELETE ON change_log
BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;
CREATE TRIGGER media_attachments_no_delete BEFORE DELETE ON media_attachments
BEGIN SELECT RAISE(ABORT, 'attachments are unlinked, never deleted'); END;
-- The content address of a blob never changes.
CREATE TRIGGER blobs_immutable BEFORE UPDATE OF sha256, byte_size ON blobs
BEGIN SELECT RAISE(ABORT, 'a blob''s content address and size never change'); END;
