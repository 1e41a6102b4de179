-- Data-skipping indexes for the client card's lookups by web client id, email and phone
-- (client_summary.sql, client_card.sql): each identifier is looked up on its own (ClickHouse
-- cannot skip granules with an OR across differently indexed columns), then the client's rows are
-- read by primary key. A bloom filter per granule; MATERIALIZE builds it for the parts stored
-- before this migration (a mutation, run in the background; until it finishes those parts are
-- scanned, with the same results).
ALTER TABLE {db}.events ADD INDEX IF NOT EXISTS events_cid_bf cid TYPE bloom_filter(0.01) GRANULARITY 1;
ALTER TABLE {db}.events ADD INDEX IF NOT EXISTS events_email_bf email TYPE bloom_filter(0.01) GRANULARITY 1;
ALTER TABLE {db}.events ADD INDEX IF NOT EXISTS events_phone_bf phone TYPE bloom_filter(0.01) GRANULARITY 1;
ALTER TABLE {db}.events MATERIALIZE INDEX events_cid_bf;
ALTER TABLE {db}.events MATERIALIZE INDEX events_email_bf;
ALTER TABLE {db}.events MATERIALIZE INDEX events_phone_bf;
