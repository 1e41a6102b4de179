-- The attribution paths of every conversion (sinks/touch_derivation.py derive_all, right after
-- touches_of_all.sql has stored every client's touches): the same definition as
-- paths_of_clients.sql, over the whole events_canonical_raw view and the stored touches.
INSERT INTO {db}.event_time_paths
WITH
    conv_source AS (SELECT * FROM {db}.events_canonical_raw),
    -- include: conversions
    path_touches AS (
        SELECT account_id, client_id, event_id, toInt64(toUnixTimestamp64Milli(occurred_at)) AS ts,
               touch_channel, utm_campaign
        FROM {db}.event_time_touches FINAL
        WHERE session_timeout_minutes = {session_timeout_minutes:UInt32}
    ),
    -- include: attribution_paths
    -- include: derived_path_rows
