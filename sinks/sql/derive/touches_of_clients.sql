-- Step 3 of re-deriving clients (sinks/touch_derivation.py): the event-time touches of the
-- canonical clients {canonical}, from all their stored events (fragments/derived_events.sql),
-- derived with fragments/event_time_touches.sql like any report.
INSERT INTO {db}.event_time_touches
WITH
    -- include: derived_events
    et_source AS (
        SELECT account_id, client_id, event_id, occurred_at, session_id, own_channel, utm_source,
               utm_medium, utm_campaign, utm_term, utm_content, click_id_type, is_contact,
               event_type
        FROM dv_events
        WHERE session_id IS NOT NULL OR is_contact OR event_type = 'crm_lead'
    ),
    -- include: event_time_touches
    -- include: derived_touch_rows
