-- Nothing a clinic keeps can be removed or quietly rewritten, by any code path or by hand with
-- the sqlite3 shell: every table that holds a record refuses DELETE, and the fields that must
-- never change after the fact refuse UPDATE outside the API path that records history.
-- `tests/architecture.rs` lists every table and fails when a new one has no DELETE trigger
-- (or is not named there as operational state, with the reason).

CREATE TRIGGER clinics_no_delete BEFORE DELETE ON clinics
    BEGIN SELECT RAISE(ABORT, 'clinics are never deleted'); END;
CREATE TRIGGER patients_no_delete BEFORE DELETE ON patients
    BEGIN SELECT RAISE(ABORT, 'patients are never deleted'); END;
CREATE TRIGGER clinical_notes_no_delete BEFORE DELETE ON clinical_notes
    BEGIN SELECT RAISE(ABORT, 'clinical notes are never deleted'); END;
CREATE TRIGGER treatment_plans_no_delete BEFORE DELETE ON treatment_plans
    BEGIN SELECT RAISE(ABORT, 'treatment plans are never deleted'); END;
CREATE TRIGGER plan_items_no_delete BEFORE DELETE ON plan_items
    BEGIN SELECT RAISE(ABORT, 'plan items are never deleted'); END;
CREATE TRIGGER inbox_files_no_delete BEFORE DELETE ON inbox_files
    BEGIN SELECT RAISE(ABORT, 'the inbox history is never deleted'); END;
CREATE TRIGGER thumbnails_no_delete BEFORE DELETE ON thumbnails
    BEGIN SELECT RAISE(ABORT, 'thumbnail records are remade, never deleted'); END;
CREATE TRIGGER hlc_state_no_delete BEFORE DELETE ON hlc_state
    BEGIN SELECT RAISE(ABORT, 'the clock state is never deleted'); END;
CREATE TRIGGER sync_blobs_no_delete BEFORE DELETE ON sync_blobs
    BEGIN SELECT RAISE(ABORT, 'sync records are never deleted'); END;
CREATE TRIGGER sync_segments_out_no_delete BEFORE DELETE ON sync_segments_out
    BEGIN SELECT RAISE(ABORT, 'sync records are never deleted'); END;
CREATE TRIGGER sync_peers_no_delete BEFORE DELETE ON sync_peers
    BEGIN SELECT RAISE(ABORT, 'sync records are never deleted'); END;
CREATE TRIGGER sync_rows_no_delete BEFORE DELETE ON sync_rows
    BEGIN SELECT RAISE(ABORT, 'sync records are never deleted'); END;

-- The change log and the history rows are written once.
CREATE TRIGGER change_log_no_update BEFORE UPDATE ON change_log
    BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;

-- A document always belongs to the patient and the content it was imported for (its id is
-- derived from both).
CREATE TRIGGER documents_identity_fixed BEFORE UPDATE OF id, patient_id, sha256, imported_at, imported_by ON documents
    WHEN NEW.id IS NOT OLD.id OR NEW.patient_id IS NOT OLD.patient_id OR NEW.sha256 IS NOT OLD.sha256
        OR NEW.imported_at IS NOT OLD.imported_at OR NEW.imported_by IS NOT OLD.imported_by
    BEGIN SELECT RAISE(ABORT, 'a document''s patient, content and import record never change'); END;
-- Archive and restore go through the one API path, which bumps the version and writes history.
CREATE TRIGGER documents_status_versioned BEFORE UPDATE OF status ON documents
    WHEN NEW.status IS NOT OLD.status AND NEW.version <= OLD.version
    BEGIN SELECT RAISE(ABORT, 'a document''s status changes only by archive or restore (with its history)'); END;
CREATE TRIGGER media_attachments_identity_fixed BEFORE UPDATE OF document_id, owner_type, owner_id, patient_id ON media_attachments
    WHEN NEW.document_id IS NOT OLD.document_id OR NEW.owner_type IS NOT OLD.owner_type
        OR NEW.owner_id IS NOT OLD.owner_id OR NEW.patient_id IS NOT OLD.patient_id
    BEGIN SELECT RAISE(ABORT, 'a link is ended and made again, never re-pointed'); END;
CREATE TRIGGER clinical_notes_patient_fixed BEFORE UPDATE OF patient_id ON clinical_notes
    WHEN NEW.patient_id IS NOT OLD.patient_id
    BEGIN SELECT RAISE(ABORT, 'a note never moves to another patient'); END;
CREATE TRIGGER treatment_plans_patient_fixed BEFORE UPDATE OF patient_id ON treatment_plans
    WHEN NEW.patient_id IS NOT OLD.patient_id
    BEGIN SELECT RAISE(ABORT, 'a plan never moves to another patient'); END;
