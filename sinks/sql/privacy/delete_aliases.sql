-- Lightweight DELETE of the client_alias_map rows (ddl/017) naming the clients, tombstones
-- included: the refresh after the erasure finds neither them nor their merges, so writes nothing
-- for them.
DELETE FROM {db}.client_alias_map
WHERE account_id = {account:String}
  AND (has({clients:Array(String)}, client_id) OR has({clients:Array(String)}, canonical_id))
