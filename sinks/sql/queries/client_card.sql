-- Client card, history: every touch and inbound contact of the client found by {client:String}
-- (canonical or stitched client id, web client id, email or phone) in {account}, oldest first,
-- with the seconds since the previous row. Merged clients' histories are included.
--
-- The client lookup is sinks/sql/fragments/client_lookup.sql.
WITH
    -- include: client_lookup
SELECT
    client_id,
    occurred_at,
    event_type,
    if(is_contact, 'contact', 'touch') AS kind,
    channel,
    utm_source,
    utm_medium,
    utm_campaign,
    utm_term,
    utm_content,
    landing_page,
    time_on_site_ms,
    device_type,
    location_id,
    multichannel,
    channels_before,
    if(rn = 1, NULL, intDiv(ts - prev_ts, 1000)) AS since_previous_s
FROM (
    SELECT
        *,
        toInt64(toUnixTimestamp64Milli(occurred_at)) AS ts,
        row_number() OVER w AS rn,
        lagInFrame(toInt64(toUnixTimestamp64Milli(occurred_at)), 1, 0) OVER w AS prev_ts
    FROM client_events
    WHERE has(canonical_ids, client_id) AND (is_touch OR is_contact)
    WINDOW w AS (PARTITION BY client_id ORDER BY occurred_at, event_id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
ORDER BY client_id, occurred_at, event_id
