-- Identity merges: from_client_id was merged into to_client_id. Redelivered merges collapse
-- (same key); the latest merge of an id wins at query time.
CREATE TABLE IF NOT EXISTS {db}.identity_merges
(
    merged_at       DateTime64(3, 'UTC'),
    account_id      LowCardinality(String),
    from_client_id  String,
    to_client_id    String,
    reason          LowCardinality(String),
    identifier_hash Nullable(String),
    event_id        UUID
)
ENGINE = ReplacingMergeTree
ORDER BY (account_id, from_client_id, event_id);

-- Every merged-away id with the canonical id it resolves to now, following chains (a -> b -> c
-- resolves a to c) up to 8 hops; plain joins, so it runs on any ClickHouse (no recursive CTE, no
-- dictionary). A cycle (which the stitcher never emits) is cut at 8 hops.
CREATE VIEW IF NOT EXISTS {db}.client_aliases AS
WITH latest AS (
    SELECT account_id, from_client_id AS f, argMax(to_client_id, (merged_at, event_id)) AS t
    FROM {db}.identity_merges
    WHERE from_client_id != to_client_id
    GROUP BY account_id, from_client_id
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

-- Events deduplicated (FINAL) with client_id resolved to today's canonical client, so a merged
-- client's whole history counts as the canonical client's; stitched_client_id keeps the original.
-- Every report reads this view.
CREATE VIEW IF NOT EXISTS {db}.events_canonical AS
SELECT
    e.* EXCEPT (client_id),
    e.client_id AS stitched_client_id,
    if(ifNull(a.canonical_id, '') = '', e.client_id, a.canonical_id) AS client_id
FROM {db}.events AS e FINAL
LEFT JOIN {db}.client_aliases AS a ON a.account_id = e.account_id AND a.client_id = e.client_id;
