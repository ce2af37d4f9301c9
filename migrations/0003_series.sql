-- Photo series and X-ray mounts, version 3. A template is an ordered list of slots (name,
-- kind, default teeth, rotation, place in the mount); the built-in ones live in code, a
-- clinic's own here. A series is one filling of a template for a patient: it keeps a copy of
-- the template as it was, so later edits never rearrange an old mount. Which document sits in
-- which slot is an attachment (owner type `series`, role `slot-N`), so a retake only ends the
-- earlier link: the earlier image stays in the gallery and in the link history.

CREATE TABLE series_templates (
    id          TEXT PRIMARY KEY,
    clinic_id   TEXT NOT NULL REFERENCES clinics (id),
    name        TEXT NOT NULL,
    columns     INTEGER NOT NULL CHECK (columns BETWEEN 1 AND 12),
    rows        INTEGER NOT NULL CHECK (rows BETWEEN 1 AND 12),
    slots_json  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
);

CREATE TABLE series (
    id             TEXT PRIMARY KEY,
    clinic_id      TEXT NOT NULL REFERENCES clinics (id),
    patient_id     TEXT NOT NULL REFERENCES patients (id),
    template_id    TEXT NOT NULL,
    template_json  TEXT NOT NULL,
    title          TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL
);
CREATE INDEX series_patient ON series (patient_id, started_at);

-- Nothing is hard-deleted.
CREATE TRIGGER series_no_delete BEFORE DELETE ON series
    BEGIN SELECT RAISE(ABORT, 'series are never deleted'); END;
CREATE TRIGGER series_templates_no_delete BEFORE DELETE ON series_templates
    BEGIN SELECT RAISE(ABORT, 'series templates are never deleted'); END;
