-- Refresh of split_event_map (ddl/017, sinks/identity_maps.py): every event whose split client
-- (or stitched client) in the split_events view differs from the map's gets a row with the
-- view's values, version now64(6) (the query's start); an event the view no longer lists gets a
-- tombstone. With no split anywhere the view reads nothing (016) and the map is empty.
INSERT INTO {db}.split_event_map
    (account_id, event_id, split_client_id, split_stitched_id, refreshed_at, is_deleted)
SELECT account_id, event_id, v.split_client_id, v.split_stitched_id,
       now64(6, 'UTC'), toUInt8(v.split_client_id = '')
FROM (
    SELECT split_account_id AS account_id, split_event_id AS event_id, split_client_id,
           split_stitched_id
    FROM {db}.split_events
) AS v
FULL OUTER JOIN (
    SELECT account_id, event_id, split_client_id, split_stitched_id
    FROM {db}.split_event_map FINAL
) AS m USING (account_id, event_id)
WHERE (v.split_client_id, v.split_stitched_id) != (m.split_client_id, m.split_stitched_id)
SETTINGS join_use_nulls = 0
