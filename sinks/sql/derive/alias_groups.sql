-- Step 2 of re-deriving clients (sinks/touch_derivation.py): the client_aliases rows (merged-away
-- id -> canonical id, as client_alias_map holds them: 017, refreshed just before) of every
-- canonical group that one of {ids} belongs to or is the canonical id of. One read of the map; a
-- window marks the groups hit.
WITH ids AS (
    SELECT tupleElement(x, 1), tupleElement(x, 2)
    FROM system.one ARRAY JOIN {ids:Array(Tuple(String, String))} AS x
)
SELECT account_id, client_id, canonical_id
FROM (
    SELECT
        account_id,
        client_id,
        canonical_id,
        max((account_id, client_id) IN ids OR (account_id, canonical_id) IN ids)
            OVER (PARTITION BY account_id, canonical_id) AS hit_group
    FROM {db}.client_alias_map FINAL
    WHERE has({accounts:Array(String)}, account_id)
)
WHERE hit_group
