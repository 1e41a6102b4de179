-- Step 1 of re-deriving clients (sinks/touch_derivation.py): the split events of the accounts
-- (events that carry a split identifier, sql/ddl/013): account, event id, the client they belong
-- to before merges, the client they were stitched to. Few rows; none read when there are no splits.
SELECT split_account_id, toString(split_event_id), split_client_id, split_stitched_id
FROM {db}.split_events
WHERE has({accounts:Array(String)}, split_account_id)
