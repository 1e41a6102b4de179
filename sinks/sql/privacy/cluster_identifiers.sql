-- The identifiers the clients' stored events carry, and their event ids (for the suppression
-- list and the Redis dedup entries).
SELECT groupUniqArrayIf(email, email IS NOT NULL), groupUniqArrayIf(phone, phone IS NOT NULL),
       groupUniqArrayIf(cid, cid IS NOT NULL), groupUniqArray(toString(event_id))
FROM {db}.events
WHERE account_id = {account:String} AND has({clients:Array(String)}, client_id)
