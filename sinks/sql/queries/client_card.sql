-- Client card, history: every touch and inbound contact of the client found by {client:String}
-- (canonical or stitched client id, web client id, email or phone) in {account}, oldest first,
-- with the seconds since the previous row. Merged clients' histories are included.
-- Touches, their channels and the multichannel flag of contacts are derived in event time from
-- the client's stored events (fragments/event_time_touches.sql, with {session_timeout_minutes},
-- {lookback_days} and {min_channels}): a session start, an inbound contact or a CRM lead; channel
-- = the touch's own channel; multichannel / channels_before for contacts. landing_page is as
-- stored (the visit's landing page as the worker saw it).
--
-- The client lookup is sinks/sql/fragments/client_lookup.sql.
WITH
    -- include: client_lookup
    et_source AS (
        -- the worker's arrival-order decisions are left out, so nothing below can read them
        SELECT * EXCEPT (channel, is_touch, touch_seq, multichannel, channels_before, session_seq,
                         session_started_at, time_on_site_ms)
        FROM client_events
        WHERE has(canonical_ids, client_id)
    ),
    -- include: event_time_touches
    card AS (
        SELECT
            *,
            row_number() OVER w AS rn,
            lagInFrame(ts, 1, 0) OVER w AS prev_ts
        FROM et_touch_history
        WINDOW w AS (PARTITION BY client_id ORDER BY occurred_at, toUInt128(event_id)
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    )
SELECT
    client_id,
    occurred_at,
    event_type,
    if(is_contact, 'contact', 'touch') AS kind,
    touch_channel AS channel,
    utm_source,
    utm_medium,
    utm_campaign,
    utm_term,
    utm_content,
    landing_page,
    device_type,
    location_id,
    touch_multichannel AS multichannel,
    touch_channels_before AS channels_before,
    if(rn = 1, NULL, intDiv(ts - prev_ts, 1000)) AS since_previous_s
FROM card
ORDER BY client_id, occurred_at, toUInt128(event_id)
