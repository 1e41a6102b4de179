-- Event-time touches: the one definition of sessions, touches, touch channels and multichannel
-- contacts that the reports use (attribution.sql, client_summary.sql, client_card.sql), derived from
-- the stored events ordered by (occurred_at, event_id) and from columns that do not depend on the
-- order in which events reached the worker: session_id presence, own_channel, the UTM columns,
-- click_id_type, is_contact, event_type. The worker's arrival-order decisions (is_touch,
-- multichannel, channels_before, touch_seq, session_seq, the visit channel in `channel`) are never
-- read, so a report's answer is the same for any arrival order, batch size, worker count and merge
-- timing.
--
-- Included in a WITH clause right after the query's `et_source` element: the canonical client's
-- events (account_id, client_id = canonical id, event_id, occurred_at, session_id, own_channel,
-- utm_source, utm_medium, utm_campaign, utm_term, utm_content, click_id_type, is_contact,
-- event_type, and whatever else the query wants to carry); it adds the elements below and ends
-- with a comma (more WITH elements follow).
--
-- * web hit: an event with a session_id (the worker sets it iff the event has web context from a
--   web source); inbound contacts and CRM leads (event_type 'crm_lead') are read as well.
-- * campaign key of a hit: the six columns utm_source, utm_medium, utm_campaign, utm_term,
--   utm_content, click_id_type; none when all six are NULL, else equal iff all six are equal with
--   NULL read as '' (pipeline.sessions.campaign_key). ckey = (has a key, the six values).
-- * order: by occurred_at, then event id as its text, which is the order of toUInt128(event_id)
--   (the reference's and the worker's); never ClickHouse's own UUID order, which compares the
--   second half first and so sorts two events of the same millisecond the other way round.
-- * sessions, per canonical client, hits in (occurred_at, event_id) order: a hit starts a session
--   when it is the client's first hit, or at least {session_timeout_minutes} minutes after the
--   previous hit (exactly the timeout starts one), or its key is not none and differs from the
--   current session's key. Within a session every non-none key equals the key of its first hit
--   (else a new session would have begun), so the current session's key is the key of the latest
--   ANCHOR before the hit: a hit that is a gap start (first, or after the timeout) or has a key.
--   Window functions: gap via lagInFrame, then the latest anchor's key via argMaxIf over the rows
--   before the hit; a repeated row (the raw views keep redeliveries) is never a second start.
-- * touches (et_touches): session starts (channel = own_channel of the starting hit, campaign =
--   its utm_campaign), inbound contacts and CRM leads (their own channel and campaign); a web
--   form that is both a hit and a contact is one touch.
-- * multichannel contact (et_touch_history): at least {min_channels} distinct touch channels among
--   the client's touches in [contact - {lookback_days} days, contact), the contact itself
--   excluded; channels_before lists them in first-touch order.
    toInt64({session_timeout_minutes:UInt32}) * 60000 AS et_timeout_ms,
    toInt64({lookback_days:UInt32}) * 86400000 AS et_lookback_ms,
    et_rows AS (
        SELECT
            *,
            toInt64(toUnixTimestamp64Milli(occurred_at)) AS ts,
            session_id IS NOT NULL AS is_hit,
            (utm_source IS NOT NULL OR utm_medium IS NOT NULL OR utm_campaign IS NOT NULL
             OR utm_term IS NOT NULL OR utm_content IS NOT NULL OR click_id_type IS NOT NULL)
                AS has_key,
            tuple(has_key, toString(ifNull(utm_source, '')), toString(ifNull(utm_medium, '')),
                  toString(ifNull(utm_campaign, '')), ifNull(utm_term, ''),
                  ifNull(utm_content, ''), toString(ifNull(click_id_type, ''))) AS ckey,
            row_number() OVER et_w AS hit_no,
            hit_no = 1 OR ts - lagInFrame(ts, 1, ts) OVER et_w >= et_timeout_ms AS gap_start
        FROM et_source
        WHERE session_id IS NOT NULL OR is_contact OR event_type = 'crm_lead'
        WINDOW et_w AS (PARTITION BY account_id, client_id, is_hit ORDER BY ts, toUInt128(event_id)
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ),
    et_marked AS (
        SELECT
            *,
            is_hit AND (gap_start OR (has_key
                AND ckey != argMaxIf(ckey, hit_no, gap_start OR has_key) OVER et_before))
                AS session_start
        FROM et_rows
        WINDOW et_before AS (PARTITION BY account_id, client_id, is_hit
                             ORDER BY ts, toUInt128(event_id)
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ),
    et_touches AS (
        SELECT *, toString(own_channel) AS touch_channel
        FROM et_marked
        WHERE session_start OR is_contact OR event_type = 'crm_lead'
    ),
    et_touch_history AS (
        SELECT
            *,
            arrayDistinct(arrayMap(x -> x.3, arrayFilter(
                x -> x.1 >= ts - et_lookback_ms AND x.1 < ts,
                arraySort(groupArray((ts, toUInt128(event_id), touch_channel)) OVER et_prior))))
                AS touch_channels_before,
            is_contact AND length(touch_channels_before) >= {min_channels:UInt32}
                AS touch_multichannel
        FROM et_touches
        WINDOW et_prior AS (PARTITION BY account_id, client_id ORDER BY ts, toUInt128(event_id)
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ),
