-- Class cancellations by location and cancellation type (attributes['cancellation_type'],
-- '(unknown)' when missing), events in [from, to], with each type's share of the location's.
SELECT
    location, cancellation_type, cancellations,
    round(cancellations / sum(cancellations) OVER (PARTITION BY location), 6) AS share
FROM (
    SELECT
        if(ifNull(location_id, '') = '', '(none)', location_id) AS location,
        if(attributes['cancellation_type'] = '', '(unknown)', attributes['cancellation_type'])
            AS cancellation_type,
        count() AS cancellations
    FROM {db}.events_canonical
    WHERE event_type = 'class_cancelled'
      AND ({account:String} = '' OR account_id = {account:String})
      AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
      AND ({location:String} = '' OR ifNull(location_id, '') = {location:String})
      AND ({service:String} = '' OR attributes['class_id'] = {service:String}
           OR has(`lines.service_id`, {service:String}))
    GROUP BY location, cancellation_type
)
ORDER BY location, cancellation_type
