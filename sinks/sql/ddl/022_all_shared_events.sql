-- An event whose identifiers, two or more, all proved shared (the desk phone and the desk tablet's
-- web client id on one booking form) belongs to no one's client but its own: `s` + a hash of its
-- account and `event:<event_id>` (pipeline/client_ids.py own_client_id), as the identity store
-- gives it, whether it arrived before they proved shared (its hit moves, hits.lua
-- move_all_shared) or after (resolve.lua). Before this, such an event stayed with the client it
-- was stored with here while the live card kept it where the last claim of one of its
-- identifiers had moved it, and the two depended on arrival order (issue 10).
-- split_events (020) made again: an event named by no split that names a client, whose
-- identifiers (each counted once: a redelivered event is two rows until merged) are all released,
-- gets its own client; the events' split clients change, so the derivations made before are
-- forgotten and `migrate` derives every client again right after this file, as after 020.

-- How many identifiers an event carried (web client id, email, phone, source-system ids), computed
-- when read.
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS identifier_count UInt8 ALIAS
    toUInt8(ifNull(cid, '') != '') + toUInt8(ifNull(email, '') != '')
    + toUInt8(ifNull(phone, '') != '') + length(external_ids);

CREATE OR REPLACE VIEW {db}.split_events AS
SELECT
    split_account_id,
    split_event_id,
    if(claimed != '' OR ids < 2 OR released < ids, claimed,
       concat('s', substring(lower(hex(SHA1(concat(split_account_id, '|event:',
                                                    toString(split_event_id))))), 1, 19)))
        AS split_client_id,
    split_stitched_id
FROM (
SELECT
    split_account_id,
    split_event_id,
    argMinIf(s.to_client_id, (rank, key), s.to_client_id != '') AS claimed,
    uniqExactIf(key, rank > 0 AND s.to_client_id = '') AS released,
    any(n_ids) AS ids,
    any(stitched) AS split_stitched_id
FROM (
    SELECT account_id AS split_account_id, event_id AS split_event_id, client_id AS stitched,
           concat('event:', toString(event_id)) AS key, 0 AS rank, identifier_count AS n_ids
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND (account_id, client_id) IN (SELECT account_id, from_client_id FROM {db}.identity_splits
                                      WHERE kind = 'lookup')
      AND event_id IN (SELECT toUUID(substring(identifier, 7)) FROM {db}.split_identifiers
                       WHERE startsWith(identifier, 'event:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('ext.', x), 1, identifier_count
    FROM {db}.events
    ARRAY JOIN external_ids AS x
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND hasAny(external_ids, (SELECT groupArray(substring(identifier, 5))
                                FROM {db}.split_identifiers WHERE startsWith(identifier, 'ext.')))
      AND x IN (SELECT substring(identifier, 5) FROM {db}.split_identifiers
                WHERE startsWith(identifier, 'ext.'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('email:', email), 2, identifier_count
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND email IN (SELECT substring(identifier, 7) FROM {db}.split_identifiers
                    WHERE startsWith(identifier, 'email:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('phone:', phone), 3, identifier_count
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND phone IN (SELECT substring(identifier, 7) FROM {db}.split_identifiers
                    WHERE startsWith(identifier, 'phone:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('cid:', cid), 4, identifier_count
    FROM {db}.events
    WHERE (SELECT count() > 0 FROM {db}.identity_splits)
      AND cid IN (SELECT substring(identifier, 5) FROM {db}.split_identifiers
                  WHERE startsWith(identifier, 'cid:'))
) AS e
INNER JOIN {db}.split_identifiers AS s ON s.account_id = e.split_account_id AND s.identifier = e.key
GROUP BY split_account_id, split_event_id
)
WHERE split_client_id != '';

TRUNCATE TABLE IF EXISTS {db}.event_time_derivations;
