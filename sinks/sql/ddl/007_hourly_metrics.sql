-- Booking-health rollups (issue 11): per account, hour (event time, UTC), metric, source, location
-- and channel, the set of event ids (uniqExact state) and of client ids. Fed by a
-- materialized view on `events`, so a late event (a webhook or CRM export hours or days later)
-- lands in the hour it occurred in, whenever it arrives; a redelivered event is the same event_id
-- and does not count twice (a sum would). Read with uniqExactMerge; see sinks/sql/README.md.
--
-- metric: booking_starts, booking_successes (booking widget), calls (contact_call), contacts
-- (every other contact_*), no_shows, cancellations (appointments and classes), and `events`
-- (every event; with `source` these are the events per source). The conversion rate is
-- booking_successes / booking_starts, computed when read. `clients` (distinct stitched clients)
-- is the baseline of the source-silence signal: a source's events come in bursts of one client
-- (a widget visit sends several steps within minutes), so its arrivals are clients, not events.
CREATE TABLE IF NOT EXISTS {db}.hourly_metrics
(
    hour         DateTime('UTC'),
    account_id   LowCardinality(String),
    metric       LowCardinality(String),
    source       LowCardinality(String),
    location_id  LowCardinality(String),
    channel      LowCardinality(String),
    events       AggregateFunction(uniqExact, UUID),
    clients      AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (account_id, metric, hour, source, location_id, channel);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.hourly_metrics_mv TO {db}.hourly_metrics AS
SELECT toStartOfHour(occurred_at) AS hour, account_id, metric, source,
       ifNull(location_id, '') AS location_id, channel,
       uniqExactState(event_id) AS events,
       uniqExactState(client_id) AS clients
FROM {db}.events
ARRAY JOIN arrayFilter(m -> m != '', [
    'events',
    multiIf(
        event_type = 'appointment_booking_start', 'booking_starts',
        event_type = 'appointment_booking_step_success', 'booking_successes',
        event_type = 'contact_call', 'calls',
        startsWith(event_type, 'contact_'), 'contacts',
        event_type = 'appointment_no_show', 'no_shows',
        event_type IN ('appointment_cancelled', 'class_cancelled'), 'cancellations',
        '')
]) AS metric
GROUP BY hour, account_id, metric, source, location_id, channel;
