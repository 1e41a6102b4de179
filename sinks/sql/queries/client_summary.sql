-- Client card, header: one row per canonical client found by {client:String} (see client_card):
-- every identifier seen, the first touch, touches, contacts, distinct touch channels,
-- multichannel contacts and revenue (a map from currency code, '' when none, to minor units; the
-- codes also in `currencies`). Touches,
-- first touch, channels and multichannel contacts are derived in event time
-- (fragments/event_time_touches.sql, with {session_timeout_minutes}, {lookback_days} and
-- {min_channels}), exactly as in client_card.
--
-- The client lookup is sinks/sql/fragments/client_lookup.sql.
WITH
    -- include: client_lookup
    et_source AS (
        -- the worker's arrival-order decisions are left out, so nothing below can read them
        SELECT * EXCEPT (channel, is_touch, touch_seq, multichannel, channels_before, session_seq,
                         session_started_at, time_on_site_ms)
        FROM client_events
        WHERE has(canonical_ids, client_id)
    ),
    -- include: event_time_touches
    derived AS (
        SELECT
            client_id,
            min(occurred_at) AS first_touch_at,
            argMin(touch_channel, (occurred_at, toUInt128(event_id))) AS first_touch_channel,
            argMin(ifNull(utm_campaign, ''), (occurred_at, toUInt128(event_id)))
                AS first_touch_campaign,
            count() AS touches,
            countIf(touch_multichannel) AS multichannel_contacts,
            arraySort(groupUniqArray(touch_channel)) AS channels
        FROM et_touch_history
        GROUP BY client_id
    ),
    stored AS (
        SELECT
            client_id,
            arraySort(groupUniqArray(stitched_client_id)) AS client_ids,
            arraySort(groupUniqArrayIf(assumeNotNull(cid), cid IS NOT NULL)) AS cids,
            arraySort(groupUniqArrayIf(assumeNotNull(email), email IS NOT NULL)) AS emails,
            arraySort(groupUniqArrayIf(assumeNotNull(phone), phone IS NOT NULL)) AS phones,
            countIf(is_contact) AS contacts,
            sumMapIf(map(ifNull(currency, ''), revenue_minor), revenue_minor != 0)
                AS revenue_total_minor,
            arraySort(groupUniqArrayIf(assumeNotNull(currency), revenue_minor != 0
                AND currency IS NOT NULL)) AS currencies,
            countIf(revenue_minor != 0) AS orders
        FROM et_source
        GROUP BY client_id
    )
SELECT
    s.client_id AS client_id,
    s.client_ids AS client_ids,
    s.cids AS cids,
    s.emails AS emails,
    s.phones AS phones,
    d.first_touch_at AS first_touch_at,
    d.first_touch_channel AS first_touch_channel,
    d.first_touch_campaign AS first_touch_campaign,
    d.touches AS touches,
    s.contacts AS contacts,
    d.multichannel_contacts AS multichannel_contacts,
    d.channels AS channels,
    s.revenue_total_minor AS revenue_total_minor,
    s.currencies AS currencies,
    s.orders AS orders
FROM stored AS s
LEFT JOIN derived AS d ON d.client_id = s.client_id
ORDER BY client_id
