-- Same SELECT as client_profiles_mv (003_derived.sql), on the profile events left under the
-- stitched clients whose rows delete_profiles.sql deleted (other people's events stored under an
-- erased client id stay theirs, and so does the row made from them).
INSERT INTO {db}.client_profiles
SELECT account_id, client_id, occurred_at AS updated_at, email, phone,
       attributes['first_name'] AS first_name, attributes['last_name'] AS last_name,
       attributes['status'] AS status, attributes['home_location_id'] AS home_location_id,
       attributes['visit_count'] AS visit_count, attributes
FROM {db}.events
WHERE account_id = {account:String} AND family = 'touchline.events.ClientProfile'
  AND has({clients:Array(String)}, client_id)
