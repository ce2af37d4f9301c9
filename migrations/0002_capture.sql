-- Capture at the chair, version 2: this workstation's watched inbox folders and what became of
-- each file found in them. Both are local to the workstation (never replicated): folders are
-- paths on this machine, and a file's fate is recorded here so a file left in place is not
-- imported again after a restart, and a failure keeps its reason until the file changes.
-- The active patient and the tooth notation live in `settings`.

CREATE TABLE inbox_folders (
    path          TEXT PRIMARY KEY,
    kind          TEXT CHECK (kind IS NULL OR kind IN ('intraoral', 'extraoral', 'xray', 'document', 'other')),
    after_import  TEXT NOT NULL DEFAULT 'move' CHECK (after_import IN ('move', 'leave')),
    added_at      TEXT NOT NULL
);

CREATE TABLE inbox_files (
    path           TEXT PRIMARY KEY,
    folder         TEXT NOT NULL,
    byte_size      INTEGER NOT NULL,
    modified_ms    INTEGER NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('waiting', 'imported', 'duplicate', 'rejected')),
    patient_id     TEXT,
    document_id    TEXT,
    error_code     TEXT,
    error_message  TEXT,
    moved_to       TEXT,
    updated_at     TEXT NOT NULL
);
CREATE INDEX inbox_files_open ON inbox_files (status) WHERE status IN ('waiting', 'rejected');
