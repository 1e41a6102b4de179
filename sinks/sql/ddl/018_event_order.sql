-- Events of one client in the same millisecond are now ordered by their event id as text
-- (toUInt128(event_id), as the reference and the worker order them), no longer by ClickHouse's
-- own UUID order, which compares the second half first (fragments/event_time_touches.sql). The
-- touches stored before were derived in the old order: forgetting the complete derivations makes
-- the reports derive at query time, and `touchline db migrate` (the sink runs it at start)
-- derives every client again right after this file, since no complete derivation exists then.
TRUNCATE TABLE IF EXISTS {db}.event_time_derivations;
