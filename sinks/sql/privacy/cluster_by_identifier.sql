-- Clients whose stored events carry one of the identifiers (normalised email, phone, web cid).
SELECT DISTINCT client_id
FROM {db}.events
WHERE account_id = {account:String}
  AND (has({emails:Array(String)}, ifNull(email, ''))
       OR has({phones:Array(String)}, ifNull(phone, ''))
       OR has({cids:Array(String)}, ifNull(cid, '')))
