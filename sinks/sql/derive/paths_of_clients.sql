-- Step 4 of re-deriving clients (sinks/touch_derivation.py): the attribution paths of the
-- conversions of the canonical clients {canonical} (ddl/024), from all their stored events
-- (fragments/derived_events.sql): their event-time touches derived again from those events, as
-- step 3 stored them, and each conversion's path (fragments/attribution_paths.sql). Every
-- conversion of a derived client is written again; a conversion that moved to another client
-- (a merge or a split) is written by the derivation of that client, which the same insert names.
INSERT INTO {db}.event_time_paths
WITH
    -- include: derived_events
    -- include: event_time_touches
    conv_source AS (SELECT * FROM dv_events),
    -- include: conversions
    path_touches AS (
        SELECT account_id, client_id, event_id, ts, touch_channel, utm_campaign FROM et_touches
    ),
    -- include: attribution_paths
    -- include: derived_path_rows
