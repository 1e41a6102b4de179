-- Step 0 of re-deriving clients, for a batch with splits (sinks/touch_derivation.py): a split
-- moves the events that carry its identifiers between clients (a claim to its client, a release
-- back to the clients they are stored with, a lookup's one event to its own client), so the
-- clients to derive again are the stitched clients of every event carrying one of {identifiers}
-- ('ext.<system>:x', 'email:x', 'phone:x', 'cid:x', 'event:<id>', as stored in identity_splits) and both sides of
-- every split that names one of them (the clients earlier splits moved those events to). One
-- lookup per identifier column (the skip indexes of 005 and 020, the primary key for event ids).
SELECT account_id, client_id FROM {db}.events
WHERE has({accounts:Array(String)}, account_id)
  AND email IN (SELECT substring(x, 7) FROM system.one
                ARRAY JOIN {identifiers:Array(String)} AS x WHERE startsWith(x, 'email:'))
UNION DISTINCT
SELECT account_id, client_id FROM {db}.events
WHERE has({accounts:Array(String)}, account_id)
  AND phone IN (SELECT substring(x, 7) FROM system.one
                ARRAY JOIN {identifiers:Array(String)} AS x WHERE startsWith(x, 'phone:'))
UNION DISTINCT
SELECT account_id, client_id FROM {db}.events
WHERE has({accounts:Array(String)}, account_id)
  AND cid IN (SELECT substring(x, 5) FROM system.one
              ARRAY JOIN {identifiers:Array(String)} AS x WHERE startsWith(x, 'cid:'))
UNION DISTINCT
SELECT account_id, client_id FROM {db}.events
WHERE has({accounts:Array(String)}, account_id)
  AND hasAny(external_ids, arrayMap(x -> substring(x, 5),
                                    arrayFilter(x -> startsWith(x, 'ext.'), {identifiers:Array(String)})))
UNION DISTINCT
SELECT account_id, client_id FROM {db}.events
WHERE has({accounts:Array(String)}, account_id)
  AND event_id IN (SELECT toUUIDOrZero(substring(x, 7)) FROM system.one
                   ARRAY JOIN {identifiers:Array(String)} AS x WHERE startsWith(x, 'event:'))
UNION DISTINCT
SELECT account_id, side FROM {db}.identity_splits
ARRAY JOIN [from_client_id, to_client_id] AS side
WHERE has({accounts:Array(String)}, account_id)
  AND hasAny(identifiers, {identifiers:Array(String)}) AND side != ''
