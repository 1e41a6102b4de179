-- Today's merges that touch any of the clients (either side), as client_aliases (013) resolves
-- them: the latest of a client's merges and unmerges decides, so a merge that an unmerge split
-- undid joins no one. The identity cluster grows through these pairs.
SELECT client_id, canonical_id
FROM {db}.client_aliases
WHERE account_id = {account:String}
  AND (has({clients:Array(String)}, client_id) OR has({clients:Array(String)}, canonical_id))
