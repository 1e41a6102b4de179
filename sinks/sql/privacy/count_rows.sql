-- Rows of the clients in one table (client_id is the stitched id in every table).
SELECT count() FROM {db}.{table}
WHERE account_id = {account:String} AND has({clients:Array(String)}, client_id)
