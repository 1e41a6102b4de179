-- Same SELECT as daily_events_mv (003_derived.sql), on the account's events of those days.
INSERT INTO {db}.daily_events
SELECT toDate(occurred_at) AS day, account_id, ifNull(location_id, '') AS location_id,
       event_type, channel, uniqExactState(event_id) AS events,
       uniqExactState(client_id) AS clients
FROM {db}.events
WHERE account_id = {account:String} AND has({days:Array(Date)}, toDate(occurred_at))
GROUP BY day, account_id, location_id, event_type, channel
