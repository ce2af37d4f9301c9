-- Media, version 10: the clinical viewer's edits, never touching the original.
-- adjustments: the document's one edit record (JSON: rotate, flip, straighten, crop, window,
--   brightness, contrast, gamma, invert, sharpen, preset), NULL when unedited; each change bumps
--   the document's version and writes a history row, and replicates field by field as the rest.
-- calibration: a user's calibration (JSON: mm_per_pixel and the line it came from), NULL when
--   none (a DICOM's own pixel spacing is read from the file).
-- moved_to / moved_from: a document moved to another patient is kept here, archived, pointing at
--   its copy in the other chart; the copy points back.
ALTER TABLE documents ADD COLUMN adjustments TEXT;
ALTER TABLE documents ADD COLUMN calibration TEXT;
ALTER TABLE documents ADD COLUMN moved_to TEXT;
ALTER TABLE documents ADD COLUMN moved_from TEXT;

-- Vector items drawn over a document in the coordinates of its original as displayed (after
-- EXIF orientation, before any adjustment), so they survive zoom, crop and rotation. Removing
-- one stamps removed_at (a history entry), never a deletion.
CREATE TABLE annotations (
    id           TEXT PRIMARY KEY,
    document_id  TEXT NOT NULL REFERENCES documents (id),
    type         TEXT NOT NULL
        CHECK (type IN ('arrow', 'line', 'text', 'freehand', 'rect', 'ellipse', 'length', 'angle', 'area')),
    points_json  TEXT NOT NULL,
    text         TEXT,
    color        TEXT NOT NULL,
    width        REAL NOT NULL,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    removed_at   TEXT,
    removed_by   TEXT
);
CREATE INDEX annotations_document ON annotations (document_id, created_at);
CREATE TRIGGER annotations_no_delete BEFORE DELETE ON annotations
BEGIN SELECT RAISE(ABORT, 'annotations are never deleted; removing one stamps removed_at'); END;
