-- Booking outcomes per breakdown value: clients who started, reached success or failed (in
-- [from, to], same filters and breakdown rules as booking_funnel), and the time to convert: from the
-- client's first start to their first success at or after it, in seconds (nearest-rank median and
-- p90 over the clients who converted). store, service and resource: as in booking_funnel, a client
-- counts for the one they chose first; clients who never chose one are left out of the breakdown.
-- Reads booking_steps_canonical without FINAL: every per-client aggregate here is a min, a first
-- value or "any step", which a redelivered step cannot change.
WITH
-- include: booking_visits
per_client AS (
    SELECT
        client_id,
        minIf(ts, event_type = 'appointment_booking_start') AS first_start,
        countIf(event_type = 'appointment_booking_start') > 0 AS has_start,
        countIf(event_type = 'appointment_booking_step_success') > 0 AS has_success,
        countIf(event_type = 'appointment_booking_step_failed') > 0 AS has_failed,
        arrayMin(arrayFilter(t -> t >= first_start,
            groupArrayIf(ts, event_type = 'appointment_booking_step_success'))) AS first_success,
        argMinIf(bd, (ts, eid), bd != '') AS bd_first
    FROM (
        SELECT
            client_id, event_type, toUInt128(event_id) AS eid,  -- ties: the id's text order
            toInt64(toUnixTimestamp64Milli(occurred_at)) AS ts,
            -- include: booking_step_rows
    )
    GROUP BY client_id
    HAVING countIf(loc_ok) > 0 AND countIf(svc_ok) > 0
)
SELECT breakdown, started, succeeded, failed, success_rate, failed_rate, converted,
       ttc_median_s, ttc_p90_s
FROM (
SELECT
    if(bd_client = '', '(none)', bd_client) AS breakdown,
    countIf(has_start) AS started,
    countIf(has_success) AS succeeded,
    countIf(has_failed) AS failed,
    if(started = 0, 0, round(succeeded / started, 6)) AS success_rate,
    if(started = 0, 0, round(failed / started, 6)) AS failed_rate,
    arraySort(groupArrayIf(intDiv(first_success - first_start, 1000),
        has_start AND first_success >= first_start)) AS ttc,
    length(ttc) AS converted,
    if(converted = 0, NULL, ttc[intDiv(50 * converted + 99, 100)]) AS ttc_median_s,
    if(converted = 0, NULL, ttc[intDiv(90 * converted + 99, 100)]) AS ttc_p90_s
FROM (
    SELECT p.*, if({breakdown:String} IN ('channel', 'campaign'), v.visit_bd, p.bd_first)
        AS bd_client
    FROM per_client AS p
    LEFT JOIN booking_visits AS v ON v.client_id = p.client_id
)
WHERE NOT ({breakdown:String} IN ('store', 'service', 'resource') AND bd_client = '')
GROUP BY breakdown
)
ORDER BY breakdown
