-- Which of the given events are stored, so every report reads them: an ingestion check ("did my
-- events arrive?") and the freshness bench's probe. {events}: event ids, comma-separated (ids
-- that are not UUIDs match nothing). One row per stored event: its type, event time, when the
-- worker processed it, the client it was stored with (reports apply later merges and splits)
-- and its source; an id without a row is not stored (yet: still in Kafka, or dead-lettered).
-- Read from events by the primary key's account and the ids, without the canonical views' joins.
SELECT
    toString(id) AS event_id,
    any(type) AS event_type,
    min(at) AS occurred_at,
    min(processed) AS processed_at,
    any(stored) AS stored_client_id,
    any(src) AS source
FROM (
    SELECT event_id AS id, event_type AS type, occurred_at AS at, processed_at AS processed,
           client_id AS stored, source AS src
    FROM {db}.events
    WHERE event_id IN (
            SELECT toUUIDOrZero(trim(BOTH ' ' FROM arrayJoin(splitByChar(',', {events:String}))))
        )
      AND ({account:String} = '' OR account_id = {account:String})
      AND toDate(occurred_at) BETWEEN {from:Date} AND {to:Date}
)
GROUP BY id
ORDER BY occurred_at, event_id
