-- The stored events of the canonical clients {canonical} a derivation derives (sql/derive/*_of_clients.sql,
-- sinks/touch_derivation.py): read by primary key through every stitched id that can hold one
-- ({stitched}), each given its canonical id exactly as events_canonical_raw computes it (split
-- client first: {splits} = account, event id, split client; then the merges: {links} = account,
-- client id, canonical id), and kept when that id is one of {canonical}. Raw rows: a redelivered
-- event is there twice (what reads it must not count a row twice).
-- Included right after WITH; defines dv_events (the columns the touches and the conversions
-- need) and et_source (those that can be touches: the input of fragments/event_time_touches.sql),
-- and ends with a comma.
    dv_events AS (
        SELECT * FROM (
            SELECT
                e.account_id AS account_id,
                if(ifNull(a.canonical_id, '') = '',
                   if(s.split_client_id = '', e.client_id, s.split_client_id),
                   a.canonical_id) AS client_id,
                e.event_id AS event_id, e.occurred_at AS occurred_at,
                e.session_id AS session_id, e.own_channel AS own_channel,
                e.utm_source AS utm_source, e.utm_medium AS utm_medium,
                e.utm_campaign AS utm_campaign, e.utm_term AS utm_term,
                e.utm_content AS utm_content, e.click_id_type AS click_id_type,
                e.is_contact AS is_contact, e.event_type AS event_type,
                e.revenue_minor AS revenue_minor, e.currency AS currency,
                e.location_id AS location_id, e.`lines.store_id` AS `lines.store_id`,
                e.`lines.service_id` AS `lines.service_id`
            FROM {db}.events AS e
            LEFT JOIN (
                SELECT tupleElement(x, 1) AS account_id, toUUID(tupleElement(x, 2)) AS event_id,
                       tupleElement(x, 3) AS split_client_id
                FROM system.one ARRAY JOIN {splits:Array(Tuple(String, String, String))} AS x
            ) AS s ON s.account_id = e.account_id AND s.event_id = e.event_id
            LEFT JOIN (
                SELECT tupleElement(x, 1) AS account_id, tupleElement(x, 2) AS client_id,
                       tupleElement(x, 3) AS canonical_id
                FROM system.one ARRAY JOIN {links:Array(Tuple(String, String, String))} AS x
            ) AS a ON a.account_id = e.account_id
                AND a.client_id = if(s.split_client_id = '', e.client_id, s.split_client_id)
            WHERE (e.account_id, e.client_id) IN (
                    SELECT tupleElement(x, 1), tupleElement(x, 2)
                    FROM system.one ARRAY JOIN {stitched:Array(Tuple(String, String))} AS x)
        )
        WHERE (account_id, client_id) IN (
            SELECT tupleElement(x, 1), tupleElement(x, 2)
            FROM system.one ARRAY JOIN {canonical:Array(Tuple(String, String))} AS x)
    ),
    et_source AS (
        SELECT account_id, client_id, event_id, occurred_at, session_id, own_channel, utm_source,
               utm_medium, utm_campaign, utm_term, utm_content, click_id_type, is_contact,
               event_type
        FROM dv_events
        WHERE session_id IS NOT NULL OR is_contact OR event_type = 'crm_lead'
    ),
