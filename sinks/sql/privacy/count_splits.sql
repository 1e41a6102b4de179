-- Identity splits that name any of the clients (either side): they carry identifiers of theirs.
SELECT count() FROM {db}.identity_splits
WHERE account_id = {account:String}
  AND (has({clients:Array(String)}, from_client_id) OR has({clients:Array(String)}, to_client_id))
