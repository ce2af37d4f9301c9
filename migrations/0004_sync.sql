-- Sync with an S3-compatible bucket, version 4. The bucket is the only shared thing: each
-- workstation uploads originals (content-addressed), 256-px thumbnails and its own change
-- log as create-only segments; peers apply them last-writer-wins per field.

-- What the bucket holds of each blob, and what this workstation holds of a peer's blob.
CREATE TABLE sync_blobs (
    sha256           TEXT PRIMARY KEY,
    in_bucket        INTEGER NOT NULL DEFAULT 0,
    thumb_in_bucket  INTEGER NOT NULL DEFAULT 0,
    -- 0 for a blob known from a peer whose original is not downloaded yet.
    original_local   INTEGER NOT NULL DEFAULT 1,
    thumb_local      INTEGER NOT NULL DEFAULT 1,
    -- Whether the object carries chairside-status=archived in the bucket.
    tagged_archived  INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT
);
CREATE INDEX sync_blobs_to_upload ON sync_blobs (sha256) WHERE in_bucket = 0 AND original_local = 1;
CREATE INDEX sync_blobs_thumb_missing ON sync_blobs (sha256) WHERE thumb_local = 0;
CREATE INDEX sync_blobs_original_missing ON sync_blobs (sha256) WHERE original_local = 0;

-- A multipart upload in progress, so a restart resumes it instead of starting over.
CREATE TABLE sync_multipart (
    sha256      TEXT PRIMARY KEY,
    upload_id   TEXT NOT NULL,
    part_size   INTEGER NOT NULL,
    parts_json  TEXT NOT NULL DEFAULT '[]',
    started_at  TEXT NOT NULL
);

-- This workstation's segments, written here before they are uploaded so a crash between the
-- two re-uploads the same bytes under the same key (create-only: "already there" is success).
CREATE TABLE sync_segments_out (
    first        INTEGER PRIMARY KEY,
    last         INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    uploaded_at  TEXT
);

-- How far this workstation has applied each peer's log (entry numbers are contiguous).
CREATE TABLE sync_peers (
    workstation   TEXT PRIMARY KEY,
    applied_last  INTEGER NOT NULL DEFAULT 0,
    applied_at    TEXT
);

-- Row snapshots that came with a peer's changes; an entity whose row cannot be inserted yet
-- (its patient or document comes from another peer not applied yet) waits here.
CREATE TABLE sync_rows (
    entity_type  TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    row_json     TEXT NOT NULL,
    waiting      INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (entity_type, entity_id)
);
CREATE INDEX sync_rows_waiting ON sync_rows (entity_type) WHERE waiting = 1;

-- Last-writer-wins per field reads the newest change of one field.
CREATE INDEX change_log_field ON change_log (entity_type, entity_id, field, hlc);
CREATE INDEX change_log_origin ON change_log (workstation, seq);

-- The audit trails of the other workstations, each its own hash chain, kept as received.
CREATE TABLE remote_audit_events (
    workstation  TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    TEXT,
    detail_json  TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (workstation, seq)
);
CREATE TRIGGER remote_audit_events_no_delete BEFORE DELETE ON remote_audit_events
    BEGIN SELECT RAISE(ABORT, 'audit events are never deleted'); END;
CREATE TRIGGER remote_audit_events_no_update BEFORE UPDATE ON remote_audit_events
    BEGIN SELECT RAISE(ABORT, 'audit events are never changed'); END;
