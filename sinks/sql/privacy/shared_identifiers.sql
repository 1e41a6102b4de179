-- The events of other clients (as the reports attribute events) that carry one of the
-- identifiers too (a front-desk phone of two people split apart): such an identifier belongs to
-- no one person, so it neither widens the cluster (in Redis too) nor goes on the suppression list.
SELECT DISTINCT ifNull(email, ''), ifNull(phone, ''), ifNull(cid, '')
FROM {db}.events_canonical_raw
WHERE account_id = {account:String} AND NOT has({clients:Array(String)}, client_id)
  AND (has({emails:Array(String)}, ifNull(email, ''))
       OR has({phones:Array(String)}, ifNull(phone, ''))
       OR has({cids:Array(String)}, ifNull(cid, '')))
