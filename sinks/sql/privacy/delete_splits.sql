DELETE FROM {db}.identity_splits
WHERE account_id = {account:String}
  AND (has({clients:Array(String)}, from_client_id) OR has({clients:Array(String)}, to_client_id))
