-- Rows of client_alias_map (ddl/017) naming the clients on either side, tombstones included.
SELECT count() FROM {db}.client_alias_map
WHERE account_id = {account:String}
  AND (has({clients:Array(String)}, client_id) OR has({clients:Array(String)}, canonical_id))
