-- A split whose from_client_id is erased but whose to_client_id is not carries the other
-- person's identifiers: the reports need it to give them their events (split_identifiers, 013;
-- an unmerge's identifiers too). It is written again with from_client_id blanked (same key, so
-- it replaces the old row, which delete_splits.sql deletes next).
INSERT INTO {db}.identity_splits
    (split_at, account_id, kind, from_client_id, to_client_id, identifiers, via, event_id)
SELECT split_at, account_id, kind, '', to_client_id, identifiers, via, event_id
FROM {db}.identity_splits
WHERE account_id = {account:String}
  AND has({clients:Array(String)}, from_client_id) AND NOT has({clients:Array(String)}, to_client_id)
