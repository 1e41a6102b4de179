-- Event-time truth (issue 10): the reports derive sessions, touches, touch channels, first touch,
-- multichannel contacts and attribution paths at query time from the stored events ordered by
-- occurred_at, not from the flags the worker decided in arrival order (is_touch, multichannel,
-- channels_before, touch_seq, session_seq, and the visit channel it gave to pages in `channel`).
-- own_channel is the one input they need that was not stored: the channel of the event by itself
-- (its UTM tags, click id or referrer; phone_call / crm_offline offline). Rows stored before this
-- migration fall back to their stored channel (exact for touches the worker took in time order).
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS own_channel LowCardinality(String) DEFAULT channel;

-- A view's columns are fixed when it is created (e.* was expanded then): the two canonical views
-- are made again, with the same definitions as in 002 and 004, so they carry own_channel.
CREATE OR REPLACE VIEW {db}.events_canonical AS
SELECT
    e.* EXCEPT (client_id),
    e.client_id AS stitched_client_id,
    if(ifNull(a.canonical_id, '') = '', e.client_id, a.canonical_id) AS client_id
FROM {db}.events AS e FINAL
LEFT JOIN {db}.client_aliases AS a ON a.account_id = e.account_id AND a.client_id = e.client_id;

CREATE OR REPLACE VIEW {db}.events_canonical_raw AS
SELECT
    e.* EXCEPT (client_id),
    e.client_id AS stitched_client_id,
    if(ifNull(a.canonical_id, '') = '', e.client_id, a.canonical_id) AS client_id
FROM {db}.events AS e
LEFT JOIN {db}.client_aliases AS a ON a.account_id = e.account_id AND a.client_id = e.client_id;
