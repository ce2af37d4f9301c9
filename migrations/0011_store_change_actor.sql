-- Store, version 11: who made each change, beside the workstation it was made on, so a peer's
-- edit applied by sync is written into the record's history with its author. NULL for the
-- changes made before this version (and for a peer's segment written before it).
ALTER TABLE change_log ADD COLUMN actor TEXT;
