-- The person's events as the reports attribute them (events_canonical_raw, 013: an event that
-- carries a split identifier belongs to the split's client, then merges resolve it): every
-- stored row, redeliveries too, wherever it is stored (its stitched client id may be anyone's).
-- Their ids select the rows of events and of the tables derived from them; the profile events'
-- (stitched client, time) select client_profiles rows; their days, the daily_events to redo.
SELECT DISTINCT toString(event_id), stitched_client_id,
       family = 'touchline.events.ClientProfile', toUnixTimestamp64Milli(occurred_at),
       toDate(occurred_at)
FROM {db}.events_canonical_raw
WHERE account_id = {account:String} AND has({clients:Array(String)}, client_id)
