-- Lightweight DELETE of the selected events' rows (by event id): masked at once, dropped by
-- later merges.
DELETE FROM {db}.{table}
WHERE account_id = {account:String} AND has({events:Array(UUID)}, event_id)
