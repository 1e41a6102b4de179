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
-- Paths: read from event_time_paths (ddl/024, one row per conversion, kept by the sink's
-- derivation for its lookback) when the latest complete derivation stored those of
-- {lookback_days}; else built here from the conversions (fragments/conversions.sql) and the
-- touches (fragments/attribution_paths.sql, the one definition of both). A built path reads
-- events_canonical_raw (no FINAL): a repeated hit never starts a second session, a redelivered
-- conversion joins the same touches under the same conv_id, and a path keeps each (time, touch
-- id, channel, campaign) once, so duplicates cannot change a path or a credit.
-- Credits: each touch is weighed for all six models in one row (a tuple), the sums are made per
-- key and currency and unpivoted per model at the end: a sixth of the rows to group that one row
-- per model and touch gave (all six models: 1.15 s against 2.44 s at 10 M events).
WITH
    ['first', 'last', 'last_non_direct', 'linear', 'time_decay', 'position'] AS all_models,
    {half_life_days:Float64} * 86400000 AS half_life_ms,
    -- stored paths are complete and current for this session timeout and lookback (ddl/024):
    -- the latest full derivation with the timeout stored them (the sink keeps its lookback's)
    (
        SELECT count() > 0 AND argMax(lookback_days, finished_at) = {lookback_days:UInt32}
        FROM {db}.event_time_derivations
        WHERE session_timeout_minutes = {session_timeout_minutes:UInt32}
    ) AS paths_stored,
    -- else built here: the conversions in the range, their clients' touches, the paths
    conv_source AS (
        SELECT *
        FROM {db}.events_canonical_raw
        WHERE NOT paths_stored
          AND ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
          AND ({location:String} = '' OR ifNull(location_id, '') = {location:String}
               OR has(`lines.store_id`, {location:String}))
          AND ({service:String} = '' OR has(`lines.service_id`, {service:String}))
    ),
    -- include: conversions
    -- only clients with a conversion in the range have paths: derive no one else's
    et_clients AS (SELECT account_id, client_id FROM conversions),
    0 AS et_every_client,
    -- include: event_time_touches_read
    path_touches AS (
        SELECT account_id, client_id, event_id, ts, touch_channel, utm_campaign
        FROM et_read_touches
        WHERE NOT paths_stored
          AND toDate(occurred_at) >= toDate32({from:Date}) - ({lookback_days:UInt32} + 1)
    ),
    -- include: attribution_paths
    paths AS (
        SELECT event_id AS conv_id, toInt64(toUnixTimestamp64Milli(occurred_at)) AS conv_ts,
               revenue_minor AS revenue, toString(currency) AS currency, touched
        FROM {db}.event_time_paths FINAL
        WHERE paths_stored
          AND session_timeout_minutes = {session_timeout_minutes:UInt32}
          AND lookback_days = {lookback_days:UInt32}
          AND ({account:String} = '' OR account_id = {account:String})
          AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
          AND ({location:String} = '' OR location_id = {location:String}
               OR has(store_ids, {location:String}))
          AND ({service:String} = '' OR has(service_ids, {service:String}))
        UNION ALL
        SELECT conv_id, conv_ts, revenue, currency, touched FROM built_paths
    ),
    weighted AS (
        SELECT
            conv_id, revenue, currency,
            if(empty(touched), [(conv_ts, '', '(no touch)', '(no touch)')], touched) AS path,
            length(path) AS n,
            length(arrayDistinct(arrayMap(x -> x.3, touched))) >= {min_channels:UInt32} AS multi,
            arrayLastIndex(x -> x.3 != 'direct', path) AS last_nd,
            arrayMap(x -> pow(0.5, (conv_ts - x.1) / half_life_ms), path) AS decay,
            arraySum(decay) AS decay_sum,
            arrayMap(i -> (
                if(i = 1, 1., 0.),
                if(i = n, 1., 0.),
                if(i = if(last_nd = 0, n, last_nd), 1., 0.),
                1. / n,
                decay[i] / decay_sum,
                multiIf(n = 1, 1., n = 2, 0.5, i = 1 OR i = n, 0.4, 0.2 / (n - 2))
            ), range(1, n + 1)) AS weights
        FROM paths
    ),
    per_key AS (
        SELECT key, currency,
               [sum(w1), sum(w2), sum(w3), sum(w4), sum(w5), sum(w6)] AS sw,
               [sumIf(w1 * revenue, revenue > 0), sumIf(w2 * revenue, revenue > 0),
                sumIf(w3 * revenue, revenue > 0), sumIf(w4 * revenue, revenue > 0),
                sumIf(w5 * revenue, revenue > 0), sumIf(w6 * revenue, revenue > 0)] AS rev,
               countIf(revenue > 0) AS nrev,
               [sum(w1 * multi), sum(w2 * multi), sum(w3 * multi), sum(w4 * multi),
                sum(w5 * multi), sum(w6 * multi)] AS swm
        FROM (
            -- each credit as a decimal: decimals add exactly, so the sums do not depend on the
            -- order the rows reach them in (parts, threads, stored or built paths); float sums
            -- did. Back to Float64 through the decimal text: the nearest double to the rounded sum
            SELECT revenue, currency, multi,
                   toDecimal128(pw.2.1, 18) AS w1, toDecimal128(pw.2.2, 18) AS w2,
                   toDecimal128(pw.2.3, 18) AS w3, toDecimal128(pw.2.4, 18) AS w4,
                   toDecimal128(pw.2.5, 18) AS w5, toDecimal128(pw.2.6, 18) AS w6,
                   if({by:String} = 'campaign', pw.1.4, pw.1.3) AS key
            FROM weighted
            ARRAY JOIN arrayZip(path, weights) AS pw
        )
        GROUP BY key, currency
    )
SELECT
    model,
    key,
    toFloat64(toString(round(sum(m_sw), 6))) AS conversions,
    mapApply((k, v) -> (k, toFloat64(toString(round(v, 6)))),
        mapFromArrays(groupArrayIf(currency, nrev > 0), groupArrayIf(m_rev, nrev > 0)))
        AS revenue_minor,
    if(sum(m_sw) = 0, 0, round(toFloat64(sum(m_swm)) / toFloat64(sum(m_sw)), 6))
        AS multichannel_share
FROM per_key
ARRAY JOIN all_models AS model, sw AS m_sw, rev AS m_rev, swm AS m_swm
WHERE {model:String} = '' OR model = {model:String}
GROUP BY model, key
ORDER BY indexOf(all_models, model), key
