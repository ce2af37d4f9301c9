-- Media, version 6.
-- Each thumbnail file's SHA-256, recorded when it is written, so `verify` can tell a flipped
-- bit, a truncated file or another image in its place (NULL: written by an older build, and
-- remade by the next verify).
ALTER TABLE thumbnails ADD COLUMN file_sha256 TEXT;

-- Files being written outside the blob store (an export's hidden `.part` file), recorded
-- before the first byte: what a killed export left is found and removed at the next start.
-- Rows are working state, removed when the file is finished or cleaned.
CREATE TABLE staged_files (
    path        TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
