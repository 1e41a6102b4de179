-- The path of each conversion: the touches of its canonical client in the {lookback_days:UInt32}
-- days before it and up to it (the conversion itself excluded), each once, ordered by time, then
-- id (the id as text: the order of the reference and the worker). A touch is (ms, id, channel,
-- campaign); the campaign '(none)' when the touch has none. One definition for the paths built
-- when attribution.sql runs and the ones stored in event_time_paths (sql/derive/paths_of_*.sql).
-- Included in a WITH clause after `conversions` (fragments/conversions.sql) and path_touches
-- (account_id, client_id, event_id, ts, touch_channel, utm_campaign: the event-time touches of
-- the conversions' clients); defines built_paths and ends with a comma. A conversion without a
-- touch has an empty path.
    built_paths AS (
        SELECT
            c.conv_id AS conv_id,
            any(c.account_id) AS account_id,
            any(c.client_id) AS client_id,
            any(c.occurred_at) AS occurred_at,
            any(c.conv_ts) AS conv_ts,
            any(c.revenue_minor) AS revenue,
            any(c.currency) AS currency,
            any(c.location) AS location,
            any(c.store_ids) AS store_ids,
            any(c.service_ids) AS service_ids,
            arraySort(groupUniqArrayIf(
                (t.ts, toString(t.event_id), toString(t.touch_channel),
                 if(ifNull(t.utm_campaign, '') = '', '(none)', toString(t.utm_campaign))),
                t.ts <= c.conv_ts AND t.ts >= c.conv_ts - toInt64({lookback_days:UInt32}) * 86400000
                AND t.event_id != c.conv_id)) AS touched
        FROM conversions AS c
        LEFT JOIN path_touches AS t ON t.account_id = c.account_id AND t.client_id = c.client_id
        GROUP BY c.conv_id
    ),
