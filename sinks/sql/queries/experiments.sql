-- A/B experiments: per experiment and variant, the canonical clients exposed in [from, to]
-- (their first exposure to that experiment decides the variant) and those who converted (a booking
-- success or an event with revenue) at or after that first exposure and within
-- {window_days:UInt32} days of it. The report adds a two-proportion z-test against the control.
WITH exposures AS (
    SELECT
        account_id, client_id, attributes['experiment_id'] AS experiment,
        argMin(attributes['variant'], (occurred_at, toUInt128(event_id))) AS variant,
        min(toInt64(toUnixTimestamp64Milli(occurred_at))) AS exposed_at
    FROM {db}.events_canonical
    WHERE event_type = 'experiment_exposure'
      AND ({account:String} = '' OR account_id = {account:String})
      AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
      AND ({location:String} = '' OR ifNull(location_id, '') = {location:String})
    GROUP BY account_id, client_id, experiment
),
conversions AS (
    SELECT account_id, client_id, toInt64(toUnixTimestamp64Milli(occurred_at)) AS ts
    FROM {db}.events_canonical
    WHERE (revenue_minor > 0 OR event_type = 'appointment_booking_step_success')
      AND ({account:String} = '' OR account_id = {account:String})
)
SELECT
    experiment, variant,
    count() AS exposed,
    countIf(conv) AS converted,
    round(converted / exposed, 6) AS conversion_rate
FROM (
    SELECT
        e.experiment AS experiment, e.variant AS variant, e.client_id AS client_id,
        countIf(c.ts >= e.exposed_at
                AND c.ts <= e.exposed_at + toInt64({window_days:UInt32}) * 86400000) > 0
            AS conv
    FROM exposures AS e
    LEFT JOIN conversions AS c ON c.account_id = e.account_id AND c.client_id = e.client_id
    GROUP BY e.account_id, e.experiment, e.variant, e.client_id
)
GROUP BY experiment, variant
ORDER BY experiment, variant
