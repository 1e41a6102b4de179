-- The rows sql/derive/*.sql write into event_time_touches (ddl/015), after et_source and the
-- event-time elements (the last WITH element ends with a comma: this starts with one more): one
-- row per touching event of the derived clients, version now64(6) (the query's start, once per
-- query: a derivation that started after an event was stored includes it), and a tombstone
-- (is_deleted = 1) for each live row of an event read here that is no longer a touch.
-- `derived` is a scalar (evaluated once per query): every event read, once (a repeated row, which
-- the raw events keep for redeliveries, is never a second session start, so its copy says false
-- where the first says true: max), with whether it is a touch. Both parts read it, so the
-- session windows run once.
    toUInt32({session_timeout_minutes:UInt32}) AS derived_timeout,
    (
        SELECT groupArray((account_id, event_id, d_client, d_at, d_start, d_contact, d_type,
                           d_channel, d_campaign, d_touch))
        FROM (
            SELECT account_id, event_id, any(client_id) AS d_client, any(occurred_at) AS d_at,
                   max(session_start) AS d_start, any(is_contact) AS d_contact,
                   any(event_type) AS d_type, any(toString(own_channel)) AS d_channel,
                   any(utm_campaign) AS d_campaign,
                   max(session_start OR is_contact OR event_type = 'crm_lead') AS d_touch
            FROM et_marked
            GROUP BY account_id, event_id
        )
    ) AS derived
SELECT * FROM (
    SELECT d.1, derived_timeout, d.2, d.3, d.4, d.5, d.6, d.7, d.8, d.9, now64(6, 'UTC'),
           toUInt8(0)
    FROM system.one
    ARRAY JOIN arrayFilter(x -> x.10, derived) AS d
    UNION ALL
    SELECT account_id, session_timeout_minutes, event_id, client_id, occurred_at,
           session_start, is_contact, event_type, touch_channel, utm_campaign,
           now64(6, 'UTC'), toUInt8(1)
    FROM {db}.event_time_touches FINAL
    WHERE session_timeout_minutes = derived_timeout
      AND (account_id, session_timeout_minutes, event_id) IN (
          SELECT d.1, derived_timeout, d.2 FROM system.one
          ARRAY JOIN arrayFilter(x -> NOT x.10, derived) AS d)
)
