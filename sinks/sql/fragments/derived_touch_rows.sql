-- The rows sql/derive/*.sql write into event_time_touches (ddl/015), after et_source and the
-- event-time touches (the last WITH element ends with a comma: this starts with one more): one
-- row per touching event of the derived clients, version now64(6) (the query's start, once per query: a
-- derivation that started after an event was stored includes it), and a tombstone
-- (is_deleted = 1) for each live row of an event read here that is no longer a touch.
    toUInt32({session_timeout_minutes:UInt32}) AS derived_timeout
SELECT * FROM (
    -- one row per event: a repeated row (the raw events keep redeliveries) is never a second
    -- session start, so its copy says false where the first says true
    SELECT account_id, derived_timeout, event_id, any(client_id), any(occurred_at),
           max(session_start), any(is_contact), any(event_type), any(touch_channel),
           any(utm_campaign), now64(6, 'UTC'), toUInt8(0)
    FROM et_touches
    GROUP BY account_id, event_id
    UNION ALL
    SELECT account_id, session_timeout_minutes, event_id, client_id, occurred_at,
           session_start, is_contact, event_type, touch_channel, utm_campaign,
           now64(6, 'UTC'), toUInt8(1)
    FROM {db}.event_time_touches FINAL
    WHERE session_timeout_minutes = derived_timeout
      AND (account_id, session_timeout_minutes, event_id)
          IN (SELECT account_id, derived_timeout, event_id FROM et_source)
      AND (account_id, event_id) NOT IN (SELECT account_id, event_id FROM et_touches)
)
