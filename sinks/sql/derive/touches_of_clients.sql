-- Step 3 of re-deriving clients (sinks/touch_derivation.py): the event-time touches of the
-- canonical clients {canonical}, from all their stored events (fragments/derived_events.sql),
-- derived with fragments/event_time_touches.sql like any report.
INSERT INTO {db}.event_time_touches
WITH
    -- include: derived_events
    -- include: event_time_touches
    -- include: derived_touch_rows
