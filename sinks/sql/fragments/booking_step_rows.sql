-- The per-step rows of booking_funnel.sql and booking_outcomes.sql: included at the end of the
-- SELECT list of their inner query (after its own columns), it adds bd (the step's breakdown
-- value), loc_ok and svc_ok (whether the step matches the location / service filter), and the
-- FROM and WHERE that take the canonical client's steps in {account} within [from, to]. The channel
-- and campaign breakdowns are not a step's value: they come from fragments/booking_visits.sql.
            multiIf(
                {breakdown:String} = 'store', store_id,
                {breakdown:String} = 'service', service_id,
                {breakdown:String} = 'resource', resource_id,
                {breakdown:String} IN ('channel', 'campaign'), '',  -- fragments/booking_visits.sql
                {breakdown:String} = 'device', device_type,
                'all') AS bd,
            ({location:String} = '' OR ifNull(location_id, '') = {location:String}
                OR has(store_ids, {location:String})) AS loc_ok,
            ({service:String} = '' OR has(service_ids, {service:String})) AS svc_ok
        FROM {db}.booking_steps_canonical
        WHERE ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
