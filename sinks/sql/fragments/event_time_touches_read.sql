-- The event-time touches of the clients a report needs (fragments/event_time_touches.sql defines
-- them), read from the materialised table event_time_touches (sql/ddl/015, kept current by
-- sinks/touch_derivation.py) when a complete derivation exists for {session_timeout_minutes},
-- else derived here at query time (before the first full derivation, or for a --session-timeout
-- other than the one the sink derives with). Both give the same rows: the stored ones are this
-- definition's output for all stored events.
-- Included in a WITH clause after the query's et_clients element (account_id, client_id: the
-- canonical clients whose touches it needs) and its et_every_client constant; defines et_stored,
-- et_source, the event-time elements and et_read_touches (account_id, client_id, event_id,
-- occurred_at, ts, session_start, touch_channel, utm_campaign) of those clients up to {to}, and
-- ends with a comma. et_every_client = 1 reads the stored touches of every client instead (the
-- query keeps the ones it needs itself, which is cheaper than an IN set when it needs most of
-- them: fragments/booking_visits.sql); a derivation at query time still derives et_clients only.
    (
        SELECT count() > 0 FROM {db}.event_time_derivations
        WHERE session_timeout_minutes = {session_timeout_minutes:UInt32}
    ) AS et_stored,
    et_source AS (
        SELECT account_id, client_id, event_id, occurred_at, session_id, own_channel, utm_source,
               utm_medium, utm_campaign, utm_term, utm_content, click_id_type, is_contact,
               event_type
        FROM {db}.events_canonical_raw
        WHERE NOT et_stored
          AND (session_id IS NOT NULL OR is_contact OR event_type = 'crm_lead')
          AND ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) <= {to:Date}
          AND (account_id, client_id) IN (SELECT account_id, client_id FROM et_clients)
    ),
    -- include: event_time_touches
    et_read_touches AS (
        SELECT account_id, client_id, event_id, occurred_at,
               toInt64(toUnixTimestamp64Milli(occurred_at)) AS ts,
               toUInt8(session_start) AS session_start, toString(touch_channel) AS touch_channel,
               utm_campaign
        FROM {db}.event_time_touches FINAL
        WHERE et_stored
          AND session_timeout_minutes = {session_timeout_minutes:UInt32}
          AND ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) <= {to:Date}
          AND (et_every_client
               OR (account_id, client_id) IN (SELECT account_id, client_id FROM et_clients))
        UNION ALL
        SELECT account_id, client_id, event_id, occurred_at, ts, toUInt8(session_start),
               touch_channel, utm_campaign
        FROM et_touches
        WHERE NOT et_stored
    ),
