-- Web engagement per {breakdown:String} value (channel | device | campaign | '' for all), unit: a
-- web session (session_id of WebTouch events in [from, to]); its breakdown value is that of its
-- first event. viewed: has a page_view; clicked: has a booking_cta_click; ctr = clicked sessions
-- among viewed sessions; form_started / form_submitted: has form_start / has form_start and
-- form_submit; form_abandonment = 1 - submitted / started; cancels: sessions with booking_cancel.
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
        session_id,
        if(argMin(bd, (occurred_at, event_id)) = '', '(none)', argMin(bd, (occurred_at, event_id)))
            AS breakdown,
        countIf(event_type = 'page_view') > 0 AS viewed,
        countIf(event_type = 'booking_cta_click') > 0 AS clicked,
        countIf(event_type = 'form_start') > 0 AS started,
        countIf(event_type = 'form_submit') > 0 AS submitted,
        countIf(event_type = 'booking_cancel') > 0 AS cancelled
    FROM (
        SELECT
            assumeNotNull(session_id) AS session_id, event_type, occurred_at, event_id,
            multiIf({breakdown:String} = 'channel', toString(channel),
                    {breakdown:String} = 'device', toString(device_type),
                    {breakdown:String} = 'campaign', ifNull(utm_campaign, ''),
                    'all') AS bd
        FROM {db}.events_canonical
        WHERE family = 'touchline.events.WebTouch'
          AND session_id IS NOT NULL
          AND ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
          AND ({location:String} = '' OR ifNull(location_id, '') = {location:String})
    )
    GROUP BY session_id
)
GROUP BY breakdown
ORDER BY breakdown
