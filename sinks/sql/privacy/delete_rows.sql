-- Lightweight DELETE: the rows are masked at once and dropped by later merges.
DELETE FROM {db}.{table}
WHERE account_id = {account:String} AND has({clients:Array(String)}, client_id)
