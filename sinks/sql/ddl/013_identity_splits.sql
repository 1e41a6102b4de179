-- Identity splits (issue 10, item 4): a link the worker made through an identifier that later
-- proved shared (a front-desk phone) is undone (pipeline/lua/split.lua) and recorded here, beside
-- identity_merges. Columns: the IdentitySplit schema's fields (sinks.rows.SPLIT_COLUMNS).
--   kind 'claim':   `identifiers`, claimed by from_client_id through the shared identifier alone,
--                   belong to a client of their own, to_client_id.
--   kind 'unmerge': to_client_id, merged into from_client_id through it alone, is its own client
--                   again; `identifiers` are those it brought to the merging event.
-- Applied at query time, before the merges: an event whose email, phone or cid (the normalised
-- identifiers) is a split identifier belongs to that split's to_client_id (email first, then
-- phone, then cid; the latest split of an identifier wins), and an unmerge is the latest word on
-- its client in client_aliases (a later merge of the same client wins again). Redelivered splits
-- collapse (same key).
CREATE TABLE IF NOT EXISTS {db}.identity_splits
(
    split_at        DateTime64(3, 'UTC'),
    account_id      LowCardinality(String),
    kind            LowCardinality(String),
    from_client_id  String,
    to_client_id    String,
    identifiers     Array(String),
    via             LowCardinality(String),
    event_id        UUID
)
ENGINE = ReplacingMergeTree
ORDER BY (account_id, to_client_id, event_id);

-- Each split identifier with the client its events belong to now.
CREATE VIEW IF NOT EXISTS {db}.split_identifiers AS
SELECT account_id, identifier, argMax(to_client_id, (split_at, event_id)) AS to_client_id
FROM {db}.identity_splits
ARRAY JOIN identifiers AS identifier
GROUP BY account_id, identifier;

-- The events that carry a split identifier, with the client they belong to before merges (email
-- first, then phone, then cid) and the client they were stitched to. The columns are prefixed so
-- they never collide with the events' in the canonical views. Few rows, found through the
-- identifier columns' skip indexes (005): one IN per column against the split identifiers of its
-- kind, no OR across differently indexed columns (with no splits, no granule is read), then one
-- join with the split identifiers.
CREATE VIEW IF NOT EXISTS {db}.split_events AS
SELECT
    split_account_id,
    split_event_id,
    argMin(s.to_client_id, rank) AS split_client_id,
    any(stitched) AS split_stitched_id
FROM (
    SELECT account_id AS split_account_id, event_id AS split_event_id, client_id AS stitched,
           concat('email:', email) AS key, 1 AS rank
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
GROUP BY split_account_id, split_event_id;

-- client_aliases as in 002, with unmerges: the latest of a client's merges and unmerges decides
-- (an unmerge maps the client to itself, which is no alias; at equal times the unmerge wins).
CREATE OR REPLACE VIEW {db}.client_aliases AS
WITH latest AS (
    SELECT account_id, f, argMax(to_id, (at, undo, event_id)) AS t
    FROM (
        SELECT account_id, from_client_id AS f, to_client_id AS to_id, merged_at AS at,
               0 AS undo, event_id
        FROM {db}.identity_merges
        WHERE from_client_id != to_client_id
        UNION ALL
        SELECT account_id, to_client_id AS f, to_client_id AS to_id, split_at AS at, 1 AS undo,
               event_id
        FROM {db}.identity_splits
        WHERE kind = 'unmerge'
    )
    GROUP BY account_id, f
    HAVING f != t
)
SELECT
    l1.account_id AS account_id,
    l1.f AS client_id,
    multiIf(
        ifNull(l8.t, '') != '', l8.t, ifNull(l7.t, '') != '', l7.t,
        ifNull(l6.t, '') != '', l6.t, ifNull(l5.t, '') != '', l5.t,
        ifNull(l4.t, '') != '', l4.t, ifNull(l3.t, '') != '', l3.t,
        ifNull(l2.t, '') != '', l2.t, l1.t
    ) AS canonical_id
FROM latest AS l1
LEFT JOIN latest AS l2 ON l2.account_id = l1.account_id AND l2.f = l1.t
LEFT JOIN latest AS l3 ON l3.account_id = l1.account_id AND l3.f = l2.t
LEFT JOIN latest AS l4 ON l4.account_id = l1.account_id AND l4.f = l3.t
LEFT JOIN latest AS l5 ON l5.account_id = l1.account_id AND l5.f = l4.t
LEFT JOIN latest AS l6 ON l6.account_id = l1.account_id AND l6.f = l5.t
LEFT JOIN latest AS l7 ON l7.account_id = l1.account_id AND l7.f = l6.t
LEFT JOIN latest AS l8 ON l8.account_id = l1.account_id AND l8.f = l7.t;

-- The canonical views of 002, 004 and 006 made again: the split client of an event that carries
-- a split identifier, else its stitched client, then resolved through the merges (the joined
-- columns are renamed, so e.* keeps its plain names next to two joins).
CREATE OR REPLACE VIEW {db}.events_canonical AS
WITH aliases AS (
    SELECT account_id AS alias_account_id, client_id AS alias_client_id, canonical_id
    FROM {db}.client_aliases
)
SELECT
    e.* EXCEPT (client_id),
    e.client_id AS stitched_client_id,
    if(ifNull(a.canonical_id, '') = '', if(s.split_client_id = '', e.client_id, s.split_client_id),
       a.canonical_id) AS client_id
FROM {db}.events AS e FINAL
LEFT JOIN {db}.split_events AS s ON s.split_account_id = e.account_id
    AND s.split_event_id = e.event_id
LEFT JOIN aliases AS a ON a.alias_account_id = e.account_id
    AND a.alias_client_id = if(s.split_client_id = '', e.client_id, s.split_client_id);

CREATE OR REPLACE VIEW {db}.events_canonical_raw AS
WITH aliases AS (
    SELECT account_id AS alias_account_id, client_id AS alias_client_id, canonical_id
    FROM {db}.client_aliases
)
SELECT
    e.* EXCEPT (client_id),
    e.client_id AS stitched_client_id,
    if(ifNull(a.canonical_id, '') = '', if(s.split_client_id = '', e.client_id, s.split_client_id),
       a.canonical_id) AS client_id
FROM {db}.events AS e
LEFT JOIN {db}.split_events AS s ON s.split_account_id = e.account_id
    AND s.split_event_id = e.event_id
LEFT JOIN aliases AS a ON a.alias_account_id = e.account_id
    AND a.alias_client_id = if(s.split_client_id = '', e.client_id, s.split_client_id);

CREATE OR REPLACE VIEW {db}.booking_steps_canonical AS
WITH aliases AS (
    SELECT account_id AS alias_account_id, client_id AS alias_client_id, canonical_id
    FROM {db}.client_aliases
)
SELECT
    b.* EXCEPT (client_id),
    b.client_id AS stitched_client_id,
    if(ifNull(a.canonical_id, '') = '', if(s.split_client_id = '', b.client_id, s.split_client_id),
       a.canonical_id) AS client_id
FROM {db}.booking_steps AS b
LEFT JOIN {db}.split_events AS s ON s.split_account_id = b.account_id
    AND s.split_event_id = b.event_id
LEFT JOIN aliases AS a ON a.alias_account_id = b.account_id
    AND a.alias_client_id = if(s.split_client_id = '', b.client_id, s.split_client_id);
