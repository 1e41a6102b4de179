-- Refresh of client_alias_map (ddl/017, sinks/identity_maps.py): every (account, client) whose
-- canonical id in the client_aliases view differs from the map's gets a row with the view's
-- value, version now64(6) (the query's start); a client the view no longer lists (an unmerge)
-- gets a tombstone. One evaluation of the view, one read of the map.
INSERT INTO {db}.client_alias_map (account_id, client_id, canonical_id, refreshed_at, is_deleted)
SELECT account_id, client_id, v.canonical_id, now64(6, 'UTC'),
       toUInt8(v.canonical_id = '')
FROM (
    SELECT account_id, client_id, ifNull(canonical_id, '') AS canonical_id
    FROM {db}.client_aliases
    WHERE ifNull(canonical_id, '') != ''
) AS v
FULL OUTER JOIN (
    SELECT account_id, client_id, canonical_id FROM {db}.client_alias_map FINAL
) AS m USING (account_id, client_id)
WHERE v.canonical_id != m.canonical_id
SETTINGS join_use_nulls = 0
