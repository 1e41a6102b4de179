-- identity_splits kept one row per (account, to_client_id, event_id): an event that proved two
-- identifiers shared at once (a family's landline and their tablet's web client id) made two
-- `release` splits, both to '' and both named by that event, and ReplacingMergeTree kept one of
-- them, so the other identifier still pulled its events along in the reports (found by `make
-- demo` with family tablets: the tablet's calls stayed with a person while the live card, and
-- the event-time reference, gave each its own client). The sorting key now ends with the split's
-- identifiers (`split_key`, written by the sink: sinks/rows.py split_key), so each split is a row
-- and a redelivered one still collapses. A column added to the sorting key must come in the same
-- ALTER with no default value: rows stored before have '' (their key as before), and the splits
-- collapsed before this file are not restored (the merges topic still holds them: a sink
-- replaying it from its start writes them again).
ALTER TABLE {db}.identity_splits ADD COLUMN IF NOT EXISTS split_key String,
    MODIFY ORDER BY (account_id, to_client_id, event_id, split_key);
