-- Materialised identity maps: the canonical views read tables, not the identity views.
-- client_aliases (merged-away id -> canonical id, 013) and split_events (the events carrying a
-- split identifier, 016) are computed again by every query that reads them: ~60 and ~45 ms of
-- planning and subqueries on empty tables, and each report reads them up to four times (through
-- events_canonical, events_canonical_raw, booking_steps_canonical). They stay the definitions;
-- sinks/identity_maps.py (sql/derive/refresh_*.sql) writes their rows into the two tables below
-- before each touch derivation (so after every stored batch, before its offsets are committed),
-- at erasure and at migration: one row per key whose value changed, version refreshed_at = the
-- refresh's start, a tombstone (is_deleted = 1, which FINAL drops) for a key that left the view.
-- Readers take FINAL: the latest version of each key, which equals the view at the last refresh.
CREATE TABLE IF NOT EXISTS {db}.client_alias_map
(
    account_id   LowCardinality(String),
    client_id    String,
    canonical_id String,
    refreshed_at DateTime64(6, 'UTC'),
    is_deleted   UInt8
)
ENGINE = ReplacingMergeTree(refreshed_at, is_deleted)
ORDER BY (account_id, client_id);

CREATE TABLE IF NOT EXISTS {db}.split_event_map
(
    account_id        LowCardinality(String),
    event_id          UUID,
    split_client_id   String,
    split_stitched_id String,
    refreshed_at      DateTime64(6, 'UTC'),
    is_deleted        UInt8
)
ENGINE = ReplacingMergeTree(refreshed_at, is_deleted)
ORDER BY (account_id, event_id);

-- The canonical views of 013 made again on the maps; the rule is 013's (the split client of an
-- event first, else its stitched client, then resolved through the merges).
CREATE OR REPLACE VIEW {db}.events_canonical AS
WITH aliases AS (
    SELECT account_id AS alias_account_id, client_id AS alias_client_id, canonical_id
    FROM {db}.client_alias_map FINAL
),
splits AS (
    SELECT account_id AS split_account_id, event_id AS split_event_id, split_client_id
    FROM {db}.split_event_map FINAL
)
SELECT
    e.* EXCEPT (client_id),
    e.client_id AS stitched_client_id,
    if(ifNull(a.canonical_id, '') = '', if(s.split_client_id = '', e.client_id, s.split_client_id),
       a.canonical_id) AS client_id
FROM {db}.events AS e FINAL
LEFT JOIN splits AS s ON s.split_account_id = e.account_id AND s.split_event_id = e.event_id
LEFT JOIN aliases AS a ON a.alias_account_id = e.account_id
    AND a.alias_client_id = if(s.split_client_id = '', e.client_id, s.split_client_id);

CREATE OR REPLACE VIEW {db}.events_canonical_raw AS
WITH aliases AS (
    SELECT account_id AS alias_account_id, client_id AS alias_client_id, canonical_id
    FROM {db}.client_alias_map FINAL
),
splits AS (
    SELECT account_id AS split_account_id, event_id AS split_event_id, split_client_id
    FROM {db}.split_event_map FINAL
)
SELECT
    e.* EXCEPT (client_id),
    e.client_id AS stitched_client_id,
    if(ifNull(a.canonical_id, '') = '', if(s.split_client_id = '', e.client_id, s.split_client_id),
       a.canonical_id) AS client_id
FROM {db}.events AS e
LEFT JOIN splits AS s ON s.split_account_id = e.account_id AND s.split_event_id = e.event_id
LEFT JOIN aliases AS a ON a.alias_account_id = e.account_id
    AND a.alias_client_id = if(s.split_client_id = '', e.client_id, s.split_client_id);

CREATE OR REPLACE VIEW {db}.booking_steps_canonical AS
WITH aliases AS (
    SELECT account_id AS alias_account_id, client_id AS alias_client_id, canonical_id
    FROM {db}.client_alias_map FINAL
),
splits AS (
    SELECT account_id AS split_account_id, event_id AS split_event_id, split_client_id
    FROM {db}.split_event_map FINAL
)
SELECT
    b.* EXCEPT (client_id),
    b.client_id AS stitched_client_id,
    if(ifNull(a.canonical_id, '') = '', if(s.split_client_id = '', b.client_id, s.split_client_id),
       a.canonical_id) AS client_id
FROM {db}.booking_steps AS b
LEFT JOIN splits AS s ON s.split_account_id = b.account_id AND s.split_event_id = b.event_id
LEFT JOIN aliases AS a ON a.alias_account_id = b.account_id
    AND a.alias_client_id = if(s.split_client_id = '', b.client_id, s.split_client_id);
