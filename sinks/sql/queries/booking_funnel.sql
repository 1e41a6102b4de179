-- Booking funnel: canonical clients reaching each step of the booking widget, in order, within a
-- conversion window of {window_ms:UInt64} milliseconds from the start step (windowFunnel over the
-- client's booking steps in [from, to]; the window is a plain parameter because aggregate function
-- parameters must be literals on servers with the old analyzer).
-- Steps: start, [profiles, only with {profiles:UInt8} = 1], stores_and_services, resources,
-- available_appointments, summary, appointment_booking, success. {strict:UInt8} = 1: the funnel
-- stops at the first step taken out of order (a step whose previous step was not reached).
-- Filters: {account}, dates {from}..{to} inclusive, {location} (location_id or a line's store),
-- {service} (a line's service) — a client counts when any of their steps matches.
-- {breakdown}: '' | store | service | resource | device — the first non-empty value among the
-- client's steps, '(none)' if there is none; channel | campaign — those of the client's booking
-- visit in event time (fragments/booking_visits.sql). store, service and resource are chosen in
-- the widget (stores_and_services, resources): a client's journey counts for the one they chose
-- first, and each one's funnel starts at the step where it is chosen (the steps before have no
-- store yet); clients who left before choosing are only in the funnel without a breakdown.
-- Reads booking_steps_canonical without FINAL: a redelivered step cannot change a level, a first
-- value or a filter match.
WITH
    -- include: booking_visits
    if({profiles:UInt8} = 1,
       ['appointment_booking_start', 'appointment_booking_step_profiles',
        'appointment_booking_step_stores_and_services', 'appointment_booking_step_resources',
        'appointment_booking_step_available_appointments', 'appointment_booking_step_summary',
        'appointment_booking', 'appointment_booking_step_success'],
       ['appointment_booking_start',
        'appointment_booking_step_stores_and_services', 'appointment_booking_step_resources',
        'appointment_booking_step_available_appointments', 'appointment_booking_step_summary',
        'appointment_booking', 'appointment_booking_step_success']) AS steps,
    length(steps) AS n_steps,
    {breakdown:String} IN ('store', 'service', 'resource') AS chosen_in_widget,
    multiIf({breakdown:String} = 'resource', indexOf(steps, 'appointment_booking_step_resources'),
            chosen_in_widget, indexOf(steps, 'appointment_booking_step_stores_and_services'),
            1) AS first_step,
    per_client AS (
        SELECT
            client_id,
            if({strict:UInt8} = 1,
               windowFunnel({window_ms:UInt64}, 'strict_order')(ts,
                   s = 1, s = 2, s = 3, s = 4, s = 5, s = 6, s = 7, s = 8),
               windowFunnel({window_ms:UInt64})(ts,
                   s = 1, s = 2, s = 3, s = 4, s = 5, s = 6, s = 7, s = 8)) AS level,
            argMinIf(bd, (ts, eid), bd != '') AS bd_first
        FROM (
            SELECT
                client_id, toUInt128(event_id) AS eid,  -- ties: the id's text order
                toUInt64(toUnixTimestamp64Milli(occurred_at)) AS ts,
                indexOf(steps, event_type) AS s,
                -- include: booking_step_rows
        )
        WHERE s > 0
        GROUP BY client_id
        HAVING countIf(loc_ok) > 0 AND countIf(svc_ok) > 0
    ),
    counts AS (
        SELECT
            if(bd_client = '', '(none)', bd_client) AS breakdown,
            step_no,
            countIf(level >= step_no) AS clients
        FROM (
            SELECT level,
                   if({breakdown:String} IN ('channel', 'campaign'), v.visit_bd, p.bd_first)
                       AS bd_client
            FROM per_client AS p
            LEFT JOIN booking_visits AS v ON v.client_id = p.client_id
        )
        ARRAY JOIN range(first_step, n_steps + 1) AS step_no
        WHERE NOT (chosen_in_widget AND bd_client = '')
        GROUP BY breakdown, step_no
    )
SELECT
    breakdown,
    step_no,
    steps[step_no] AS step,
    clients,
    if(prev = 0, 0, round(clients / prev, 6)) AS conversion_from_previous,
    if(first = 0, 0, round(clients / first, 6)) AS conversion_from_start,
    prev - clients AS drop_off
FROM (
    SELECT
        breakdown, step_no, clients,
        if(step_no = first_step, clients,
           lagInFrame(clients, 1, 0) OVER (PARTITION BY breakdown ORDER BY step_no
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS prev,
        first_value(clients) OVER (PARTITION BY breakdown ORDER BY step_no
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS first
    FROM counts
)
ORDER BY breakdown, step_no
