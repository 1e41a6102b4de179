-- Web engagement per {breakdown:String} value (channel | device | campaign | '' for all), unit: a
-- web session derived in event time (fragments/event_time_touches.sql: per canonical client, a
-- hit starts a session after {session_timeout_minutes:UInt32} minutes of inactivity or with a new
-- campaign) that has WebTouch events in [from, to]; its breakdown value is that of the session's
-- first hit (its own channel, device, campaign). Its flags come from those WebTouch events:
-- viewed: has a page_view; clicked: has a booking_cta_click; ctr = clicked sessions among viewed
-- sessions; form_started / form_submitted: has form_start / has form_start and form_submit;
-- form_abandonment = 1 - submitted / started; cancels: sessions with booking_cancel. The worker's
-- arrival-order session ids are not read.
WITH
    et_source AS (
        SELECT account_id, client_id, event_id, occurred_at, session_id, own_channel, utm_source,
               utm_medium, utm_campaign, utm_term, utm_content, click_id_type, is_contact,
               event_type, family, device_type, location_id
        FROM {db}.events_canonical
        WHERE session_id IS NOT NULL
          AND ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) <= {to:Date}
    ),
    -- include: event_time_touches
    et_sessions AS (
        SELECT
            *,
            sum(toUInt64(session_start)) OVER (PARTITION BY account_id, client_id
                ORDER BY ts, toUInt128(event_id) ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                AS session_no
        FROM et_marked
        WHERE is_hit
    )
SELECT
    breakdown,
    countIf(viewed) AS sessions_viewed,
    countIf(viewed AND clicked) AS sessions_clicked,
    if(sessions_viewed = 0, 0, round(sessions_clicked / sessions_viewed, 6)) AS ctr,
    countIf(started) AS forms_started,
    countIf(started AND submitted) AS forms_submitted,
    if(forms_started = 0, 0, round(1 - forms_submitted / forms_started, 6)) AS form_abandonment,
    countIf(cancelled) AS sessions_cancelled
FROM (
    SELECT
        if(argMin(bd, (ts, toUInt128(event_id))) = '', '(none)',
           argMin(bd, (ts, toUInt128(event_id)))) AS breakdown,
        countIf(counted AND event_type = 'page_view') > 0 AS viewed,
        countIf(counted AND event_type = 'booking_cta_click') > 0 AS clicked,
        countIf(counted AND event_type = 'form_start') > 0 AS started,
        countIf(counted AND event_type = 'form_submit') > 0 AS submitted,
        countIf(counted AND event_type = 'booking_cancel') > 0 AS cancelled,
        countIf(counted) > 0 AS in_range
    FROM (
        SELECT
            account_id, client_id, session_no, event_type, ts, event_id,
            multiIf({breakdown:String} = 'channel', toString(own_channel),
                    {breakdown:String} = 'device', toString(device_type),
                    {breakdown:String} = 'campaign', ifNull(utm_campaign, ''),
                    'all') AS bd,
            family = 'touchline.events.WebTouch'
                AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
                AND ({location:String} = '' OR ifNull(location_id, '') = {location:String})
                AS counted
        FROM et_sessions
    )
    GROUP BY account_id, client_id, session_no
    HAVING in_range
)
GROUP BY breakdown
ORDER BY breakdown
