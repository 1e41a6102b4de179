-- Stored event rows the reports attribute to the clients now (0 once they are erased; a row of
-- theirs written meanwhile shows up here).
SELECT count() FROM {db}.events_canonical_raw
WHERE account_id = {account:String} AND has({clients:Array(String)}, client_id)
