-- client_profiles keeps one row per stitched client (the latest profile event stored under it):
-- the rows of the erased clients and of the stitched clients their profile events are stored
-- under go, then recompute_profiles.sql makes them again from the profile events left.
DELETE FROM {db}.client_profiles
WHERE account_id = {account:String} AND has({clients:Array(String)}, client_id)
