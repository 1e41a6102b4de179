-- An event whose every identifier proved shared (each released: it names no one) stays with the
-- client the last claim of one of them took it to, as the live card keeps its hit there (a claim
-- moves the hits tagged with its identifiers, a release moves none: pipeline/lua/hits.lua).
-- Before, it stayed with the client it was stored with, which depends on arrival order: person
-- 2's form with the desk phone and the desk tablet's client id went with person 1 in event time
-- (stored before the phone's split claimed the client id for person 2) and with person 2 in
-- reverse (tests/integration/test_split_pipeline.py, the tablet). An event that also carries an
-- identifier no split names still stays with its stored client; one that never had a claimed
-- identifier too.
--
-- split_identifiers (013) made again with the latest claim of each identifier beside its latest
-- split: the client (claimed_client_id, '' when none) and when (claimed_at, with its event id).
CREATE OR REPLACE VIEW {db}.split_identifiers AS
SELECT account_id, identifier,
       argMax(client, (split_at, split_event)) AS to_client_id,
       argMaxIf(client, (split_at, split_event), client != '') AS claimed_client_id,
       maxIf((split_at, split_event), client != '') AS claimed_at
FROM (
    SELECT account_id, identifier, to_client_id AS client, split_at, event_id AS split_event
    FROM {db}.identity_splits
    ARRAY JOIN identifiers AS identifier
)
GROUP BY account_id, identifier;

-- split_events (020) made again: each branch also gives how many identifiers the event carries
-- (n), so an event whose split identifiers are all it carries, all released, falls back to the
-- latest claim among them (distinct identifiers: a redelivered event is stored twice until
-- ReplacingMergeTree merges it, and this view reads events without FINAL).
CREATE OR REPLACE VIEW {db}.split_events AS
SELECT
    split_account_id,
    split_event_id,
    argMinIf(s.to_client_id, (rank, key), s.to_client_id != '') AS named,
    argMaxIf(s.claimed_client_id, s.claimed_at, s.claimed_client_id != '') AS claimed,
    if(named != '', named, if(uniqExactIf(key, rank > 0) = any(n), claimed, '')) AS split_client_id,
    any(stitched) AS split_stitched_id
FROM (
    SELECT account_id AS split_account_id, event_id AS split_event_id, client_id AS stitched,
           concat('event:', toString(event_id)) AS key, 0 AS rank,
           length(external_ids) + (ifNull(email, '') != '') + (ifNull(phone, '') != '')
           + (ifNull(cid, '') != '') AS n
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND (account_id, client_id) IN (SELECT account_id, from_client_id FROM {db}.identity_splits
                                      WHERE kind = 'lookup')
      AND event_id IN (SELECT toUUID(substring(identifier, 7)) FROM {db}.split_identifiers
                       WHERE startsWith(identifier, 'event:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('ext.', x), 1,
           length(external_ids) + (ifNull(email, '') != '') + (ifNull(phone, '') != '')
           + (ifNull(cid, '') != '')
    FROM {db}.events
    ARRAY JOIN external_ids AS x
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND hasAny(external_ids, (SELECT groupArray(substring(identifier, 5))
                                FROM {db}.split_identifiers WHERE startsWith(identifier, 'ext.')))
      AND x IN (SELECT substring(identifier, 5) FROM {db}.split_identifiers
                WHERE startsWith(identifier, 'ext.'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('email:', email), 2,
           length(external_ids) + (ifNull(email, '') != '') + (ifNull(phone, '') != '')
           + (ifNull(cid, '') != '')
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND email IN (SELECT substring(identifier, 7) FROM {db}.split_identifiers
                    WHERE startsWith(identifier, 'email:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('phone:', phone), 3,
           length(external_ids) + (ifNull(email, '') != '') + (ifNull(phone, '') != '')
           + (ifNull(cid, '') != '')
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND phone IN (SELECT substring(identifier, 7) FROM {db}.split_identifiers
                    WHERE startsWith(identifier, 'phone:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('cid:', cid), 4,
           length(external_ids) + (ifNull(email, '') != '') + (ifNull(phone, '') != '')
           + (ifNull(cid, '') != '')
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND cid IN (SELECT substring(identifier, 5) FROM {db}.split_identifiers
                  WHERE startsWith(identifier, 'cid:'))
) AS e
INNER JOIN {db}.split_identifiers AS s ON s.account_id = e.split_account_id AND s.identifier = e.key
GROUP BY split_account_id, split_event_id
HAVING split_client_id != '';

TRUNCATE TABLE IF EXISTS {db}.event_time_derivations;
