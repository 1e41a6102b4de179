-- Which of the identifiers events of other clients carry too, as the reports attribute events
-- (a front-desk phone of two people split apart): they belong to no one person, so they neither
-- widen the cluster (in Redis too) nor go on the suppression list.
SELECT DISTINCT kind, value FROM (
    SELECT 'email' AS kind, email AS value FROM {db}.events_canonical_raw
    WHERE account_id = {account:String} AND NOT has({clients:Array(String)}, client_id)
      AND has({emails:Array(String)}, ifNull(email, ''))
    UNION ALL
    SELECT 'phone', phone FROM {db}.events_canonical_raw
    WHERE account_id = {account:String} AND NOT has({clients:Array(String)}, client_id)
      AND has({phones:Array(String)}, ifNull(phone, ''))
    UNION ALL
    SELECT 'cid', cid FROM {db}.events_canonical_raw
    WHERE account_id = {account:String} AND NOT has({clients:Array(String)}, client_id)
      AND has({cids:Array(String)}, ifNull(cid, ''))
)
