-- The clients the events carrying one of the identifiers (normalised email, phone, web cid)
-- belong to as the reports attribute them (events_canonical_raw, 013: splits, then merges).
SELECT DISTINCT client_id
FROM {db}.events_canonical_raw
WHERE account_id = {account:String}
  AND (has({emails:Array(String)}, ifNull(email, ''))
       OR has({phones:Array(String)}, ifNull(phone, ''))
       OR has({cids:Array(String)}, ifNull(cid, '')))
