-- The rows sql/derive/paths_of_*.sql write into event_time_paths (ddl/024), after built_paths
-- (the last WITH element ends with a comma: this starts with one more): one row per conversion,
-- version now64(6) (the query's start, once per query).
    toUInt32({session_timeout_minutes:UInt32}) AS derived_timeout
SELECT account_id, derived_timeout, toUInt32({lookback_days:UInt32}), occurred_at, conv_id,
       client_id, revenue, currency, location, store_ids, service_ids, touched,
       now64(6, 'UTC'), toUInt8(0)
FROM built_paths
