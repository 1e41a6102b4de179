-- Derive the event-time touches of every client (sinks/touch_derivation.py: when the sink starts
-- and no complete derivation exists for its session timeout, e.g. right after migration 015, and
-- `touchline db rederive`). The same definition as touches_of_clients.sql, over the whole
-- events_canonical_raw view.
INSERT INTO {db}.event_time_touches
WITH
    et_source AS (
        SELECT account_id, client_id, event_id, occurred_at, session_id, own_channel, utm_source,
               utm_medium, utm_campaign, utm_term, utm_content, click_id_type, is_contact,
               event_type
        FROM {db}.events_canonical_raw
        WHERE session_id IS NOT NULL OR is_contact OR event_type = 'crm_lead'
    ),
    -- include: event_time_touches
    -- include: derived_touch_rows
