-- Audit, version 8.
-- The audit screen and `audit list` filter by user and by action over millions of events,
-- newest first; a patient's events are found through audit_events_entity (its own id and the
-- ids of its records).
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
