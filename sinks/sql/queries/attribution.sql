-- Multi-touch attribution of conversions (booking successes and events with revenue) in
-- [from, to] to the touches of the same canonical client in the {lookback_days:UInt32} days before
-- and up to the conversion (the conversion event itself excluded). Touches are derived in event
-- time (fragments/event_time_touches.sql: session starts with {session_timeout_minutes} minutes of
-- inactivity or a new campaign, inbound contacts, CRM leads; channel = the touch's own channel),
-- never read from the worker's arrival-order flags.
-- Models ({model:String}, '' = all): first, last, last_non_direct (latest touch whose channel is not
-- 'direct', else the last touch), linear (1/n), time_decay (weight 0.5^(age / half-life), with
-- {half_life_days:Float64}, normalised to 1), position (40/20/40: 0.4 first and last, 0.2 shared by
-- the middle; 1 touch: 1; 2 touches: 0.5 each). A conversion without touches is credited whole to
-- '(no touch)'. Touches are ordered by time, then event id.
-- {by:String}: channel | campaign (utm_campaign, '(none)' when empty).
-- Output per model and key: credited conversions, credited revenue per currency (a map from the
-- currency code, '' when the event has none, to minor units: revenue in several currencies is
-- never added up across them), and the credited share of multichannel conversions (paths with
-- touches from at least {min_channels:UInt32} channels, the same N as multichannel contacts).
-- Rounded to 6 places.
-- Filters: {account}, {location} and {service} apply to the conversion event.
-- Touch derivation reads every hit, contact and lead of the account up to {to} (no lower bound: a
-- session that counts may have started long before the lookback, and whether a hit starts a
-- session depends on the hits before it).
-- Reads events_canonical_raw (no FINAL): a repeated hit never starts a second session, a
-- redelivered conversion joins the same touches under the same conv_id, and a path keeps each
-- (time, touch id, channel, campaign) once, so duplicates cannot change a path or a credit.
WITH
    ['first', 'last', 'last_non_direct', 'linear', 'time_decay', 'position'] AS all_models,
    toInt64({lookback_days:UInt32}) * 86400000 AS lookback_ms,
    {half_life_days:Float64} * 86400000 AS half_life_ms,
    conversions AS (
        SELECT event_id AS conv_id, account_id, client_id,
               toInt64(toUnixTimestamp64Milli(occurred_at)) AS conv_ts, revenue_minor,
               ifNull(currency, '') AS currency
        FROM {db}.events_canonical_raw
        WHERE (revenue_minor > 0 OR event_type = 'appointment_booking_step_success')
          AND ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
          AND ({location:String} = '' OR ifNull(location_id, '') = {location:String}
               OR has(`lines.store_id`, {location:String}))
          AND ({service:String} = '' OR has(`lines.service_id`, {service:String}))
    ),
    -- only clients with a conversion in the range have paths: derive no one else's
    et_clients AS (SELECT account_id, client_id FROM conversions),
    0 AS et_every_client,
    -- include: event_time_touches_read
    touches AS (
        SELECT event_id AS touch_id, account_id, client_id, ts, touch_channel AS channel,
               if(ifNull(utm_campaign, '') = '', '(none)', toString(utm_campaign)) AS campaign
        FROM et_read_touches
        WHERE toDate(occurred_at) >= toDate32({from:Date}) - ({lookback_days:UInt32} + 1)
    ),
    paths AS (
        SELECT
            c.conv_id AS conv_id,
            any(c.conv_ts) AS conv_ts,
            any(c.revenue_minor) AS revenue,
            any(c.currency) AS currency,
            arraySort(groupUniqArrayIf((t.ts, toString(t.touch_id), t.channel, t.campaign),
                t.ts <= c.conv_ts AND t.ts >= c.conv_ts - lookback_ms
                AND t.touch_id != c.conv_id)) AS touched
        FROM conversions AS c
        LEFT JOIN touches AS t ON t.account_id = c.account_id AND t.client_id = c.client_id
        GROUP BY c.conv_id
    ),
    weighted AS (
        SELECT
            conv_id, revenue, currency, model,
            if(empty(touched), [(conv_ts, '', '(no touch)', '(no touch)')], touched) AS path,
            length(path) AS n,
            length(arrayDistinct(arrayMap(x -> x.3, touched))) >= {min_channels:UInt32} AS multi,
            arrayLastIndex(x -> x.3 != 'direct', path) AS last_nd,
            arrayMap(x -> pow(0.5, (conv_ts - x.1) / half_life_ms), path) AS decay,
            multiIf(
                model = 'first', arrayMap(i -> if(i = 1, 1., 0.), range(1, n + 1)),
                model = 'last', arrayMap(i -> if(i = n, 1., 0.), range(1, n + 1)),
                model = 'last_non_direct',
                    arrayMap(i -> if(i = if(last_nd = 0, n, last_nd), 1., 0.), range(1, n + 1)),
                model = 'linear', arrayMap(i -> 1. / n, range(1, n + 1)),
                model = 'time_decay', arrayMap(d -> d / arraySum(decay), decay),
                n = 1, [1.],
                n = 2, [0.5, 0.5],
                arrayMap(i -> if(i = 1 OR i = n, 0.4, 0.2 / (n - 2)), range(1, n + 1))
            ) AS weights
        FROM paths
        ARRAY JOIN arrayFilter(m -> {model:String} = '' OR m = {model:String}, all_models) AS model
    )
SELECT
    model,
    key,
    toFloat64(toString(round(sum(w), 6))) AS conversions,
    mapApply((k, v) -> (k, toFloat64(toString(round(v, 6)))),
        sumMapIf(map(currency, w * revenue), revenue > 0)) AS revenue_minor,
    if(sum(w) = 0, 0, round(toFloat64(sum(w * multi)) / toFloat64(sum(w)), 6))
        AS multichannel_share
FROM (
    -- each credit as a decimal: decimals add exactly, so the sums do not depend on the order
    -- the rows reach them in (parts, threads, the stored or query-time touches); float sums did.
    -- Back to Float64 through the decimal text: the nearest double to the rounded sum
    SELECT model, revenue, currency, multi, toDecimal128(pw.2, 18) AS w,
           if({by:String} = 'campaign', pw.1.4, pw.1.3) AS key
    FROM weighted
    ARRAY JOIN arrayZip(path, weights) AS pw
)
GROUP BY model, key
ORDER BY indexOf(all_models, model), key
