-- Derived tables, filled by materialized views on insert into events. Each is a
-- ReplacingMergeTree keyed by the event (and line), so a redelivered event replaces itself; read
-- them with FINAL. client_id here is the stitched id: join client_aliases for today's canonical id.

-- Marketing touches and inbound contacts (what attribution and the client card scan).
CREATE TABLE IF NOT EXISTS {db}.touches
(
    account_id    LowCardinality(String),
    client_id     String,
    occurred_at   DateTime64(3, 'UTC'),
    event_id      UUID,
    event_type    LowCardinality(String),
    location_id   LowCardinality(Nullable(String)),
    channel       LowCardinality(String),
    utm_source    LowCardinality(Nullable(String)),
    utm_medium    LowCardinality(Nullable(String)),
    utm_campaign  LowCardinality(Nullable(String)),
    utm_term      Nullable(String),
    landing_page  Nullable(String),
    device_type   LowCardinality(String),
    is_contact    Bool,
    multichannel  Bool,
    touch_seq     UInt32,
    channels_before Array(LowCardinality(String))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (account_id, client_id, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.touches_mv TO {db}.touches AS
SELECT account_id, client_id, occurred_at, event_id, event_type, location_id, channel, utm_source,
       utm_medium, utm_campaign, utm_term, landing_page, device_type, is_contact, multichannel,
       touch_seq, channels_before
FROM {db}.events
WHERE is_touch OR is_contact;

-- Order lines (orders, ordered products, won deals with items): one row per line.
CREATE TABLE IF NOT EXISTS {db}.order_lines
(
    account_id    LowCardinality(String),
    client_id     String,
    occurred_at   DateTime64(3, 'UTC'),
    event_id      UUID,
    event_type    LowCardinality(String),
    line_no       UInt16,
    location_id   LowCardinality(Nullable(String)),
    store_id      LowCardinality(Nullable(String)),
    service_id    Nullable(String),
    service_name  Nullable(String),
    resource_id   Nullable(String),
    category      LowCardinality(Nullable(String)),
    quantity      Int32,
    amount_minor  Int64,
    currency      LowCardinality(Nullable(String))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (account_id, occurred_at, event_id, line_no);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.order_lines_mv TO {db}.order_lines AS
SELECT account_id, client_id, occurred_at, event_id, event_type, toUInt16(n) AS line_no,
       location_id, `lines.store_id`[n] AS store_id, `lines.service_id`[n] AS service_id,
       `lines.service_name`[n] AS service_name, `lines.resource_id`[n] AS resource_id,
       `lines.category`[n] AS category, `lines.quantity`[n] AS quantity,
       `lines.amount_minor`[n] AS amount_minor, currency
FROM {db}.events
ARRAY JOIN arrayEnumerate(`lines.service_id`) AS n
WHERE revenue_minor != 0 OR event_type IN ('order_placed', 'ordered_product', 'crm_deal');

-- Client profiles from the studio system: the latest version (by occurred_at) wins.
CREATE TABLE IF NOT EXISTS {db}.client_profiles
(
    account_id    LowCardinality(String),
    client_id     String,
    updated_at    DateTime64(3, 'UTC'),
    email         Nullable(String),
    phone         Nullable(String),
    first_name    String,
    last_name     String,
    status        String,
    home_location_id LowCardinality(String),
    visit_count   String,
    attributes    Map(String, String)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (account_id, client_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.client_profiles_mv TO {db}.client_profiles AS
SELECT account_id, client_id, occurred_at AS updated_at, email, phone,
       attributes['first_name'] AS first_name, attributes['last_name'] AS last_name,
       attributes['status'] AS status, attributes['home_location_id'] AS home_location_id,
       attributes['visit_count'] AS visit_count, attributes
FROM {db}.events
WHERE family = 'touchline.events.ClientProfile';

-- Daily counts per account, location, event type and channel. uniqExact states of event_id and
-- client_id make the counts immune to redelivered events (a sum would double-count them).
CREATE TABLE IF NOT EXISTS {db}.daily_events
(
    day          Date,
    account_id   LowCardinality(String),
    location_id  LowCardinality(String),
    event_type   LowCardinality(String),
    channel      LowCardinality(String),
    events       AggregateFunction(uniqExact, UUID),
    clients      AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (account_id, day, location_id, event_type, channel);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.daily_events_mv TO {db}.daily_events AS
SELECT toDate(occurred_at) AS day, account_id, ifNull(location_id, '') AS location_id,
       event_type, channel, uniqExactState(event_id) AS events,
       uniqExactState(client_id) AS clients
FROM {db}.events
GROUP BY day, account_id, location_id, event_type, channel;
