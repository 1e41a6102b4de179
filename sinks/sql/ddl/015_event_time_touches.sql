-- Materialised event-time touches (issue 10: reports at 10 M events). The touches that
-- fragments/event_time_touches.sql derives (session starts, inbound contacts, CRM leads, each with
-- its canonical client, channel and campaign), stored per session timeout so that attribution and
-- the funnel's channel / campaign breakdowns read them instead of re-deriving every client's
-- sessions at query time. Written only by sinks/touch_derivation.py (sql/derive/): after each
-- insert of events, merges or splits, the canonical clients the insert can change are re-derived
-- from all their stored events, and one row per touch is written with version derived_at = the
-- start of that derivation (a derivation that started after an event was stored includes it, so the
-- highest version is complete). An event of those clients that is no longer a touch gets a
-- tombstone (is_deleted = 1), which FINAL drops. client_id is the canonical id when derived.
CREATE TABLE IF NOT EXISTS {db}.event_time_touches
(
    account_id              LowCardinality(String),
    session_timeout_minutes UInt32,
    event_id                UUID,
    client_id               String,
    occurred_at             DateTime64(3, 'UTC'),
    session_start           Bool,
    is_contact              Bool,
    event_type              LowCardinality(String),
    touch_channel           LowCardinality(String),
    utm_campaign            LowCardinality(Nullable(String)),
    derived_at              DateTime64(6, 'UTC'),
    is_deleted              UInt8
)
ENGINE = ReplacingMergeTree(derived_at, is_deleted)
ORDER BY (account_id, session_timeout_minutes, event_id);

-- The complete derivations: a report reads event_time_touches for a session timeout only once a
-- derivation of every client with that timeout has finished (before that, or for another timeout
-- given as a report flag, it derives at query time). One row per finished full derivation.
CREATE TABLE IF NOT EXISTS {db}.event_time_derivations
(
    session_timeout_minutes UInt32,
    started_at              DateTime64(6, 'UTC'),
    finished_at             DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (session_timeout_minutes, started_at);
