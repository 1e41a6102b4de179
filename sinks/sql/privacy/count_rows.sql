-- Rows of the selected events in one table (events, touches, order_lines, booking_steps: each
-- derived row carries the event_id of the event it derives from).
SELECT count() FROM {db}.{table}
WHERE account_id = {account:String} AND has({events:Array(UUID)}, event_id)
