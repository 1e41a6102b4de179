-- Appointments per location and staff member (with '(all)' subtotals), one appointment =
-- attributes['appointment_id'] (else the event id), its events in [from, to]. scheduled: has a
-- scheduled event; confirmed / arrived: scheduled and also confirmed / arrived; cancelled, no_show:
-- has that event. no_show_rate = no_show / (arrived or no-show appointments). Location and staff are
-- the appointment's first known values; its location is the event's own location_id (the
-- line's store), else the envelope's. {service}: a line's service.
SELECT
    if(grouping(g_loc) = 1, '(all)', g_loc) AS location,
    if(grouping(g_2) = 1, '(all)', g_2) AS staff,
    countIf(s) AS scheduled,
    countIf(s AND c) AS confirmed,
    countIf(s AND a) AS arrived,
    countIf(x) AS cancelled,
    countIf(n) AS no_show,
    if(scheduled = 0, 0, round(confirmed / scheduled, 6)) AS confirm_rate,
    if(scheduled = 0, 0, round(arrived / scheduled, 6)) AS arrival_rate,
    if(countIf(a OR n) = 0, 0, round(no_show / countIf(a OR n), 6)) AS no_show_rate
FROM (
    SELECT
        appointment,
        if(argMinIf(loc, (ts, eid), loc != '') = '', '(none)',
           argMinIf(loc, (ts, eid), loc != '')) AS g_loc,
        if(argMinIf(st, (ts, eid), st != '') = '', '(none)',
           argMinIf(st, (ts, eid), st != '')) AS g_2,
        countIf(event_type = 'appointment_scheduled') > 0 AS s,
        countIf(event_type = 'appointment_confirmed') > 0 AS c,
        countIf(event_type = 'appointment_arrived') > 0 AS a,
        countIf(event_type = 'appointment_cancelled') > 0 AS x,
        countIf(event_type = 'appointment_no_show') > 0 AS n
    FROM (
        SELECT
            event_type, occurred_at AS ts, toUInt128(event_id) AS eid,  -- ties: the id's text
            if(attributes['appointment_id'] = '', toString(event_id), attributes['appointment_id'])
                AS appointment,
            -- the event's own location (its line's store), else the envelope's
            if(ifNull(`lines.store_id`[1], '') != '', assumeNotNull(`lines.store_id`[1]),
               ifNull(location_id, '')) AS loc,
            if(attributes['staff_id'] != '', attributes['staff_id'],
               ifNull(arrayFirst(r -> ifNull(r, '') != '', `lines.resource_id`), '')) AS st
        FROM {db}.events_canonical
        WHERE family = 'touchline.events.AppointmentEvent'
          AND ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
          AND ({service:String} = '' OR has(`lines.service_id`, {service:String})
               OR attributes['service_id'] = {service:String})
    )
    GROUP BY appointment
)
WHERE {location:String} = '' OR g_loc = {location:String}
GROUP BY GROUPING SETS ((g_loc, g_2), (g_loc), ())
ORDER BY grouping(g_loc), g_loc, grouping(g_2), g_2
