-- split_events (016) made again with one change: an event belongs to the client of its first
-- split identifier that names a client (the lookup of its id first, then email, phone, cid). A
-- released identifier (`to_client_id` '': it proved shared and names no one) is passed over
-- instead of ending the search, so a form that carried the front-desk phone and a web client id
-- split off with its person goes with that person. Before, the released phone came first and the
-- event stayed with the client it was stored with, which depends on arrival order (stored with
-- person 1 in event time, with person 2 in reverse: tests/integration/test_split_pipeline.py).
-- The live card moves the same hits (pipeline/lua/split.lua move_tagged). An event carrying only
-- released identifiers is still left out (it stays with its stored client).
-- The events' split clients change: the derivations made by the rule before are forgotten, so
-- `migrate` derives every client again right after this file, as after 018.
CREATE OR REPLACE VIEW {db}.split_events AS
SELECT
    split_account_id,
    split_event_id,
    argMinIf(s.to_client_id, rank, s.to_client_id != '') AS split_client_id,
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
    SELECT account_id, event_id, client_id, concat('email:', email), 1
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND email IN (SELECT substring(identifier, 7) FROM {db}.split_identifiers
                    WHERE startsWith(identifier, 'email:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('phone:', phone), 2
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND phone IN (SELECT substring(identifier, 7) FROM {db}.split_identifiers
                    WHERE startsWith(identifier, 'phone:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('cid:', cid), 3
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND cid IN (SELECT substring(identifier, 5) FROM {db}.split_identifiers
                  WHERE startsWith(identifier, 'cid:'))
) AS e
INNER JOIN {db}.split_identifiers AS s ON s.account_id = e.split_account_id AND s.identifier = e.key
GROUP BY split_account_id, split_event_id
HAVING split_client_id != '';

TRUNCATE TABLE IF EXISTS {db}.event_time_derivations;
