-- The visit that brought each client to the booking widget, in event time: the breakdown value of
-- booking_funnel.sql and booking_outcomes.sql for {breakdown} = channel | campaign.
-- A client's booking visit is the event-time session in progress at their first booking-widget
-- event in [from, to] (by time, then event id): the latest session start at or before that event
-- (fragments/event_time_touches.sql). Its value is the session's channel (the own channel of the
-- hit that started it) or its campaign (that hit's utm_campaign); '' (shown as '(none)') when
-- the client has no web hit at or before their first step. Never the visit channel the worker
-- stored on the step, which depends on arrival order.
-- Included right after WITH; defines booking_first_steps (empty unless the breakdown is channel or
-- campaign, so other breakdowns pay nothing), the event-time touches of those clients
-- (fragments/event_time_touches_read.sql: stored or derived) and booking_visits (client_id,
-- visit_bd), and ends with a comma.
    booking_first_steps AS (
        SELECT account_id, client_id,
               min(tuple(toInt64(toUnixTimestamp64Milli(occurred_at)), event_id)) AS first_step
        FROM {db}.booking_steps_canonical
        WHERE {breakdown:String} IN ('channel', 'campaign')
          AND ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
        GROUP BY account_id, client_id
    ),
    et_clients AS (SELECT account_id, client_id FROM booking_first_steps),
    -- include: event_time_touches_read
    booking_visits AS (
        SELECT f.client_id AS client_id,
               argMax(if({breakdown:String} = 'channel', t.touch_channel,
                         toString(ifNull(t.utm_campaign, ''))),
                      tuple(t.ts, t.event_id)) AS visit_bd
        FROM booking_first_steps AS f
        INNER JOIN (SELECT account_id, client_id, ts, event_id, touch_channel, utm_campaign
                    FROM et_read_touches WHERE session_start) AS t
            ON t.account_id = f.account_id AND t.client_id = f.client_id
        WHERE tuple(t.ts, t.event_id) <= f.first_step
        GROUP BY f.client_id
    ),
