-- client_profiles rows (one per stitched client, no event id) of the person: those made from
-- their profile events (matched by stitched client and time, `client|epoch ms`, wherever they
-- are stored), and those of the erased clients that no profile event left under that client id
-- makes (0 once erased; a row made from someone else's event stored under the id is theirs).
SELECT count() FROM {db}.client_profiles
WHERE account_id = {account:String}
  AND (has({profiles:Array(String)},
           concat(client_id, '|', toString(toUnixTimestamp64Milli(updated_at))))
       OR (has({clients:Array(String)}, client_id)
           AND concat(client_id, '|', toString(toUnixTimestamp64Milli(updated_at))) NOT IN (
               SELECT concat(client_id, '|', toString(toUnixTimestamp64Milli(occurred_at)))
               FROM {db}.events
               WHERE account_id = {account:String} AND family = 'touchline.events.ClientProfile'
                 AND has({clients:Array(String)}, client_id)
                 AND NOT has({profiles:Array(String)},
                             concat(client_id, '|', toString(toUnixTimestamp64Milli(occurred_at)))))))
