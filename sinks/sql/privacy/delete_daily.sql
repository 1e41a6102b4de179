-- daily_events holds uniqExact states (a client cannot be taken out of a state): the account's
-- rows of those days are deleted, then recomputed from the events left (recompute_daily.sql).
DELETE FROM {db}.daily_events
WHERE account_id = {account:String} AND has({days:Array(Date)}, day)
