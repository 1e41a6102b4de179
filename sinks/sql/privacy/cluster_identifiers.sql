-- The identifiers the clients' events carry and their event ids (for the suppression list and
-- the Redis dedup entries), the events selected as the reports attribute them (splits, then
-- merges applied: events_canonical_raw, 013), not by their stored (stitched) client id.
SELECT groupUniqArrayIf(email, email IS NOT NULL), groupUniqArrayIf(phone, phone IS NOT NULL),
       groupUniqArrayIf(cid, cid IS NOT NULL), groupUniqArray(toString(event_id))
FROM {db}.events_canonical_raw
WHERE account_id = {account:String} AND has({clients:Array(String)}, client_id)
