-- Step 1 of re-deriving clients (sinks/touch_derivation.py): the split events of the accounts
-- (events that carry a split identifier, sql/ddl/013), as split_event_map holds them (017,
-- refreshed just before): account, event id, the client they belong to before merges, the client
-- they were stitched to. Few rows; none when there are no splits.
SELECT account_id, toString(event_id), split_client_id, split_stitched_id
FROM {db}.split_event_map FINAL
WHERE has({accounts:Array(String)}, account_id)
