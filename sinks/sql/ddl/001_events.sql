-- Enriched events: one wide row per event, ordered for per-account, per-client time scans.
--
-- Idempotency: the worker re-emits a redelivered event byte-identically, so a redelivery is a row
-- equal in every column, and ReplacingMergeTree (no version column) on this sorting key collapses it
-- at merge time; queries read through `events_canonical`, which uses FINAL, so duplicates never
-- reach a result even before a merge.
--
-- client_id is in the sorting key. It is the canonical id at processing time and is never rewritten:
-- a later identity merge is a row in `identity_merges` and is applied at query time
-- (`client_aliases`). If an event were ever re-emitted with a different client_id (it is not: the
-- worker replays its stored output), the two rows would differ in the key and both would stay;
-- `events_canonical` would then count it twice, so producers must keep that guarantee.
CREATE TABLE IF NOT EXISTS {db}.events
(
    event_id          UUID,
    event_type        LowCardinality(String),
    family            LowCardinality(String),
    occurred_at       DateTime64(3, 'UTC'),
    received_at       DateTime64(3, 'UTC'),
    processed_at      DateTime64(3, 'UTC'),
    source            LowCardinality(String),
    account_id        LowCardinality(String),
    location_id       LowCardinality(Nullable(String)),
    client_id         String,
    cid               Nullable(String),
    email             Nullable(String),
    phone             Nullable(String),
    session_id        Nullable(String),
    session_seq       UInt32,
    session_started_at Nullable(DateTime64(3, 'UTC')),
    landing_page      Nullable(String),
    time_on_site_ms   Int64,
    channel           LowCardinality(String),
    utm_source        LowCardinality(Nullable(String)),
    utm_medium        LowCardinality(Nullable(String)),
    utm_campaign      LowCardinality(Nullable(String)),
    utm_term          Nullable(String),
    utm_content       Nullable(String),
    click_id_type     LowCardinality(Nullable(String)),
    referrer_host     LowCardinality(Nullable(String)),
    page_url          Nullable(String),
    device_type       LowCardinality(String),
    is_touch          Bool,
    is_contact        Bool,
    touch_seq         UInt32,
    multichannel      Bool,
    channels_before   Array(LowCardinality(String)),
    revenue_minor     Int64,
    currency          LowCardinality(Nullable(String)),
    `lines.store_id`      Array(Nullable(String)),
    `lines.store_name`    Array(Nullable(String)),
    `lines.service_id`    Array(Nullable(String)),
    `lines.service_name`  Array(Nullable(String)),
    `lines.resource_id`   Array(Nullable(String)),
    `lines.resource_name` Array(Nullable(String)),
    `lines.category`      Array(Nullable(String)),
    `lines.quantity`      Array(Int32),
    `lines.amount_minor`  Array(Int64),
    attributes        Map(String, String),
    payload_json      String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (account_id, client_id, occurred_at, event_id);
