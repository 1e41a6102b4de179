-- The days the clients had events on: the daily_events aggregates to recompute without them.
SELECT DISTINCT toDate(occurred_at) FROM {db}.events
WHERE account_id = {account:String} AND has({clients:Array(String)}, client_id)
