-- Materialised attribution paths (issue 10: attribution in all six models < 2 s at 10 M events).
-- One row per conversion (fragments/conversions.sql) with its path (fragments/attribution_paths.sql:
-- the canonical client's event-time touches in the lookback before it), per session timeout and
-- lookback, written only by sinks/touch_derivation.py next to event_time_touches: the clients a
-- derivation derives get their conversions' paths derived again from the same events, version
-- derived_at = the start of that derivation. attribution.sql reads them for the {lookback_days}
-- and {session_timeout_minutes} of a complete derivation (event_time_derivations with that
-- lookback) and builds paths at query time otherwise. A path needs nothing stored but the
-- conversion's own filter columns: the models, the half-life, the multichannel N and the
-- breakdown are applied when the report runs. The key holds occurred_at (a conversion's time never
-- changes) so a date range reads only its part of the table; event_id is the conversion's.
CREATE TABLE IF NOT EXISTS {db}.event_time_paths
(
    account_id              LowCardinality(String),
    session_timeout_minutes UInt32,
    lookback_days           UInt32,
    occurred_at             DateTime64(3, 'UTC'),
    event_id                UUID,
    client_id               String,
    revenue_minor           Int64,
    currency                LowCardinality(String),
    location_id             String,
    store_ids               Array(Nullable(String)),
    service_ids             Array(Nullable(String)),
    touched                 Array(Tuple(Int64, String, LowCardinality(String), LowCardinality(String))),
    derived_at              DateTime64(6, 'UTC'),
    is_deleted              UInt8
)
ENGINE = ReplacingMergeTree(derived_at, is_deleted)
ORDER BY (account_id, session_timeout_minutes, lookback_days, occurred_at, event_id);

-- A complete derivation now covers one lookback too: rows before 024 say 0 (no paths), so
-- `migrate` derives everything once more, paths included.
ALTER TABLE {db}.event_time_derivations ADD COLUMN IF NOT EXISTS lookback_days UInt32;
