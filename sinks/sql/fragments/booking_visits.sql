-- The visit that brought each client to the booking widget, in event time: the breakdown value of
-- booking_funnel.sql and booking_outcomes.sql for {breakdown} = channel | campaign.
-- A client's booking visit is the event-time session in progress at their first booking-widget
-- event in [from, to] (by time, then event id): the latest session start at or before that event
-- (fragments/event_time_touches.sql). Its value is the session's channel (the own channel of the
-- hit that started it) or its campaign (that hit's utm_campaign); '' (shown as '(none)') when
-- the client has no web hit at or before their first step. Never the visit channel the worker
-- stored on the step, which depends on arrival order.
-- How: one GROUP BY over the client's booking steps in the range and their stored session
-- starts together, no join: the first step's key and the starts' keys and values as arrays, the
-- last start at or before the first step taken from them sorted. A key is (time, event id) as
-- one UInt256: the millisecond with its sign bit flipped (so the unsigned order is the signed
-- one) in the high 128 bits, toUInt128(event_id) (the id's text order) in the low ones. Reading
-- every client's stored touches (et_every_client = 1) beats an IN set of the clients with steps.
-- At 10 M events (the bench's data, two runs each): the funnel by channel took 17.5 / 15.7 s as
-- a join of the first steps with their touches, 11.6 / 10.9 s as this GROUP BY with (Int64,
-- UUID) tuple keys, and 9.8 / 8.7 s with the numeric keys.
-- Included right after WITH; defines et_clients (the clients with a step in the range; empty
-- unless the breakdown is channel or campaign, so other breakdowns pay nothing), the event-time
-- touches (fragments/event_time_touches_read.sql: stored or derived), booking_visit_keys (per
-- account and client) and booking_visits (client_id, visit_bd), and ends with a comma.
    et_clients AS (
        SELECT DISTINCT account_id, client_id
        FROM {db}.booking_steps_canonical
        WHERE {breakdown:String} IN ('channel', 'campaign')
          AND ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
    ),
    1 AS et_every_client,
    -- include: event_time_touches_read
    booking_visit_keys AS (
        SELECT
            client_id,
            minIf(key, is_step) AS first_step,
            arraySort(groupArrayIf((key, bd), NOT is_step)) AS starts,
            arrayLastIndex(x -> x.1 <= first_step, starts) AS visit_at,  -- 0: none
            starts[visit_at] AS visit
        FROM (
            SELECT *, bitOr(bitShiftLeft(toUInt256(bitXor(toUInt64(ts), 0x8000000000000000)), 128),
                            toUInt256(toUInt128(event_id))) AS key
            FROM (
                SELECT account_id, client_id, true AS is_step,
                       toInt64(toUnixTimestamp64Milli(occurred_at)) AS ts, event_id, '' AS bd
                FROM {db}.booking_steps_canonical
                WHERE {breakdown:String} IN ('channel', 'campaign')
                  AND ({account:String} = '' OR account_id = {account:String})
                  AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
                UNION ALL
                SELECT account_id, client_id, false, ts, event_id,
                       if({breakdown:String} = 'channel', touch_channel,
                          toString(ifNull(utm_campaign, '')))
                FROM et_read_touches
                WHERE session_start AND {breakdown:String} IN ('channel', 'campaign')
            )
        )
        GROUP BY account_id, client_id
        HAVING countIf(is_step) > 0
    ),
    -- a client id in two accounts (an all-accounts report): the latest of its accounts' visits
    booking_visits AS (
        SELECT client_id, argMax(visit.2, visit.1) AS visit_bd
        FROM booking_visit_keys
        WHERE visit_at > 0
        GROUP BY client_id
    ),
