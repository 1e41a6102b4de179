-- Source-system client ids (a CRM's, a studio system's) beside email, phone and cid: each event's
-- `external_ids`, normalised `system:id` as the identity store keys them (`ext.<system>:<id>`).
-- The identity store regroups them when a linking identifier proves shared; without a column the
-- reports could not follow, so a CRM lead carrying a family's landline and a CRM id alone stayed
-- with whichever client the landline named when it arrived, which depends on arrival order
-- (issue 10; `touchline generate --household-share 0.3`, tests/e2e/test_arrival_order.py).
-- Rows stored before this migration have none (the column's default), as their worker emitted.
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS external_ids Array(String) DEFAULT [];
ALTER TABLE {db}.events ADD INDEX IF NOT EXISTS events_external_ids_bf external_ids
    TYPE bloom_filter(0.01) GRANULARITY 1;
ALTER TABLE {db}.events MATERIALIZE INDEX events_external_ids_bf;

-- split_events (019) made again with one more branch: an event belongs to the client of its first
-- split identifier that names a client, now in the identity store's order (strongest first): the
-- lookup of its id, its source-system ids (in sorted order), email, phone, cid; a released
-- identifier is passed over. The events' split clients change: the derivations made before are
-- forgotten, so `migrate` derives every client again right after this file, as after 019.
CREATE OR REPLACE VIEW {db}.split_events AS
SELECT
    split_account_id,
    split_event_id,
    argMinIf(s.to_client_id, (rank, key), s.to_client_id != '') AS split_client_id,
    any(stitched) AS split_stitched_id
FROM (
    SELECT account_id AS split_account_id, event_id AS split_event_id, client_id AS stitched,
           concat('event:', toString(event_id)) AS key, 0 AS rank
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND (account_id, client_id) IN (SELECT account_id, from_client_id FROM {db}.identity_splits
                                      WHERE kind = 'lookup')
      AND event_id IN (SELECT toUUID(substring(identifier, 7)) FROM {db}.split_identifiers
                       WHERE startsWith(identifier, 'event:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('ext.', x), 1
    FROM {db}.events
    ARRAY JOIN external_ids AS x
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND hasAny(external_ids, (SELECT groupArray(substring(identifier, 5))
                                FROM {db}.split_identifiers WHERE startsWith(identifier, 'ext.')))
      AND x IN (SELECT substring(identifier, 5) FROM {db}.split_identifiers
                WHERE startsWith(identifier, 'ext.'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('email:', email), 2
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND email IN (SELECT substring(identifier, 7) FROM {db}.split_identifiers
                    WHERE startsWith(identifier, 'email:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('phone:', phone), 3
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND phone IN (SELECT substring(identifier, 7) FROM {db}.split_identifiers
                    WHERE startsWith(identifier, 'phone:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('cid:', cid), 4
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND cid IN (SELECT substring(identifier, 5) FROM {db}.split_identifiers
                  WHERE startsWith(identifier, 'cid:'))
) AS e
INNER JOIN {db}.split_identifiers AS s ON s.account_id = e.split_account_id AND s.identifier = e.key
GROUP BY split_account_id, split_event_id
HAVING split_client_id != '';

TRUNCATE TABLE IF EXISTS {db}.event_time_derivations;
