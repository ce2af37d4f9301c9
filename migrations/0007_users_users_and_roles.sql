-- Users, version 7.
-- Roles: each a set of permissions the clinic can edit. The id is the role's name, the same on
-- every workstation, so an edit made on one replicates onto the row the others have.
-- Permissions are a JSON array of names (crates/users `Permission`); the owner role always has
-- every permission, whatever its row says.
CREATE TABLE roles (
    id           TEXT PRIMARY KEY,
    permissions  TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
INSERT INTO roles (id, permissions, updated_at) VALUES
    ('owner', '["view_images","acquire","edit_metadata","adjust","archive","restore","move","export","sign","manage_patients","manage_users","configure","view_audit"]', '1970-01-01T00:00:00.000Z'),
    ('dentist', '["view_images","acquire","edit_metadata","adjust","archive","restore","move","export","sign","manage_patients"]', '1970-01-01T00:00:00.000Z'),
    ('hygienist', '["view_images","acquire","edit_metadata","adjust","export","manage_patients"]', '1970-01-01T00:00:00.000Z'),
    ('assistant', '["view_images","acquire","edit_metadata","adjust","manage_patients"]', '1970-01-01T00:00:00.000Z'),
    ('front_desk', '["manage_patients"]', '1970-01-01T00:00:00.000Z'),
    ('it', '["configure"]', '1970-01-01T00:00:00.000Z');

-- A user signs in by name (compared case-blind through name_key). The id is derived from
-- name_key, so two workstations that add the same person make one user when they sync.
-- Secrets are argon2id PHC strings (their parameters inside), never the secret itself.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL,
    role           TEXT NOT NULL REFERENCES roles (id),
    password_hash  TEXT NOT NULL,
    pin_hash       TEXT,
    disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX users_name_key ON users (name_key);

-- Failed sign-ins on this workstation, per name tried (known or not, so a refusal never says
-- which names exist). Working state of this workstation only: never replicated.
CREATE TABLE sign_in_attempts (
    name_key         TEXT PRIMARY KEY,
    failures         INTEGER NOT NULL,
    last_failure_at  TEXT NOT NULL,
    locked_until_ms  INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER roles_no_delete BEFORE DELETE ON roles
BEGIN SELECT RAISE(ABORT, 'roles are never deleted'); END;
CREATE TRIGGER users_no_delete BEFORE DELETE ON users
BEGIN SELECT RAISE(ABORT, 'users are never deleted: disable them'); END;
CREATE TRIGGER sign_in_attempts_no_delete BEFORE DELETE ON sign_in_attempts
BEGIN SELECT RAISE(ABORT, 'sign-in attempts are never deleted: they are reset'); END;
