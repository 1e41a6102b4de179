-- What a conversion is, for attribution (queries/attribution.sql) and the stored paths
-- (sql/derive/paths_of_*.sql): a booking success or an event with revenue.
-- Included in a WITH clause after conv_source (events: event_id, account_id, client_id,
-- occurred_at, event_type, revenue_minor, currency, location_id, lines.store_id,
-- lines.service_id; raw rows: a redelivered conversion is there twice, built_paths groups by its
-- id); defines conversions and ends with a comma.
    conversions AS (
        SELECT event_id AS conv_id, account_id, client_id, occurred_at,
               toInt64(toUnixTimestamp64Milli(occurred_at)) AS conv_ts, revenue_minor,
               ifNull(currency, '') AS currency, ifNull(location_id, '') AS location,
               `lines.store_id` AS store_ids, `lines.service_id` AS service_ids
        FROM conv_source
        WHERE revenue_minor > 0 OR event_type = 'appointment_booking_step_success'
    ),
