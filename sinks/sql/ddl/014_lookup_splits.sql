-- Lookup splits (issue 10, item 4): an event that carried nothing usable but an identifier that
-- later proved shared (a call from the front-desk phone alone) went to that identifier's owner;
-- had it arrived after the identifier proved shared it would have had a client of its own. The
-- worker (pipeline/lua/split.lua) records each such event when the identifier proves shared as
-- an identity_splits row of kind 'lookup': identifiers = ['event:<event_id>'], from_client_id =
-- the client the event is stored with, to_client_id = its own client. So the event's client
-- does not depend on whether it arrived before or after.
-- Release splits: an identifier that proved shared after a claim had moved it names no client
-- any more (to_client_id ''): an event whose first split identifier (by rank) is released stays
-- with the client it was stored with.
-- split_events (013) made again with one more source, ranked first (the most specific): the
-- events named by a lookup split, found by the primary key (account_id, client_id) of the client
-- they are stored with, then by their id; events whose split client is '' (released) left out.
CREATE OR REPLACE VIEW {db}.split_events AS
SELECT
    split_account_id,
    split_event_id,
    argMin(s.to_client_id, rank) AS split_client_id,
    any(stitched) AS split_stitched_id
FROM (
    SELECT account_id AS split_account_id, event_id AS split_event_id, client_id AS stitched,
           concat('event:', toString(event_id)) AS key, 0 AS rank
    FROM {db}.events
    WHERE (account_id, client_id) IN (SELECT account_id, from_client_id FROM {db}.identity_splits
                                      WHERE kind = 'lookup')
      AND event_id IN (SELECT toUUID(substring(identifier, 7)) FROM {db}.split_identifiers
                       WHERE startsWith(identifier, 'event:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('email:', email), 1
    FROM {db}.events
    WHERE email IN (SELECT substring(identifier, 7) FROM {db}.split_identifiers
                    WHERE startsWith(identifier, 'email:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('phone:', phone), 2
    FROM {db}.events
    WHERE phone IN (SELECT substring(identifier, 7) FROM {db}.split_identifiers
                    WHERE startsWith(identifier, 'phone:'))
    UNION ALL
    SELECT account_id, event_id, client_id, concat('cid:', cid), 3
    FROM {db}.events
    WHERE cid IN (SELECT substring(identifier, 5) FROM {db}.split_identifiers
                  WHERE startsWith(identifier, 'cid:'))
) AS e
INNER JOIN {db}.split_identifiers AS s ON s.account_id = e.split_account_id AND s.identifier = e.key
GROUP BY split_account_id, split_event_id
HAVING split_client_id != '';
