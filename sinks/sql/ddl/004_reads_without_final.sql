-- Read paths that skip FINAL.
--
-- booking_steps: the booking-widget steps, narrow (a dozen small columns); what booking_funnel and
-- booking_outcomes scan instead of the wide events table. The first non-empty store, service and
-- resource of the step's lines are precomputed for breakdowns; the lines' stores and services stay
-- as arrays for the location and service filters. client_id is the stitched id: read
-- booking_steps_canonical for today's canonical client.
--
-- Read WITHOUT FINAL, on purpose: every aggregate the funnel queries take over a client's steps
-- (windowFunnel's level, min / argMin of times, "any step matches") gives the same answer when a
-- redelivered step appears twice, so deduplicating at read time would only cost time. A query
-- that counts or sums steps must read it with FINAL.
CREATE TABLE IF NOT EXISTS {db}.booking_steps
(
    account_id    LowCardinality(String),
    client_id     String,
    occurred_at   DateTime64(3, 'UTC'),
    event_id      UUID,
    event_type    LowCardinality(String),
    location_id   LowCardinality(Nullable(String)),
    store_id      LowCardinality(String),
    service_id    LowCardinality(String),
    resource_id   LowCardinality(String),
    store_ids     Array(LowCardinality(String)),
    service_ids   Array(LowCardinality(String)),
    channel       LowCardinality(String),
    utm_campaign  LowCardinality(Nullable(String)),
    device_type   LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (account_id, client_id, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.booking_steps_mv TO {db}.booking_steps AS
SELECT account_id, client_id, occurred_at, event_id, event_type, location_id,
       ifNull(arrayFirst(x -> ifNull(x, '') != '', `lines.store_id`), '') AS store_id,
       ifNull(arrayFirst(x -> ifNull(x, '') != '', `lines.service_id`), '') AS service_id,
       ifNull(arrayFirst(x -> ifNull(x, '') != '', `lines.resource_id`), '') AS resource_id,
       arrayMap(x -> ifNull(x, ''), `lines.store_id`) AS store_ids,
       arrayMap(x -> ifNull(x, ''), `lines.service_id`) AS service_ids,
       channel, utm_campaign, device_type
FROM {db}.events
WHERE family = 'touchline.events.BookingStep';

-- Booking steps with client_id resolved to today's canonical client (see events_canonical).
CREATE VIEW IF NOT EXISTS {db}.booking_steps_canonical AS
SELECT
    s.* EXCEPT (client_id),
    s.client_id AS stitched_client_id,
    if(ifNull(a.canonical_id, '') = '', s.client_id, a.canonical_id) AS client_id
FROM {db}.booking_steps AS s
LEFT JOIN {db}.client_aliases AS a ON a.account_id = s.account_id AND a.client_id = s.client_id;

-- Every stored event row, redeliveries included (no FINAL), with client_id resolved like
-- events_canonical. For queries whose answer cannot change when a row repeats (they dedupe by
-- event id themselves, or take only min / max / distinct values): FINAL is the single most
-- expensive step of a scan, and they do not need it.
CREATE VIEW IF NOT EXISTS {db}.events_canonical_raw AS
SELECT
    e.* EXCEPT (client_id),
    e.client_id AS stitched_client_id,
    if(ifNull(a.canonical_id, '') = '', e.client_id, a.canonical_id) AS client_id
FROM {db}.events AS e
LEFT JOIN {db}.client_aliases AS a ON a.account_id = e.account_id AND a.client_id = e.client_id;
