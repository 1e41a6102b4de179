-- Classes per location and class (with '(all)' subtotals). Unit: a client's place in a class
-- (canonical client, attributes['class_id'] else the first line's service) with events in
-- [from, to]. booked, signed_up, cancelled, late_cancelled (cancellation_type 'late_cancel'),
-- waitlisted: has that event; waitlist_converted: waitlisted and signed up after first joining.
-- signup_rate = booked and signed up / booked; late_cancel_share = late / cancelled;
-- waitlist_conversion = converted / waitlisted.
SELECT
    if(grouping(g_loc) = 1, '(all)', g_loc) AS location,
    if(grouping(g_2) = 1, '(all)', g_2) AS class,
    countIf(b) AS booked,
    countIf(su) AS signed_up,
    countIf(x) AS cancelled,
    countIf(late) AS late_cancelled,
    countIf(w) AS waitlisted,
    countIf(wc) AS waitlist_converted,
    if(booked = 0, 0, round(countIf(b AND su) / booked, 6)) AS signup_rate,
    if(cancelled = 0, 0, round(late_cancelled / cancelled, 6)) AS late_cancel_share,
    if(waitlisted = 0, 0, round(waitlist_converted / waitlisted, 6)) AS waitlist_conversion
FROM (
    SELECT
        client_id, class AS g_2,
        if(argMinIf(loc, (ts, eid), loc != '') = '', '(none)',
           argMinIf(loc, (ts, eid), loc != '')) AS g_loc,
        countIf(event_type = 'class_booked') > 0 AS b,
        countIf(event_type = 'class_signed_up') > 0 AS su,
        countIf(event_type = 'class_cancelled') > 0 AS x,
        countIf(event_type = 'class_cancelled' AND ctype = 'late_cancel') > 0 AS late,
        countIf(event_type = 'class_waitlist_joined') > 0 AS w,
        minIf(ts, event_type = 'class_waitlist_joined') AS first_wait,
        w AND arrayExists(t -> t > first_wait,
            groupArrayIf(ts, event_type = 'class_signed_up')) AS wc
    FROM (
        SELECT
            client_id, event_type, occurred_at AS ts, toUInt128(event_id) AS eid,  -- ties: id text
            if(attributes['class_id'] != '', attributes['class_id'],
               ifNull(arrayFirst(v -> ifNull(v, '') != '', `lines.service_id`), '(none)'))
                AS class,
            -- the event's own location (its line's store), else the envelope's
            if(ifNull(`lines.store_id`[1], '') != '', assumeNotNull(`lines.store_id`[1]),
               ifNull(location_id, '')) AS loc,
            attributes['cancellation_type'] AS ctype
        FROM {db}.events_canonical
        WHERE family = 'touchline.events.ClassEvent'
          AND ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
          AND ({service:String} = '' OR attributes['class_id'] = {service:String}
               OR has(`lines.service_id`, {service:String}))
    )
    GROUP BY client_id, g_2
)
WHERE {location:String} = '' OR g_loc = {location:String}
GROUP BY GROUPING SETS ((g_loc, g_2), (g_loc), ())
ORDER BY grouping(g_loc), g_loc, grouping(g_2), g_2
